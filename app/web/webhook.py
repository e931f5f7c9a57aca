"""The handoff webhook: each handoff POSTed as signed JSON to ``SHOPCHAT_HANDOFF_WEBHOOK_URL``, retried.

The receiver (a helpdesk's inbound hook, a small script) checks ``X-Shopchat-Signature``: ``sha256=`` and the
hex HMAC-SHA256, keyed with ``SHOPCHAT_HANDOFF_WEBHOOK_SECRET``, of ``<X-Shopchat-Timestamp>.<raw body>``.
The timestamp is inside the signed bytes so a captured request cannot be replayed later; ``X-Shopchat-Delivery``
stays the same across the retries of one handoff so the receiver can drop a duplicate. docs/operators.md shows
the check in Python.

Delivery never raises into the caller: it runs as a background task, retries connection errors, timeouts,
429 and 5xx with growing delays, and logs one WARNING when it gives up (never the secret, nor the URL's path
or query, which may hold a token).
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import logging
import time
import uuid
from collections.abc import Awaitable, Callable, Sequence
from urllib.parse import urlsplit

import aiohttp
import orjson

from app.errors import ConfigError, loggable
from app.store.orders import HandoffRecord

log = logging.getLogger("shopchat.webhook")

SIGNATURE_HEADER = "X-Shopchat-Signature"
TIMESTAMP_HEADER = "X-Shopchat-Timestamp"
DELIVERY_HEADER = "X-Shopchat-Delivery"
EVENT_HEADER = "X-Shopchat-Event"

DEFAULT_DELAYS = (1.0, 4.0, 16.0, 64.0)
"""Waits between the five attempts: about a minute and a half in all."""
MAX_RETRY_AFTER_S = 300.0
_RETRY_STATUSES = frozenset({408, 425, 429})


def sign(secret: bytes, timestamp: str, body: bytes) -> str:
    """The signature header's value for ``body`` sent at ``timestamp``: ``sha256=<hex>``."""
    digest = hmac.new(secret, timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    return "sha256=" + digest


class _RetryableError(Exception):
    """This attempt failed in a way worth another one; the message says how (for the log)."""

    def __init__(self, reason: str, retry_after_s: float | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.retry_after_s = retry_after_s


class _RefusedError(Exception):
    """The receiver refused the request for good (a 4xx other than 408, 425 and 429)."""


class HandoffWebhook:
    """POSTs each handoff to one URL; ``send`` starts a delivery in the background, ``aclose`` ends them."""

    def __init__(
        self,
        url: str,
        secret: str,
        *,
        transcript_url: Callable[[str], str | None] | None = None,
        delays: Sequence[float] = DEFAULT_DELAYS,
        timeout_s: float = 10.0,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ConfigError("SHOPCHAT_HANDOFF_WEBHOOK_URL must be an http:// or https:// URL")
        if not secret:
            raise ConfigError(
                "SHOPCHAT_HANDOFF_WEBHOOK_URL needs SHOPCHAT_HANDOFF_WEBHOOK_SECRET to sign with"
            )
        self._url = url
        self._secret = secret.encode()
        self._secrets = (secret, url)
        # Only where it goes: the path or query of a helpdesk's hook URL often is its credential.
        self.destination = f"{parts.scheme}://{parts.netloc.rpartition('@')[2]}"
        self._transcript_url = transcript_url or (lambda _: None)
        self._delays = tuple(delays)
        self._timeout = aiohttp.ClientTimeout(total=timeout_s)
        self._clock = clock
        self._sleep = sleep
        self._session: aiohttp.ClientSession | None = None
        self._tasks: set[asyncio.Task[bool]] = set()

    def payload(self, handoff: HandoffRecord) -> bytes:
        """The JSON body sent for ``handoff``."""
        conversation_id = handoff.conversation_id
        return orjson.dumps(
            {
                "event": "handoff",
                "handoff_id": handoff.id,
                "conversation_id": conversation_id,
                "customer_id": handoff.customer_id,
                "summary": handoff.summary,
                "transcript_url": self._transcript_url(conversation_id) if conversation_id else None,
                "created_at": handoff.created_at.isoformat(),
            }
        )

    def send(self, handoff: HandoffRecord) -> None:
        """Deliver ``handoff`` in the background (see ``notify``)."""
        task = asyncio.get_running_loop().create_task(self.notify(handoff), name="shopchat-handoff-webhook")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def notify(self, handoff: HandoffRecord) -> bool:
        """POST the handoff, retrying; True once the receiver answered 2xx, False (logged) when it gave up."""
        try:
            return await self._deliver(handoff)
        except asyncio.CancelledError:
            self._warn(handoff, "the server stopped before it was delivered", attempts=0)
            raise
        except Exception as exc:  # never into the caller: the handoff itself is already stored
            self._warn(handoff, f"{type(exc).__name__}: {exc}", attempts=0)
            return False

    async def _deliver(self, handoff: HandoffRecord) -> bool:
        body = self.payload(handoff)
        delivery = uuid.uuid4().hex
        attempts = len(self._delays) + 1
        for attempt in range(1, attempts + 1):
            try:
                await self._post(body, delivery)
                return True
            except _RefusedError as exc:
                self._warn(handoff, str(exc), attempts=attempt)
                return False
            except _RetryableError as exc:
                if attempt == attempts:
                    self._warn(handoff, exc.reason, attempts=attempt)
                    return False
                delay = self._delays[attempt - 1]
                if exc.retry_after_s is not None:
                    delay = max(delay, min(exc.retry_after_s, MAX_RETRY_AFTER_S))
                log.info(
                    "handoff webhook to %s: attempt %d failed (%s); retrying in %.0f s",
                    self.destination, attempt, self._clean(exc.reason), delay,
                )  # fmt: skip
                await self._sleep(delay)
        return False  # pragma: no cover - the loop always returns

    async def _post(self, body: bytes, delivery: str) -> None:
        timestamp = str(int(self._clock()))
        headers = {
            "Content-Type": "application/json",
            "User-Agent": "shopchat-webhook",
            EVENT_HEADER: "handoff",
            DELIVERY_HEADER: delivery,
            TIMESTAMP_HEADER: timestamp,
            SIGNATURE_HEADER: sign(self._secret, timestamp, body),
        }
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(timeout=self._timeout)
        try:
            async with self._session.post(
                self._url, data=body, headers=headers, allow_redirects=False
            ) as response:
                status = response.status
                retry_after = _seconds(response.headers.get("Retry-After"))
        except (aiohttp.ClientError, TimeoutError, OSError) as exc:
            raise _RetryableError(f"{type(exc).__name__}: {exc}") from exc
        if 200 <= status < 300:
            return
        if status >= 500 or status in _RETRY_STATUSES:
            raise _RetryableError(f"HTTP {status}", retry_after)
        raise _RefusedError(f"HTTP {status} (not retried)")

    def _warn(self, handoff: HandoffRecord, reason: str, *, attempts: int) -> None:
        log.warning(
            "handoff webhook to %s not delivered (%d attempt(s)): %s (handoff %s, conversation %s)",
            self.destination, attempts, self._clean(reason), handoff.id, handoff.conversation_id,
        )  # fmt: skip

    def _clean(self, text: str) -> str:
        return loggable(text, secrets=self._secrets)

    async def aclose(self) -> None:
        """Stop the deliveries still running (each logs that it was not delivered) and close the connections."""
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        if self._session is not None:
            await self._session.close()


def _seconds(value: str | None) -> float | None:
    # Only the delta-seconds form: an HTTP date from a receiver's clock is not worth trusting here.
    if value is None or not value.strip().isdigit():
        return None
    return float(value.strip())

"""The handoff webhook against a real HTTP server on 127.0.0.1: signature, retries, giving up, quiet logs."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import logging
import socket
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import pytest
from aiohttp import web

from app.errors import ConfigError
from app.store.orders import HandoffRecord
from app.web.webhook import HandoffWebhook

SECRET = "whsec-test-0123456789"
HANDOFF = HandoffRecord(
    id=7,
    conversation_id="c0ffee00c0ffee00c0ffee00c0ffee00",
    customer_id="12347",
    summary="Wants a refund for a broken mug",
    status="open",
    created_at=datetime(2026, 12, 7, 12, 0, tzinfo=UTC),
)
NOW = 1_796_644_800.0


@dataclass
class Receiver:
    """A helpdesk stand-in: answers each POST with the next scripted status (then 200), keeps what it got."""

    statuses: list[int] = field(default_factory=list)
    headers: dict[str, str] = field(default_factory=dict)
    received: list[tuple[dict[str, str], bytes]] = field(default_factory=list)
    url: str = ""

    async def handle(self, request: web.Request) -> web.Response:
        self.received.append((dict(request.headers), await request.read()))
        status = self.statuses.pop(0) if self.statuses else 200
        return web.Response(status=status, text="nope" if status >= 300 else "ok", headers=self.headers)


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    found = Receiver()
    app = web.Application()
    app.router.add_post("/hooks/shopchat", found.handle)
    runner = web.AppRunner(app, access_log=None)  # its log would show the URL's query, not ours
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    found.url = f"http://127.0.0.1:{port}/hooks/shopchat?token=path-secret"
    try:
        yield found
    finally:
        await runner.cleanup()


class Sleeps:
    """Records the back-off instead of waiting it out."""

    def __init__(self) -> None:
        self.delays: list[float] = []

    async def __call__(self, delay: float) -> None:
        self.delays.append(delay)


Webhooks = Callable[..., HandoffWebhook]


@pytest.fixture
async def webhook() -> AsyncIterator[Webhooks]:
    """Makes webhooks with a fixed clock and recorded sleeps (``webhook(url, sleeps, **options)``); closes them."""
    made: list[HandoffWebhook] = []

    def make(url: str, sleeps: Sleeps, **options: Any) -> HandoffWebhook:
        hook = HandoffWebhook(
            url,
            SECRET,
            transcript_url=lambda cid: f"https://chat.example.com/operator/conversations/{cid}",
            clock=lambda: NOW,
            sleep=sleeps,
            **options,
        )
        made.append(hook)
        return hook

    yield make
    for hook in made:
        await hook.aclose()


def verify(headers: dict[str, str], body: bytes, secret: str) -> bool:
    """The receiver's check, as docs/operators.md shows it."""
    timestamp = headers["X-Shopchat-Timestamp"]
    expected = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    return hmac.compare_digest("sha256=" + expected, headers["X-Shopchat-Signature"])


async def test_the_handoff_arrives_as_signed_json(webhook: Webhooks, receiver: Receiver) -> None:
    assert await webhook(receiver.url, Sleeps()).notify(HANDOFF)
    [(headers, body)] = receiver.received
    assert json.loads(body) == {
        "event": "handoff",
        "handoff_id": 7,
        "conversation_id": HANDOFF.conversation_id,
        "customer_id": "12347",
        "summary": "Wants a refund for a broken mug",
        "transcript_url": f"https://chat.example.com/operator/conversations/{HANDOFF.conversation_id}",
        "created_at": "2026-12-07T12:00:00+00:00",
    }
    assert headers["Content-Type"] == "application/json"
    assert headers["X-Shopchat-Event"] == "handoff"
    assert headers["X-Shopchat-Timestamp"] == str(int(NOW))
    assert verify(headers, body, SECRET)


async def test_the_signature_fails_for_another_secret_body_or_timestamp(
    webhook: Webhooks, receiver: Receiver
) -> None:
    await webhook(receiver.url, Sleeps()).notify(HANDOFF)
    [(headers, body)] = receiver.received
    assert not verify(headers, body, "another-secret")
    assert not verify(headers, body.replace(b"12347", b"12348"), SECRET)
    assert not verify({**headers, "X-Shopchat-Timestamp": str(int(NOW) + 1)}, body, SECRET)


async def test_a_500_is_retried_after_a_delay_then_delivered(webhook: Webhooks, receiver: Receiver) -> None:
    receiver.statuses = [500, 503]
    sleeps = Sleeps()
    assert await webhook(receiver.url, sleeps).notify(HANDOFF)
    assert len(receiver.received) == 3
    assert sleeps.delays == [1.0, 4.0]
    bodies = {body for _, body in receiver.received}
    deliveries = {headers["X-Shopchat-Delivery"] for headers, _ in receiver.received}
    assert (len(bodies), len(deliveries)) == (1, 1)  # one delivery: the receiver can drop duplicates
    assert all(verify(headers, body, SECRET) for headers, body in receiver.received)


async def test_a_429_waits_as_long_as_retry_after_says(webhook: Webhooks, receiver: Receiver) -> None:
    receiver.statuses = [429]
    receiver.headers = {"Retry-After": "30"}
    sleeps = Sleeps()
    assert await webhook(receiver.url, sleeps).notify(HANDOFF)
    assert sleeps.delays == [30.0]


async def test_it_gives_up_after_the_last_attempt_with_one_warning(
    webhook: Webhooks, receiver: Receiver, caplog: pytest.LogCaptureFixture
) -> None:
    receiver.statuses = [500] * 10
    sleeps = Sleeps()
    with caplog.at_level(logging.INFO, logger="shopchat.webhook"):
        delivered = await webhook(receiver.url, sleeps, delays=(0.5, 1.0)).notify(HANDOFF)
    assert delivered is False
    assert len(receiver.received) == 3
    assert sleeps.delays == [0.5, 1.0]
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1
    message = warnings[0].getMessage()
    assert "not delivered (3 attempt(s)): HTTP 500" in message
    assert "conversation c0ffee00c0ffee00c0ffee00c0ffee00" in message


async def test_a_4xx_is_not_retried(
    webhook: Webhooks, receiver: Receiver, caplog: pytest.LogCaptureFixture
) -> None:
    receiver.statuses = [404]
    sleeps = Sleeps()
    with caplog.at_level(logging.WARNING, logger="shopchat.webhook"):
        assert not await webhook(receiver.url, sleeps).notify(HANDOFF)
    assert (len(receiver.received), sleeps.delays) == (1, [])
    assert "HTTP 404 (not retried)" in caplog.text


async def test_an_unreachable_receiver_is_retried_then_given_up(
    webhook: Webhooks, caplog: pytest.LogCaptureFixture
) -> None:
    with socket.socket() as free:
        free.bind(("127.0.0.1", 0))
        port = free.getsockname()[1]
    sleeps = Sleeps()
    url = f"http://127.0.0.1:{port}/hooks/shopchat?token=path-secret"
    with caplog.at_level(logging.INFO, logger="shopchat.webhook"):
        assert not await webhook(url, sleeps).notify(HANDOFF)
    assert sleeps.delays == [1.0, 4.0, 16.0, 64.0]
    assert "not delivered (5 attempt(s)): ClientConnectorError" in caplog.text


async def test_no_secret_and_no_url_path_reaches_the_log(
    webhook: Webhooks, receiver: Receiver, caplog: pytest.LogCaptureFixture
) -> None:
    receiver.statuses = [500] * 10
    with caplog.at_level(logging.DEBUG):
        await webhook(receiver.url, Sleeps()).notify(HANDOFF)
    assert caplog.records
    assert SECRET not in caplog.text
    assert "path-secret" not in caplog.text
    assert f"http://127.0.0.1:{receiver.url.split(':')[2].split('/')[0]}" in caplog.text


async def test_send_delivers_in_the_background_and_never_raises(
    webhook: Webhooks, receiver: Receiver
) -> None:
    hook = webhook(receiver.url, Sleeps())
    hook.send(HANDOFF)
    assert receiver.received == []  # not yet: the caller did not wait
    for _ in range(200):
        if receiver.received:
            break
        await asyncio.sleep(0.01)
    await hook.aclose()
    assert len(receiver.received) == 1


async def test_close_stops_a_delivery_that_is_waiting_to_retry(
    receiver: Receiver, caplog: pytest.LogCaptureFixture
) -> None:
    receiver.statuses = [500]
    hook = HandoffWebhook(receiver.url, SECRET, delays=(3600.0,))
    hook.send(HANDOFF)
    for _ in range(200):
        if receiver.received:
            break
        await asyncio.sleep(0.01)
    with caplog.at_level(logging.WARNING, logger="shopchat.webhook"):
        await asyncio.wait_for(hook.aclose(), 5)
    assert "the server stopped before it was delivered" in caplog.text


@pytest.mark.parametrize(
    ("url", "secret", "problem"),
    [
        ("ftp://example.com/x", SECRET, "must be an http:// or https:// URL"),
        ("https:///nohost", SECRET, "must be an http:// or https:// URL"),
        ("https://example.com/x", "", "needs SHOPCHAT_HANDOFF_WEBHOOK_SECRET"),
    ],
)
def test_a_bad_url_or_a_missing_secret_is_a_config_error(url: str, secret: str, problem: str) -> None:
    with pytest.raises(ConfigError, match=problem):
        HandoffWebhook(url, secret)

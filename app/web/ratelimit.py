"""Rate limits and connection caps shared by every socket of a process: token buckets and open-socket counts.

The counters sit behind ``Counters`` so that several processes can later share them (e.g. over Redis); the
in-process ``LocalCounters`` forgets a bucket once it has refilled (it is then the same as a new one) and a
socket count once it is back to zero, so its memory follows the clients active in the last minute or so.
"""

from __future__ import annotations

import ipaddress
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True, slots=True)
class Rate:
    """A token bucket's shape: ``per_minute`` tokens a minute, at most ``burst`` saved up."""

    per_minute: float
    burst: float

    @classmethod
    def messages(cls, per_minute: float) -> Rate:
        """Messages: ``per_minute`` a minute with bursts of up to a fifth of that (at least 3)."""
        return cls(per_minute, max(3.0, per_minute / 5))

    @property
    def per_second(self) -> float:
        """Refill speed."""
        return self.per_minute / 60.0


class Counters(Protocol):
    """The shared state behind the limits; keys are namespaced by the caller (``conv:…``, ``ip:…``)."""

    async def take(self, demands: Sequence[tuple[str, Rate]]) -> float | None:
        """Spend one token from each bucket, all or none: None if spent, else seconds until all could be."""
        ...

    async def enter(self, key: str, cap: int) -> bool:
        """Count one more open socket under ``key`` unless ``cap`` are open already."""
        ...

    async def leave(self, key: str) -> None:
        """Count one socket under ``key`` fewer."""
        ...


@dataclass(slots=True)
class _Bucket:
    tokens: float
    updated: float


class LocalCounters:
    """``Counters`` in this process's memory; idle entries are swept every ``sweep_every_s``."""

    def __init__(self, clock: Callable[[], float] = time.monotonic, sweep_every_s: float = 60.0) -> None:
        self._clock = clock
        self._sweep_every_s = sweep_every_s
        self._buckets: dict[str, tuple[Rate, _Bucket]] = {}
        self._open: dict[str, int] = {}
        self._swept = clock()

    async def take(self, demands: Sequence[tuple[str, Rate]]) -> float | None:
        """See ``Counters.take``."""
        now = self._clock()
        if now - self._swept >= self._sweep_every_s:
            self._sweep(now)
        buckets = []
        wait = 0.0
        for key, rate in demands:
            entry = self._buckets.get(key)
            if entry is None or entry[0] != rate:
                entry = self._buckets[key] = (rate, _Bucket(tokens=rate.burst, updated=now))
            bucket = entry[1]
            bucket.tokens = min(rate.burst, bucket.tokens + (now - bucket.updated) * rate.per_second)
            bucket.updated = now
            if bucket.tokens < 1:
                wait = max(wait, (1 - bucket.tokens) / rate.per_second)
            buckets.append(bucket)
        if wait > 0:
            return wait
        for bucket in buckets:
            bucket.tokens -= 1
        return None

    async def enter(self, key: str, cap: int) -> bool:
        """See ``Counters.enter``."""
        count = self._open.get(key, 0)
        if count >= cap:
            return False
        self._open[key] = count + 1
        return True

    async def leave(self, key: str) -> None:
        """See ``Counters.leave``."""
        count = self._open.get(key, 0) - 1
        if count > 0:
            self._open[key] = count
        else:
            self._open.pop(key, None)

    def __len__(self) -> int:
        """Entries held (buckets and socket counts): what the sweep keeps bounded."""
        return len(self._buckets) + len(self._open)

    def _sweep(self, now: float) -> None:
        self._swept = now
        full = [
            key
            for key, (rate, bucket) in self._buckets.items()
            if bucket.tokens + (now - bucket.updated) * rate.per_second >= rate.burst
        ]
        for key in full:
            del self._buckets[key]


@dataclass(frozen=True, slots=True)
class Limited:
    """A refusal by a limit: what to tell the client and when it may try again."""

    message: str
    retry_after_s: float


@dataclass(frozen=True, slots=True)
class ClientLimitsConfig:
    """Limits per conversation (all its sockets together) and per client address."""

    messages_per_conversation_per_minute: int = 30
    messages_per_client_per_minute: int = 60
    sockets_per_client: int = 50
    new_conversations_per_client_per_minute: int = 20


class ClientLimits:
    """The limits every socket is held to, kept in ``counters`` (see the module docstring)."""

    def __init__(self, config: ClientLimitsConfig, counters: Counters | None = None) -> None:
        self.config = config
        self.counters: Counters = counters or LocalCounters()
        self._conversation_rate = Rate.messages(config.messages_per_conversation_per_minute)
        self._client_rate = Rate.messages(config.messages_per_client_per_minute)
        per_minute = config.new_conversations_per_client_per_minute
        self._new_rate = Rate(per_minute, max(3.0, per_minute / 2))

    async def connect(self, client: str, *, new_conversation: bool) -> Limited | None:
        """Admit a socket from ``client`` (call ``disconnect`` when it closes), or say why not."""
        if not await self.counters.enter("sockets:" + client, self.config.sockets_per_client):
            return Limited("Too many open chat connections from your network. Close some and retry.", 30.0)
        if new_conversation:
            wait = await self.counters.take([("new:" + client, self._new_rate)])
            if wait is not None:
                await self.counters.leave("sockets:" + client)
                return Limited("Too many new conversations from your network. Please wait a moment.", wait)
        return None

    async def disconnect(self, client: str) -> None:
        """A socket ``connect`` admitted has closed."""
        await self.counters.leave("sockets:" + client)

    async def message(self, client: str, conversation_id: str) -> float | None:
        """Spend a message from the conversation's and the client's budgets: None, or seconds to wait."""
        return await self.counters.take(
            [("conv:" + conversation_id, self._conversation_rate), ("ip:" + client, self._client_rate)]
        )


@dataclass(frozen=True, slots=True)
class MessageBudget:
    """One socket's view of the limits: its conversation's and its client's message budgets."""

    limits: ClientLimits
    client: str
    conversation_id: str

    async def take(self) -> float | None:
        """Spend one message: None if allowed, else the seconds until one is available."""
        return await self.limits.message(self.client, self.conversation_id)


def client_key(host: str | None) -> str:
    """The address a client is limited by: its IPv4 address, or its IPv6 /64 (one subscriber's network)."""
    if not host:
        return "unknown"
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return host
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return str(address.ipv4_mapped)
        return str(ipaddress.IPv6Network((address, 64), strict=False))
    return str(address)

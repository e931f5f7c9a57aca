"""Operators online in any process: each process keeps its count in Redis under a key that expires with it."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid

from redis.asyncio import Redis
from redis.exceptions import RedisError

from app.web.inbox import OperatorPresence

log = logging.getLogger("shopchat.inbox")


class RedisPresence:
    """Publishes this process's operators every ``every_s`` and counts the others' into ``presence.elsewhere``.

    A process that dies stops renewing its key, which expires after ``ttl_s``: its operators stop counting.
    """

    def __init__(
        self,
        redis: Redis,
        presence: OperatorPresence,
        *,
        every_s: float = 5.0,
        ttl_s: float = 15.0,
        prefix: str = "shopchat:operators:",
    ) -> None:
        self.redis = redis
        self.presence = presence
        self.every_s = every_s
        self.ttl_ms = int(ttl_s * 1000)
        self.prefix = prefix
        self.key = prefix + uuid.uuid4().hex
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        """Publish and count once now, then keep doing it in the background."""
        await self.beat()
        self._task = asyncio.create_task(self._run(), name="operators-online")

    async def aclose(self) -> None:
        """Stop, and take this process's operators out of the count at once."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        with contextlib.suppress(RedisError, OSError):
            await self.redis.delete(self.key)

    async def beat(self) -> None:
        """Publish this process's count; count the other live processes' operators."""
        await self.redis.set(self.key, self.presence.online, px=self.ttl_ms)
        elsewhere = 0
        async for key in self.redis.scan_iter(match=self.prefix + "*", count=100):
            if key.decode() == self.key:
                continue
            value = await self.redis.get(key)
            if value is not None and value.isdigit():
                elsewhere += int(value)
        self.presence.elsewhere = elsewhere

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self.every_s)
            try:
                await self.beat()
            except (RedisError, OSError) as exc:
                log.warning("could not share operators online through Redis: %s: %s", type(exc).__name__, exc)

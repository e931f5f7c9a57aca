"""Answer leases in Redis: a key per answer holding its owner, renewed while it generates, expiring if it dies."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import Callable

from redis.asyncio import Redis
from redis.exceptions import RedisError

from app.conversation.leases import Lease

log = logging.getLogger("shopchat.bus")

_RENEW = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return 0
"""
_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""


class RedisLease:
    """One held lease: renewed every third of its TTL until released."""

    def __init__(self, leases: RedisLeases, key: str, on_lost: Callable[[], None] | None = None) -> None:
        self._leases = leases
        self.key = key
        self._on_lost = on_lost
        self._task = asyncio.create_task(self._renew(), name=f"lease:{key}")

    async def _renew(self) -> None:
        while True:
            await asyncio.sleep(self._leases.ttl_s / 3)
            try:
                renewed = await self._leases.renew_script(
                    keys=[self.key], args=[self._leases.owner, self._leases.ttl_ms]
                )
            except (RedisError, OSError) as exc:
                log.warning("could not renew the lease %s: %s: %s", self.key, type(exc).__name__, exc)
                continue
            if not renewed:
                log.warning("lost the lease %s (it lapsed and another process took it); stopping", self.key)
                if self._on_lost is not None:
                    self._on_lost()
                return

    async def release(self) -> None:
        """Stop renewing and delete the key if it is still ours."""
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task
        with contextlib.suppress(RedisError, OSError):
            await self._leases.release_script(keys=[self.key], args=[self._leases.owner])


class RedisLeases:
    """Implements ``app.conversation.leases.Leases`` with ``SET NX PX``; ``ttl_s`` bounds a dead owner's hold."""

    def __init__(self, redis: Redis, *, ttl_s: float = 15.0, prefix: str = "shopchat:lease:") -> None:
        self.redis = redis
        self.ttl_s = ttl_s
        self.prefix = prefix
        self.owner = uuid.uuid4().hex
        self.renew_script = redis.register_script(_RENEW)
        self.release_script = redis.register_script(_RELEASE)

    @property
    def ttl_ms(self) -> int:
        """The lease's lifetime without renewal, in ms."""
        return int(self.ttl_s * 1000)

    async def acquire(self, key: str, on_lost: Callable[[], None] | None = None) -> Lease | None:
        """See ``Leases.acquire``; if Redis cannot be reached, granted (one process's behaviour) with a warning."""
        full = self.prefix + key
        try:
            taken = await self.redis.set(full, self.owner, nx=True, px=self.ttl_ms)
        except (RedisError, OSError) as exc:
            log.warning(
                "could not take the lease %s, generating anyway: %s: %s", key, type(exc).__name__, exc
            )
            return RedisLease(self, full, on_lost)
        return RedisLease(self, full, on_lost) if taken else None

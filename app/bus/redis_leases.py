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

# A missing key is taken again: it was granted while Redis could not be reached, or it lapsed and nobody took
# it, and in both cases nobody else is generating the answer. Only another owner's key means the lease is lost.
_RENEW = """
local owner = redis.call('GET', KEYS[1])
if owner == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
if not owner then redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2]) return 1 end
return 0
"""
_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""


class RedisLease:
    """One held lease: renewed with every other lease of its process until released."""

    def __init__(self, leases: RedisLeases, key: str, on_lost: Callable[[], None] | None = None) -> None:
        self._leases = leases
        self.key = key
        self.on_lost = on_lost

    async def release(self) -> None:
        """Stop renewing and delete the key if it is still ours."""
        self._leases.forget(self)
        with contextlib.suppress(RedisError, OSError):
            await self._leases.release_script(keys=[self.key], args=[self._leases.owner])


class RedisLeases:
    """Implements ``app.conversation.leases.Leases`` with ``SET NX PX``; ``ttl_s`` bounds a dead owner's hold.

    One task renews every held lease, all in one round trip, every third of ``ttl_s`` (a lease's first renewal
    comes at most that long after it was taken), rather than a task and a timer per answer: a process holds a
    lease for every answer it is generating, hundreds at a time.
    """

    def __init__(self, redis: Redis, *, ttl_s: float = 15.0, prefix: str = "shopchat:lease:") -> None:
        self.redis = redis
        self.ttl_s = ttl_s
        self.prefix = prefix
        self.owner = uuid.uuid4().hex
        self.renew_script = redis.register_script(_RENEW)
        self.release_script = redis.register_script(_RELEASE)
        self._held: dict[str, RedisLease] = {}
        self._renewer: asyncio.Task[None] | None = None

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
            taken = True
        if not taken:
            return None
        lease = RedisLease(self, full, on_lost)
        self._held[full] = lease
        if self._renewer is None or self._renewer.done():
            self._renewer = asyncio.create_task(self._renew(), name="leases")
        return lease

    def forget(self, lease: RedisLease) -> None:
        """Stop renewing ``lease`` (it is being released)."""
        if self._held.get(lease.key) is lease:
            del self._held[lease.key]

    async def _renew(self) -> None:
        # Ends once nothing is held; the next acquire starts it again.
        while self._held:
            await asyncio.sleep(self.ttl_s / 3)
            leases = list(self._held.values())
            if not leases:
                return
            try:
                async with self.redis.pipeline(transaction=False) as pipe:
                    for lease in leases:
                        await self.renew_script(keys=[lease.key], args=[self.owner, self.ttl_ms], client=pipe)
                    renewed = await pipe.execute()
            except (RedisError, OSError) as exc:
                log.warning("could not renew %d leases: %s: %s", len(leases), type(exc).__name__, exc)
                continue
            for lease, ok in zip(leases, renewed, strict=True):
                # A lease released meanwhile is no longer ours to report.
                if not ok and self._held.get(lease.key) is lease:
                    del self._held[lease.key]
                    log.warning(
                        "lost the lease %s (it lapsed and another process took it); stopping", lease.key
                    )
                    if lease.on_lost is not None:
                        lease.on_lost()

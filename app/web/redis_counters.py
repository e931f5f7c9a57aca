"""``Counters`` in Redis, so every process behind one address shares the limits (``SHOPCHAT_REDIS_URL``).

Token buckets are one Lua script (atomic, the server's clock, all buckets or none) on hashes that expire once
they would have refilled. Open sockets are a hash per client address with one count per process; a process
keeps a heartbeat key alive, and counts of processes whose heartbeat expired (killed) are dropped when read,
so a crash never leaves an address locked out. When Redis cannot be reached the limits let clients through
(a warning is logged): a chat that still works beats one refused by its own rate limiter.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from collections.abc import Sequence

from redis.asyncio import Redis
from redis.exceptions import RedisError

from app.web.ratelimit import Rate

log = logging.getLogger("shopchat.limits")

_TAKE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local tokens = {}
local wait = 0
for i = 1, #KEYS do
  local rate = tonumber(ARGV[2 * i - 1])
  local burst = tonumber(ARGV[2 * i])
  local state = redis.call('HMGET', KEYS[i], 't', 'u')
  local tk = tonumber(state[1])
  local updated = tonumber(state[2])
  if tk == nil or updated == nil then
    tk = burst
    updated = now
  end
  tk = math.min(burst, tk + math.max(0, now - updated) * rate)
  tokens[i] = tk
  if tk < 1 then wait = math.max(wait, (1 - tk) / rate) end
end
if wait > 0 then return tostring(wait) end
for i = 1, #KEYS do
  local rate = tonumber(ARGV[2 * i - 1])
  local burst = tonumber(ARGV[2 * i])
  redis.call('HSET', KEYS[i], 't', tostring(tokens[i] - 1), 'u', tostring(now))
  redis.call('PEXPIRE', KEYS[i], math.ceil(burst / rate * 1000) + 1000)
end
return false
"""

_ENTER = """
local fields = redis.call('HGETALL', KEYS[1])
local total = 0
for i = 1, #fields, 2 do
  local owner = fields[i]
  if owner == ARGV[2] or redis.call('EXISTS', ARGV[3] .. owner) == 1 then
    total = total + tonumber(fields[i + 1])
  else
    redis.call('HDEL', KEYS[1], owner)
  end
end
if total >= tonumber(ARGV[1]) then return 0 end
redis.call('HINCRBY', KEYS[1], ARGV[2], 1)
redis.call('EXPIRE', KEYS[1], tonumber(ARGV[4]))
return 1
"""

_LEAVE = """
local left = redis.call('HINCRBY', KEYS[1], ARGV[1], -1)
if left <= 0 then redis.call('HDEL', KEYS[1], ARGV[1]) end
return left
"""


class RedisCounters:
    """``Counters`` shared through Redis (see the module docstring); ``start`` begins the heartbeat."""

    def __init__(
        self,
        redis: Redis,
        *,
        prefix: str = "shopchat:",
        heartbeat_s: float = 10.0,
        socket_ttl_s: int = 86_400,
    ) -> None:
        self.redis = redis
        self.prefix = prefix
        self.process_id = uuid.uuid4().hex
        self.heartbeat_s = heartbeat_s
        self.socket_ttl_s = socket_ttl_s
        self._take = redis.register_script(_TAKE)
        self._enter = redis.register_script(_ENTER)
        self._leave = redis.register_script(_LEAVE)
        self._task: asyncio.Task[None] | None = None
        self._warned = 0.0

    @property
    def _alive_prefix(self) -> str:
        return self.prefix + "process:"

    async def start(self) -> None:
        """Mark this process alive now and keep it so every ``heartbeat_s``."""
        with contextlib.suppress(RedisError, OSError):
            await self._beat()
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="redis-counters-heartbeat")

    async def aclose(self) -> None:
        """Stop the heartbeat and forget this process's socket counts at once."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        with contextlib.suppress(RedisError, OSError):
            await self.redis.delete(self._alive_prefix + self.process_id)

    async def take(self, demands: Sequence[tuple[str, Rate]]) -> float | None:
        """See ``Counters.take``."""
        keys = [self.prefix + "bucket:" + key for key, _ in demands]
        args: list[float] = []
        for _, rate in demands:
            args += [rate.per_second, rate.burst]
        try:
            wait = await self._take(keys=keys, args=args)
        except (RedisError, OSError) as exc:
            self._unavailable(exc)
            return None
        return float(wait) if wait is not None else None

    async def enter(self, key: str, cap: int) -> bool:
        """See ``Counters.enter``."""
        args: list[str | int] = [cap, self.process_id, self._alive_prefix, self.socket_ttl_s]
        try:
            return bool(await self._enter(keys=[self.prefix + "open:" + key], args=args))
        except (RedisError, OSError) as exc:
            self._unavailable(exc)
            return True

    async def leave(self, key: str) -> None:
        """See ``Counters.leave``."""
        try:
            await self._leave(keys=[self.prefix + "open:" + key], args=[self.process_id])
        except (RedisError, OSError) as exc:
            self._unavailable(exc)

    async def _beat(self) -> None:
        await self.redis.set(self._alive_prefix + self.process_id, "1", ex=int(self.heartbeat_s * 3))

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self.heartbeat_s)
            try:
                await self._beat()
            except (RedisError, OSError) as exc:
                self._unavailable(exc)

    def _unavailable(self, exc: Exception) -> None:
        now = time.monotonic()
        if now - self._warned >= 10:
            self._warned = now
            log.warning("Redis unavailable, limits not enforced meanwhile: %s: %s", type(exc).__name__, exc)

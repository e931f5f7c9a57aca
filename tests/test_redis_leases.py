"""Answer leases in Redis: two ``RedisLeases`` stand for two processes."""

from __future__ import annotations

import asyncio

from redis.asyncio import Redis

from app.bus.redis_leases import RedisLeases


async def test_one_holder_at_a_time_until_released(redis: Redis) -> None:
    a, b = RedisLeases(redis), RedisLeases(redis)
    lease = await a.acquire("c1/m1")
    assert lease is not None
    assert await b.acquire("c1/m1") is None
    assert 0 < await redis.pttl("shopchat:lease:c1/m1") <= 15_000
    await lease.release()
    again = await b.acquire("c1/m1")
    assert again is not None
    await again.release()


async def test_a_held_lease_is_renewed_and_a_dead_holders_expires(redis: Redis) -> None:
    a, b = RedisLeases(redis, ttl_s=0.3), RedisLeases(redis, ttl_s=0.3)
    lease = await a.acquire("c2/m1")
    assert lease is not None
    await asyncio.sleep(0.6)  # twice its lifetime: only renewal keeps it
    assert await b.acquire("c2/m1") is None
    await redis.set("shopchat:lease:c3/m1", "a process killed with -9", px=200)
    await asyncio.sleep(0.3)
    taken = await b.acquire("c3/m1")
    assert taken is not None
    await taken.release()
    await lease.release()


async def test_releasing_never_deletes_a_lease_another_process_took_since(redis: Redis) -> None:
    a, b = RedisLeases(redis), RedisLeases(redis)
    lease = await a.acquire("c4/m1")
    assert lease is not None
    await redis.set("shopchat:lease:c4/m1", b.owner)  # it expired and b took it over
    await lease.release()
    assert await redis.get("shopchat:lease:c4/m1") == b.owner.encode()


async def test_a_holder_whose_lease_was_taken_is_told_and_stops_renewing(redis: Redis) -> None:
    lost = asyncio.Event()
    a = RedisLeases(redis, ttl_s=0.3)
    lease = await a.acquire("c5/m1", on_lost=lost.set)
    assert lease is not None
    await redis.set("shopchat:lease:c5/m1", "another process")  # as if ours lapsed and B took it
    await asyncio.wait_for(lost.wait(), 2)
    assert await redis.get("shopchat:lease:c5/m1") == b"another process"
    await lease.release()
    assert await redis.get("shopchat:lease:c5/m1") == b"another process"


async def test_every_lease_a_process_holds_is_kept_alive(redis: Redis) -> None:
    a = RedisLeases(redis, ttl_s=0.3)
    leases = [await a.acquire(f"c6/m{i}") for i in range(5)]
    await asyncio.sleep(0.7)  # more than twice their lifetime
    assert all([await redis.exists(f"shopchat:lease:c6/m{i}") for i in range(5)])
    for lease in leases:
        assert lease is not None
        await lease.release()
    assert not await redis.exists(*[f"shopchat:lease:c6/m{i}" for i in range(5)])


async def test_a_lease_taken_after_all_were_released_is_renewed_too(redis: Redis) -> None:
    a = RedisLeases(redis, ttl_s=0.3)
    first = await a.acquire("c7/m1")
    assert first is not None
    await first.release()
    await asyncio.sleep(0.25)  # nothing held for longer than a renewal period
    second = await a.acquire("c7/m2")
    assert second is not None
    await asyncio.sleep(0.7)
    assert await redis.exists("shopchat:lease:c7/m2")
    await second.release()


async def test_a_lease_whose_key_went_missing_is_taken_again_not_lost(redis: Redis) -> None:
    lost = asyncio.Event()
    a = RedisLeases(redis, ttl_s=0.3)
    lease = await a.acquire("c8/m1", on_lost=lost.set)
    assert lease is not None
    await redis.delete("shopchat:lease:c8/m1")  # as if granted while Redis could not be reached
    await asyncio.sleep(0.25)
    assert await redis.get("shopchat:lease:c8/m1") == a.owner.encode()
    assert not lost.is_set()
    await lease.release()

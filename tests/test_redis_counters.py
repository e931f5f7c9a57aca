"""Limits shared through Redis: two ``RedisCounters`` stand for two server processes."""

from __future__ import annotations

import logging

import pytest
from redis.asyncio import Redis
from starlette.testclient import TestClient

from app.errors import ConfigError
from app.settings import Settings, load_settings
from app.web.application import create_app
from app.web.ratelimit import ClientLimits, ClientLimitsConfig, Rate
from app.web.redis_counters import RedisCounters
from tests.liveserver import free_port

SLOW = Rate(per_minute=6, burst=3)  # a token every 10 s: nothing refills during a test


async def test_a_bucket_is_shared_by_two_processes(redis: Redis) -> None:
    a, b = RedisCounters(redis), RedisCounters(redis)
    assert await a.take([("conv:c1", SLOW)]) is None
    assert await b.take([("conv:c1", SLOW)]) is None
    assert await a.take([("conv:c1", SLOW)]) is None
    wait = await b.take([("conv:c1", SLOW)])
    assert wait is not None
    assert 0 < wait <= 10


async def test_all_buckets_or_none_are_spent(redis: Redis) -> None:
    counters = RedisCounters(redis)
    for _ in range(3):
        assert await counters.take([("ip:x", SLOW)]) is None
    # The address is out of tokens: the conversation's bucket must not pay for the refused message.
    assert await counters.take([("conv:c2", SLOW), ("ip:x", SLOW)]) is not None
    for _ in range(3):
        assert await counters.take([("conv:c2", SLOW)]) is None
    assert await counters.take([("conv:c2", SLOW)]) is not None


async def test_buckets_expire_once_they_would_have_refilled(redis: Redis) -> None:
    counters = RedisCounters(redis)
    await counters.take([("conv:c3", SLOW)])
    ttl_ms = await redis.pttl("shopchat:bucket:conv:c3")
    assert 0 < ttl_ms <= 31_000  # 3 tokens at one per 10 s, plus a second


async def test_open_sockets_are_capped_across_processes(redis: Redis) -> None:
    a, b = RedisCounters(redis), RedisCounters(redis)
    await a.start()
    await b.start()
    try:
        assert await a.enter("sockets:1.2.3.4", 2)
        assert await b.enter("sockets:1.2.3.4", 2)
        assert not await a.enter("sockets:1.2.3.4", 2)
        await b.leave("sockets:1.2.3.4")
        assert await a.enter("sockets:1.2.3.4", 2)
        assert await redis.ttl("shopchat:open:sockets:1.2.3.4") > 0
    finally:
        await a.aclose()
        await b.aclose()


async def test_a_dead_process_sockets_stop_counting_when_its_heartbeat_expires(redis: Redis) -> None:
    dead, alive = RedisCounters(redis), RedisCounters(redis)
    await dead.start()
    await alive.start()
    try:
        assert await dead.enter("sockets:5.6.7.8", 1)
        assert not await alive.enter("sockets:5.6.7.8", 1)
        assert 0 < await redis.ttl("shopchat:process:" + dead.process_id) <= 30
        # kill -9: nobody renews its heartbeat, which then expires.
        await redis.delete("shopchat:process:" + dead.process_id)
        assert await alive.enter("sockets:5.6.7.8", 1)
    finally:
        await dead.aclose()
        await alive.aclose()


async def test_client_limits_hold_across_processes(redis: Redis) -> None:
    config = ClientLimitsConfig(messages_per_conversation_per_minute=15)  # a burst of 3
    a, b = ClientLimits(config, RedisCounters(redis)), ClientLimits(config, RedisCounters(redis))
    results = [await (a if i % 2 else b).message(f"10.0.0.{i}", "conv-1") for i in range(4)]
    assert results[:3] == [None, None, None]
    assert results[3] is not None


async def test_unreachable_redis_lets_clients_through_with_a_warning(
    caplog: pytest.LogCaptureFixture,
) -> None:
    down = Redis.from_url(f"redis://127.0.0.1:{free_port()}/0", socket_connect_timeout=1)
    counters = RedisCounters(down)
    try:
        with caplog.at_level(logging.WARNING, logger="shopchat.limits"):
            assert await counters.take([("conv:c", SLOW)]) is None
            assert await counters.enter("sockets:x", 1)
    finally:
        await down.aclose()
    assert any("Redis unavailable" in r.getMessage() for r in caplog.records)


def test_a_redis_url_nobody_answers_stops_start_up_with_one_clear_line(settings: Settings) -> None:
    broken = settings.model_copy(update={"redis_url": f"redis://127.0.0.1:{free_port()}/0"})
    with (
        pytest.raises(ConfigError, match="SHOPCHAT_REDIS_URL: cannot reach Redis"),
        TestClient(create_app(broken)),
    ):
        pass


def test_a_redis_url_must_name_a_redis_scheme() -> None:
    with pytest.raises(ConfigError, match="SHOPCHAT_REDIS_URL"):
        load_settings(redis_url="http://127.0.0.1:6379")
    assert load_settings(redis_url="").redis_url is None

"""``RedisBroadcaster``: two instances on one Redis stand for two processes."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from redis.asyncio import Redis

from app.bus.redis_broadcaster import RedisBroadcaster
from app.conversation.subscriber import Subscriber


@pytest.fixture
async def pair(redis_url: str) -> AsyncIterator[tuple[RedisBroadcaster, RedisBroadcaster, Redis]]:
    redis = Redis.from_url(redis_url)
    a, b = RedisBroadcaster(redis, channel="test:events"), RedisBroadcaster(redis, channel="test:events")
    await a.start()
    await b.start()
    yield a, b, redis
    await a.aclose()
    await b.aclose()
    await redis.aclose()


def live(last_seq: int = 0) -> Subscriber:
    subscriber = Subscriber(last_seq=last_seq)
    subscriber.finish_replay()
    return subscriber


async def frames(subscriber: Subscriber, n: int) -> list[str]:
    return [p for p in [await asyncio.wait_for(subscriber.next(), 5) for _ in range(n)] if p is not None]


async def test_events_reach_subscribers_of_the_other_process_once_each_in_order(
    pair: tuple[RedisBroadcaster, RedisBroadcaster, Redis],
) -> None:
    a, b, _ = pair
    here, there, elsewhere = live(), live(), live()
    a.subscribe("c1", here)
    b.subscribe("c1", there)
    b.subscribe("c2", elsewhere)
    for seq in (1, 2, 3):
        a.publish("c1", seq, f'{{"seq": {seq}}}')
    a.publish("c1", 2, '{"seq": 2}')  # a repeat is dropped by seq
    assert await frames(there, 3) == ['{"seq": 1}', '{"seq": 2}', '{"seq": 3}']
    assert await frames(here, 3) == ['{"seq": 1}', '{"seq": 2}', '{"seq": 3}']
    await asyncio.sleep(0.2)
    # The publisher's own sockets got each event once (directly, not again via Redis); c2 got nothing.
    assert here.outbox.empty()
    assert there.outbox.empty()
    assert elsewhere.outbox.empty()


async def test_a_malformed_message_is_ignored_and_the_bus_keeps_going(
    pair: tuple[RedisBroadcaster, RedisBroadcaster, Redis],
) -> None:
    a, b, redis = pair
    there = live()
    b.subscribe("c1", there)
    await redis.publish("test:events", "garbage")
    a.publish("c1", 1, "after")
    assert await frames(there, 1) == ["after"]

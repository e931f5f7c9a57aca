"""``RedisBroadcaster``: two instances on one Redis stand for two processes."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from redis.asyncio import Redis

from app.bus.redis_broadcaster import MalformedMessageError, RedisBroadcaster, decode_batch, encode_batch
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


async def test_events_published_together_leave_as_one_message(
    pair: tuple[RedisBroadcaster, RedisBroadcaster, Redis],
) -> None:
    a, b, redis = pair
    there = live()
    b.subscribe("c1", there)
    watcher = redis.pubsub(ignore_subscribe_messages=True)
    await watcher.subscribe("test:events")
    for seq in range(1, 51):
        a.publish("c1", seq, f'{{"seq": {seq}}}')
    assert await frames(there, 50) == [f'{{"seq": {seq}}}' for seq in range(1, 51)]
    seen = []
    deadline = asyncio.get_running_loop().time() + 0.3
    # get_message also answers None for the subscription's own confirmation: read until the deadline.
    while asyncio.get_running_loop().time() < deadline:
        if (message := await watcher.get_message(ignore_subscribe_messages=True, timeout=0.05)) is not None:
            seen.append(message)
    await watcher.aclose()
    assert len(seen) == 1


async def test_a_control_message_keeps_its_place_among_events(
    pair: tuple[RedisBroadcaster, RedisBroadcaster, Redis],
) -> None:
    a, b, _ = pair
    order: list[str] = []
    there = live()
    b.subscribe("c1", there)
    b.listen(lambda c, m: order.append(f"control {c} {m['cancel']}"), lambda c: order.append(f"event {c}"))
    a.publish("c1", 1, "one")
    a.send("c1", {"cancel": "m1"})
    a.publish("c1", 2, "two")
    assert await frames(there, 2) == ["one", "two"]
    assert order == ["event c1", "control c1 m1", "event c1"]


def test_a_batch_decodes_to_its_events_whatever_the_payloads_hold() -> None:
    events = [("c1", 1, "line one\nline two"), ("c2", 0, ""), ("c\u00e9", 7, "\u00fcnicode \U0001f600\n")]
    assert decode_batch(encode_batch("origin", events)) == ("origin", events)


def test_a_single_event_of_the_older_format_still_decodes() -> None:
    assert decode_batch('origin\nc1\n3\n{"a": 1}\nmore') == ("origin", [("c1", 3, '{"a": 1}\nmore')])


@pytest.mark.parametrize(
    "data",
    ["garbage", "shopchat-batch/1\norigin\nc1\n1\n99\nshort", "shopchat-batch/1\norigin\nc1\nx\n1\ny"],
)
def test_a_malformed_batch_is_refused(data: str) -> None:
    with pytest.raises(MalformedMessageError):
        decode_batch(data)


async def test_events_go_out_while_the_shared_pool_is_used_up(redis_url: str) -> None:
    # Two pool connections: the listener's, and one a burst of other commands holds.
    busy = Redis.from_url(redis_url, max_connections=2)
    other = Redis.from_url(redis_url)
    a, b = RedisBroadcaster(busy, channel="test:events"), RedisBroadcaster(other, channel="test:events")
    await a.start()
    await b.start()
    held = await busy.connection_pool.get_connection()  # type: ignore[no-untyped-call]
    try:
        there = live()
        b.subscribe("c1", there)
        a.publish("c1", 1, "through")
        assert await frames(there, 1) == ["through"]
    finally:
        await busy.connection_pool.release(held)
        await a.aclose()
        await b.aclose()
        await busy.aclose()
        await other.aclose()

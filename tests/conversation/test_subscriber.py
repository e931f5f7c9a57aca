"""One socket's outbox: paged replays, live events held and deduplicated, and giving up on a slow reader."""

from __future__ import annotations

import asyncio
import json

from app.conversation.subscriber import Subscriber
from app.store.records import StoredPayload


class FakeLog:
    """A conversation's stored events; ``publish`` stores one and delivers it, as the event log does."""

    def __init__(self, events: int = 0) -> None:
        self.stored: list[StoredPayload] = []
        self.reads: list[tuple[int, int]] = []
        self.subscribers: list[Subscriber] = []
        for _ in range(events):
            self.publish()

    def publish(self) -> None:
        seq = len(self.stored) + 1
        event = StoredPayload(seq, json.dumps({"type": "delta", "seq": seq}))
        self.stored.append(event)
        for subscriber in self.subscribers:
            subscriber.deliver(event.seq, event.payload)

    async def read(self, after: int, limit: int) -> list[StoredPayload]:
        self.reads.append((after, limit))
        return [e for e in self.stored if e.seq > after][:limit]


def seq_of(payload: str) -> int:
    seq: int = json.loads(payload)["seq"]
    return seq


async def take(subscriber: Subscriber, n: int) -> list[str]:
    return [payload for _ in range(n) if (payload := await subscriber.next()) is not None]


async def test_a_replay_is_read_a_page_at_a_time_as_the_socket_takes_it() -> None:
    log = FakeLog(events=1000)
    subscriber = Subscriber(last_seq=0, page_size=100)
    await subscriber.start_replay(log.read)
    assert subscriber.outbox.qsize() == 100  # one page in memory, not the conversation
    largest = 0
    frames = []
    for _ in range(1000):
        largest = max(largest, subscriber.outbox.qsize())
        payload = await subscriber.next()
        assert payload is not None
        frames.append(seq_of(payload))
    assert frames == list(range(1, 1001))
    assert largest <= 100
    assert log.reads[:3] == [(0, 100), (100, 100), (200, 100)]


async def test_live_events_during_a_replay_follow_it_each_once_and_in_order() -> None:
    log = FakeLog(events=250)
    subscriber = Subscriber(last_seq=0, page_size=100)
    log.subscribers.append(subscriber)
    await subscriber.start_replay(log.read)
    frames = []
    for n in range(300):
        if n % 7 == 0 and len(log.stored) < 280:
            log.publish()  # stored, so the replay reads it too; it must still come once
        payload = await subscriber.next()
        assert payload is not None
        frames.append(seq_of(payload))
        if len(frames) == len(log.stored):
            break
    assert frames == list(range(1, len(log.stored) + 1))


async def test_live_events_beyond_what_is_held_are_read_back_from_the_store() -> None:
    log = FakeLog(events=300)
    subscriber = Subscriber(last_seq=0, page_size=100)
    log.subscribers.append(subscriber)
    await subscriber.start_replay(log.read)
    for _ in range(450):  # more than a page arrives while the socket has not read anything yet
        log.publish()
    frames = [seq_of(p) for p in await take(subscriber, 750)]
    assert frames == list(range(1, 751))
    log.publish()
    assert seq_of(await take_one(subscriber)) == 751


async def take_one(subscriber: Subscriber) -> str:
    payload = await subscriber.next()
    assert payload is not None
    return payload


async def test_a_resumed_socket_replays_only_what_it_has_not_seen() -> None:
    log = FakeLog(events=30)
    subscriber = Subscriber(last_seq=25, page_size=10)
    await subscriber.start_replay(log.read)
    assert [seq_of(p) for p in await take(subscriber, 5)] == [26, 27, 28, 29, 30]
    assert log.reads == [(25, 10)]


async def test_the_ready_frame_goes_first_and_replies_wait_for_the_end_of_the_replay() -> None:
    log = FakeLog(events=250)
    subscriber = Subscriber(last_seq=0, page_size=100)
    subscriber.send('{"type":"ready"}')
    await subscriber.start_replay(log.read)
    subscriber.send('{"type":"pong"}')
    frames = await take(subscriber, 252)
    assert frames[0] == '{"type":"ready"}'
    assert frames[-1] == '{"type":"pong"}'
    assert [seq_of(p) for p in frames[1:-1]] == list(range(1, 251))


async def test_a_socket_that_falls_behind_is_given_up_with_the_close_marker_queued() -> None:
    log = FakeLog()
    subscriber = Subscriber(last_seq=0, max_queue=50)
    log.subscribers.append(subscriber)
    subscriber.finish_replay()
    for _ in range(51):
        log.publish()
    assert subscriber.overflowed
    # Nothing queued is kept (the client replays it), and the marker that makes the sender close is there.
    assert await subscriber.next() is None
    log.publish()
    assert subscriber.outbox.empty()


async def test_a_socket_that_keeps_up_is_never_given_up() -> None:
    log = FakeLog()
    subscriber = Subscriber(last_seq=0, max_queue=50)
    log.subscribers.append(subscriber)
    subscriber.finish_replay()
    frames = []
    for _ in range(500):
        log.publish()
        frames.append(seq_of(await take_one(subscriber)))
    assert frames == list(range(1, 501))
    assert not subscriber.overflowed


async def test_a_socket_flooded_with_replies_while_not_reading_is_given_up() -> None:
    subscriber = Subscriber(last_seq=0, max_queue=50)
    subscriber.finish_replay()
    for _ in range(51):
        subscriber.send('{"type":"pong"}')
    assert subscriber.overflowed
    assert await subscriber.next() is None


async def test_an_event_that_overtakes_an_earlier_one_waits_while_the_gap_is_read_from_the_store() -> None:
    log = FakeLog(events=3)  # another process stored 2 and 3; only 1 and 3 have reached this one yet
    subscriber = Subscriber(last_seq=0)
    subscriber.source = log.read
    subscriber.finish_replay()
    subscriber.deliver(1, log.stored[0].payload)
    subscriber.deliver(3, log.stored[2].payload)
    got = [seq_of(p) for p in await take(subscriber, 3)]
    subscriber.deliver(2, log.stored[1].payload)  # its own notice, late: already sent from the store
    assert got == [1, 2, 3]
    assert subscriber.outbox.empty()
    assert log.reads == [(1, subscriber.page_size)]


async def test_without_a_store_to_read_a_gap_is_passed_over() -> None:
    subscriber = Subscriber(last_seq=0)
    subscriber.finish_replay()
    subscriber.deliver(2, json.dumps({"type": "delta", "seq": 2}))
    assert [seq_of(p) for p in await take(subscriber, 1)] == [2]


async def test_a_sender_already_waiting_gets_the_gap_read_for_it() -> None:
    log = FakeLog(events=3)
    subscriber = Subscriber(last_seq=1)
    subscriber.source = log.read
    subscriber.finish_replay()
    waiting = asyncio.ensure_future(subscriber.next())  # the outbox is empty: the sender waits on it
    await asyncio.sleep(0)
    subscriber.deliver(3, log.stored[2].payload)
    first = await asyncio.wait_for(waiting, 1)
    assert first is not None
    assert seq_of(first) == 2
    assert [seq_of(p) for p in await take(subscriber, 1)] == [3]

"""The event log's writer with more than one commit lane: urgent events do not wait behind a batch."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass, field

import pytest

from app.conversation.eventlog import EventLog
from app.events import Accepted, Delta, StoredEvent
from app.store.records import NewEvent, Write
from tests.fakes import RecordingBroadcaster


@dataclass
class GatedStore:
    """A store whose writes for a gated conversation wait until the gate opens; records committed seqs."""

    write_lanes: int = 2
    gated: str = ""
    gate: asyncio.Event = field(default_factory=asyncio.Event)
    committed: list[tuple[str, int]] = field(default_factory=list)
    concurrent: int = 0
    most_concurrent: int = 0

    async def write(self, writes: Sequence[Write]) -> None:
        """Commit after the gate when the batch holds the gated conversation."""
        self.concurrent += 1
        self.most_concurrent = max(self.most_concurrent, self.concurrent)
        try:
            events = [w for w in writes if isinstance(w, NewEvent)]
            if any(e.conversation_id == self.gated for e in events):
                await self.gate.wait()
            await asyncio.sleep(0)
            self.committed.extend((e.conversation_id, e.seq) for e in events)
        finally:
            self.concurrent -= 1


def accepted(message_id: str) -> object:
    def build(seq: int) -> StoredEvent:
        return Accepted(seq=seq, message_id=message_id, text="hi", created_at="2026-01-01T00:00:00")

    return build


async def test_an_urgent_event_commits_while_another_conversations_batch_is_in_flight() -> None:
    store = GatedStore(gated="slow")
    log = EventLog(store, RecordingBroadcaster())  # type: ignore[arg-type]
    log.start()
    slow, fast = log.journal("slow", 0), log.journal("fast", 0)
    first = slow.event(accepted("a"))  # type: ignore[arg-type]
    await asyncio.sleep(0.01)
    quick = fast.event(accepted("b"))  # type: ignore[arg-type]
    event = await asyncio.wait_for(quick, 1)
    assert event.seq == 1
    assert not first.done()
    store.gate.set()
    await asyncio.wait_for(first, 1)
    await log.close()
    assert store.most_concurrent == 2


async def test_one_conversation_never_has_two_commits_in_flight() -> None:
    store = GatedStore(gated="slow")
    broadcaster = RecordingBroadcaster()
    log = EventLog(store, broadcaster)  # type: ignore[arg-type]
    log.start()
    slow = log.journal("slow", 0)
    first = slow.event(accepted("a"))  # type: ignore[arg-type]
    await asyncio.sleep(0.01)
    second = slow.event(accepted("b"))  # type: ignore[arg-type]
    await asyncio.sleep(0.02)
    assert not second.done()  # it waits for the first commit of its conversation, not a second lane
    store.gate.set()
    await asyncio.wait_for(asyncio.gather(first, second), 1)
    await log.close()
    assert store.committed == [("slow", 1), ("slow", 2)]
    assert [seq for _, seq, _ in broadcaster.published] == [1, 2]


async def test_one_lane_commits_one_batch_at_a_time() -> None:
    store = GatedStore(gated="slow", write_lanes=1)
    log = EventLog(store, RecordingBroadcaster())  # type: ignore[arg-type]
    log.start()
    first = log.journal("slow", 0).event(accepted("a"))  # type: ignore[arg-type]
    await asyncio.sleep(0.01)
    quick = log.journal("fast", 0).event(accepted("b"))  # type: ignore[arg-type]
    await asyncio.sleep(0.02)
    assert not quick.done()
    store.gate.set()
    await asyncio.wait_for(asyncio.gather(first, quick), 1)
    await log.close()
    assert store.most_concurrent == 1


async def test_an_event_that_cannot_be_encoded_fails_alone() -> None:
    store = GatedStore()
    store.gate.set()
    broadcaster = RecordingBroadcaster()
    log = EventLog(store, broadcaster)  # type: ignore[arg-type]
    log.start()
    journal = log.journal("c", 0)
    bad = journal.event(accepted("\ud800"))  # type: ignore[arg-type]  # a lone surrogate: not encodable
    good = journal.event(accepted("b"))  # type: ignore[arg-type]
    other = log.journal("d", 0).event(accepted("c"))  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="surrogate"):
        await asyncio.wait_for(bad, 1)
    assert (await asyncio.wait_for(good, 1)).seq == 1
    assert (await asyncio.wait_for(other, 1)).seq == 1
    await log.close()
    assert sorted(store.committed) == [("c", 1), ("d", 1)]


async def test_an_urgent_event_ends_the_linger_of_a_busy_server_at_once() -> None:
    store = GatedStore(write_lanes=1)
    log = EventLog(store, RecordingBroadcaster(), linger_s=60.0)  # type: ignore[arg-type]
    log.coalescing = True  # many answers streaming: text waits for the linger
    log.start()
    log.journal("streaming", 0).text("m1", "some text")
    await asyncio.sleep(0.02)
    assert store.committed == []  # lingering
    ack = log.journal("new", 0).event(accepted("a"))  # type: ignore[arg-type]
    event = await asyncio.wait_for(ack, 1)  # not 30 s: the urgent event woke the writer
    assert event.seq == 1
    await log.close()


async def test_lingering_text_goes_out_when_its_linger_is_over() -> None:
    store = GatedStore(write_lanes=1)
    broadcaster = RecordingBroadcaster()
    log = EventLog(store, broadcaster, linger_s=0.1)  # type: ignore[arg-type]
    log.coalescing = True
    log.start()
    log.journal("streaming", 0).text("m1", "some text")
    await asyncio.sleep(0.01)
    assert store.committed == []
    await asyncio.sleep(0.15)
    assert store.committed == [("streaming", 1)]
    await log.close()


async def test_a_delta_is_stored_and_sent_as_the_delta_event_would_encode_it() -> None:
    store = GatedStore(write_lanes=1)
    broadcaster = RecordingBroadcaster()
    log = EventLog(store, broadcaster)  # type: ignore[arg-type]
    log.start()
    text = 'Say "hi" — naïve café 😀\n\ttab </script> \\ \u2028 end'
    journal = log.journal("c", 4)
    journal.text("m1", text)
    await journal.flushed()
    await log.close()
    assert [payload for _, _, payload in broadcaster.published] == [
        Delta(seq=5, message_id="m1", text=text).model_dump_json()
    ]

"""Two processes writing one conversation: the one that loses a ``seq`` numbers its events after the other's."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from app.conversation.eventlog import EventLog
from app.events import Accepted, Delta, StoredEvent
from app.store.migrate import upgrade
from app.store.records import NewConversation, NewUserMessage
from app.store.store import Store
from app.store.tables import utcnow
from tests.conftest import sqlite_url
from tests.fakes import RecordingBroadcaster


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[Store]:
    store = Store.from_url(sqlite_url(tmp_path / "shared.db"))
    await upgrade(store.engine)
    yield store
    await store.close()


def accepted(message_id: str) -> object:
    def build(seq: int) -> StoredEvent:
        return Accepted(seq=seq, message_id=message_id, text="hi", created_at="2026-01-01T00:00:00")

    return build


async def test_a_process_behind_numbers_its_events_after_the_others(store: Store) -> None:
    seen_a, seen_b = RecordingBroadcaster(), RecordingBroadcaster()
    a, b = EventLog(store, seen_a, lanes=1), EventLog(store, seen_b, lanes=1)
    a.start()
    b.start()
    try:
        # Both processes opened the conversation when it had no events.
        on_a, on_b = a.journal("c1", 0), b.journal("c1", 0)
        now = utcnow()
        await on_a.event(
            accepted("m1"),  # type: ignore[arg-type]
            NewConversation("c1", None),
            NewUserMessage("c1", "m1", "hi", now),
        )
        on_a.text("m1", "Hello")
        await on_a.flushed()
        second = await on_b.event(accepted("m2"), NewUserMessage("c1", "m2", "again", now))  # type: ignore[arg-type]
        on_b.text("m2", "Hi again")
        await on_b.flushed()
        third = await on_a.event(accepted("m3"), NewUserMessage("c1", "m3", "more", now))  # type: ignore[arg-type]
    finally:
        await a.close()
        await b.close()
    assert second.seq == 3
    assert third.seq == 5
    stored = await store.payloads_after("c1", 0, 100)
    assert [e.seq for e in stored] == [1, 2, 3, 4, 5]
    assert [type(e).__name__ for e in seen_b.events("c1")] == ["Accepted", "Delta"]
    assert isinstance(seen_b.events("c1")[1], Delta)


async def test_a_socket_resuming_past_what_this_process_wrote_is_checked_against_the_store(
    tmp_path: Path,
) -> None:
    from app.conversation.subscriber import Subscriber
    from tests.conversation.rig import start_service
    from tests.conversation.test_service import CONFIG
    from tests.fakes import ScriptedModel

    store = Store.from_url(sqlite_url(tmp_path / "resume.db"))
    await upgrade(store.engine)
    here, _ = start_service(store, ScriptedModel(), CONFIG)
    elsewhere = EventLog(store, RecordingBroadcaster(), lanes=1)
    elsewhere.start()
    try:
        hub = here.new_hub(None)
        subscriber = Subscriber(last_seq=0)
        await here.submit(hub, subscriber, "m1", "hi")
        await hub.journal.flushed()
        await asyncio.sleep(0.2)  # the scripted answer ends
        newest = await store.last_seq(hub.conversation_id)
        other = elsewhere.journal(hub.conversation_id, newest)
        await other.event(accepted("m2"), NewUserMessage(hub.conversation_id, "m2", "more", utcnow()))  # type: ignore[arg-type]
        resumed = Subscriber(last_seq=newest + 1)  # the client saw the other process's event
        await here.attach(hub, resumed)
        assert hub.journal.published_seq == newest + 1
    finally:
        await elsewhere.close()
        await here.close()
        await store.close()

"""The store on SQLite and, when ``SHOPCHAT_TEST_POSTGRES_URL`` is set, on PostgreSQL."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy.exc import IntegrityError

from app.events import Accepted, Delta, Done, StoredEvent, Usage, event_message_id
from app.store.migrate import upgrade
from app.store.records import (
    AnswerFinished,
    AnswerStarted,
    NewConversation,
    NewEvent,
    NewUserMessage,
    Write,
)
from app.store.store import Store
from tests.conftest import reset_database, sqlite_url
from tests.history import write_long_conversation

NOW = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)


@pytest.fixture(params=["sqlite", "postgres"])
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Store]:
    if request.param == "sqlite":
        url = sqlite_url(tmp_path / "store.db")
    else:
        url = request.getfixturevalue("postgres_url")
        await reset_database(url)
    store = Store.from_url(url)
    await upgrade(store.engine)
    try:
        yield store
    finally:
        await store.close()


def event(conversation_id: str, frame: StoredEvent) -> NewEvent:
    message_id = event_message_id(frame)
    return NewEvent(conversation_id, frame.seq or 0, frame.type, message_id, frame.model_dump_json())


def accept(conversation_id: str, seq: int, message_id: str, text: str, *, first: bool = False) -> list[Write]:
    writes: list[Write] = [NewConversation(conversation_id, "12347")] if first else []
    accepted = Accepted(seq=seq, message_id=message_id, text=text, created_at=NOW.isoformat())
    return [*writes, NewUserMessage(conversation_id, message_id, text, NOW), event(conversation_id, accepted)]


def done(conversation_id: str, seq: int, message_id: str, text: str) -> list[Write]:
    frame = Done(
        seq=seq,
        message_id=message_id,
        route="chat",
        text=text,
        usage=Usage(prompt_tokens=5, completion_tokens=2),
    )
    finished = AnswerFinished(conversation_id, message_id, text, "done", "chat", 5, 2)
    return [AnswerStarted(conversation_id, message_id, "chat"), finished, event(conversation_id, frame)]


async def test_first_message_creates_the_conversation_with_its_customer(store: Store) -> None:
    cid = store.new_conversation_id()
    await store.write(accept(cid, 1, "m1", "hello", first=True))
    conversation = await store.get_conversation(cid)
    assert conversation is not None
    assert (conversation.customer_id, conversation.last_seq) == ("12347", 1)


async def test_creating_a_conversation_twice_keeps_the_first(store: Store) -> None:
    cid = store.new_conversation_id()
    await store.write([NewConversation(cid, "12347")])
    await store.write([NewConversation(cid, "other")])
    conversation = await store.get_conversation(cid)
    assert conversation is not None
    assert conversation.customer_id == "12347"


async def test_a_batch_from_several_conversations_commits_together(store: Store) -> None:
    first, second = store.new_conversation_id(), store.new_conversation_id()
    await store.write(accept(first, 1, "m1", "one", first=True) + accept(second, 1, "m1", "two", first=True))
    assert [m.text for m in await store.messages(first)] == ["one"]
    assert [m.text for m in await store.messages(second)] == ["two"]


async def test_a_failing_batch_stores_nothing(store: Store) -> None:
    cid = store.new_conversation_id()
    await store.write(accept(cid, 1, "m1", "hello", first=True))
    with pytest.raises(IntegrityError):
        await store.write(accept(cid, 2, "m2", "fine") + accept(cid, 3, "m1", "duplicate id"))
    assert [m.client_id for m in await store.messages(cid)] == ["m1"]
    assert await store.last_seq(cid) == 1


async def test_payloads_replay_in_seq_order_after_a_point(store: Store) -> None:
    cid = store.new_conversation_id()
    writes = accept(cid, 1, "m1", "hello", first=True)
    writes += [event(cid, Delta(seq=seq, message_id="m1", text=str(seq))) for seq in (2, 3, 4)]
    await store.write(writes)
    replay = await store.payloads_after(cid, 2)
    assert [p.seq for p in replay] == [3, 4]
    assert [e.text for e in await store.events_after(cid, 2)] == ["3", "4"]  # type: ignore[union-attr]


async def test_payloads_are_read_a_page_at_a_time_with_a_limit(store: Store) -> None:
    cid = store.new_conversation_id()
    await write_long_conversation(store, cid, 1200)
    pages = []
    seq = 0
    while page := await store.payloads_after(cid, seq, limit=500):
        pages.append([p.seq for p in page])
        seq = page[-1].seq
    assert [len(p) for p in pages] == [500, 500, 200]
    assert [s for p in pages for s in p] == list(range(1, 1201))


async def test_find_accepted_returns_the_stored_acknowledgement(store: Store) -> None:
    cid = store.new_conversation_id()
    await store.write(accept(cid, 1, "m1", "hello", first=True))
    found = await store.find_accepted(cid, "m1")
    assert found is not None
    assert (found.seq, found.text) == (1, "hello")
    assert await store.find_accepted(cid, "m2") is None


async def test_pending_answers_are_the_unfinished_ones(store: Store) -> None:
    cid = store.new_conversation_id()
    await store.write([*accept(cid, 1, "m1", "first", first=True), AnswerStarted(cid, "m1", "chat")])
    await store.write(accept(cid, 2, "m2", "second"))
    assert [a.message_id for a in await store.pending_answers(cid)] == ["m1", "m2"]
    await store.write(done(cid, 3, "m1", "answer"))
    assert [a.message_id for a in await store.pending_answers(cid)] == ["m2"]


async def test_a_restarted_answer_starts_over(store: Store) -> None:
    cid = store.new_conversation_id()
    await store.write(accept(cid, 1, "m1", "hello", first=True) + done(cid, 2, "m1", "old answer"))
    await store.write([AnswerStarted(cid, "m1", "recommend")])
    answer = next(m for m in await store.messages(cid) if m.role == "assistant")
    assert (answer.status, answer.text, answer.route) == ("streaming", "", "recommend")


async def test_feedback_attaches_to_the_answer(store: Store) -> None:
    cid = store.new_conversation_id()
    await store.write(accept(cid, 1, "m1", "hello", first=True) + done(cid, 2, "m1", "hi"))
    assert await store.set_feedback(cid, "m1", -1, "not helpful")
    answer = next(m for m in await store.messages(cid) if m.role == "assistant")
    assert (answer.feedback_rating, answer.feedback_comment) == (-1, "not helpful")


async def test_feedback_on_an_unknown_message_is_refused(store: Store) -> None:
    cid = store.new_conversation_id()
    await store.write(accept(cid, 1, "m1", "hello", first=True))
    assert not await store.set_feedback(cid, "nope", 1, None)


async def test_an_event_for_a_missing_conversation_is_refused(store: Store) -> None:
    with pytest.raises(IntegrityError):
        await store.write([event("0" * 32, Delta(seq=1, message_id="m", text="x"))])

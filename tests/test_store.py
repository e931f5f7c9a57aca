"""The store on SQLite and, when ``SHOPCHAT_TEST_POSTGRES_URL`` is set, on PostgreSQL."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest

from app.protocol import Delta, Done, Usage
from app.store import Base, Store, StoredEvent
from tests.conftest import sqlite_url


@pytest.fixture(params=["sqlite", "postgres"])
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Store]:
    if request.param == "sqlite":
        url = sqlite_url(tmp_path / "store.db")
    else:
        url = request.getfixturevalue("postgres_url")
    store = Store.from_url(url)
    async with store.engine.begin() as conn:
        await conn.run_sync(Base.metadata.drop_all)
    await store.create_schema()
    try:
        yield store
    finally:
        await store.close()


def delta(message_id: str, text: str) -> Callable[[int], StoredEvent]:
    return lambda seq: Delta(seq=seq, message_id=message_id, text=text)


async def new_conversation(store: Store, customer_id: str | None = "12347") -> str:
    conversation_id = store.new_conversation_id()
    await store.ensure_conversation(conversation_id, customer_id)
    return conversation_id


async def test_conversation_is_created_once(store: Store) -> None:
    conversation_id = await new_conversation(store)
    await store.ensure_conversation(conversation_id, "other")
    conversation = await store.get_conversation(conversation_id)
    assert conversation is not None
    assert conversation.customer_id == "12347"


async def test_accepting_a_message_assigns_seq_and_stores_it(store: Store) -> None:
    conversation_id = await new_conversation(store)
    accepted, is_new = await store.accept_user_message(conversation_id, "m1", "hello")
    assert (accepted.seq, is_new) == (1, True)
    assert [m.text for m in await store.messages(conversation_id)] == ["hello"]


async def test_resending_a_message_id_returns_the_original(store: Store) -> None:
    conversation_id = await new_conversation(store)
    first, _ = await store.accept_user_message(conversation_id, "m1", "hello")
    again, is_new = await store.accept_user_message(conversation_id, "m1", "hello")
    assert (again, is_new) == (first, False)
    assert len(await store.messages(conversation_id)) == 1


async def test_events_replay_in_seq_order_after_a_point(store: Store) -> None:
    conversation_id = await new_conversation(store)
    await store.accept_user_message(conversation_id, "m1", "hello")
    for text in ("a", "b", "c"):
        await store.append_event(conversation_id, delta("m1", text))
    replay = await store.events_after(conversation_id, 2)
    assert [(e.seq, e.type) for e in replay] == [(3, "delta"), (4, "delta")]


async def test_concurrent_appends_never_share_a_seq(store: Store) -> None:
    conversation_id = await new_conversation(store)
    await asyncio.gather(*(store.append_event(conversation_id, delta("m", str(i))) for i in range(20)))
    seqs = [e.seq for e in await store.events_after(conversation_id, 0)]
    assert seqs == list(range(1, 21))


async def test_answer_lifecycle_and_feedback(store: Store) -> None:
    conversation_id = await new_conversation(store)
    await store.accept_user_message(conversation_id, "m1", "hello")
    await store.start_answer(conversation_id, "m1", "chat")
    assert [a.message_id for a in await store.pending_answers(conversation_id)] == ["m1"]
    await store.finish_answer(
        conversation_id, "m1", text="Hi!", status="done", route="chat", prompt_tokens=10, completion_tokens=2
    )
    assert await store.pending_answers(conversation_id) == []
    assert await store.set_feedback(conversation_id, "m1", -1, "not helpful")
    answer = next(m for m in await store.messages(conversation_id) if m.role == "assistant")
    assert (answer.text, answer.prompt_tokens, answer.feedback_rating, answer.feedback_comment) == (
        "Hi!",
        10,
        -1,
        "not helpful",
    )


async def test_feedback_on_unknown_message_is_refused(store: Store) -> None:
    conversation_id = await new_conversation(store)
    assert not await store.set_feedback(conversation_id, "nope", 1, None)


async def test_history_lists_finished_turns_before_a_message(store: Store) -> None:
    conversation_id = await new_conversation(store)
    await store.accept_user_message(conversation_id, "m1", "first")
    await store.start_answer(conversation_id, "m1", "chat")
    await store.finish_answer(
        conversation_id,
        "m1",
        text="answer one",
        status="done",
        route="chat",
        prompt_tokens=1,
        completion_tokens=1,
    )
    await store.accept_user_message(conversation_id, "m2", "second")
    history = await store.history(conversation_id, before_client_id="m2")
    assert [(t.role, t.text) for t in history] == [("user", "first"), ("assistant", "answer one")]


async def test_stored_done_event_round_trips(store: Store) -> None:
    conversation_id = await new_conversation(store)
    done = await store.append_event(
        conversation_id,
        lambda seq: Done(
            seq=seq,
            message_id="m1",
            route="recommend",
            text="x",
            usage=Usage(prompt_tokens=1, completion_tokens=2),
        ),
    )
    assert (await store.events_after(conversation_id, 0))[0] == done


async def test_missing_conversation_cannot_get_events(store: Store) -> None:
    with pytest.raises(LookupError):
        await store.append_event("0" * 32, lambda seq: Delta(seq=seq, message_id="m", text="x"))

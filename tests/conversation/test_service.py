"""The conversation service without a socket: a scripted model, a recording fan-out and a real SQLite store."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest

from app.conversation.confirmations import Confirmations
from app.conversation.hub import Hub
from app.conversation.pipeline import ChatConfig
from app.conversation.router import Router
from app.conversation.service import ChatService
from app.conversation.subscriber import Subscriber
from app.conversation.tools import Tools
from app.errors import ModelError
from app.events import Accepted, Delta, Done, Error, Reset, StoredEvent
from app.store.migrate import upgrade
from app.store.records import NewConversation, NewEvent, NewUserMessage
from app.store.store import Store
from tests.conftest import sqlite_url
from tests.conversation.rig import start_service
from tests.fakes import (
    FixedRouter,
    FlakyStore,
    RecordingBroadcaster,
    ScriptedModel,
    SlowRouter,
    SlowStore,
)

CONFIG = ChatConfig(
    context_tokens=16_000,
    max_output_tokens=512,
    max_message_chars=2000,
    abandon_after_s=0.2,
    recommendations_n=4,
)
EARLY = dataclasses.replace(CONFIG, early_start=True)


@dataclass
class Rig:
    """A running service and what it talks to."""

    service: ChatService
    store: Store
    model: ScriptedModel
    broadcaster: RecordingBroadcaster

    def events(self, hub: Hub) -> list[StoredEvent]:
        """Everything published for the hub's conversation, in order."""
        return self.broadcaster.events(hub.conversation_id)

    async def terminal(self, hub: Hub, message_id: str) -> StoredEvent:
        """Wait (5 s at most) for the one ``done`` or ``error`` that ends the answer to ``message_id``."""
        async with asyncio.timeout(5):
            while True:
                for event in self.events(hub):
                    if isinstance(event, Done) and event.message_id == message_id:
                        return event
                    if isinstance(event, Error) and event.reply_to == message_id:
                        return event
                await asyncio.sleep(0.005)


@pytest.fixture
async def make_rig(tmp_path: Path) -> AsyncIterator[Callable[..., object]]:
    rigs: list[Rig] = []

    async def build(
        model: ScriptedModel | None = None,
        store_delay_s: float = 0.0,
        flaky: bool = False,
        router: Router | None = None,
        config: ChatConfig = CONFIG,
        tools: Tools | None = None,
        confirmations: Confirmations | None = None,
    ) -> Rig:
        engine = Store.from_url(sqlite_url(tmp_path / "chat.db")).engine
        store: Store = Store(engine)
        if store_delay_s:
            store = SlowStore(engine, store_delay_s)
        elif flaky:
            store = FlakyStore(engine)
        await upgrade(store.engine)
        model = model or ScriptedModel()
        service, broadcaster = start_service(
            store, model, config, router=router, tools=tools, confirmations=confirmations
        )
        rig = Rig(service, store, model, broadcaster)
        rigs.append(rig)
        return rig

    yield build
    for rig in rigs:
        await rig.service.close()
        await rig.store.close()


async def connect(service: ChatService, hub: Hub, last_seq: int = 0) -> Subscriber:
    subscriber = Subscriber(last_seq=last_seq)
    await service.attach(hub, subscriber)
    return subscriber


def drain(subscriber: Subscriber) -> list[str]:
    out = []
    while not subscriber.outbox.empty():
        item = subscriber.outbox.get_nowait()
        if item is not None:
            out.append(item)
    return out


async def test_a_message_is_stored_acknowledged_streamed_and_done(make_rig: Callable[..., object]) -> None:
    rig: Rig = await make_rig()  # type: ignore[misc]
    hub = rig.service.new_hub(None)
    subscriber = await connect(rig.service, hub)
    await rig.service.submit(hub, subscriber, "m1", "hi")
    done = await rig.terminal(hub, "m1")
    assert [e.type for e in rig.events(hub)] == ["accepted", "delta", "delta", "delta", "done"]
    assert [e.seq for e in rig.events(hub)] == [1, 2, 3, 4, 5]
    assert isinstance(done, Done)
    assert done.text == "Hello there!"


async def test_accepted_is_published_only_once_the_message_is_stored(make_rig: Callable[..., object]) -> None:
    rig: Rig = await make_rig(store_delay_s=0.05)  # type: ignore[misc]
    hub = rig.service.new_hub(None)
    subscriber = await connect(rig.service, hub)
    await rig.service.submit(hub, subscriber, "m1", "hi")
    # submit returns after the commit: the message is readable and the acknowledgement is out.
    assert [m.text for m in await rig.store.messages(hub.conversation_id)] == ["hi"]
    assert isinstance(rig.events(hub)[0], Accepted)


async def test_answers_come_one_at_a_time_in_message_order(make_rig: Callable[..., object]) -> None:
    rig: Rig = await make_rig(ScriptedModel(chunks=("a", "b", "c"), delay_s=0.01))  # type: ignore[misc]
    hub = rig.service.new_hub(None)
    subscriber = await connect(rig.service, hub)
    await rig.service.submit(hub, subscriber, "m1", "first")
    await rig.service.submit(hub, subscriber, "m2", "second")
    await rig.terminal(hub, "m2")
    answers = [e.message_id for e in rig.events(hub) if isinstance(e, Delta | Done)]
    assert answers == sorted(answers)  # every m1 event before any m2 event
    assert [e.seq for e in rig.events(hub)] == list(range(1, len(rig.events(hub)) + 1))


async def test_a_resent_message_id_is_stored_and_answered_once(make_rig: Callable[..., object]) -> None:
    rig: Rig = await make_rig()  # type: ignore[misc]
    hub = rig.service.new_hub(None)
    first, second = await connect(rig.service, hub), await connect(rig.service, hub)
    await asyncio.gather(
        rig.service.submit(hub, first, "m1", "hi"), rig.service.submit(hub, second, "m1", "hi")
    )
    await rig.terminal(hub, "m1")
    await asyncio.sleep(0.05)
    assert [m.role for m in await rig.store.messages(hub.conversation_id)] == ["user", "assistant"]
    assert len(rig.model.requests) == 1
    # The second socket gets the original acknowledgement repeated to it, same seq.
    acks = [f for f in drain(second) if '"type":"accepted"' in f]
    assert len(acks) == 2
    assert all('"seq":1' in f for f in acks)


async def test_a_resend_after_reconnecting_gets_the_stored_acknowledgement(
    make_rig: Callable[..., object],
) -> None:
    rig: Rig = await make_rig()  # type: ignore[misc]
    hub = rig.service.new_hub(None)
    subscriber = await connect(rig.service, hub)
    await rig.service.submit(hub, subscriber, "m1", "hi")
    await rig.terminal(hub, "m1")
    rig.service.detach(hub, subscriber)
    await asyncio.sleep(0.05)
    again = await rig.service.open(hub.conversation_id, None)
    later = await connect(rig.service, again, last_seq=5)
    await rig.service.submit(again, later, "m1", "hi")
    assert drain(later) == [(await rig.store.events_after(hub.conversation_id, 0))[0].model_dump_json()]
    assert len(rig.model.requests) == 1


async def test_cancel_stops_the_answer_with_the_text_so_far(make_rig: Callable[..., object]) -> None:
    rig: Rig = await make_rig(ScriptedModel(chunks=tuple(f"w{i} " for i in range(50)), delay_s=0.02))  # type: ignore[misc]
    hub = rig.service.new_hub(None)
    subscriber = await connect(rig.service, hub)
    await rig.service.submit(hub, subscriber, "m1", "hi")
    await asyncio.sleep(0.15)
    assert rig.service.cancel(hub, "m1")
    done = await rig.terminal(hub, "m1")
    assert isinstance(done, Done)
    assert done.stopped
    streamed = "".join(e.text for e in rig.events(hub) if isinstance(e, Delta))
    assert done.text == streamed
    assert 0 < len(streamed) < len("".join(f"w{i} " for i in range(50)))


async def test_cancelling_a_queued_message_ends_it_without_asking_the_model(
    make_rig: Callable[..., object],
) -> None:
    rig: Rig = await make_rig(ScriptedModel(chunks=("a", "b"), delay_s=0.05))  # type: ignore[misc]
    hub = rig.service.new_hub(None)
    subscriber = await connect(rig.service, hub)
    await rig.service.submit(hub, subscriber, "m1", "first")
    await rig.service.submit(hub, subscriber, "m2", "second")
    assert rig.service.cancel(hub, "m2")
    done = await rig.terminal(hub, "m2")
    assert isinstance(done, Done)
    assert (done.stopped, done.text) == (True, "")
    assert [r.query for r in rig.model.requests] == ["first"]


async def test_a_model_failure_ends_the_answer_with_one_stored_error(make_rig: Callable[..., object]) -> None:
    model = ScriptedModel(chunks=("a", "b", "c"), fail_after=2, error=ModelError("down"))
    rig: Rig = await make_rig(model)  # type: ignore[misc]
    hub = rig.service.new_hub(None)
    subscriber = await connect(rig.service, hub)
    await rig.service.submit(hub, subscriber, "m1", "hi")
    error = await rig.terminal(hub, "m1")
    assert isinstance(error, Error)
    assert error.seq is not None
    terminal = [e for e in rig.events(hub) if isinstance(e, Done | Error)]
    assert len(terminal) == 1
    answer = next(m for m in await rig.store.messages(hub.conversation_id) if m.role == "assistant")
    assert (answer.status, answer.text) == ("failed", "ab")


async def test_an_answer_nobody_waits_for_is_abandoned(make_rig: Callable[..., object]) -> None:
    rig: Rig = await make_rig(ScriptedModel(chunks=tuple("x" * 200), delay_s=0.02))  # type: ignore[misc]
    hub = rig.service.new_hub(None)
    subscriber = await connect(rig.service, hub)
    await rig.service.submit(hub, subscriber, "m1", "hi")
    rig.service.detach(hub, subscriber)
    done = await rig.terminal(hub, "m1")
    assert isinstance(done, Done)
    assert done.stopped
    await asyncio.sleep(0.05)
    assert hub.conversation_id not in rig.service._hubs


async def test_an_answer_left_unfinished_by_a_dead_process_is_regenerated_after_a_reset(
    make_rig: Callable[..., object],
) -> None:
    rig: Rig = await make_rig()  # type: ignore[misc]
    cid = rig.store.new_conversation_id()
    now = datetime.now(UTC)
    accepted = Accepted(seq=1, message_id="m1", text="hi", created_at=now.isoformat())
    partial = Delta(seq=2, message_id="m1", text="Hel")
    await rig.store.write(
        [
            NewConversation(cid, None),
            NewUserMessage(cid, "m1", "hi", now),
            NewEvent(cid, 1, "accepted", "m1", accepted.model_dump_json()),
            NewEvent(cid, 2, "delta", "m1", partial.model_dump_json()),
        ]
    )
    hub = await rig.service.open(cid, None)
    await connect(rig.service, hub, last_seq=2)
    done = await rig.terminal(hub, "m1")
    events = rig.events(hub)
    assert isinstance(events[0], Reset)
    assert events[0].seq == 3
    assert isinstance(done, Done)
    assert done.text == "Hello there!"
    assert [e.seq for e in events] == list(range(3, 3 + len(events)))


async def test_text_arriving_during_a_commit_is_coalesced_and_nothing_is_lost(
    make_rig: Callable[..., object],
) -> None:
    chunks = tuple(f"t{i} " for i in range(60))
    rig: Rig = await make_rig(ScriptedModel(chunks=chunks, delay_s=0.002), store_delay_s=0.03)  # type: ignore[misc]
    hub = rig.service.new_hub(None)
    subscriber = await connect(rig.service, hub)
    await rig.service.submit(hub, subscriber, "m1", "hi")
    done = await rig.terminal(hub, "m1")
    deltas = [e for e in rig.events(hub) if isinstance(e, Delta)]
    assert len(deltas) < len(chunks) / 3
    assert "".join(d.text for d in deltas) == "".join(chunks)
    assert isinstance(done, Done)
    assert done.text == "".join(chunks)


async def test_the_live_stream_equals_the_replay(make_rig: Callable[..., object]) -> None:
    chunks = tuple(f"t{i} " for i in range(40))
    rig: Rig = await make_rig(ScriptedModel(chunks=chunks, delay_s=0.002), store_delay_s=0.01)  # type: ignore[misc]
    hubs = [rig.service.new_hub(None) for _ in range(5)]
    for n, hub in enumerate(hubs):
        subscriber = await connect(rig.service, hub)
        await rig.service.submit(hub, subscriber, f"m{n}", "hi")
    for n, hub in enumerate(hubs):
        await rig.terminal(hub, f"m{n}")
    await asyncio.sleep(0.05)
    for hub in hubs:
        live = [p for c, _, p in rig.broadcaster.published if c == hub.conversation_id]
        replay = [p.payload for p in await rig.store.payloads_after(hub.conversation_id, 0)]
        assert live == replay


async def test_a_socket_joining_mid_answer_gets_replay_then_live_each_once(
    make_rig: Callable[..., object],
) -> None:
    chunks = tuple(f"t{i} " for i in range(40))
    rig: Rig = await make_rig(ScriptedModel(chunks=chunks, delay_s=0.005))  # type: ignore[misc]
    hub = rig.service.new_hub(None)
    first = await connect(rig.service, hub)
    await rig.service.submit(hub, first, "m1", "hi")
    await asyncio.sleep(0.08)
    late = await connect(rig.service, hub, last_seq=0)
    await rig.terminal(hub, "m1")
    await asyncio.sleep(0.02)
    frames = drain(late)
    seqs = [int(f.split('"seq":')[1].split(",")[0]) for f in frames]
    assert seqs == list(range(1, len(rig.events(hub)) + 1))


async def test_shutdown_leaves_the_answer_for_the_next_process(make_rig: Callable[..., object]) -> None:
    rig: Rig = await make_rig(ScriptedModel(chunks=tuple("x" * 100), delay_s=0.01))  # type: ignore[misc]
    hub = rig.service.new_hub(None)
    subscriber = await connect(rig.service, hub)
    await rig.service.submit(hub, subscriber, "m1", "hi")
    await asyncio.sleep(0.1)
    await rig.service.close()
    assert [a.message_id for a in await rig.store.pending_answers(hub.conversation_id)] == ["m1"]
    assert not [e for e in rig.events(hub) if isinstance(e, Done)]


async def test_a_database_outage_mid_answer_ends_it_with_one_error_and_no_lost_seq(
    make_rig: Callable[..., object],
) -> None:
    rig: Rig = await make_rig(
        ScriptedModel(chunks=tuple(f"w{i} " for i in range(30)), delay_s=0.01), flaky=True
    )  # type: ignore[misc]
    store = rig.store
    assert isinstance(store, FlakyStore)
    hub = rig.service.new_hub(None)
    subscriber = await connect(rig.service, hub)
    await rig.service.submit(hub, subscriber, "m1", "hi")
    await asyncio.sleep(0.08)
    store.failures = 1
    error = await rig.terminal(hub, "m1")
    assert isinstance(error, Error)
    assert error.code == "internal"
    events = rig.events(hub)
    assert [e.seq for e in events] == list(range(1, len(events) + 1))
    assert [p.payload for p in await store.payloads_after(hub.conversation_id, 0)] == [
        p for c, _, p in rig.broadcaster.published if c == hub.conversation_id
    ]


async def test_many_streaming_answers_are_coalesced_into_fewer_deltas(
    make_rig: Callable[..., object],
) -> None:
    # 400 ms of text each: long enough that the token-by-token start is a small part even on a busy machine.
    chunks = tuple(f"t{i} " for i in range(80))
    rig: Rig = await make_rig(ScriptedModel(chunks=chunks, delay_s=0.005))  # type: ignore[misc]
    hubs = [rig.service.new_hub(None) for _ in range(40)]
    subscribers = [await connect(rig.service, hub) for hub in hubs]
    # All at once, so the answers overlap however long each acknowledgement's commit takes on a busy machine.
    await asyncio.gather(
        *(rig.service.submit(h, s, "m1", "hi") for h, s in zip(hubs, subscribers, strict=True))
    )
    for hub in hubs:
        done = await rig.terminal(hub, "m1")
        assert isinstance(done, Done)
        assert done.text == "".join(chunks)
    deltas = [sum(isinstance(e, Delta) for e in rig.events(hub)) for hub in hubs]
    # The first 100 ms stream token by token, until the load is measured; then text waits up to 50 ms.
    assert sum(deltas) < len(hubs) * len(chunks) / 2
    for hub in hubs:
        assert "".join(e.text for e in rig.events(hub) if isinstance(e, Delta)) == "".join(chunks)


async def test_a_quiet_server_sends_every_piece_as_it_comes(make_rig: Callable[..., object]) -> None:
    chunks = tuple(f"t{i} " for i in range(20))
    rig: Rig = await make_rig(ScriptedModel(chunks=chunks, delay_s=0.01))  # type: ignore[misc]
    hub = rig.service.new_hub(None)
    await rig.service.submit(hub, await connect(rig.service, hub), "m1", "hi")
    await rig.terminal(hub, "m1")
    assert [e.text for e in rig.events(hub) if isinstance(e, Delta)] == list(chunks)


# ---- early start: the chat request begins while the message is stored and routed ---------------------------


async def test_early_start_asks_the_model_before_the_message_is_stored(
    make_rig: Callable[..., object],
) -> None:
    rig: Rig = await make_rig(store_delay_s=0.2, router=SlowRouter(delay_s=0.3), config=EARLY)  # type: ignore[misc]
    hub = rig.service.new_hub(None)
    subscriber = await connect(rig.service, hub)
    submitting = asyncio.create_task(rig.service.submit(hub, subscriber, "m1", "hi"))
    await asyncio.wait_for(rig.model.started.wait(), 0.15)
    assert rig.events(hub) == []  # the model was asked; nothing is acknowledged or shown yet
    await submitting
    done = await rig.terminal(hub, "m1")
    assert [e.type for e in rig.events(hub)] == ["accepted", "delta", "delta", "delta", "done"]
    assert isinstance(done, Done)
    assert done.text == "Hello there!"
    assert len(rig.model.requests) == 1
    assert rig.model.abandoned == []


async def test_early_request_is_dropped_when_the_message_routes_to_recommendations(
    make_rig: Callable[..., object],
) -> None:
    rig: Rig = await make_rig(router=SlowRouter(fixed="recommend", delay_s=0.05), config=EARLY)  # type: ignore[misc]
    hub = rig.service.new_hub(None)
    subscriber = await connect(rig.service, hub)
    await rig.service.submit(hub, subscriber, "m1", "anything nice?")
    done = await rig.terminal(hub, "m1")
    assert isinstance(done, Done)
    assert done.route == "recommend"
    assert [r.route for r in rig.model.requests] == ["chat", "recommend"]
    await asyncio.sleep(0.01)  # the dropped request closes in the background
    assert [r.route for r in rig.model.abandoned] == ["chat"]
    assert "".join(e.text for e in rig.events(hub) if isinstance(e, Delta)) == "Hello there!"


async def test_early_request_is_dropped_when_the_message_cannot_be_stored(
    make_rig: Callable[..., object],
) -> None:
    rig: Rig = await make_rig(flaky=True, router=SlowRouter(delay_s=0.0), config=EARLY)  # type: ignore[misc]
    hub = rig.service.new_hub(None)
    subscriber = await connect(rig.service, hub)
    assert isinstance(rig.store, FlakyStore)
    rig.store.failures = 1
    with pytest.raises(ConnectionError):
        await rig.service.submit(hub, subscriber, "m1", "hi")
    await asyncio.sleep(0.05)
    assert len(rig.model.requests) == 1
    assert len(rig.model.abandoned) == 1
    assert not any(isinstance(e, Delta | Done) for e in rig.events(hub))


async def test_no_early_start_for_a_message_rules_send_to_recommendations(
    make_rig: Callable[..., object],
) -> None:
    rig: Rig = await make_rig(router=FixedRouter(fixed="recommend"), config=EARLY)  # type: ignore[misc]
    hub = rig.service.new_hub(None)
    subscriber = await connect(rig.service, hub)
    await rig.service.submit(hub, subscriber, "m1", "recommend me a gift")
    await rig.terminal(hub, "m1")
    assert [r.route for r in rig.model.requests] == ["recommend"]
    assert rig.model.abandoned == []


async def test_a_message_sent_during_an_answer_waits_for_it_and_sees_it_in_history(
    make_rig: Callable[..., object],
) -> None:
    model = ScriptedModel(delay_s=0.03)
    rig: Rig = await make_rig(model=model, router=SlowRouter(delay_s=0.0), config=EARLY)  # type: ignore[misc]
    hub = rig.service.new_hub(None)
    subscriber = await connect(rig.service, hub)
    await rig.service.submit(hub, subscriber, "m1", "first question")
    await rig.service.submit(hub, subscriber, "m2", "second question")
    await rig.terminal(hub, "m2")
    second = rig.model.requests[1]
    assert [m["content"] for m in second.messages if m["role"] == "assistant"] == ["Hello there!"]
    assert rig.model.abandoned == []


async def test_cancelling_before_the_answer_starts_drops_the_early_request(
    make_rig: Callable[..., object],
) -> None:
    model = ScriptedModel(delay_s=0.05)
    rig: Rig = await make_rig(model=model, router=SlowRouter(delay_s=0.2), config=EARLY)  # type: ignore[misc]
    hub = rig.service.new_hub(None)
    subscriber = await connect(rig.service, hub)
    await rig.service.submit(hub, subscriber, "m1", "hi")
    assert rig.service.cancel(hub, "m1")
    done = await rig.terminal(hub, "m1")
    assert isinstance(done, Done)
    assert done.stopped
    assert done.text == ""
    await asyncio.sleep(0.01)
    assert len(rig.model.abandoned) == 1
    assert not any(isinstance(e, Delta) for e in rig.events(hub))


async def test_a_new_message_reads_nothing_before_it_is_stored(make_rig: Callable[..., object]) -> None:
    rig: Rig = await make_rig()  # type: ignore[misc]
    hub = rig.service.new_hub(None)
    subscriber = await connect(rig.service, hub)
    await rig.service.submit(hub, subscriber, "m1", "hi")
    await rig.terminal(hub, "m1")
    lookups: list[str] = []
    find_accepted = rig.store.find_accepted

    async def counted(conversation_id: str, client_id: str) -> Accepted | None:
        lookups.append(client_id)
        return await find_accepted(conversation_id, client_id)

    rig.store.find_accepted = counted  # type: ignore[method-assign]
    await rig.service.submit(hub, subscriber, "m2", "and another thing")
    await rig.service.submit(hub, subscriber, "m1", "hi")  # a resend: the stored acknowledgement is read
    assert lookups == ["m1"]

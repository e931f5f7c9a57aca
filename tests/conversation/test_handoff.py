"""Handing a conversation to a person through the service: requests, held messages, take-over mid-answer,
operator messages, hand-back, close, tickets, and the owner surviving a restart (real SQLite store)."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import pytest

from app.conversation.handoff import OPERATORS_CHANNEL, HandoffDesk, expected_wait
from app.conversation.hub import Hub
from app.conversation.owner import Operator, OwnerError
from app.conversation.pipeline import ChatConfig
from app.conversation.service import ChatService
from app.conversation.subscriber import Subscriber
from app.errors import ErrorCode, ShopchatError
from app.events import AgentMessage, Delta, Done, Error, Handoff, StoredEvent
from app.store.migrate import upgrade
from app.store.owners import OwnerStore
from app.store.store import Store
from tests.conftest import sqlite_url
from tests.conversation.rig import start_service
from tests.fakes import RecordingBroadcaster, ScriptedModel

CONFIG = ChatConfig(
    context_tokens=16_000,
    max_output_tokens=512,
    max_message_chars=2000,
    abandon_after_s=5,
    recommendations_n=4,
)
ANNA = Operator(1, "anna")
BEN = Operator(2, "ben")


async def until(condition: Callable[[], bool]) -> None:
    """Wait (5 s at most) until ``condition`` holds."""
    async with asyncio.timeout(5):
        while True:
            if condition():
                return
            await asyncio.sleep(0.005)


@dataclass
class RecordedHandoffs:
    """The ``Handoffs`` port, recording each request."""

    requests: list[tuple[str | None, str | None, str]]

    async def add_handoff(self, conversation_id: str | None, customer_id: str | None, summary: str) -> int:
        self.requests.append((conversation_id, customer_id, summary))
        return len(self.requests)


@dataclass
class Rig:
    service: ChatService
    store: Store
    model: ScriptedModel
    broadcaster: RecordingBroadcaster
    desk: HandoffDesk
    handoffs: RecordedHandoffs

    def events(self, hub: Hub) -> list[StoredEvent]:
        return self.broadcaster.events(hub.conversation_id)

    def terminals(self, hub: Hub, message_id: str) -> list[StoredEvent]:
        return [
            e
            for e in self.events(hub)
            if (isinstance(e, Done) and e.message_id == message_id)
            or (isinstance(e, Error) and e.reply_to == message_id)
        ]

    async def terminal(self, hub: Hub, message_id: str) -> StoredEvent:
        await until(lambda: bool(self.terminals(hub, message_id)))
        await hub.journal.flushed()
        return self.terminals(hub, message_id)[0]

    async def customer(self, customer_id: str | None = None) -> Hub:
        """A new conversation with the customer's socket attached (which keeps its hub live, as in the server)."""
        hub = self.service.new_hub(customer_id)
        await self.service.attach(hub, Subscriber(last_seq=0))
        return hub

    def handoffs_of(self, hub: Hub) -> list[Handoff]:
        return [e for e in self.events(hub) if isinstance(e, Handoff)]

    async def say(self, hub: Hub, message_id: str, text: str) -> StoredEvent:
        await self.service.submit(hub, Subscriber(last_seq=0), message_id, text)
        return await self.terminal(hub, message_id)


MakeRig = Callable[..., Awaitable[Rig]]


@pytest.fixture
async def make_rig(tmp_path: Path) -> AsyncIterator[MakeRig]:
    rigs: list[Rig] = []

    async def build(
        model: ScriptedModel | None = None, available: bool = True, after_fallbacks: int = 2
    ) -> Rig:
        store = Store.from_url(sqlite_url(tmp_path / "chat.db"))
        await upgrade(store.engine)
        handoffs = RecordedHandoffs([])
        desk = HandoffDesk(
            handoffs,
            available=lambda: available,
            hours="9-5",
            after_fallbacks=after_fallbacks,
            waiting=OwnerStore(store).count_waiting,
        )
        model = model or ScriptedModel()
        service, broadcaster = start_service(store, model, CONFIG, desk=desk)
        rig = Rig(service, store, model, broadcaster, desk, handoffs)
        rigs.append(rig)
        return rig

    yield build
    for rig in rigs:
        await rig.service.close()
        await rig.store.close()


async def test_a_customer_asking_for_a_person_waits_and_the_assistant_holds_back(make_rig: MakeRig) -> None:
    rig: Rig = await make_rig()
    hub = await rig.customer("12347")
    done = await rig.say(hub, "m1", "Can I speak to a human please?")
    assert isinstance(done, Done)
    assert done.held
    assert done.text == ""
    assert [h.status for h in rig.handoffs_of(hub)] == ["waiting"]
    assert rig.model.requests == []
    assert rig.handoffs.requests == [(hub.conversation_id, "12347", "Can I speak to a human please?")]
    stored = await OwnerStore(rig.store).get(hub.conversation_id)
    assert stored is not None
    assert (stored.state, stored.source) == ("waiting", "customer")


async def test_messages_while_waiting_or_with_a_person_are_stored_acknowledged_and_not_answered(
    make_rig: MakeRig,
) -> None:
    rig: Rig = await make_rig()
    hub = await rig.customer()
    await rig.say(hub, "m1", "I want to talk to a person")
    await rig.say(hub, "m2", "hello? anyone there")
    await rig.service.take(hub.conversation_id, ANNA)
    await rig.say(hub, "m3", "thanks for joining")
    for message_id in ("m1", "m2", "m3"):
        ended = rig.terminals(hub, message_id)
        assert len(ended) == 1
        assert isinstance(ended[0], Done)
        assert ended[0].held
    assert rig.model.requests == []
    users = [m for m in await rig.store.messages(hub.conversation_id) if m.role == "user"]
    assert [m.client_id for m in users] == ["m1", "m2", "m3"]


async def test_an_answer_streaming_when_a_person_takes_over_stops_with_one_terminal_event(
    make_rig: MakeRig,
) -> None:
    rig: Rig = await make_rig(ScriptedModel(chunks=[f"w{i} " for i in range(200)], delay_s=0.01))
    hub = await rig.customer()
    await rig.service.submit(hub, Subscriber(last_seq=0), "m1", "tell me a long story")
    await until(lambda: any(isinstance(e, Delta) for e in rig.events(hub)))
    await rig.service.take(hub.conversation_id, ANNA)
    done = await rig.terminal(hub, "m1")
    await asyncio.sleep(0.1)
    assert isinstance(done, Done)
    assert done.stopped
    assert not done.held
    assert len(rig.terminals(hub, "m1")) == 1
    events = rig.events(hub)
    joined = next(i for i, e in enumerate(events) if isinstance(e, Handoff))
    assert events[joined] == Handoff(
        seq=events[joined].seq, status="joined", operator_name="anna", message="Anna joined the chat."
    )
    assert not any(isinstance(e, Delta) for e in events[joined:])
    assert len(done.text.split()) < 200


async def test_an_operators_message_is_stored_sent_and_marked_as_theirs(make_rig: MakeRig) -> None:
    rig: Rig = await make_rig()
    hub = await rig.customer()
    await rig.say(hub, "m1", "human please")
    await rig.service.take(hub.conversation_id, ANNA)
    await rig.service.say(hub.conversation_id, ANNA, "Hi, I'm Anna. How can I help?")
    sent = [e for e in rig.events(hub) if isinstance(e, AgentMessage)]
    assert [(e.text, e.operator_name) for e in sent] == [("Hi, I'm Anna. How can I help?", "anna")]
    rows = [m for m in await rig.store.messages(hub.conversation_id) if m.role == "operator"]
    assert [(m.client_id, m.text) for m in rows] == [(sent[0].message_id, "Hi, I'm Anna. How can I help?")]


async def test_only_the_operator_holding_a_conversation_writes_in_it(make_rig: MakeRig) -> None:
    rig: Rig = await make_rig()
    hub = await rig.customer()
    await rig.say(hub, "m1", "human please")
    with pytest.raises(OwnerError):
        await rig.service.say(hub.conversation_id, ANNA, "not taken yet")
    await rig.service.take(hub.conversation_id, ANNA)
    with pytest.raises(OwnerError) as caught:
        await rig.service.take(hub.conversation_id, BEN)
    assert caught.value.code == ErrorCode.NOT_OWNER


async def test_handing_back_lets_the_assistant_answer_again(make_rig: MakeRig) -> None:
    rig: Rig = await make_rig()
    hub = await rig.customer()
    await rig.say(hub, "m1", "human please")
    await rig.service.take(hub.conversation_id, ANNA)
    await rig.service.release(hub.conversation_id, ANNA)
    answered = await rig.say(hub, "m2", "where is my order?")
    assert isinstance(answered, Done)
    assert answered.text == "Hello there!"
    assert not answered.held
    assert [h.status for h in rig.handoffs_of(hub)] == ["waiting", "joined", "returned"]


async def test_a_closed_conversation_reopens_with_the_assistant(make_rig: MakeRig) -> None:
    rig: Rig = await make_rig()
    hub = await rig.customer()
    await rig.say(hub, "m1", "human please")
    await rig.service.close_conversation(hub.conversation_id, ANNA)
    assert rig.handoffs_of(hub)[-1].status == "closed"
    answered = await rig.say(hub, "m2", "one more question")
    assert isinstance(answered, Done)
    assert not answered.held
    assert hub.owner.state == "bot"


async def test_answers_that_could_not_help_hand_over_after_the_set_number(make_rig: MakeRig) -> None:
    rig: Rig = await make_rig(ScriptedModel(helpless=True), after_fallbacks=2)
    hub = await rig.customer()
    await rig.say(hub, "m1", "xyzzy")
    await asyncio.sleep(0.05)
    assert rig.handoffs_of(hub) == []
    await rig.say(hub, "m2", "plugh")
    await until(lambda: bool(rig.handoffs_of(hub)))
    assert rig.handoffs_of(hub)[0].status == "waiting"
    assert hub.owner.source == "fallbacks"
    held = await rig.say(hub, "m3", "hello?")
    assert isinstance(held, Done)
    assert held.held


async def test_the_transfer_tool_hands_over_through_the_desk(make_rig: MakeRig) -> None:
    rig: Rig = await make_rig()
    hub = await rig.customer("12347")
    await rig.say(hub, "m1", "hi")
    handoff_id = await rig.desk.add_handoff(hub.conversation_id, "12347", "Wants a refund for a broken mug")
    assert handoff_id == 1
    assert hub.owner.state == "waiting"
    assert hub.owner.reason == "Wants a refund for a broken mug"


async def test_nobody_available_keeps_the_assistant_and_takes_a_ticket(make_rig: MakeRig) -> None:
    rig: Rig = await make_rig(available=False)
    hub = await rig.customer()
    answered = await rig.say(hub, "m1", "can I talk to an agent")
    assert isinstance(answered, Done)
    assert not answered.held
    assert [h.status for h in rig.handoffs_of(hub)] == ["unavailable"]
    assert "9-5" in rig.handoffs_of(hub)[0].message
    with pytest.raises(ShopchatError) as bad:
        await rig.service.ticket(hub, "not an email")
    assert bad.value.code == ErrorCode.INVALID_VALUE
    await rig.service.ticket(hub, "ann@example.com")
    queue = await OwnerStore(rig.store).queue()
    assert [(q.conversation_id, q.ticket_email, q.state) for q in queue] == [
        (hub.conversation_id, "ann@example.com", "bot")
    ]


async def test_the_owner_and_its_events_survive_a_restart(make_rig: MakeRig) -> None:
    rig: Rig = await make_rig()
    hub = await rig.customer()
    await rig.say(hub, "m1", "human please")
    await rig.service.take(hub.conversation_id, ANNA)
    await rig.service.say(hub.conversation_id, ANNA, "Hello from Anna")
    await hub.journal.flushed()
    again: Rig = await make_rig()
    reopened = await again.service.open(hub.conversation_id, None)
    assert reopened.owner.state == "human"
    assert reopened.owner.operator is not None
    replayed = await again.store.events_after(hub.conversation_id, 0)
    assert [e.type for e in replayed if isinstance(e, Handoff | AgentMessage)] == [
        "handoff",
        "handoff",
        "agent_message",
    ]
    held = await again.say(reopened, "m2", "are you still there?")
    assert isinstance(held, Done)
    assert held.held


async def test_operators_hear_of_every_change_on_their_channel(make_rig: MakeRig) -> None:
    rig: Rig = await make_rig()
    hub = await rig.customer()
    await rig.say(hub, "m1", "human please")
    await rig.service.take(hub.conversation_id, ANNA)
    hints = [p for c, _, p in rig.broadcaster.published if c == OPERATORS_CHANNEL]
    assert len(hints) == 2
    assert all(hub.conversation_id in p for p in hints)


async def test_operators_act_only_on_stored_conversations(make_rig: MakeRig) -> None:
    rig: Rig = await make_rig()
    with pytest.raises(ShopchatError) as caught:
        await rig.service.take("0" * 32, ANNA)
    assert caught.value.code == ErrorCode.NOT_FOUND


async def test_a_waiting_customer_is_told_their_place_in_the_queue(make_rig: MakeRig) -> None:
    rig: Rig = await make_rig()
    first, second = await rig.customer(), await rig.customer()
    await rig.say(first, "m1", "human please")
    await rig.say(second, "m1", "can I talk to an agent?")
    assert "number" not in rig.handoffs_of(first)[0].message
    assert "You are number 2 in the queue." in rig.handoffs_of(second)[0].message


async def test_asking_again_while_waiting_records_nothing_more(make_rig: MakeRig) -> None:
    rig: Rig = await make_rig()
    hub = await rig.customer()
    await rig.say(hub, "m1", "human please")
    await rig.say(hub, "m2", "HUMAN PLEASE")
    assert await rig.desk.add_handoff(hub.conversation_id, None, "again") == 0
    assert len(rig.handoffs.requests) == 1
    assert [h.status for h in rig.handoffs_of(hub)] == ["waiting"]


async def test_a_yes_to_the_assistants_offer_of_a_colleague_hands_over(make_rig: MakeRig) -> None:
    offer = "I can't answer that one reliably. Would you like me to do that?"
    rig: Rig = await make_rig(model=ScriptedModel(chunks=(offer,)))
    hub = await rig.customer("12347")
    await rig.say(hub, "m1", "cancel my newsletter")
    done = await rig.say(hub, "m2", "yes please")
    assert isinstance(done, Done)
    assert done.held
    assert [h.status for h in rig.handoffs_of(hub)] == ["waiting"]


async def test_a_yes_to_anything_else_does_not_hand_over(make_rig: MakeRig) -> None:
    rig: Rig = await make_rig(model=ScriptedModel(chunks=("Shall I show you more mugs?",)))
    hub = await rig.customer("12347")
    await rig.say(hub, "m1", "mugs")
    done = await rig.say(hub, "m2", "yes please")
    assert isinstance(done, Done)
    assert not done.held
    assert rig.handoffs_of(hub) == []


def test_the_expected_wait_comes_from_recent_waits_and_the_place_in_the_queue() -> None:
    assert expected_wait([], 0) == ""
    assert expected_wait([30.0, 60.0, 90.0], 0) == " The wait is usually about a minute."
    assert expected_wait([120.0, 180.0, 240.0], 2) == " The wait is usually about 9 minutes."
    assert expected_wait([1800.0], 2) == " The wait may be over an hour."


async def test_a_customer_waiting_is_told_the_usual_wait_once_people_have_answered(make_rig: MakeRig) -> None:
    rig: Rig = await make_rig()
    first = await rig.customer("12347")
    await rig.say(first, "m1", "Can I speak to a human please?")
    asked_at = first.owner.since
    assert asked_at is not None
    first.owner = dataclasses.replace(first.owner, since=asked_at - timedelta(minutes=4))
    await rig.desk.take(first, ANNA)
    second = await rig.customer("12348")
    await rig.say(second, "m1", "I want to talk to a person")
    waiting = rig.handoffs_of(second)[-1]
    assert waiting.status == "waiting"
    assert "usually about 4 minutes" in waiting.message


async def test_a_german_customer_is_told_in_german(make_rig: MakeRig) -> None:
    rig: Rig = await make_rig()
    hub = await rig.customer("12347")
    await rig.say(hub, "m1", "Ich möchte bitte mit einem Mitarbeiter sprechen")
    await rig.service.take(hub.conversation_id, ANNA)
    waiting, joined = rig.handoffs_of(hub)[-2:]
    assert waiting.message.startswith("Gleich meldet sich jemand aus dem Team")
    assert joined.message == "Anna ist dem Chat beigetreten."

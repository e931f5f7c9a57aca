"""A change waits for the customer: proposed by the model, stored, and made once, only when the customer says so."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime, timedelta

import pytest

from app.conversation.confirmations import Confirmations, yes_or_no
from app.conversation.hub import Hub
from app.errors import ErrorCode
from app.events import Confirm, Done, Error, StoredEvent, ToolCalled, ToolResult
from app.llm.model import ToolCall
from app.store.actions import ActionStore
from app.store.tables import utcnow
from tests.conversation import test_service
from tests.conversation.test_service import Rig, connect
from tests.fakes import FakeTools, ScriptedModel

make_rig = test_service.make_rig

CANCEL = ToolCall("call_1", "cancel_pending_order", '{"order_id": "1234701", "reason": "too late"}')
ASKED = "Please confirm the cancellation."
TOOLS = ("get_order_details", "cancel_pending_order")


class Clock:
    """A clock the test moves."""

    def __init__(self) -> None:
        self.now = utcnow()

    def __call__(self) -> datetime:
        return self.now


async def proposed(
    make: Callable[..., object],
    *,
    clock: Clock | None = None,
    after: list[list[str | ToolCall]] | None = None,
) -> tuple[Rig, Hub, FakeTools, Confirm]:
    """A conversation whose first answer proposed cancelling order 1234701."""
    tools = FakeTools(names=TOOLS, proposing=("cancel_pending_order",))
    turns: list[list[str | ToolCall]] = [[CANCEL], [ASKED], *(after or [["Done: it is cancelled."]])]
    rig: Rig = await make(model=ScriptedModel(turns=turns), tools=tools, confirmations=None)  # type: ignore[misc]
    if clock is not None:
        rig.service.pipeline.confirmations = Confirmations(ActionStore(rig.store), ttl_s=60, clock=clock)
    hub = rig.service.new_hub(None)
    await rig.service.submit(hub, await connect(rig.service, hub), "m1", "cancel order 1234701")
    await rig.terminal(hub, "m1")
    confirm = of(rig, hub, Confirm)[0]
    assert isinstance(confirm, Confirm)
    return rig, hub, tools, confirm


def of(rig: Rig, hub: Hub, kind: type[StoredEvent], message_id: str | None = None) -> list[StoredEvent]:
    return [
        e
        for e in rig.events(hub)
        if isinstance(e, kind) and (message_id is None or getattr(e, "message_id", None) == message_id)
    ]


async def test_a_change_is_proposed_stored_and_not_made(make_rig: Callable[..., object]) -> None:
    rig, hub, tools, confirm = await proposed(make_rig)
    assert [e.type for e in rig.events(hub)] == [
        "accepted", "tool_call", "tool_result", "confirm", "delta", "done",
    ]  # fmt: skip
    assert (confirm.tool, confirm.call_id, confirm.message_id) == ("cancel_pending_order", "call_1", "m1")
    assert confirm.arguments == {"order_id": "1234701", "reason": "too late"}
    assert confirm.summary.startswith("Do cancel_pending_order")
    assert tools.made == []
    told = json.loads(rig.model.requests[1].messages[-1]["content"])
    assert told["status"] == "awaiting_confirmation"
    assert told["action_id"] == confirm.action_id
    stored = await ActionStore(rig.store).get(confirm.action_id)
    assert stored is not None
    assert stored.status == "pending"


async def test_an_approved_change_is_made_once_and_the_model_reads_its_result(
    make_rig: Callable[..., object],
) -> None:
    rig, hub, tools, confirm = await proposed(make_rig)
    subscriber = await connect(rig.service, hub, last_seq=hub.journal.published_seq)
    assert await rig.service.confirm(hub, subscriber, confirm.action_id, True) is None
    message_id = f"confirm-{confirm.action_id}"
    done = await rig.terminal(hub, message_id)
    assert isinstance(done, Done)
    assert done.text == "Done: it is cancelled."
    assert [a.action_id for a in tools.made] == [confirm.action_id]
    call = of(rig, hub, ToolCalled, message_id)[0]
    result = of(rig, hub, ToolResult, message_id)[0]
    assert isinstance(call, ToolCalled)
    assert isinstance(result, ToolResult)
    assert call.name == "cancel_pending_order"
    assert result.ok
    assert result.call_id == call.call_id
    told = rig.model.requests[2].messages[-1]
    assert told["role"] == "tool"
    assert json.loads(told["content"])["done"] == "cancel_pending_order"


async def test_a_confirmation_sent_twice_is_made_once(make_rig: Callable[..., object]) -> None:
    rig, hub, tools, confirm = await proposed(make_rig)
    first = await connect(rig.service, hub, last_seq=hub.journal.published_seq)
    second = await connect(rig.service, hub, last_seq=hub.journal.published_seq)
    assert await rig.service.confirm(hub, first, confirm.action_id, True) is None
    await rig.service.confirm(hub, second, confirm.action_id, True)
    await rig.terminal(hub, f"confirm-{confirm.action_id}")
    again = await rig.service.confirm(hub, second, confirm.action_id, True)
    assert again is None  # the stored message is acknowledged again, not answered again
    assert len(tools.made) == 1
    assert len(of(rig, hub, Done, f"confirm-{confirm.action_id}")) == 1


async def test_a_declined_change_is_never_made(make_rig: Callable[..., object]) -> None:
    rig, hub, tools, confirm = await proposed(make_rig, after=[["Alright, I left it as it is."]])
    subscriber = await connect(rig.service, hub, last_seq=hub.journal.published_seq)
    await rig.service.confirm(hub, subscriber, confirm.action_id, False)
    await rig.terminal(hub, f"confirm-{confirm.action_id}")
    assert tools.made == []
    result = of(rig, hub, ToolResult, f"confirm-{confirm.action_id}")[0]
    assert isinstance(result, ToolResult)
    assert not result.ok
    assert json.loads(rig.model.requests[2].messages[-1]["content"])["error"] == "declined"
    approve_later = await rig.service.confirm(hub, subscriber, confirm.action_id, True)
    assert approve_later is None  # the same message again: already decided, nothing more happens
    assert tools.made == []


async def test_an_expired_confirmation_is_refused_and_never_made(make_rig: Callable[..., object]) -> None:
    clock = Clock()
    rig, hub, tools, confirm = await proposed(make_rig, clock=clock)
    clock.now += timedelta(seconds=61)
    subscriber = await connect(rig.service, hub, last_seq=hub.journal.published_seq)
    refused = await rig.service.confirm(hub, subscriber, confirm.action_id, True)
    assert isinstance(refused, Error)
    assert refused.code == ErrorCode.CONFIRMATION_EXPIRED
    assert tools.made == []
    assert not hub.transcript.has(f"confirm-{confirm.action_id}")


async def test_a_typed_yes_that_expired_is_answered_without_the_change(
    make_rig: Callable[..., object],
) -> None:
    clock = Clock()
    rig, hub, tools, _confirm = await proposed(make_rig, clock=clock, after=[["It expired."]])
    clock.now += timedelta(seconds=61)
    await rig.service.submit(hub, await connect(rig.service, hub), "m2", "yes")
    await rig.terminal(hub, "m2")
    assert tools.made == []
    result = of(rig, hub, ToolResult, "m2")[0]
    assert isinstance(result, ToolResult)
    assert not result.ok


async def test_an_unknown_action_is_not_found(make_rig: Callable[..., object]) -> None:
    rig, hub, _tools, _ = await proposed(make_rig)
    refused = await rig.service.confirm(hub, await connect(rig.service, hub), "nope", True)
    assert isinstance(refused, Error)
    assert refused.code == ErrorCode.NOT_FOUND


async def test_another_conversations_action_is_not_found(make_rig: Callable[..., object]) -> None:
    rig, _, tools, confirm = await proposed(make_rig)
    other = rig.service.new_hub(None)
    refused = await rig.service.confirm(other, await connect(rig.service, other), confirm.action_id, True)
    assert isinstance(refused, Error)
    assert refused.code == ErrorCode.NOT_FOUND
    assert tools.made == []


async def test_a_typed_yes_right_after_the_question_approves(make_rig: Callable[..., object]) -> None:
    rig, hub, tools, confirm = await proposed(make_rig)
    await rig.service.submit(hub, await connect(rig.service, hub), "m2", "Yes please")
    done = await rig.terminal(hub, "m2")
    assert isinstance(done, Done)
    assert [a.action_id for a in tools.made] == [confirm.action_id]


async def test_a_typed_no_declines(make_rig: Callable[..., object]) -> None:
    rig, hub, tools, _ = await proposed(make_rig, after=[["Fine."]])
    await rig.service.submit(hub, await connect(rig.service, hub), "m2", "no, leave it")
    await rig.terminal(hub, "m2")
    assert tools.made == []
    assert json.loads(rig.model.requests[2].messages[-1]["content"])["error"] == "declined"


async def test_a_yes_to_a_later_question_never_approves_an_older_change(
    make_rig: Callable[..., object],
) -> None:
    rig, hub, tools, _ = await proposed(make_rig, after=[["Anything else?"]])
    subscriber = await connect(rig.service, hub)
    await rig.service.submit(hub, subscriber, "m2", "what are your opening hours?")
    await rig.terminal(hub, "m2")
    await rig.service.submit(hub, subscriber, "m3", "yes")
    await rig.terminal(hub, "m3")
    assert tools.made == []
    assert of(rig, hub, ToolCalled, "m3") == []


async def test_a_newer_proposal_closes_the_older_one(make_rig: Callable[..., object]) -> None:
    tools = FakeTools(names=TOOLS, proposing=("cancel_pending_order",))
    again = ToolCall("call_2", "cancel_pending_order", '{"order_id": "1234702", "reason": "x"}')
    turns: list[list[str | ToolCall]] = [[CANCEL], [ASKED], [again], [ASKED]]
    rig: Rig = await make_rig(model=ScriptedModel(turns=turns), tools=tools)  # type: ignore[misc]
    hub = rig.service.new_hub(None)
    subscriber = await connect(rig.service, hub)
    await rig.service.submit(hub, subscriber, "m1", "cancel order 1234701")
    await rig.terminal(hub, "m1")
    await rig.service.submit(hub, subscriber, "m2", "and order 1234702 too")
    await rig.terminal(hub, "m2")
    first, second = (e for e in of(rig, hub, Confirm) if isinstance(e, Confirm))
    refused = await rig.service.confirm(hub, subscriber, first.action_id, True)
    assert isinstance(refused, Error)
    assert refused.code == ErrorCode.CONFIRMATION_CLOSED
    assert await rig.service.confirm(hub, subscriber, second.action_id, True) is None
    await rig.terminal(hub, f"confirm-{second.action_id}")
    assert [a.arguments["order_id"] for a in tools.made] == ["1234702"]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("yes", True),
        ("Yes please!", True),
        ("ok go ahead", True),
        ("Ja, bitte", True),
        ("go ahead", True),
        ("no", False),
        ("No thanks", False),
        ("nein", False),
        ("don't", False),
        ("yes but not that one", None),
        ("yes, cancel it", True),
        ("Please show my other orders first.", None),
        ("ok, show me the items first", None),
        ("Sure, what is the total?", None),
        ("ja, zeig mir erst die Artikel", None),
        ("please check order 1234704 first", None),
        ("yes, wait", None),
        ("what are your opening hours?", None),
        ("yes I would like to know where my order is and also when it comes", None),
        ("", None),
    ],
)
def test_yes_or_no(text: str, expected: bool | None) -> None:
    assert yes_or_no(text) is expected

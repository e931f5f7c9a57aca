"""The answer's tool loop: call → result → model again, within its limits, stored and replayed like deltas."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Sequence
from dataclasses import replace

from app.conversation.hub import Hub
from app.conversation.tools import MAX_CALLS, NoTools, parse_arguments
from app.errors import ErrorCode
from app.events import Done, Error, StoredEvent, ToolCalled, ToolResult
from app.llm.model import ToolCall
from tests.conversation import test_service
from tests.conversation.test_service import Rig, connect
from tests.fakes import FakeTools, ScriptedModel

make_rig = test_service.make_rig

LOOKUP = ToolCall("call_1", "get_order_details", '{"order_id": "536365"}')


def lookup(n: int) -> ToolCall:
    return ToolCall(f"call_{n}", "get_order_details", json.dumps({"order_id": str(n)}))


async def ask(
    make: Callable[..., object], turns: Sequence[Sequence[str | ToolCall]], tools: object = None
) -> tuple[Rig, Hub, StoredEvent]:
    rig: Rig = await make(model=ScriptedModel(turns=turns), tools=tools)  # type: ignore[misc]
    hub = rig.service.new_hub(None)
    await rig.service.submit(hub, await connect(rig.service, hub), "m1", "where is my order 536365?")
    return rig, hub, await rig.terminal(hub, "m1")


def of(rig: Rig, hub: Hub, kind: type[StoredEvent]) -> list[StoredEvent]:
    return [e for e in rig.events(hub) if isinstance(e, kind)]


async def test_a_call_runs_and_the_model_answers_from_its_result_keeping_the_text_before_it(
    make_rig: Callable[..., object],
) -> None:
    tools = FakeTools()
    rig, hub, done = await ask(make_rig, [["Let me check.", LOOKUP], ["It shipped."]], tools)
    assert [e.type for e in rig.events(hub)] == [
        "accepted", "delta", "tool_call", "tool_result", "delta", "delta", "done",
    ]  # fmt: skip
    assert isinstance(done, Done)
    assert done.text == "Let me check.\n\nIt shipped."
    call, result = of(rig, hub, ToolCalled)[0], of(rig, hub, ToolResult)[0]
    assert isinstance(call, ToolCalled)
    assert isinstance(result, ToolResult)
    assert (call.call_id, call.name, call.arguments) == (
        "call_1",
        "get_order_details",
        {"order_id": "536365"},
    )
    assert (result.call_id, result.ok) == ("call_1", True)
    assert tools.runs == [LOOKUP]
    second = rig.model.requests[1]
    assert [t.name for t in second.tools] == ["get_order_details"]
    assistant, answer = second.messages[-2], second.messages[-1]
    assert assistant["role"] == "assistant"
    assert assistant["content"] == "Let me check."
    assert assistant.get("tool_calls") == [
        {
            "id": "call_1",
            "type": "function",
            "function": {"name": "get_order_details", "arguments": LOOKUP.arguments},
        }
    ]
    assert answer["role"] == "tool"
    assert answer.get("tool_call_id") == "call_1"
    assert json.loads(answer["content"]) == {"name": "get_order_details", "arguments": {"order_id": "536365"}}
    stored = await rig.store.messages(hub.conversation_id)
    assert stored[-1].text == "Let me check.\n\nIt shipped."


async def test_no_more_than_eight_calls_run_and_the_model_must_then_answer(
    make_rig: Callable[..., object],
) -> None:
    tools = FakeTools()
    # One turn asking for ten calls at once, then an answer.
    rig, hub, done = await ask(make_rig, [[lookup(n) for n in range(10)], ["Here is what I found."]], tools)
    assert isinstance(done, Done)
    assert done.text == "Here is what I found."
    assert len(tools.runs) == MAX_CALLS
    assert len(of(rig, hub, ToolCalled)) == MAX_CALLS == len(of(rig, hub, ToolResult))
    second = rig.model.requests[1]
    results = [m for m in second.messages if m["role"] == "tool"]
    assert len(results) == 10  # every call the model made is answered, the last two with the limit
    assert "at most 8 tool calls" in results[-1]["content"]
    assert second.tool_choice == "none"


async def test_a_model_that_keeps_calling_after_the_limit_ends_with_one_model_error(
    make_rig: Callable[..., object],
) -> None:
    tools = FakeTools()
    rig, hub, end = await ask(make_rig, [[lookup(n)] for n in range(20)], tools)
    assert isinstance(end, Error)
    assert end.code == ErrorCode.MODEL_ERROR
    assert len(tools.runs) == MAX_CALLS
    assert len(rig.model.requests) == MAX_CALLS + 1
    assert [e.type for e in rig.events(hub) if e.type in ("done", "error")] == ["error"]


async def test_the_same_call_runs_at_most_twice(make_rig: Callable[..., object]) -> None:
    tools = FakeTools()
    rig, hub, done = await ask(make_rig, [[LOOKUP], [LOOKUP], [LOOKUP], ["Shipped."]], tools)
    assert isinstance(done, Done)
    assert done.text == "Shipped."
    assert tools.runs == [LOOKUP, LOOKUP]
    results = of(rig, hub, ToolResult)
    assert [r.ok for r in results if isinstance(r, ToolResult)] == [True, True, False]
    assert "already made 2 times" in rig.model.requests[3].messages[-1]["content"]


async def test_a_failing_tool_is_a_result_for_the_model_not_a_crash(make_rig: Callable[..., object]) -> None:
    tools = FakeTools(failing=("get_order_details",))
    rig, hub, done = await ask(make_rig, [[LOOKUP], ["Sorry, I cannot look that up now."]], tools)
    assert isinstance(done, Done)
    assert done.text == "Sorry, I cannot look that up now."
    result = of(rig, hub, ToolResult)[0]
    assert isinstance(result, ToolResult)
    assert not result.ok
    assert result.summary
    told = rig.model.requests[1].messages[-1]
    assert told["role"] == "tool"
    assert json.loads(told["content"]) == {"ok": False, "error": "the tool failed"}
    assert "order system is down" not in told["content"]  # the exception's text stays in our log


async def test_an_unknown_tool_is_reported_to_the_model_and_never_run(
    make_rig: Callable[..., object],
) -> None:
    tools = FakeTools()
    wrong = ToolCall("call_9", "delete_all_orders", "{}")
    rig, hub, done = await ask(make_rig, [[wrong], ["I cannot do that."]], tools)
    assert isinstance(done, Done)
    assert tools.runs == []
    result = of(rig, hub, ToolResult)[0]
    assert isinstance(result, ToolResult)
    assert not result.ok
    assert "unknown tool" in rig.model.requests[1].messages[-1]["content"]


async def test_arguments_that_are_not_a_json_object_are_never_run(make_rig: Callable[..., object]) -> None:
    tools = FakeTools()
    broken = ToolCall("call_1", "get_order_details", '{"order_id": "53')
    rig, hub, done = await ask(make_rig, [[broken], ["Which order?"]], tools)
    assert isinstance(done, Done)
    assert tools.runs == []
    call = of(rig, hub, ToolCalled)[0]
    assert isinstance(call, ToolCalled)
    assert call.arguments == {}
    assert "not a JSON object" in rig.model.requests[1].messages[-1]["content"]


async def test_without_tools_requests_carry_none_and_a_call_anyway_is_unknown(
    make_rig: Callable[..., object],
) -> None:
    rig, hub, done = await ask(make_rig, [[LOOKUP], ["Sorry."]])
    assert isinstance(done, Done)
    assert done.text == "Sorry."
    assert rig.model.requests[0].tools == ()
    result = of(rig, hub, ToolResult)[0]
    assert isinstance(result, ToolResult)
    assert not result.ok
    assert NoTools().specs(hub) == []


async def test_cancel_during_a_tool_call_ends_the_call_and_gives_one_stopped_done(
    make_rig: Callable[..., object],
) -> None:
    tools = FakeTools(blocking=("get_order_details",))
    rig: Rig = await make_rig(model=ScriptedModel(turns=[["Checking.", LOOKUP], ["never"]]), tools=tools)  # type: ignore[misc]
    hub = rig.service.new_hub(None)
    await rig.service.submit(hub, await connect(rig.service, hub), "m1", "where is my order?")
    await asyncio.wait_for(tools.entered.wait(), 5)
    assert rig.service.cancel(hub, "m1")
    done = await rig.terminal(hub, "m1")
    await asyncio.sleep(0.1)  # a second terminal event would show up here
    assert isinstance(done, Done)
    assert done.stopped
    assert done.text == "Checking."
    types = [e.type for e in rig.events(hub)]
    assert types == ["accepted", "delta", "tool_call", "tool_result", "done"]
    result = of(rig, hub, ToolResult)[0]
    assert isinstance(result, ToolResult)
    assert (result.ok, result.summary) == (False, "Stopped.")
    assert len(rig.model.requests) == 1


async def test_replay_holds_the_tool_events_in_seq_order(make_rig: Callable[..., object]) -> None:
    rig, hub, _ = await ask(make_rig, [["Let me check.", LOOKUP], ["It shipped."]], FakeTools())
    stored = await rig.store.events_after(hub.conversation_id, 0)
    assert stored == rig.events(hub)
    assert [e.seq for e in stored] == list(range(1, len(stored) + 1))
    assert [e.type for e in stored].index("tool_call") < [e.type for e in stored].index("tool_result")
    replayed = await rig.store.events_after(hub.conversation_id, 2)
    assert [e.type for e in replayed][:2] == ["tool_call", "tool_result"]


async def test_a_result_too_long_for_the_context_gives_way_and_the_answer_still_comes(
    make_rig: Callable[..., object],
) -> None:
    tools = FakeTools(padding=20_000)
    small = replace(test_service.CONFIG, context_tokens=4000)
    rig: Rig = await make_rig(
        model=ScriptedModel(turns=[[LOOKUP], ["It shipped."]]), tools=tools, config=small
    )  # type: ignore[misc]
    hub = rig.service.new_hub(None)
    await rig.service.submit(hub, await connect(rig.service, hub), "m1", "where is my order 536365?")
    done = await rig.terminal(hub, "m1")
    assert isinstance(done, Done)
    assert done.text == "It shipped."
    told = rig.model.requests[1].messages[-1]
    assert told["role"] == "tool"
    assert "too long" in told["content"]


async def test_usage_adds_up_every_round_of_the_answer(make_rig: Callable[..., object]) -> None:
    model = ScriptedModel(turns=[[LOOKUP], ["It shipped."]], usage=(40, 3))
    rig: Rig = await make_rig(model=model, tools=FakeTools())  # type: ignore[misc]
    hub = rig.service.new_hub(None)
    await rig.service.submit(hub, await connect(rig.service, hub), "m1", "where is my order 536365?")
    done = await rig.terminal(hub, "m1")
    assert isinstance(done, Done)
    assert (done.usage.prompt_tokens, done.usage.completion_tokens) == (80, 6)


async def test_an_early_started_request_offers_the_tools_and_the_loop_goes_on_from_it(
    make_rig: Callable[..., object],
) -> None:
    tools = FakeTools()
    model = ScriptedModel(turns=[[LOOKUP], ["It shipped."]])
    rig: Rig = await make_rig(model=model, tools=tools, config=test_service.EARLY)  # type: ignore[misc]
    hub = rig.service.new_hub(None)
    await rig.service.submit(hub, await connect(rig.service, hub), "m1", "where is my order 536365?")
    done = await rig.terminal(hub, "m1")
    assert isinstance(done, Done)
    assert done.text == "It shipped."
    assert [t.name for t in model.requests[0].tools] == ["get_order_details"]
    assert tools.runs == [LOOKUP]
    assert len(model.requests) == 2


def test_arguments_parse_only_as_a_json_object() -> None:
    assert parse_arguments("") == {}
    assert parse_arguments('{"order_id": "1"}') == {"order_id": "1"}
    assert parse_arguments("[1]") is None
    assert parse_arguments('{"a": "\\u0000"}') == {"a": "\x00"}  # escaped: the text itself is clean
    assert parse_arguments('{"a": "\x00"}') is None
    assert parse_arguments('{"a": "' + "x" * 5000 + '"}') is None

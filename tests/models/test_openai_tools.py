"""Tool calling through the real openai SDK path: respx serves the chunks an OpenAI server streams for calls."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
import respx

from app.errors import ErrorCode, ModelError
from app.llm.model import ChatRequest, Finished, ModelEvent, TextDelta, ToolCall, ToolSpec
from app.llm.openai import OpenAIChatModel
from tests.models.test_openai import URL, model, sse

ORDER_TOOL = ToolSpec(
    name="get_order_details",
    description="The status and items of one order.",
    parameters={
        "type": "object",
        "properties": {"order_id": {"type": "string", "description": "The order number."}},
        "required": ["order_id"],
    },
)
REQUEST = ChatRequest(
    messages=[
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "where is my order 536365?"},
    ],
    route="chat",
    query="where is my order 536365?",
    max_output_tokens=64,
    tools=(ORDER_TOOL,),
)


def delta_chunk(delta: dict[str, Any], finish: str | None = None) -> str:
    """A chunk as OpenAI streams it (the shape of the SDK's ``ChatCompletionChunk``)."""
    body = {
        "id": "chatcmpl-1",
        "object": "chat.completion.chunk",
        "created": 1,
        "model": "test-model",
        "system_fingerprint": "fp_1",
        "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}],
    }
    return f"data: {json.dumps(body)}\n\n"


def call_start(index: int, call_id: str, name: str) -> dict[str, Any]:
    return {
        "tool_calls": [
            {"index": index, "id": call_id, "type": "function", "function": {"name": name, "arguments": ""}}
        ]
    }


def call_arguments(index: int, part: str) -> dict[str, Any]:
    return {"tool_calls": [{"index": index, "function": {"arguments": part}}]}


def usage_chunk(prompt: int, completion: int) -> str:
    body = {
        "id": "chatcmpl-1",
        "object": "chat.completion.chunk",
        "created": 1,
        "model": "test-model",
        "choices": [],
        "usage": {
            "prompt_tokens": prompt,
            "completion_tokens": completion,
            "total_tokens": prompt + completion,
        },
    }
    return f"data: {json.dumps(body)}\n\n"


@pytest.fixture
def mock() -> Iterator[respx.MockRouter]:
    with respx.mock(assert_all_called=True) as router:
        yield router


async def collect(m: OpenAIChatModel, request: ChatRequest = REQUEST) -> list[ModelEvent]:
    return [event async for event in m.stream(request)]


def streamed(mock: respx.MockRouter, *parts: str) -> respx.Route:
    return mock.post(URL).respond(200, headers={"content-type": "text/event-stream"}, content=sse(*parts))


async def test_one_call_with_its_arguments_split_over_chunks_is_one_tool_call(mock: respx.MockRouter) -> None:
    streamed(
        mock,
        delta_chunk({"role": "assistant", "content": None, **call_start(0, "call_abc", "get_order_details")}),
        delta_chunk(call_arguments(0, '{"ord')),
        delta_chunk(call_arguments(0, 'er_id": "53')),
        delta_chunk(call_arguments(0, '6365"}')),
        delta_chunk({}, "tool_calls"),
        usage_chunk(80, 17),
    )
    events = await collect(model())
    assert events == [
        ToolCall(call_id="call_abc", name="get_order_details", arguments='{"order_id": "536365"}'),
        Finished(finish_reason="tool_calls", prompt_tokens=80, completion_tokens=17),
    ]


async def test_two_calls_in_one_turn_are_assembled_by_index(mock: respx.MockRouter) -> None:
    streamed(
        mock,
        delta_chunk({"role": "assistant", "content": None, **call_start(0, "call_1", "get_order_details")}),
        delta_chunk(call_arguments(0, '{"order_id": ')),
        delta_chunk(call_start(1, "call_2", "get_order_details")),
        delta_chunk(call_arguments(1, '{"order_id": "2"}')),
        delta_chunk(call_arguments(0, '"1"}')),  # servers may interleave the calls' pieces
        delta_chunk({}, "tool_calls"),
    )
    events = await collect(model())
    assert events == [
        ToolCall("call_1", "get_order_details", '{"order_id": "1"}'),
        ToolCall("call_2", "get_order_details", '{"order_id": "2"}'),
        Finished(finish_reason="tool_calls"),
    ]


async def test_text_then_a_call_keeps_the_text_first(mock: respx.MockRouter) -> None:
    streamed(
        mock,
        delta_chunk({"role": "assistant", "content": "Let me "}),
        delta_chunk({"content": "check."}),
        delta_chunk(call_start(0, "call_x", "get_order_details")),
        delta_chunk(call_arguments(0, '{"order_id":"536365"}')),
        delta_chunk({}, "tool_calls"),
    )
    events = await collect(model())
    assert events == [
        TextDelta("Let me "),
        TextDelta("check."),
        ToolCall("call_x", "get_order_details", '{"order_id":"536365"}'),
        Finished(finish_reason="tool_calls"),
    ]


async def test_a_call_without_an_id_gets_one_from_its_index(mock: respx.MockRouter) -> None:
    streamed(
        mock,
        delta_chunk(
            {"tool_calls": [{"index": 0, "function": {"name": "find_customer_orders", "arguments": "{}"}}]}
        ),
        delta_chunk({}, "tool_calls"),
    )
    assert (await collect(model()))[0] == ToolCall("call_0", "find_customer_orders", "{}")


async def test_a_malformed_tool_call_delta_is_model_error(mock: respx.MockRouter) -> None:
    streamed(mock, delta_chunk({"tool_calls": {"index": 0}}), delta_chunk({}, "tool_calls"))
    with pytest.raises(ModelError) as caught:
        await collect(model())
    assert caught.value.code == ErrorCode.MODEL_ERROR
    assert "tool_calls" in (caught.value.detail or "")


async def test_the_request_carries_tools_and_tool_choice_auto(mock: respx.MockRouter) -> None:
    route = streamed(mock, delta_chunk({"content": "ok"}, "stop"))
    await collect(model())
    sent = json.loads(route.calls.last.request.content)
    assert sent["tools"] == [
        {
            "type": "function",
            "function": {
                "name": "get_order_details",
                "description": "The status and items of one order.",
                "parameters": ORDER_TOOL.parameters,
            },
        }
    ]
    assert sent["tool_choice"] == "auto"


async def test_a_request_without_tools_sends_neither_tools_nor_tool_choice(mock: respx.MockRouter) -> None:
    route = streamed(mock, delta_chunk({"content": "ok"}, "stop"))
    await collect(model(), ChatRequest(messages=REQUEST.messages, route="chat", query="hi"))
    sent = json.loads(route.calls.last.request.content)
    assert "tools" not in sent
    assert "tool_choice" not in sent


async def test_tool_rounds_in_the_history_go_out_as_the_api_takes_them(mock: respx.MockRouter) -> None:
    route = streamed(mock, delta_chunk({"content": "Shipped."}, "stop"))
    request = ChatRequest(
        messages=[
            *REQUEST.messages,
            {
                "role": "assistant",
                "content": "",
                "tool_calls": [
                    {
                        "id": "call_1",
                        "type": "function",
                        "function": {"name": "get_order_details", "arguments": '{"order_id":"536365"}'},
                    }
                ],
            },
            {"role": "tool", "tool_call_id": "call_1", "content": '{"status":"shipped"}'},
        ],
        route="chat",
        query="where is my order 536365?",
        tools=(ORDER_TOOL,),
        tool_choice="none",
    )
    await collect(model(), request)
    sent = json.loads(route.calls.last.request.content)
    assert sent["messages"][2] == {
        "role": "assistant",
        "content": None,
        "tool_calls": [
            {
                "id": "call_1",
                "type": "function",
                "function": {"name": "get_order_details", "arguments": '{"order_id":"536365"}'},
            }
        ],
    }
    assert sent["messages"][3] == {
        "role": "tool",
        "tool_call_id": "call_1",
        "content": '{"status":"shipped"}',
    }
    assert sent["tool_choice"] == "none"


async def test_non_streaming_tool_calls_become_events(mock: respx.MockRouter) -> None:
    route = mock.post(URL).respond(
        200,
        json={
            "id": "c1",
            "object": "chat.completion",
            "created": 1,
            "model": "test-model",
            "choices": [
                {
                    "index": 0,
                    "message": {
                        "role": "assistant",
                        "content": "Checking.",
                        "tool_calls": [
                            {
                                "id": "call_1",
                                "type": "function",
                                "function": {"name": "get_order_details", "arguments": '{"order_id":"1"}'},
                            },
                            {
                                "id": "call_2",
                                "type": "function",
                                "function": {"name": "find_customer_orders", "arguments": "{}"},
                            },
                        ],
                    },
                    "finish_reason": "tool_calls",
                }
            ],
            "usage": {"prompt_tokens": 50, "completion_tokens": 20, "total_tokens": 70},
        },
    )
    events = await collect(model(streaming=False))
    assert events == [
        TextDelta("Checking."),
        ToolCall("call_1", "get_order_details", '{"order_id":"1"}'),
        ToolCall("call_2", "find_customer_orders", "{}"),
        Finished("tool_calls", 50, 20),
    ]
    assert json.loads(route.calls.last.request.content)["tools"][0]["function"]["name"] == "get_order_details"

"""The real openai SDK path, at the HTTP level: respx stands in for /v1/chat/completions."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
import httpx2
import pytest
import respx

from app.errors import ContextOverflowError, ErrorCode, ModelError
from app.llm.model import ChatRequest, Finished, ModelEvent, TextDelta
from app.llm.openai import OpenAIChatModel

BASE = "http://llm.test/v1"
URL = f"{BASE}/chat/completions"
REQUEST = ChatRequest(
    messages=[{"role": "system", "content": "Be brief."}, {"role": "user", "content": "hi"}],
    route="chat",
    query="hi",
    max_output_tokens=64,
)


def chunk(content: str | None = None, finish: str | None = None, usage: dict[str, int] | None = None) -> str:
    body: dict[str, object] = {
        "id": "chatcmpl-1",
        "object": "chat.completion.chunk",
        "created": 1,
        "model": "test-model",
        "choices": [] if usage else [{"index": 0, "delta": {"content": content}, "finish_reason": finish}],
    }
    if usage:
        body["usage"] = {**usage, "total_tokens": sum(usage.values())}
    return f"data: {json.dumps(body)}\n\n"


def sse(*parts: str) -> bytes:
    return ("".join(parts) + "data: [DONE]\n\n").encode()


def model(*, retries: int = 0, timeout: float = 5.0, streaming: bool = True) -> OpenAIChatModel:
    return OpenAIChatModel(
        model="test-model",
        api_key="sk-test",
        base_url=BASE,
        timeout_s=timeout,
        max_retries=retries,
        streaming=streaming,
        # respx stands in for httpx's transport; the aiohttp transport is tested against a real socket.
        http_client=httpx2.AsyncClient(),
    )


async def collect(m: OpenAIChatModel) -> list[ModelEvent]:
    return [event async for event in m.stream(REQUEST)]


async def drain_into(received: list[ModelEvent]) -> None:
    """Stream into ``received``, so what came before a failure can be checked."""
    async for event in model().stream(REQUEST):
        received.append(event)


@pytest.fixture
def mock() -> Iterator[respx.MockRouter]:
    with respx.mock(assert_all_called=True) as router:
        yield router


async def test_sse_stream_yields_deltas_then_usage(mock: respx.MockRouter) -> None:
    mock.post(URL).respond(
        200,
        headers={"content-type": "text/event-stream"},
        content=sse(
            chunk("Hel"),
            chunk("lo"),
            chunk(None, "stop"),
            chunk(usage={"prompt_tokens": 12, "completion_tokens": 2}),
        ),
    )
    events = await collect(model())
    assert events == [
        TextDelta("Hel"),
        TextDelta("lo"),
        Finished(finish_reason="stop", prompt_tokens=12, completion_tokens=2),
    ]


async def test_request_carries_model_messages_and_limits(mock: respx.MockRouter) -> None:
    route = mock.post(URL).respond(
        200, headers={"content-type": "text/event-stream"}, content=sse(chunk("x"))
    )
    await collect(model())
    sent = json.loads(route.calls.last.request.content)
    assert sent["model"] == "test-model"
    assert sent["stream"] is True
    assert sent["max_tokens"] == 64
    assert sent["messages"][1] == {"role": "user", "content": "hi"}
    assert route.calls.last.request.headers["authorization"] == "Bearer sk-test"


def completion(content: str, **extra: Any) -> dict[str, Any]:
    """A whole (non-streamed) chat completion answering ``content``."""
    return {
        "id": "c1",
        "object": "chat.completion",
        "created": 1,
        "model": "test-model",
        "choices": [
            {"index": 0, "message": {"role": "assistant", "content": content}, "finish_reason": "stop"}
        ],
        **extra,
    }


async def test_non_streaming_completion(mock: respx.MockRouter) -> None:
    usage = {"prompt_tokens": 9, "completion_tokens": 3, "total_tokens": 12}
    mock.post(URL).respond(200, json=completion("Whole answer.", usage=usage))
    events = await collect(model(streaming=False))
    assert events == [TextDelta("Whole answer."), Finished("stop", 9, 3)]


async def test_non_streaming_request_carries_the_conversation(mock: respx.MockRouter) -> None:
    route = mock.post(URL).respond(200, json=completion("ok"))
    await collect(model(streaming=False))
    sent = json.loads(route.calls.last.request.content)
    assert sent["messages"][1] == {"role": "user", "content": "hi"}
    assert "stream" not in sent
    assert "tools" not in sent


async def test_429_then_success_is_retried(mock: respx.MockRouter) -> None:
    route = mock.post(URL)
    route.side_effect = [
        httpx.Response(429, headers={"retry-after": "0"}, json={"error": {"message": "slow down"}}),
        httpx.Response(200, headers={"content-type": "text/event-stream"}, content=sse(chunk("ok"))),
    ]
    events = await collect(model(retries=2))
    assert TextDelta("ok") in events
    assert route.call_count == 2


async def test_429_without_retries_is_rate_limited(mock: respx.MockRouter) -> None:
    mock.post(URL).respond(429, headers={"retry-after": "7"}, json={"error": {"message": "slow down"}})
    with pytest.raises(ModelError) as caught:
        await collect(model())
    assert caught.value.code == ErrorCode.RATE_LIMITED
    assert caught.value.retry_after_s == 7.0


async def test_500_is_model_unavailable(mock: respx.MockRouter) -> None:
    mock.post(URL).respond(500, json={"error": {"message": "boom"}})
    with pytest.raises(ModelError) as caught:
        await collect(model())
    assert caught.value.code == ErrorCode.MODEL_UNAVAILABLE


async def test_401_is_model_auth(mock: respx.MockRouter) -> None:
    mock.post(URL).respond(401, json={"error": {"message": "bad key"}})
    with pytest.raises(ModelError) as caught:
        await collect(model())
    assert caught.value.code == ErrorCode.MODEL_AUTH


async def test_400_keeps_the_apis_message_for_the_log_only(mock: respx.MockRouter) -> None:
    # (A context-length 400 is an overflow the pipeline retries: see the tests below.)
    mock.post(URL).respond(400, json={"error": {"message": "invalid_temperature"}})
    with pytest.raises(ModelError) as caught:
        await collect(model())
    assert caught.value.code == ErrorCode.MODEL_BAD_REQUEST
    assert "invalid_temperature" in (caught.value.detail or "")
    assert "invalid_temperature" not in caught.value.message


async def test_timeout_is_model_timeout(mock: respx.MockRouter) -> None:
    mock.post(URL).side_effect = httpx.ReadTimeout("timed out")
    with pytest.raises(ModelError) as caught:
        await collect(model())
    assert caught.value.code == ErrorCode.MODEL_TIMEOUT


async def test_connection_refused_is_model_unavailable(mock: respx.MockRouter) -> None:
    mock.post(URL).side_effect = httpx.ConnectError("refused")
    with pytest.raises(ModelError) as caught:
        await collect(model())
    assert caught.value.code == ErrorCode.MODEL_UNAVAILABLE


class _CutStream(httpx.AsyncByteStream):
    """Sends two chunks, then the connection drops."""

    async def __aiter__(self):  # type: ignore[no-untyped-def]
        yield chunk("Par").encode()
        yield chunk("tial").encode()
        raise httpx.RemoteProtocolError("peer closed connection without sending complete message body")


async def test_stream_cut_in_the_middle_raises_after_the_text_sent(mock: respx.MockRouter) -> None:
    mock.post(URL).respond(200, headers={"content-type": "text/event-stream"}, stream=_CutStream())
    received: list[ModelEvent] = []
    with pytest.raises(ModelError) as caught:
        await drain_into(received)
    assert received == [TextDelta("Par"), TextDelta("tial")]
    assert caught.value.code == ErrorCode.MODEL_UNAVAILABLE


async def test_sse_comments_and_multi_line_data_are_read_as_the_spec_says(mock: respx.MockRouter) -> None:
    body = json.loads(chunk("Hi")[len("data: ") :])
    text = json.dumps(body, indent=1)  # the JSON spread over several data: lines
    content = ": keep-alive\n\n" + "".join(f"data: {line}\n" for line in text.splitlines()) + "\n"
    mock.post(URL).respond(200, headers={"content-type": "text/event-stream"}, content=sse(content))
    events = await collect(model())
    assert events[0] == TextDelta("Hi")


async def test_an_error_event_in_the_stream_is_a_model_error_after_the_text_sent(
    mock: respx.MockRouter,
) -> None:
    error = 'data: {"error": {"message": "upstream exploded <script>", "type": "server_error"}}\n\n'
    mock.post(URL).respond(
        200, headers={"content-type": "text/event-stream"}, content=sse(chunk("Par"), error)
    )
    received: list[ModelEvent] = []
    with pytest.raises(ModelError) as caught:
        await drain_into(received)
    assert received == [TextDelta("Par")]
    assert caught.value.code == ErrorCode.MODEL_ERROR
    assert "<script>" not in caught.value.message


async def test_a_malformed_chunk_is_a_model_error(mock: respx.MockRouter) -> None:
    mock.post(URL).respond(
        200, headers={"content-type": "text/event-stream"}, content=sse("data: {not json\n\n")
    )
    with pytest.raises(ModelError) as caught:
        await collect(model())
    assert caught.value.code == ErrorCode.MODEL_ERROR


async def test_a_400_shows_none_of_the_servers_text_and_masks_the_key_in_the_detail(
    mock: respx.MockRouter,
) -> None:
    upstream = "Invalid 'messages': <script>alert(1)</script> (key sk-test)"
    mock.post(URL).respond(400, json={"error": {"message": upstream}})
    with pytest.raises(ModelError) as caught:
        await collect(model())
    assert "<script>" not in caught.value.message
    assert "Invalid 'messages'" not in caught.value.message
    assert "<script>alert(1)</script>" in (caught.value.detail or "")
    assert "sk-test" not in (caught.value.detail or "")


@pytest.mark.parametrize(
    "data",
    [
        '{"id": "c1", "object": "chat.completion.chunk"}',
        '{"choices": {"index": 0}}',
        '{"choices": [1]}',
        '{"choices": [{"index": 0, "delta": "Hi"}]}',
        '{"choices": [{"index": 0, "delta": {"content": 5}}]}',
        '{"choices": [{"index": 0, "delta": {}, "finish_reason": 3}]}',
        '{"choices": [], "usage": {"prompt_tokens": "many", "completion_tokens": 1}}',
        '{"choices": [], "usage": [1, 2]}',
        "[1, 2]",
    ],
    ids=[
        "no-choices",
        "choices-object",
        "choice-number",
        "delta-string",
        "content-number",
        "finish-number",
        "usage-string",
        "usage-list",
        "not-an-object",
    ],
)
async def test_a_chunk_of_the_wrong_shape_is_a_model_error(mock: respx.MockRouter, data: str) -> None:
    mock.post(URL).respond(
        200, headers={"content-type": "text/event-stream"}, content=sse(chunk("ok"), f"data: {data}\n\n")
    )
    with pytest.raises(ModelError) as caught:
        await collect(model())
    assert caught.value.code == ErrorCode.MODEL_ERROR


async def test_a_stream_that_ends_without_a_finish_reason_or_done_is_cut(mock: respx.MockRouter) -> None:
    mock.post(URL).respond(
        200, headers={"content-type": "text/event-stream"}, content=(chunk("Par") + chunk("tial")).encode()
    )
    received: list[ModelEvent] = []
    with pytest.raises(ModelError) as caught:
        await drain_into(received)
    assert received == [TextDelta("Par"), TextDelta("tial")]
    assert caught.value.code == ErrorCode.MODEL_UNAVAILABLE


async def test_a_finish_reason_without_done_is_a_complete_answer(mock: respx.MockRouter) -> None:
    mock.post(URL).respond(
        200,
        headers={"content-type": "text/event-stream"},
        content=(chunk("All") + chunk(None, "length")).encode(),
    )
    assert await collect(model()) == [TextDelta("All"), Finished(finish_reason="length")]


async def test_an_escaped_lone_surrogate_is_text_not_a_malformed_chunk(mock: respx.MockRouter) -> None:
    broken = chunk("x").replace('"content": "x"', '"content": "a\\ud800b"')
    mock.post(URL).respond(200, headers={"content-type": "text/event-stream"}, content=sse(broken))
    events = await collect(model())
    assert events == [TextDelta("a\ud800b"), Finished(finish_reason="stop")]


@pytest.mark.parametrize(
    "body",
    [
        {"id": "c1", "object": "chat.completion", "created": 1, "model": "m", "choices": [{"index": 0}]},
        {
            "id": "c1",
            "object": "chat.completion",
            "created": 1,
            "model": "m",
            "choices": [
                {"index": 0, "message": {"role": "assistant", "content": 5}, "finish_reason": "stop"}
            ],
        },
    ],
    ids=["no-message", "content-number"],
)
async def test_a_non_streamed_completion_of_the_wrong_shape_is_a_model_error(
    mock: respx.MockRouter, body: dict[str, object]
) -> None:
    mock.post(URL).respond(200, json=body)
    with pytest.raises(ModelError) as caught:
        await collect(model(streaming=False))
    assert caught.value.code == ErrorCode.MODEL_ERROR


LLAMA_CPP_OVERFLOW = {
    "error": {
        "code": 400,
        "message": "request (2301 tokens) exceeds the available context size (2048 tokens), try increasing it",
        "type": "exceed_context_size_error",
        "n_prompt_tokens": 2301,
        "n_ctx": 2048,
    }
}


@pytest.mark.parametrize("status", [400, 500])
async def test_a_context_overflow_states_the_servers_numbers(mock: respx.MockRouter, status: int) -> None:
    mock.post(URL).respond(status, json=LLAMA_CPP_OVERFLOW)
    with pytest.raises(ContextOverflowError) as caught:
        await collect(model())
    assert (caught.value.context_tokens, caught.value.prompt_tokens) == (2048, 2301)
    assert "2301" not in caught.value.message


async def test_a_context_overflow_sent_as_a_stream_event_is_recognised(mock: respx.MockRouter) -> None:
    mock.post(URL).respond(
        200,
        headers={"content-type": "text/event-stream"},
        content=sse(f"data: {json.dumps(LLAMA_CPP_OVERFLOW)}\n\n"),
    )
    with pytest.raises(ContextOverflowError) as caught:
        await collect(model())
    assert caught.value.context_tokens == 2048


async def test_the_probe_lists_models(mock: respx.MockRouter) -> None:
    route = mock.get(f"{BASE}/models").respond(200, json={"object": "list", "data": []})
    await model().probe()
    assert route.call_count == 1


async def test_a_server_without_a_model_list_still_counts_as_reachable(mock: respx.MockRouter) -> None:
    mock.get(f"{BASE}/models").respond(404, json={"error": {"message": "not found"}})
    await model().probe()


async def test_the_probe_of_an_unreachable_server_fails_once_without_retries(mock: respx.MockRouter) -> None:
    route = mock.get(f"{BASE}/models")
    route.side_effect = httpx.ConnectError("refused")
    with pytest.raises(ModelError) as caught:
        await model(retries=3).probe()
    assert caught.value.code == ErrorCode.MODEL_UNAVAILABLE
    assert route.call_count == 1

"""The production transport (the SDK's aiohttp client) against a real socket: a tiny HTTP/1.1 server."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field

import pytest

from app.errors import ErrorCode, ModelError
from app.llm.model import ChatRequest, Finished, ModelEvent, TextDelta
from app.llm.openai import OpenAIChatModel

REQUEST = ChatRequest(
    messages=[{"role": "user", "content": "hi"}], route="chat", query="hi", max_output_tokens=32
)


def sse_chunk(content: str) -> bytes:
    body = {
        "id": "c",
        "object": "chat.completion.chunk",
        "created": 1,
        "model": "m",
        "choices": [{"index": 0, "delta": {"content": content}, "finish_reason": None}],
    }
    data = b"data: " + json.dumps(body).encode() + b"\n\n"
    return b"%x\r\n%s\r\n" % (len(data), data)


STREAM_HEAD = b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ntransfer-encoding: chunked\r\n\r\n"
DONE = b"%x\r\n%s\r\n0\r\n\r\n" % (len(b"data: [DONE]\n\n"), b"data: [DONE]\n\n")


@dataclass
class Upstream:
    """Answers every request with ``reply`` (raw bytes written after the request is read)."""

    reply: Callable[[], list[bytes]]
    requests: list[dict[str, object]] = field(default_factory=list)
    port: int = 0

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = await reader.readuntil(b"\r\n\r\n")
            length = next(
                int(line.split(b":")[1])
                for line in head.split(b"\r\n")
                if line.lower().startswith(b"content-length")
            )
            self.requests.append(json.loads(await reader.readexactly(length)))
            for part in self.reply():
                writer.write(part)
                await writer.drain()
                await asyncio.sleep(0.005)
        finally:
            writer.close()


@pytest.fixture
async def serve() -> AsyncIterator[Callable[[Callable[[], list[bytes]]], object]]:
    servers: list[asyncio.Server] = []

    async def start(reply: Callable[[], list[bytes]]) -> Upstream:
        upstream = Upstream(reply)
        server = await asyncio.start_server(upstream.handle, "127.0.0.1", 0)
        upstream.port = server.sockets[0].getsockname()[1]
        servers.append(server)
        return upstream

    yield start
    for server in servers:
        server.close()


def model(port: int) -> OpenAIChatModel:
    return OpenAIChatModel(
        model="m", api_key="sk-test", base_url=f"http://127.0.0.1:{port}/v1", timeout_s=5, max_retries=0
    )


async def collect(m: OpenAIChatModel, into: list[ModelEvent]) -> None:
    async for event in m.stream(REQUEST):
        into.append(event)


async def test_tokens_stream_through_the_aiohttp_transport(serve: Callable[..., object]) -> None:
    upstream: Upstream = await serve(lambda: [STREAM_HEAD, sse_chunk("Hel"), sse_chunk("lo"), DONE])  # type: ignore[misc]
    m = model(upstream.port)
    events: list[ModelEvent] = []
    await collect(m, events)
    await m.aclose()
    assert events == [TextDelta("Hel"), TextDelta("lo"), Finished(finish_reason="stop")]
    assert upstream.requests[0]["stream"] is True


async def test_a_server_error_is_model_unavailable(serve: Callable[..., object]) -> None:
    body = b'{"error": {"message": "boom <b>", "type": "server_error"}}'
    reply = [
        b"HTTP/1.1 500 Internal Server Error\r\ncontent-type: application/json\r\ncontent-length: %d\r\n\r\n%s"
        % (len(body), body)
    ]
    upstream: Upstream = await serve(lambda: reply)  # type: ignore[misc]
    m = model(upstream.port)
    with pytest.raises(ModelError) as caught:
        await collect(m, [])
    await m.aclose()
    assert caught.value.code == ErrorCode.MODEL_UNAVAILABLE


async def test_a_stream_cut_mid_answer_is_model_unavailable_after_the_text_sent(
    serve: Callable[..., object],
) -> None:
    upstream: Upstream = await serve(lambda: [STREAM_HEAD, sse_chunk("Par"), sse_chunk("tial")])  # type: ignore[misc]
    m = model(upstream.port)
    events: list[ModelEvent] = []
    with pytest.raises(ModelError) as caught:
        await collect(m, events)
    await m.aclose()
    assert events == [TextDelta("Par"), TextDelta("tial")]
    assert caught.value.code == ErrorCode.MODEL_UNAVAILABLE


async def test_nobody_listening_is_model_unavailable() -> None:
    server = await asyncio.start_server(lambda r, w: None, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    server.close()
    await server.wait_closed()
    m = model(port)
    with pytest.raises(ModelError) as caught:
        await collect(m, [])
    await m.aclose()
    assert caught.value.code == ErrorCode.MODEL_UNAVAILABLE

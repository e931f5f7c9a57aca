"""A tiny OpenAI-compatible server for end-to-end tests: streams a fixed answer word by word.

Offered tools and asked about an order number, it first calls the first tool with ``{"order_id": NUMBER}``
(arguments streamed in pieces, as OpenAI does); given the tool's result, it answers with it.

Run: ``python -m tests.fake_openai_server PORT``.
"""

from __future__ import annotations

import asyncio
import json
import re
import sys
import time
from collections.abc import AsyncIterator

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

ANSWER = "This answer streamed from an OpenAI-compatible server."


def _chunk(delta: dict[str, object], finish: str | None = None) -> str:
    body = {
        "id": "chatcmpl-fake",
        "object": "chat.completion.chunk",
        "created": int(time.time()),
        "model": "fake-model",
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
    }
    return f"data: {json.dumps(body)}\n\n"


async def completions(request: Request) -> Response:
    body = await request.json()
    if request.headers.get("authorization") != "Bearer sk-fake":
        return JSONResponse(
            {"error": {"message": "bad key", "type": "invalid_request_error"}}, status_code=401
        )
    last = body["messages"][-1]
    order = re.search(r"order (\d+)", last["content"]) if last["role"] == "user" else None
    if body.get("tools") and order is not None:
        return StreamingResponse(
            _call(body["tools"][0]["function"]["name"], order.group(1)), media_type="text/event-stream"
        )
    if last["role"] == "tool":
        answer = f"The tool said: {last['content']}"
    else:
        answer = f"{ANSWER} You said: {last['content']}"

    async def events() -> AsyncIterator[str]:
        yield _chunk({"role": "assistant", "content": ""})
        for word in answer.split(" "):
            await asyncio.sleep(0.005)
            yield _chunk({"content": word + " "})
        yield _chunk({}, "stop")
        usage = {"prompt_tokens": 77, "completion_tokens": len(answer.split(" ")), "total_tokens": 0}
        final = {"id": "x", "object": "chat.completion.chunk", "created": 0, "model": "fake-model"}
        yield f"data: {json.dumps({**final, 'choices': [], 'usage': usage})}\n\n"
        yield "data: [DONE]\n\n"

    return StreamingResponse(events(), media_type="text/event-stream")


async def _call(name: str, order_id: str) -> AsyncIterator[str]:
    arguments = json.dumps({"order_id": order_id})
    start = {"index": 0, "id": "call_fake1", "type": "function", "function": {"name": name, "arguments": ""}}
    yield _chunk({"role": "assistant", "content": None, "tool_calls": [start]})
    for at in range(0, len(arguments), 5):
        await asyncio.sleep(0.002)
        yield _chunk({"tool_calls": [{"index": 0, "function": {"arguments": arguments[at : at + 5]}}]})
    yield _chunk({}, "tool_calls")
    yield "data: [DONE]\n\n"


app = Starlette(routes=[Route("/v1/chat/completions", completions, methods=["POST"])])

if __name__ == "__main__":
    uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[1]), log_level="warning")

"""A tiny OpenAI-compatible server for end-to-end tests: streams a fixed answer word by word.

Run: ``python -m tests.fake_openai_server PORT``.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from collections.abc import AsyncIterator

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

ANSWER = "This answer streamed from an OpenAI-compatible server."


def _chunk(delta: dict[str, str], finish: str | None = None) -> str:
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
    user_text = body["messages"][-1]["content"]
    answer = f"{ANSWER} You said: {user_text}"

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


app = Starlette(routes=[Route("/v1/chat/completions", completions, methods=["POST"])])

if __name__ == "__main__":
    uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[1]), log_level="warning")

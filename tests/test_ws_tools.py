"""Tool calls on the wire: the frames a client sees while the assistant uses a tool, live and on reconnect."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr
from websockets.asyncio.client import connect

from app.llm.model import ToolCall
from app.settings import Settings
from app.web.application import create_app
from tests.fakes import FakeTools, FixedRecommender, ScriptedModel
from tests.liveserver import LiveServer, free_port
from tests.wsutil import receive_until, send_message

ROOT = Path(__file__).resolve().parent.parent
LOOKUP = ToolCall("call_1", "get_order_details", '{"order_id": "536365"}')


def test_a_tool_call_reaches_the_client_as_tool_call_and_tool_result_frames_and_is_replayed(
    settings: Settings,
) -> None:
    model = ScriptedModel(turns=[["Let me check.", LOOKUP], ["It shipped on Monday."]])
    app = create_app(settings, model=model, recommender=FixedRecommender(), tools=FakeTools())
    with TestClient(app) as client:
        with client.websocket_connect("/ws/chat") as ws:
            ready = ws.receive_json()
            send_message(ws, "m1", "where is my order 536365?")
            frames = receive_until(ws, "done")
        assert [f["type"] for f in frames] == [
            "accepted", "delta", "tool_call", "tool_result", "delta", "delta", "done",
        ]  # fmt: skip
        call, result = frames[2], frames[3]
        assert call == {
            "type": "tool_call",
            "seq": call["seq"],
            "message_id": "m1",
            "call_id": "call_1",
            "name": "get_order_details",
            "arguments": {"order_id": "536365"},
        }
        assert (result["call_id"], result["ok"], result["message_id"]) == ("call_1", True, "m1")
        assert frames[-1]["text"] == "Let me check.\n\nIt shipped on Monday."
        url = f"/ws/chat?conversation_id={ready['conversation_id']}&token={ready['token']}&last_seq=0"
        with client.websocket_connect(url) as ws:
            ws.receive_json()
            replayed = receive_until(ws, "done")
    assert replayed == frames


# ---- end to end: a real server, a real OpenAI-compatible upstream that calls a tool ---------------------------


@pytest.fixture
def upstream() -> Iterator[str]:
    port = free_port()
    process = subprocess.Popen([sys.executable, "-m", "tests.fake_openai_server", str(port)], cwd=ROOT)
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                    break
            except OSError:
                time.sleep(0.1)
        yield f"http://127.0.0.1:{port}/v1"
    finally:
        process.terminate()
        process.wait(10)


async def frames_until_done(url: str, text: str) -> list[dict[str, Any]]:
    async with connect(url) as ws:
        await ws.recv()
        await ws.send(json.dumps({"type": "message", "id": "m1", "text": text}))
        frames: list[dict[str, Any]] = []
        while not frames or frames[-1]["type"] not in ("done", "error"):
            frames.append(json.loads(await ws.recv()))
    return frames


async def test_an_openai_compatible_model_calls_a_tool_through_the_real_server(
    settings: Settings, upstream: str
) -> None:
    tools = FakeTools()
    configured = settings.model_copy(
        update={
            "llm_backend": "openai",
            "llm_model": "fake-model",
            "openai_base_url": upstream,
            "openai_api_key": SecretStr("sk-fake"),
        }
    )
    server = LiveServer(create_app(configured, recommender=FixedRecommender(), tools=tools)).start()
    try:
        frames = await frames_until_done(server.ws, "where is my order 536365?")
    finally:
        server.stop()
    types = [f["type"] for f in frames]
    assert types[:3] == ["accepted", "tool_call", "tool_result"]
    assert types.count("done") == 1
    assert types[-1] == "done"
    assert frames[1]["name"] == "get_order_details"
    assert frames[1]["arguments"] == {"order_id": "536365"}
    assert frames[2]["ok"] is True
    assert frames[2]["call_id"] == frames[1]["call_id"] == "call_fake1"
    assert tools.runs == [ToolCall("call_fake1", "get_order_details", '{"order_id": "536365"}')]
    # The model answered from the tool's result, which reached it as a tool message.
    assert frames[-1]["text"].startswith("The tool said:")
    assert '"order_id": "536365"' in frames[-1]["text"]


async def test_a_real_model_gets_the_shops_products_and_done_names_them(
    settings: Settings, upstream: str
) -> None:
    configured = settings.model_copy(
        update={
            "llm_backend": "openai",
            "llm_model": "fake-model",
            "openai_base_url": upstream,
            "openai_api_key": SecretStr("sk-fake"),
        }
    )
    server = LiveServer(create_app(configured)).start()
    try:
        frames = await frames_until_done(server.ws, "do you sell lunch boxes?")
    finally:
        server.stop()
    done = frames[-1]
    assert done["type"] == "done"
    products = [s for s in done["sources"] if s["kind"] == "product"]
    assert products
    assert all("Lunch Box" in s["title"] for s in products)

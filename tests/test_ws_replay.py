"""Replays and slow readers on the socket: TestClient for the protocol, a live uvicorn for real backpressure."""

from __future__ import annotations

import asyncio
import json
import socket
import urllib.parse
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from starlette.websockets import WebSocketDisconnect
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from app.errors import ErrorCode
from app.events import Delta
from app.settings import Settings
from app.web.application import create_app
from tests.fakes import FixedRecommender, ScriptedModel
from tests.history import write_long_conversation
from tests.liveserver import LiveServer
from tests.wsutil import Frame, receive_until, send_message

LONG = 12_000


@pytest.fixture
def client(settings: Settings) -> Iterator[TestClient]:
    app = create_app(settings, model=ScriptedModel(), recommender=FixedRecommender())
    with TestClient(app) as c:
        yield c


def resume_url(ready: Frame, last_seq: int | str) -> str:
    return f"/ws/chat?conversation_id={ready['conversation_id']}&token={ready['token']}&last_seq={last_seq}"


def new_conversation(client: TestClient) -> Frame:
    """A conversation nothing was sent in yet: its id and token, from its ``ready`` frame."""
    with client.websocket_connect("/ws/chat") as ws:
        ready: Frame = ws.receive_json()
    return ready


@pytest.mark.timeout(90)
def test_a_page_reload_replays_12000_events_once_each_in_order_then_goes_live(client: TestClient) -> None:
    ready = new_conversation(client)
    store = client.app.state.store  # type: ignore[attr-defined]
    client.portal.call(write_long_conversation, store, ready["conversation_id"], LONG)  # type: ignore[union-attr]
    with client.websocket_connect(resume_url(ready, 0)) as ws:
        again = ws.receive_json()
        replay = [ws.receive_json() for _ in range(LONG)]
        send_message(ws, "live", "hi")
        live = receive_until(ws, "done")
    assert again["last_seq"] == LONG
    assert [f["seq"] for f in replay] == list(range(1, LONG + 1))
    assert [f["seq"] for f in live] == list(range(LONG + 1, LONG + 1 + len(live)))
    assert (live[0]["type"], live[0]["message_id"]) == ("accepted", "live")


def test_a_last_seq_beyond_the_newest_event_is_refused_with_4400(client: TestClient) -> None:
    with client.websocket_connect("/ws/chat") as ws:
        ready = ws.receive_json()
        send_message(ws, "m1", "hi")
        newest = receive_until(ws, "done")[-1]["seq"]
    with client.websocket_connect(resume_url(ready, newest + 1)) as ws:
        error = ws.receive_json()
        with pytest.raises(WebSocketDisconnect) as closed:
            ws.receive_json()
    assert error["code"] == ErrorCode.INVALID_VALUE
    assert closed.value.code == 4400


@pytest.mark.parametrize("last_seq", ["1" + "0" * 30, "2147483648", "+1", "1_0", " 1", "\u0661"])
def test_a_last_seq_that_is_not_a_storable_seq_is_refused_with_4400(
    client: TestClient, last_seq: str
) -> None:
    ready = new_conversation(client)
    with client.websocket_connect(resume_url(ready, urllib.parse.quote(last_seq))) as ws:
        error = ws.receive_json()
        with pytest.raises(WebSocketDisconnect) as closed:
            ws.receive_json()
    assert error["code"] == ErrorCode.INVALID_VALUE
    assert closed.value.code == 4400


# ---- a live server: what a client that stops reading does to it -----------------------------------------

PIECE = "x" * 1000  # with compression off, 5,000 of these are far more than the socket buffers hold


@pytest.fixture
def live(settings: Settings) -> Iterator[LiveServer]:
    app = create_app(settings, model=ScriptedModel(), recommender=FixedRecommender())
    server = LiveServer(app, send_buffer=16 * 1024).start()
    try:
        yield server
    finally:
        server.stop()


async def flood(app: FastAPI, conversation_id: str, events: int, pause_s: float) -> None:
    """Publish ``events`` stored events in the conversation, 50 per commit, as a busy answer would."""
    hub = await app.state.chat.open(conversation_id, None)
    for _ in range(events // 50):
        pieces = [
            hub.journal.event(lambda seq: Delta(seq=seq, message_id="m1", text=PIECE)) for _ in range(50)
        ]
        await asyncio.gather(*pieces)
        await asyncio.sleep(pause_s)


async def open_stored_conversation(server: LiveServer) -> tuple[ClientConnection, str, int]:
    """A socket with a small receive buffer, in a conversation with one answered message."""
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.connect(("127.0.0.1", server.port))
    ws = await connect(server.ws, sock=sock, max_queue=1, compression=None, ping_interval=None)
    ready = json.loads(await ws.recv())
    await ws.send(json.dumps({"type": "message", "id": "m1", "text": "hi"}))
    while (frame := json.loads(await ws.recv()))["type"] != "done":
        pass
    return ws, ready["conversation_id"], frame["seq"]


async def read_to_the_end(
    ws: ClientConnection, limit: int
) -> tuple[list[dict[str, Any]], ConnectionClosed | None]:
    frames: list[dict[str, Any]] = []
    try:
        async with asyncio.timeout(30):
            while len(frames) < limit:
                frames.append(json.loads(await ws.recv()))
    except ConnectionClosed as closed:
        return frames, closed
    return frames, None


async def test_a_client_that_stops_reading_is_closed_with_4408(live: LiveServer) -> None:
    ws, conversation_id, newest = await open_stored_conversation(live)
    async with ws:
        # The client reads nothing while 5,000 events are published, then reads what it was sent.
        await asyncio.to_thread(live.call, flood(live.app, conversation_id, 5000, pause_s=0.001))
        frames, closed = await read_to_the_end(ws, 5000)
    assert closed is not None
    assert closed.rcvd is not None
    assert closed.rcvd.code == 4408
    # What it got is a gapless run of events it can resume after with last_seq.
    assert [f["seq"] for f in frames] == list(range(newest + 1, newest + 1 + len(frames)))
    assert len(frames) < 5000


async def test_a_client_that_keeps_reading_gets_every_event(live: LiveServer) -> None:
    ws, conversation_id, newest = await open_stored_conversation(live)
    async with ws:
        reader = asyncio.create_task(read_to_the_end(ws, 3000))
        await asyncio.to_thread(live.call, flood(live.app, conversation_id, 3000, pause_s=0.05))
        frames, closed = await reader
    assert closed is None
    assert [f["seq"] for f in frames] == list(range(newest + 1, newest + 3001))

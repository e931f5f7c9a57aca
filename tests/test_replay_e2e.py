"""A page reload of a long conversation against a real ``shopchat serve`` process, with the ``websockets`` client."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from websockets.asyncio.client import connect

from app.store.store import Store
from tests.conftest import sqlite_url
from tests.history import write_long_conversation
from tests.test_server_e2e import Server, recv, until

pytestmark = pytest.mark.slow

LONG = 12_000


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Server]:
    srv = Server(tmp_path).start()
    yield srv
    srv.stop()


async def test_a_12000_event_conversation_replays_completely_then_goes_live(
    server: Server, tmp_path: Path
) -> None:
    async with connect(server.ws) as ws:
        ready = await recv(ws)
    # The conversation's history, written straight into the server's database through the store.
    store = Store.from_url(sqlite_url(tmp_path / "e2e.db"))
    try:
        await write_long_conversation(store, ready["conversation_id"], LONG)
    finally:
        await store.close()
    resume = f"{server.ws}?conversation_id={ready['conversation_id']}&token={ready['token']}&last_seq=0"
    async with connect(resume) as ws:
        again = await recv(ws)
        replay = [await recv(ws) for _ in range(LONG)]
        await ws.send(json.dumps({"type": "message", "id": "live", "text": "hello"}))
        live = await until(ws, "done")
    assert again["last_seq"] == LONG
    assert [f["seq"] for f in replay] == list(range(1, LONG + 1))
    assert [f["seq"] for f in live] == list(range(LONG + 1, LONG + 1 + len(live)))
    assert [live[0]["type"], live[-1]["type"]] == ["accepted", "done"]

"""Many conversations at once on SQLite, through a real server on a busy machine: nothing lost, nothing stuck."""

from __future__ import annotations

import asyncio
import json
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from websockets.asyncio.client import connect

from tests.test_server_e2e import Server

pytestmark = pytest.mark.slow

CONVERSATIONS = 80
MESSAGES = 3
QUESTIONS = ["hi", "what is your return policy?", "recommend me something"]


@pytest.fixture
def busy_machine() -> Iterator[None]:
    """Both cores kept busy by other processes, as on a shared host."""
    burners = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(2)]
    try:
        yield
    finally:
        for burner in burners:
            burner.kill()
            burner.wait(10)


async def converse(server: Server, index: int) -> list[dict[str, Any]]:
    """One customer: three messages, each sent once its predecessor's answer ended; every frame received."""
    frames: list[dict[str, Any]] = []
    async with connect(server.ws, open_timeout=60, max_size=None) as ws:
        frames.append(json.loads(await ws.recv()))
        for n in range(MESSAGES):
            await ws.send(json.dumps({"type": "message", "id": f"c{index}m{n}", "text": QUESTIONS[n]}))
            while True:
                frame = json.loads(await asyncio.wait_for(ws.recv(), 60))
                frames.append(frame)
                if frame["type"] == "done" or (frame["type"] == "error" and frame.get("reply_to")):
                    break
    return frames


async def test_eighty_conversations_on_sqlite_lose_nothing_and_all_end(
    tmp_path: Path, busy_machine: None
) -> None:
    log = tmp_path / "server.log"
    # Eighty customers from one address: the per-address limits (tested elsewhere) are lifted.
    server = Server(
        tmp_path,
        SHOPCHAT_LOG_LEVEL="info",
        SHOPCHAT_MAX_SOCKETS_PER_IP="1000",
        SHOPCHAT_NEW_CONVERSATIONS_PER_IP_PER_MINUTE="1000",
        SHOPCHAT_RATE_LIMIT_PER_IP_PER_MINUTE="100000",
    )
    server.start(log_path=log)
    try:
        results = await asyncio.gather(*(converse(server, i) for i in range(CONVERSATIONS)))
    finally:
        server.stop()

    for index, frames in enumerate(results):
        accepted = [f["message_id"] for f in frames if f["type"] == "accepted"]
        terminal = [
            f for f in frames if f["type"] in ("done", "error") and f.get("reply_to", f.get("message_id"))
        ]
        assert accepted == [f"c{index}m{n}" for n in range(MESSAGES)], frames[-1]
        assert [f["type"] for f in terminal] == ["done"] * MESSAGES, terminal

    database = sqlite3.connect(tmp_path / "e2e.db")
    try:
        users = database.execute("SELECT COUNT(*) FROM messages WHERE role = 'user'").fetchone()[0]
        statuses = dict(
            database.execute(
                "SELECT status, COUNT(*) FROM messages WHERE role = 'assistant' GROUP BY status"
            ).fetchall()
        )
    finally:
        database.close()
    assert users == CONVERSATIONS * MESSAGES
    assert statuses == {"done": CONVERSATIONS * MESSAGES}
    text = log.read_text(encoding="utf-8", errors="replace")
    assert "Traceback" not in text
    assert "never retrieved" not in text
    assert "database is locked" not in text

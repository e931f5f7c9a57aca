"""Two real server processes on one database and one Redis: control and answers cross between them.

Cancel on B stops the answer A generates; when A is killed mid-answer, B (which has a socket on the
conversation) takes the answer over once the lease expires and completes it exactly once; A does not abandon
an answer a socket on B still watches; both processes may write one conversation and no event is lost.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from websockets.asyncio.client import ClientConnection, connect

from tests.conftest import fresh_redis_url
from tests.test_server_e2e import Server, recv, until

pytestmark = pytest.mark.slow

LONG = "what is your return policy?"  # the built-in responder's answer is ~60 words


@pytest.fixture
def pair(tmp_path: Path) -> Iterator[tuple[Server, Server]]:
    url = fresh_redis_url()
    env = {
        "SHOPCHAT_REDIS_URL": url,
        "SHOPCHAT_LOCAL_STREAM_DELAY_MS": "60",
        "SHOPCHAT_ENCODER_PROCESS": "false",
        "SHOPCHAT_ANSWER_LEASE_S": "5",
        "SHOPCHAT_ABANDON_AFTER_S": "1",
    }
    a, b = Server(tmp_path, **env), Server(tmp_path, **env)
    try:
        a.start(tmp_path / "a.log")
        b.start(tmp_path / "b.log")
        yield a, b
    finally:
        a.stop()
        b.stop()


async def send(ws: ClientConnection, message_id: str, text: str) -> None:
    await ws.send(json.dumps({"type": "message", "id": message_id, "text": text}))


def resume(ready: dict[str, Any], last_seq: int) -> str:
    return f"?conversation_id={ready['conversation_id']}&token={ready['token']}&last_seq={last_seq}"


async def started_on_a(a: Server, b: Server) -> tuple[ClientConnection, ClientConnection, dict[str, Any]]:
    """A conversation whose answer to m1 is streaming on A, watched by a socket on B too."""
    on_a = await connect(a.ws)
    ready = await recv(on_a)
    await send(on_a, "m1", LONG)
    accepted = await asyncio.wait_for(recv(on_a), 10)
    assert accepted["type"] == "accepted"
    on_b = await connect(b.ws + resume(ready, accepted["seq"]))
    assert (await recv(on_b))["type"] == "ready"
    first = await asyncio.wait_for(recv(on_b), 10)
    assert first["type"] == "delta"
    return on_a, on_b, ready


async def test_cancel_sent_to_b_stops_the_answer_generating_on_a(pair: tuple[Server, Server]) -> None:
    a, b = pair
    on_a, on_b, _ = await started_on_a(a, b)
    try:
        await on_b.send(json.dumps({"type": "cancel", "message_id": "m1"}))
        seen_on_b = await asyncio.wait_for(until(on_b, "done"), 15)
        seen_on_a = await asyncio.wait_for(until(on_a, "done"), 15)
    finally:
        await on_a.close()
        await on_b.close()
    assert seen_on_b[-1]["type"] == "done"
    assert seen_on_b[-1]["stopped"] is True
    assert seen_on_a[-1] == seen_on_b[-1]


async def test_killing_a_mid_answer_lets_b_complete_it_exactly_once(pair: tuple[Server, Server]) -> None:
    a, b = pair
    on_a, on_b, ready = await started_on_a(a, b)
    a.kill()
    try:
        rest = await asyncio.wait_for(until(on_b, "done"), 30)
    finally:
        await on_b.close()
        with pytest.raises(Exception):  # noqa: B017, PT011  A is gone: its socket cannot close cleanly
            await on_a.close()
            raise ConnectionError
    types = [f["type"] for f in rest]
    assert types.count("reset") == 1
    assert types.count("done") == 1
    assert rest[-1]["text"].startswith("You can return unused items")
    # Replayed from the start on B: one accepted, one reset, one done, every seq once and in order.
    async with connect(b.ws + resume(ready, 0)) as again:
        await recv(again)
        replayed = await asyncio.wait_for(until(again, "done"), 15)
    seqs = [f["seq"] for f in replayed]
    assert seqs == list(range(1, len(seqs) + 1))
    assert [f["type"] for f in replayed].count("done") == 1


async def test_an_answer_watched_from_b_is_not_abandoned_when_its_socket_on_a_goes(
    pair: tuple[Server, Server],
) -> None:
    a, b = pair
    on_a, on_b, _ = await started_on_a(a, b)
    await on_a.close()  # A has no socket left; its abandon timer (1 s) would stop the answer
    try:
        rest = await asyncio.wait_for(until(on_b, "done"), 30)
    finally:
        await on_b.close()
    assert rest[-1]["type"] == "done"
    assert rest[-1]["stopped"] is False
    assert rest[-1]["text"].startswith("You can return unused items")


async def test_messages_sent_on_both_processes_are_all_answered_in_one_dense_log(
    pair: tuple[Server, Server],
) -> None:
    a, b = pair
    on_a, on_b, ready = await started_on_a(a, b)
    try:
        await send(on_b, "m2", "hello")  # while A still streams m1: both write the conversation
        ends: dict[str, dict[str, Any]] = {}
        async with asyncio.timeout(40):
            while len(ends) < 2:
                frame = await recv(on_b)
                if frame["type"] in ("done", "error"):
                    ends[frame.get("message_id") or frame.get("reply_to") or "?"] = frame
    finally:
        await on_a.close()
        await on_b.close()
    assert {k: v["type"] for k, v in ends.items()} == {"m1": "done", "m2": "done"}
    async with connect(a.ws + resume(ready, 0)) as again:
        await recv(again)
        replayed: list[dict[str, Any]] = []
        async with asyncio.timeout(15):
            while [f["type"] for f in replayed].count("done") < 2:
                replayed.append(await recv(again))
    seqs = [f["seq"] for f in replayed]
    assert seqs == list(range(1, len(seqs) + 1))
    assert sorted(f["message_id"] for f in replayed if f["type"] == "accepted") == ["m1", "m2"]

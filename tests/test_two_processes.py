"""Two real ``python -m app serve`` processes on one database and one Redis (``SHOPCHAT_TEST_REDIS_URL``)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families
from websockets.asyncio.client import ClientConnection, connect

from tests.conftest import fresh_redis_url
from tests.test_server_e2e import Server, recv, until

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def pair(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Server, Server]]:
    url = fresh_redis_url()
    shared = tmp_path_factory.mktemp("two-processes")
    env = {
        "SHOPCHAT_REDIS_URL": url,
        "SHOPCHAT_LOCAL_STREAM_DELAY_MS": "20",
        "SHOPCHAT_ENCODER_PROCESS": "false",
        "SHOPCHAT_MAX_SOCKETS_PER_IP": "3",
        "SHOPCHAT_RATE_LIMIT_PER_IP_PER_MINUTE": "15",  # a burst of 3 messages per address
    }
    a = Server(shared, **env)
    b = Server(shared, **env)
    try:
        a.start(shared / "a.log")
        b.start(shared / "b.log")
        yield a, b
    finally:
        a.stop()
        b.stop()


@pytest.fixture(autouse=True)
def fresh_limits(pair: tuple[Server, Server]) -> None:
    """Each test starts with full message budgets (they are shared by both processes and every test)."""
    import redis

    client = redis.Redis.from_url(os.environ["SHOPCHAT_TEST_REDIS_URL"])
    try:
        for key in client.scan_iter("shopchat:bucket:*"):
            client.delete(key)
    finally:
        client.close()


def generated(server: Server) -> float:
    """Answers the server generated (ended in any way: done, stopped or an error)."""
    with urllib.request.urlopen(f"{server.http}/metrics", timeout=5) as response:
        text = response.read().decode()
    return sum(
        sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name == "shopchat_answers_total"
    )


async def send(ws: ClientConnection, message_id: str, text: str) -> None:
    await ws.send(json.dumps({"type": "message", "id": message_id, "text": text}))


async def test_a_message_sent_on_a_streams_live_to_a_socket_on_b(pair: tuple[Server, Server]) -> None:
    a, b = pair
    async with connect(a.ws) as on_a:
        ready = await recv(on_a)
        await send(on_a, "m1", "hello")
        first = await until(on_a, "done")
        resume = (
            f"?conversation_id={ready['conversation_id']}&token={ready['token']}&last_seq={first[-1]['seq']}"
        )
        async with connect(b.ws + resume) as on_b:
            assert (await recv(on_b))["type"] == "ready"
            await send(on_a, "m2", "what is your return policy?")
            seen_on_a, seen_on_b = await asyncio.wait_for(
                asyncio.gather(until(on_a, "done"), until(on_b, "done")), 30
            )
    assert [f["type"] for f in seen_on_a].count("delta") >= 2
    # The same stored events, each once and in order, on both processes.
    assert [f["seq"] for f in seen_on_b] == [f["seq"] for f in seen_on_a]
    assert seen_on_b == seen_on_a
    assert seen_on_b[0] == {**seen_on_b[0], "type": "accepted", "message_id": "m2"}
    assert seen_on_b[-1]["text"].startswith("You can return unused items")


async def closed_with(ws: ClientConnection) -> tuple[dict[str, Any], int | None]:
    frame = await recv(ws)
    with contextlib.suppress(Exception):
        await ws.recv()
    return frame, ws.close_code


async def test_socket_caps_and_address_message_limits_hold_across_both(pair: tuple[Server, Server]) -> None:
    a, b = pair
    await asyncio.sleep(0.5)  # sockets of the test before are counted out
    async with connect(a.ws) as one, connect(b.ws) as two, connect(a.ws) as three:
        for ws in (one, two, three):
            assert (await recv(ws))["type"] == "ready"
        async with connect(b.ws) as extra:
            error, code = await closed_with(extra)
        assert (error["code"], code) == ("rate_limited", 4429)
        # Three messages from this address on two processes spend its burst; the fourth waits.
        await send(one, "x1", "hello")
        await until(one, "done")
        await send(two, "y1", "hello")
        await until(two, "done")
        await send(one, "x2", "hello")
        await until(one, "done")
        await send(two, "y2", "hello")
        refused = await until(two, "done")
    assert refused[-1]["type"] == "error"
    assert refused[-1]["code"] == "rate_limited"


async def test_a_process_opening_a_conversation_mid_answer_does_not_generate_it_again(
    pair: tuple[Server, Server],
) -> None:
    a, b = pair
    await asyncio.sleep(0.5)
    before_a, before_b = generated(a), generated(b)
    async with connect(a.ws) as on_a:
        ready = await recv(on_a)
        await send(on_a, "m1", "what is your return policy?")
        accepted = await asyncio.wait_for(recv(on_a), 10)
        first_delta = await asyncio.wait_for(recv(on_a), 10)
        assert (accepted["type"], first_delta["type"]) == ("accepted", "delta")
        # B finds m1 stored without an answer: without the lease it would reset and generate it too.
        resume = (
            f"?conversation_id={ready['conversation_id']}&token={ready['token']}&last_seq={accepted['seq']}"
        )
        async with connect(b.ws + resume) as on_b:
            await recv(on_b)
            rest_a, seen_on_b = await asyncio.wait_for(
                asyncio.gather(until(on_a, "done"), until(on_b, "done")), 30
            )
    on_a_all = [accepted, first_delta, *rest_a]
    await asyncio.sleep(1.0)  # what B would have generated needs no longer than A's answer
    assert (generated(a) - before_a, generated(b) - before_b) == (1, 0)
    for frames in (on_a_all, seen_on_b):
        assert [f["type"] for f in frames].count("reset") == 0
        assert [f["type"] for f in frames].count("done") == 1
    # B replays from after the acknowledgement: the first piece from the store, the rest live, each once.
    streamed = "".join(f["text"] for f in seen_on_b if f["type"] == "delta")
    assert streamed == seen_on_b[-1]["text"] == on_a_all[-1]["text"]
    assert seen_on_b[-1]["text"].startswith("You can return unused items")

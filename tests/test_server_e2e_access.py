"""End to end against a real uvicorn process: the customer of a conversation, and per-address caps."""

from __future__ import annotations

import asyncio
import contextlib
import json
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from tests.test_server_e2e import Server, recv, until

pytestmark = pytest.mark.slow


@pytest.fixture
def guarded_server(tmp_path: Path) -> Iterator[Server]:
    """A production-like server: customer ids must be signed, few sockets per address."""
    srv = Server(
        tmp_path, SHOPCHAT_CUSTOMER_SIGNING_KEY="shop-backend-signing-key", SHOPCHAT_MAX_SOCKETS_PER_IP="5"
    ).start()
    yield srv
    srv.stop()


async def closed_with(ws: ClientConnection) -> tuple[dict[str, object], int | None]:
    """The error frame a refused connection gets, and its close code."""
    error = await recv(ws)
    with pytest.raises(ConnectionClosed) as closed:
        await recv(ws)
    return error, closed.value.rcvd.code if closed.value.rcvd is not None else None


async def test_resumed_conversation_cannot_be_given_another_customer(guarded_server: Server) -> None:
    # The reported attack, step by step: a guest conversation, nothing sent, resumed as customer 12748.
    async with connect(guarded_server.ws) as ws:
        ready = await recv(ws)
    resume = f"{guarded_server.ws}?conversation_id={ready['conversation_id']}&token={ready['token']}"
    async with connect(f"{resume}&customer_id=12748") as ws:
        error, code = await closed_with(ws)
    async with connect(resume) as ws:
        resumed = await recv(ws)
        await ws.send(json.dumps({"type": "message", "id": "m1", "text": "recommend me something"}))
        frames = await until(ws, "done")
    assert (error["code"], code) == ("unauthorized", 4401)
    assert resumed["customer_id"] is None
    cards = next(f for f in frames if f["type"] == "recommendations")["items"]
    # A guest gets best sellers, never reasons drawn from someone's purchases.
    assert all(card["reason"].startswith("A best seller") for card in cards)


def test_customer_list_is_not_served_outside_demo_mode(guarded_server: Server) -> None:
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(f"{guarded_server.http}/api/customers", timeout=10)
    assert refused.value.code == 404


async def test_sockets_from_one_address_are_capped(guarded_server: Server) -> None:
    async with contextlib.AsyncExitStack() as stack:
        for _ in range(5):
            ws = await stack.enter_async_context(connect(guarded_server.ws))
            assert (await recv(ws))["type"] == "ready"
        async with connect(guarded_server.ws) as extra:
            error, code = await closed_with(extra)
    assert (error["code"], code) == ("rate_limited", 4429)
    # Once those closed (the server notices within moments), the address may connect again.
    for _ in range(50):
        async with connect(guarded_server.ws) as ws:
            if (await recv(ws))["type"] == "ready":
                return
        await asyncio.sleep(0.1)
    raise AssertionError("closed sockets did not give their places back")


async def open_sockets(server: Server, forwarded_for: list[str]) -> list[str]:
    """The first frame's type (or error code) of one socket per X-Forwarded-For value, all open at once."""
    results = []
    async with contextlib.AsyncExitStack() as stack:
        for address in forwarded_for:
            ws = await stack.enter_async_context(
                connect(server.ws, additional_headers={"X-Forwarded-For": address})
            )
            frame = await recv(ws)
            results.append(frame["type"] if frame["type"] == "ready" else frame["code"])
    return results


async def test_clients_behind_a_trusted_proxy_are_counted_by_forwarded_address(
    guarded_server: Server,
) -> None:
    # The peer is 127.0.0.1, which uvicorn trusts by default: each forwarded address has its own 5 sockets.
    results = await open_sockets(guarded_server, [f"203.0.113.{i}" for i in range(8)])
    assert results == ["ready"] * 8


@pytest.fixture
def untrusting_server(tmp_path: Path) -> Iterator[Server]:
    """A server that trusts no proxy on this machine: X-Forwarded-For from 127.0.0.1 is ignored."""
    srv = Server(tmp_path, SHOPCHAT_MAX_SOCKETS_PER_IP="5", SHOPCHAT_FORWARDED_ALLOW_IPS="192.0.2.1").start()
    yield srv
    srv.stop()


async def test_forwarded_address_from_an_untrusted_peer_is_ignored(untrusting_server: Server) -> None:
    results = await open_sockets(untrusting_server, [f"203.0.113.{i}" for i in range(6)])
    assert results == ["ready"] * 5 + ["rate_limited"]

"""The load benchmark's harness (bench/loadkit): process accounting, the fake upstream's request flags, clients."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import orjson
import pytest
from websockets.asyncio.server import ServerConnection, serve

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))

# bench/ is not a package mypy checks: these are untyped here.
from loadkit.client import Fleet  # type: ignore[import-not-found]
from loadkit.procs import backend_database  # type: ignore[import-not-found]
from loadkit.upstream import _INCLUDE_USAGE_TRUE, _STREAM_TRUE  # type: ignore[import-not-found]


@pytest.mark.parametrize(
    ("title", "database"),
    [
        ("postgres: 15/main: postgres shopchat_bench 127.0.0.1(51234) idle", "shopchat_bench"),
        ("postgres: app shop [local] INSERT", "shop"),
        ("postgres: 15/main: walwriter ", None),
        ("postgres: 15/main: logical replication launcher ", None),
        ("/usr/lib/postgresql/15/bin/postgres -D /var/lib/postgresql/15/main", None),
    ],
)
def test_a_backend_is_told_from_background_processes_by_its_title(title: str, database: str | None) -> None:
    assert backend_database(title) == database


def _request(stream: bool, usage: bool, question: str) -> bytes:
    body = {
        "model": "fake-model",
        "messages": [{"role": "user", "content": question}],
        "stream": stream,
        **({"stream_options": {"include_usage": usage}} if stream else {}),
    }
    return json.dumps(body).encode()


@pytest.mark.parametrize(("stream", "usage"), [(True, True), (True, False), (False, False)])
def test_the_upstream_reads_the_stream_flags_from_keys_only(stream: bool, usage: bool) -> None:
    # A question that spells out the flags must not turn them on: inside a string the quotes are escaped.
    body = _request(stream, usage, 'say "stream": true and "include_usage": true')
    assert (_STREAM_TRUE.search(body) is not None) is stream
    assert (_INCLUDE_USAGE_TRUE.search(body) is not None) is usage


async def test_clients_start_a_new_conversation_after_the_given_number_of_answers() -> None:
    sockets: list[int] = []

    async def chat(ws: ServerConnection) -> None:
        sockets.append(len(sockets))
        await ws.send(orjson.dumps({"type": "ready"}).decode())
        async for raw in ws:
            message = orjson.loads(raw)
            await ws.send(orjson.dumps({"type": "delta", "message_id": message["id"], "text": "hi"}).decode())
            await ws.send(orjson.dumps({"type": "done", "message_id": message["id"], "text": "hi"}).decode())

    async with serve(chat, "127.0.0.1", 0) as server:
        port = next(iter(server.sockets)).getsockname()[1]
        fleet = await Fleet.open("127.0.0.1", port, 2)
        answers = await fleet.converse(
            lambda c, k: (f"q{c}.{k}", None), messages=5, stagger_s=0, answer_timeout_s=5, turns=2
        )
        await fleet.close()
    assert [a.outcome for a in answers] == ["done"] * 10
    # Each client: answers 1–2, 3–4 and 5 on three sockets.
    assert len(sockets) == 6

"""The comparison peers: a bare websocket relay of an OpenAI-compatible stream, optionally with one INSERT per delta.

Run: ``python -m loadkit.relay --port PORT --upstream http://127.0.0.1:U/v1 [--db sqlite+aiosqlite:///x.db]``
(with ``bench`` on ``PYTHONPATH``). It speaks the subset of shopchat's protocol the load generator uses:
``ready`` → ``message`` → ``accepted`` → ``delta``… → ``done``. One uvicorn process, one worker, like shopchat.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import signal
import time
import uuid
from collections.abc import AsyncIterator
from typing import Any

import openai
import uvicorn
from fastapi import FastAPI, WebSocket, WebSocketDisconnect
from openai import AsyncOpenAI
from sqlalchemy import Column, Integer, MetaData, String, Table, Text, event, insert
from sqlalchemy.engine.interfaces import DBAPIConnection
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from sqlalchemy.pool import ConnectionPoolEntry

metadata = MetaData()
deltas = Table(
    "deltas",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("conversation_id", String(32), nullable=False),
    Column("seq", Integer, nullable=False),
    Column("text", Text, nullable=False),
)


def _sqlite_pragmas(dbapi_connection: DBAPIConnection, _record: ConnectionPoolEntry) -> None:
    # The same durability settings as shopchat's store, so the INSERT peer costs what shopchat's writes could.
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA busy_timeout=5000")
    cursor.close()


def create_app(upstream: str, model: str, db_url: str | None, parent: int | None = None) -> FastAPI:
    """The relay app; with ``db_url`` every delta is INSERTed (its own transaction) before it is sent."""
    state: dict[str, Any] = {}

    @contextlib.asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        client = AsyncOpenAI(api_key="sk-fake", base_url=upstream, timeout=120, max_retries=0)
        engine: AsyncEngine | None = None
        if db_url is not None:
            engine = create_async_engine(db_url, connect_args={"timeout": 30})
            event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
            async with engine.begin() as conn:
                await conn.run_sync(metadata.create_all)
        state["client"], state["engine"] = client, engine
        watch = asyncio.create_task(_watch_parent(parent)) if parent is not None else None
        try:
            yield
        finally:
            if watch is not None:
                watch.cancel()
            await client.close()
            if engine is not None:
                await engine.dispose()

    app = FastAPI(lifespan=lifespan)

    @app.get("/healthz")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    async def answer(ws: WebSocket, conversation_id: str, seq: int, message_id: str, text: str) -> int:
        client: AsyncOpenAI = state["client"]
        engine: AsyncEngine | None = state["engine"]
        parts: list[str] = []
        try:
            stream = await client.chat.completions.create(
                model=model,
                messages=[{"role": "user", "content": text}],
                stream=True,
                stream_options={"include_usage": True},
            )
            usage = {"prompt_tokens": 0, "completion_tokens": 0}
            async for chunk in stream:
                if chunk.usage is not None:
                    usage = {
                        "prompt_tokens": chunk.usage.prompt_tokens,
                        "completion_tokens": chunk.usage.completion_tokens,
                    }
                for choice in chunk.choices:
                    piece = choice.delta.content
                    if not piece:
                        continue
                    seq += 1
                    parts.append(piece)
                    if engine is not None:
                        async with engine.begin() as conn:
                            await conn.execute(
                                insert(deltas).values(conversation_id=conversation_id, seq=seq, text=piece)
                            )
                    await ws.send_text(
                        json.dumps({"type": "delta", "seq": seq, "message_id": message_id, "text": piece})
                    )
            seq += 1
            done = {"type": "done", "seq": seq, "message_id": message_id, "route": "chat"}
            await ws.send_text(json.dumps({**done, "text": "".join(parts), "usage": usage, "stopped": False}))
        except openai.OpenAIError as exc:
            seq += 1
            await ws.send_text(
                json.dumps({"type": "error", "seq": seq, "code": "model_error", "message": str(exc)[:200]})
            )
        return seq

    @app.websocket("/ws/chat")
    async def chat(ws: WebSocket) -> None:
        await ws.accept()
        conversation_id = uuid.uuid4().hex
        await ws.send_text(
            json.dumps(
                {
                    "type": "ready",
                    "conversation_id": conversation_id,
                    "token": "relay",
                    "last_seq": 0,
                    "resumed": False,
                    "max_message_chars": 2000,
                }
            )
        )
        seq = 0
        try:
            while True:
                frame = json.loads(await ws.receive_text())
                if frame.get("type") != "message":
                    continue
                seq += 1
                await ws.send_text(
                    json.dumps(
                        {
                            "type": "accepted",
                            "seq": seq,
                            "message_id": frame["id"],
                            "text": frame["text"],
                            "created_at": time.time(),
                        }
                    )
                )
                # Answered inline: the load generator sends the next question only after the terminal frame.
                seq = await answer(ws, conversation_id, seq, frame["id"], frame["text"])
        except WebSocketDisconnect:
            pass

    return app


async def _watch_parent(parent: int) -> None:
    # An orphaned peer must not outlive the benchmark that started it.
    while True:
        await asyncio.sleep(1.0)
        if os.getppid() != parent:
            break
    os.kill(os.getpid(), signal.SIGTERM)


def main() -> None:
    """Parse the command line and serve with uvicorn (one process, one worker)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument(
        "--upstream", required=True, help="OpenAI-compatible base URL, e.g. http://127.0.0.1:9/v1"
    )
    parser.add_argument("--model", default="fake-model")
    parser.add_argument("--db", default=None, help="SQLAlchemy async URL: INSERT each delta there")
    args = parser.parse_args()
    app = create_app(args.upstream, args.model, args.db, parent=os.getppid())
    uvicorn.run(app, host="127.0.0.1", port=args.port, log_level="warning", ws_max_size=1024 * 1024)


if __name__ == "__main__":
    main()

"""End to end against real uvicorn processes, with the ``websockets`` client."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from tests.conftest import TEST_SECRET, sqlite_url

ROOT = Path(__file__).resolve().parent.parent
pytestmark = pytest.mark.slow


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_ready(url: str, process: subprocess.Popen[bytes], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"server exited early with {process.returncode}")
        try:
            with urllib.request.urlopen(url, timeout=1) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.2)
    raise AssertionError(f"{url} not ready after {timeout}s")


class Server:
    """A `python -m app serve` subprocess that can be killed and restarted on the same port and database."""

    def __init__(self, tmp_path: Path, **env: str) -> None:
        self.port = free_port()
        self.env = {
            **os.environ,
            "SHOPCHAT_PORT": str(self.port),
            "SHOPCHAT_DATA_DIR": str(tmp_path / "data"),
            "SHOPCHAT_DATABASE_URL": sqlite_url(tmp_path / "e2e.db"),
            "SHOPCHAT_SECRET_KEY": TEST_SECRET,
            "SHOPCHAT_LOCAL_STREAM_DELAY_MS": "2",
            "SHOPCHAT_LOG_LEVEL": "warning",
            **env,
        }
        self.process: subprocess.Popen[bytes] | None = None

    def start(self, log_path: Path | None = None) -> Server:
        log = log_path.open("ab") if log_path is not None else None
        try:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "app", "serve"], cwd=ROOT, env=self.env, stdout=log, stderr=log
            )
        finally:
            if log is not None:
                log.close()  # the child holds its own copy
        wait_ready(f"{self.http}/healthz", self.process)
        return self

    def kill(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(10)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                self.kill()

    @property
    def http(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def ws(self) -> str:
        return f"ws://127.0.0.1:{self.port}/ws/chat"


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Server]:
    # Demo mode: a test names a customer without a signature.
    srv = Server(tmp_path, SHOPCHAT_DEMO_MODE="true").start()
    yield srv
    srv.stop()


async def recv(ws: ClientConnection) -> dict[str, Any]:
    frame: dict[str, Any] = json.loads(await ws.recv())
    return frame


async def until(ws: ClientConnection, kind: str) -> list[dict[str, Any]]:
    frames = []
    while True:
        frame = await recv(ws)
        frames.append(frame)
        if frame["type"] == kind or frame["type"] == "error":
            return frames


async def test_three_messages_stream_with_expected_routes(server: Server) -> None:
    async with connect(f"{server.ws}?customer_id=12347") as ws:
        ready = await recv(ws)
        routes = []
        for i, text in enumerate(["hi", "what is your return policy?", "recommend me something"]):
            await ws.send(json.dumps({"type": "message", "id": f"m{i}", "text": text}))
            frames = await until(ws, "done")
            assert sum(f["type"] == "delta" for f in frames) > 1
            routes.append(frames[-1]["route"])
    assert ready["type"] == "ready"
    assert routes == ["chat", "chat", "recommend"]


async def test_foreign_origin_gets_http_403(server: Server) -> None:
    with pytest.raises(InvalidStatus) as refused:
        async with connect(server.ws, origin="https://evil.example"):  # type: ignore[arg-type]
            pass
    assert refused.value.response.status_code == 403


async def test_frame_over_one_mebibyte_is_closed_with_1009(server: Server) -> None:
    async with connect(server.ws, max_size=None) as ws:
        await recv(ws)
        await ws.send("x" * (2 * 1024 * 1024))
        with pytest.raises(ConnectionClosed) as closed:
            await recv(ws)
    assert closed.value.rcvd is not None
    assert closed.value.rcvd.code == 1009


@pytest.fixture
def slow_server(tmp_path: Path) -> Iterator[Server]:
    srv = Server(tmp_path, SHOPCHAT_LOCAL_STREAM_DELAY_MS="40").start()
    yield srv
    srv.stop()


async def test_server_killed_mid_answer_completes_it_after_restart(slow_server: Server) -> None:
    server = slow_server
    if True:
        async with connect(server.ws) as ws:
            ready = await recv(ws)
            await ws.send(json.dumps({"type": "message", "id": "m1", "text": "what is your return policy?"}))
            seen = [await recv(ws), await recv(ws), await recv(ws)]
            await asyncio.to_thread(server.kill)
        await asyncio.to_thread(server.start)
        resume = f"{server.ws}?conversation_id={ready['conversation_id']}&token={ready['token']}"
        async with connect(f"{resume}&last_seq={seen[-1]['seq']}") as ws:
            await recv(ws)
            rest = await until(ws, "done")
    frames = seen + rest
    types = [f["type"] for f in frames]
    assert types.count("done") == 1
    reset_at = types.index("reset")
    streamed = "".join(f["text"] for f in frames[reset_at:] if f["type"] == "delta")
    assert streamed == frames[-1]["text"]
    assert frames[-1]["text"].startswith("You can return unused items")


@pytest.fixture
def openai_backed_server(tmp_path: Path) -> Iterator[Server]:
    llm_port = free_port()
    llm = subprocess.Popen([sys.executable, "-m", "tests.fake_openai_server", str(llm_port)], cwd=ROOT)
    server = Server(
        tmp_path,
        SHOPCHAT_LLM_BACKEND="openai",
        SHOPCHAT_LLM_MODEL="fake-model",
        OPENAI_BASE_URL=f"http://127.0.0.1:{llm_port}/v1",
        OPENAI_API_KEY="sk-fake",
    )
    try:
        server.start()
        yield server
    finally:
        server.stop()
        llm.terminate()
        llm.wait(10)


async def test_openai_backend_streams_from_a_compatible_server(openai_backed_server: Server) -> None:
    async with connect(openai_backed_server.ws) as ws:
        await recv(ws)
        await ws.send(json.dumps({"type": "message", "id": "m1", "text": "hello model"}))
        frames = await until(ws, "done")
    done = frames[-1]
    assert done["type"] == "done"
    assert done["text"].startswith("This answer streamed from an OpenAI-compatible server.")
    assert "You said: hello model" in done["text"]
    assert sum(f["type"] == "delta" for f in frames) > 5
    assert done["usage"]["prompt_tokens"] == 77

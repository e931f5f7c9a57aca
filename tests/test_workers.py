"""``shopchat serve --workers 2``: two processes on one port, PostgreSQL and Redis, one conversation across both."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families
from websockets.asyncio.client import ClientConnection, connect

from tests.conftest import TEST_SECRET, fresh_redis_url, reset_database
from tests.test_server_e2e import ROOT, free_port, recv, until, wait_ready

pytestmark = pytest.mark.slow


class Workers:
    """``python -m app serve --workers 2`` in a session of its own (the supervisor and its workers)."""

    def __init__(self, tmp_path: Path, database_url: str, redis_url: str) -> None:
        self.port = free_port()
        env = {
            **os.environ,
            "SHOPCHAT_PORT": str(self.port),
            "SHOPCHAT_DATA_DIR": str(tmp_path / "data"),
            "SHOPCHAT_DATABASE_URL": database_url,
            "SHOPCHAT_REDIS_URL": redis_url,
            "SHOPCHAT_SECRET_KEY": TEST_SECRET,
            "SHOPCHAT_LOCAL_STREAM_DELAY_MS": "20",
            "SHOPCHAT_ENCODER_PROCESS": "false",
            "SHOPCHAT_LOG_LEVEL": "warning",
        }
        self.log = tmp_path / "workers.log"
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "app", "serve", "--workers", "2"],
                cwd=ROOT, env=env, stdout=log, stderr=log, start_new_session=True,
            )  # fmt: skip

    @property
    def http(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def ws(self) -> str:
        return f"ws://127.0.0.1:{self.port}/ws/chat"

    def sockets_by_pid(self, timeout: float = 30) -> dict[str, float]:
        """Open chat sockets per worker, scraping ``/metrics`` (a new connection each) until both answered."""
        seen: dict[str, float] = {}
        deadline = time.monotonic() + timeout
        while len(seen) < 2:
            assert time.monotonic() < deadline, f"only {sorted(seen)} answered /metrics"
            with urllib.request.urlopen(f"{self.http}/metrics", timeout=5) as response:
                samples = [
                    sample
                    for family in text_string_to_metric_families(response.read().decode())
                    for sample in family.samples
                ]
            pid = next(s.labels["pid"] for s in samples if s.name == "shopchat_process_info")
            seen[pid] = next(s.value for s in samples if s.name == "shopchat_open_sockets")
        return seen

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()  # uvicorn's supervisor stops its workers
            try:
                self.process.wait(20)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(10)


@pytest.fixture
def workers(tmp_path: Path, postgres_url: str) -> Iterator[Workers]:
    redis_url = fresh_redis_url()
    asyncio.run(reset_database(postgres_url))
    server = Workers(tmp_path, postgres_url, redis_url)
    try:
        wait_ready(f"{server.http}/readyz", server.process)
        yield server
    finally:
        server.stop()


async def connect_on_other_worker(
    workers: Workers, url: str, busy: str, tries: int = 40
) -> tuple[ClientConnection, str]:
    """A socket to ``url`` that the kernel gave to the worker other than ``busy`` (one socket open there)."""
    for _ in range(tries):
        ws = await connect(url)
        ready = await recv(ws)
        assert ready["type"] == "ready", ready
        counts = await asyncio.to_thread(workers.sockets_by_pid)
        if counts[busy] == 1:
            (other,) = set(counts) - {busy}
            return ws, other
        await ws.close()
        await asyncio.sleep(0.2)  # counted out before the next try
    raise AssertionError(f"no socket reached the second worker in {tries} tries")


async def test_two_workers_answer_on_one_port_and_share_a_conversation(workers: Workers) -> None:
    # Two processes answer on the port, each under its own pid.
    assert len(await asyncio.to_thread(workers.sockets_by_pid)) == 2
    async with connect(workers.ws) as first:
        ready = await recv(first)
        await first.send(json.dumps({"type": "message", "id": "m1", "text": "hello"}))
        before = await until(first, "done")
        first_pid = next(pid for pid, n in (await asyncio.to_thread(workers.sockets_by_pid)).items() if n)
        # The customer reloads the page and resumes on the other worker, while the first socket stays open.
        resume = (
            f"?conversation_id={ready['conversation_id']}&token={ready['token']}&last_seq={before[-1]['seq']}"
        )
        second, second_pid = await connect_on_other_worker(workers, workers.ws + resume, first_pid)
        async with second:
            await second.send(
                json.dumps({"type": "message", "id": "m2", "text": "what is your return policy?"})
            )
            on_second, on_first = await asyncio.wait_for(
                asyncio.gather(until(second, "done"), until(first, "done")), 30
            )
    assert second_pid != first_pid
    # Stored by the second worker after the first one's events; streamed live to the socket on the first.
    assert on_second[0] == {
        **on_second[0],
        "type": "accepted",
        "message_id": "m2",
        "seq": before[-1]["seq"] + 1,
    }
    assert on_first == on_second
    assert [f["type"] for f in on_second].count("delta") >= 2
    assert on_second[-1]["text"].startswith("You can return unused items")

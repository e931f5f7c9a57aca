"""Without affinity: a customer who reloads mid-answer lands on another process and goes on there.

Both processes may write one conversation (the one behind numbers its events after the other's), stop and
abandon reach the process generating, and a killed process's answer is taken over by the one watching it.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from websockets.asyncio.client import connect

from tests.conftest import fresh_redis_url
from tests.test_server_e2e import Server, recv, until
from tests.test_two_processes import fresh_limits, pair, send

__all__ = ["fresh_limits", "pair"]  # fixtures shared with the two-process tests

pytestmark = pytest.mark.slow


async def test_a_message_after_resuming_mid_answer_on_the_other_process_is_answered(
    pair: tuple[Server, Server],
) -> None:
    a, b = pair
    await asyncio.sleep(0.5)
    async with connect(a.ws) as on_a:
        ready = await recv(on_a)
        await send(on_a, "m1", "what is your return policy?")
        accepted = await recv(on_a)
    # The page reloads while A is still answering; the new socket reaches B.
    resume = f"?conversation_id={ready['conversation_id']}&token={ready['token']}&last_seq={accepted['seq']}"
    async with connect(b.ws + resume) as on_b:
        await recv(on_b)
        first = await asyncio.wait_for(until(on_b, "done"), 30)
        await send(on_b, "m2", "hello")
        second = await asyncio.wait_for(until(on_b, "done"), 30)
    assert second[0]["type"] == "accepted"
    assert second[0]["seq"] == first[-1]["seq"] + 1
    assert second[-1]["type"] == "done"


def _slow_pair(directory: Path) -> Iterator[tuple[Server, Server]]:
    """Two processes on one database and Redis, answering slowly (about 4 s for the return policy)."""
    env = {
        "SHOPCHAT_REDIS_URL": fresh_redis_url(),
        "SHOPCHAT_LOCAL_STREAM_DELAY_MS": "60",
        "SHOPCHAT_ENCODER_PROCESS": "false",
        "SHOPCHAT_ABANDON_AFTER_S": "1",
        "SHOPCHAT_ANSWER_LEASE_S": "5",
    }
    a, b = Server(directory, **env), Server(directory, **env)
    try:
        a.start(directory / "a.log")
        b.start(directory / "b.log")
        yield a, b
    finally:
        a.stop()
        b.stop()


@pytest.fixture(scope="module")
def slow_pair(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Server, Server]]:
    """One slow pair for the tests that leave both processes running."""
    yield from _slow_pair(tmp_path_factory.mktemp("slow-pair"))


@pytest.fixture
def dying_pair(tmp_path: Path) -> Iterator[tuple[Server, Server]]:
    """A slow pair of the test's own: it kills one process."""
    yield from _slow_pair(tmp_path)


async def test_an_answer_watched_on_the_other_process_is_not_abandoned(
    slow_pair: tuple[Server, Server],
) -> None:
    a, b = slow_pair
    async with connect(a.ws) as on_a:
        ready = await recv(on_a)
        await send(on_a, "m1", "what is your return policy?")
        accepted = await recv(on_a)
        assert (await recv(on_a))["type"] == "delta"  # generating: leaving now starts A's abandon timer
    resume = f"?conversation_id={ready['conversation_id']}&token={ready['token']}&last_seq={accepted['seq']}"
    async with connect(b.ws + resume) as on_b:
        await recv(on_b)
        frames = await asyncio.wait_for(until(on_b, "done"), 30)
    assert frames[-1]["type"] == "done"
    assert not frames[-1]["stopped"]


async def test_an_answer_of_a_killed_process_is_taken_over_by_the_one_watching_it(
    dying_pair: tuple[Server, Server],
) -> None:
    a, b = dying_pair
    async with connect(a.ws) as on_a:
        ready = await recv(on_a)
        await send(on_a, "m1", "what is your return policy?")
        accepted = await recv(on_a)
        assert (await recv(on_a))["type"] == "delta"
        a.kill()  # kill -9 mid-answer: its lease lives on for up to SHOPCHAT_ANSWER_LEASE_S
    resume = f"?conversation_id={ready['conversation_id']}&token={ready['token']}&last_seq={accepted['seq']}"
    async with connect(b.ws + resume) as on_b:
        await recv(on_b)
        # The lease expires within 5 s; the answer then takes about 6 s.
        frames = await asyncio.wait_for(until(on_b, "done"), 30)
        async with connect(b.ws + resume.replace(f"last_seq={accepted['seq']}", "last_seq=0")) as again:
            await recv(again)
            replayed = await asyncio.wait_for(until(again, "done"), 15)
    assert frames[-1]["type"] == "done"
    assert not frames[-1]["stopped"]
    # Completed exactly once: one reset, one done, every seq once and in order.
    assert [f["type"] for f in frames].count("reset") == 1
    assert [f["type"] for f in replayed].count("done") == 1
    assert [f["seq"] for f in replayed] == list(range(1, len(replayed) + 1))


async def test_stop_pressed_on_the_other_process_stops_the_answer(slow_pair: tuple[Server, Server]) -> None:
    a, b = slow_pair
    async with connect(a.ws) as on_a:
        ready = await recv(on_a)
        await send(on_a, "m1", "what is your return policy?")
        accepted = await recv(on_a)
        assert (await recv(on_a))["type"] == "delta"
        resume = (
            f"?conversation_id={ready['conversation_id']}&token={ready['token']}&last_seq={accepted['seq']}"
        )
        async with connect(b.ws + resume) as on_b:
            await recv(on_b)
            await on_b.send(json.dumps({"type": "cancel", "message_id": "m1"}))
            frames = await asyncio.wait_for(until(on_b, "done"), 30)
    assert frames[-1]["type"] == "done"
    assert frames[-1]["stopped"]


async def test_messages_sent_on_both_processes_are_all_answered_in_one_dense_log(
    slow_pair: tuple[Server, Server],
) -> None:
    a, b = slow_pair
    async with connect(a.ws) as on_a:
        ready = await recv(on_a)
        await send(on_a, "m1", "what is your return policy?")
        accepted = await recv(on_a)
        resume = (
            f"?conversation_id={ready['conversation_id']}&token={ready['token']}&last_seq={accepted['seq']}"
        )
        async with connect(b.ws + resume) as on_b:
            await recv(on_b)
            await send(on_b, "m2", "hello")  # while A still streams m1: both write the conversation
            ends: dict[str, str] = {}
            async with asyncio.timeout(40):
                while len(ends) < 2:
                    frame = await recv(on_b)
                    if frame["type"] in ("done", "error"):
                        ends[frame.get("message_id") or frame.get("reply_to") or "?"] = frame["type"]
    assert ends == {"m1": "done", "m2": "done"}
    async with connect(a.ws + resume.replace(f"last_seq={accepted['seq']}", "last_seq=0")) as again:
        await recv(again)
        replayed: list[dict[str, object]] = []
        async with asyncio.timeout(15):
            while [f["type"] for f in replayed].count("done") < 2:
                replayed.append(await recv(again))
    assert [f["seq"] for f in replayed] == list(range(1, len(replayed) + 1))
    assert sorted(str(f["message_id"]) for f in replayed if f["type"] == "accepted") == ["m1", "m2"]

"""``shopchat chat``: the terminal client against a real server (and a scripted one for frames it cannot send)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from websockets.asyncio.server import ServerConnection, serve

from app.chatclient import (
    END_OF_INPUT,
    EXIT_INTERRUPTED,
    INTERRUPT,
    ChatOptions,
    ChatSession,
    UserInput,
)
from tests.test_server_e2e import ROOT, Server, free_port

pytestmark = pytest.mark.slow

RETURN_POLICY = "You can return unused items"
RESET_MARKER = "[the server restarted mid-answer"


class Terminal:
    """Drives ``chat``: lines and Ctrl-C go in through its queue, everything it prints is recorded."""

    def __init__(self, url: str, **options: Any) -> None:
        self.inputs: asyncio.Queue[UserInput] = asyncio.Queue()
        self.writes: list[str] = []
        self.errors: list[str] = []
        self.options = ChatOptions(url=url, backoff_initial_s=0.1, **options)
        self.task: asyncio.Task[int] | None = None
        self.session = ChatSession(self.options, self.inputs, self.writes.append, self.errors.append)

    def start(self) -> Terminal:
        self.task = asyncio.ensure_future(self.session.run())
        return self

    @property
    def output(self) -> str:
        return "".join(self.writes)

    def say(self, line: str) -> None:
        self.inputs.put_nowait(line)

    async def wait_for(self, predicate: Callable[[str], bool], within_s: float = 60) -> str:
        deadline = time.monotonic() + within_s
        while not predicate(self.output):
            assert self.task is not None
            if self.task.done():
                raise AssertionError(f"the client ended ({self.task.result()}): {self.output!r}")
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out; output so far: {self.output!r}")
            await asyncio.sleep(0.02)
        return self.output

    async def prompts(self, count: int, within_s: float = 60) -> str:
        """Wait until the ``You: `` prompt has been shown ``count`` times (the answers before it ended)."""
        return await self.wait_for(lambda out: out.count("You: ") >= count, within_s)

    async def finish(self, item: UserInput = END_OF_INPUT, within_s: float = 30) -> int:
        self.inputs.put_nowait(item)
        assert self.task is not None
        return await asyncio.wait_for(self.task, within_s)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    # Demo mode: a customer without a signature; a slowish stream, so an answer can be interrupted.
    tmp = tmp_path_factory.mktemp("chatclient")
    srv = Server(tmp, SHOPCHAT_DEMO_MODE="true", SHOPCHAT_LOCAL_STREAM_DELAY_MS="20").start()
    yield srv
    srv.stop()


async def test_a_question_is_streamed_and_ends_on_done(server: Server) -> None:
    term = Terminal(server.ws).start()
    await term.prompts(1)
    term.say("what is your return policy?")
    out = await term.prompts(2)
    answer = out.split("Assistant: ", 1)[1].split("\n", 1)[0]
    assert answer.startswith(RETURN_POLICY)
    # Streamed: the answer reached the terminal in many pieces, not once at the end.
    assert sum(1 for piece in term.writes if piece and piece in answer) > 3
    assert await term.finish() == 0


async def test_recommendations_are_shown_as_cards(server: Server) -> None:
    term = Terminal(server.ws, customer="12347").start()
    await term.prompts(1)
    term.say("recommend me something")
    out = await term.prompts(2)
    cards = re.findall(r"^  \* (.+) - (\d+\.\d\d) GBP\n    (.+)$", out, flags=re.MULTILINE)
    assert len(cards) >= 1
    assert all(name and reason for name, _, reason in cards)
    assert "customer 12347" in out
    assert await term.finish() == 0


async def test_an_error_frame_is_shown_and_ends_the_answer(server: Server) -> None:
    term = Terminal(server.ws).start()
    await term.prompts(1)
    term.say("x" * 20_000)
    out = await term.prompts(2)
    assert re.search(r"^error message_too_long: .+$", out, flags=re.MULTILINE)
    assert await term.finish() == 0


async def test_ctrl_c_cancels_the_answer_and_a_second_one_leaves(server: Server) -> None:
    term = Terminal(server.ws).start()
    await term.prompts(1)
    term.say("what is your return policy?")
    await term.wait_for(lambda out: "Assistant: " in out)
    term.inputs.put_nowait(INTERRUPT)
    out = await term.prompts(2)
    assert "[stopped]" in out
    # The next question works as usual after a cancelled answer.
    term.say("what is your return policy?")
    await term.wait_for(lambda out: out.count("Assistant: ") == 2)
    term.inputs.put_nowait(INTERRUPT)
    assert await term.finish(INTERRUPT) == EXIT_INTERRUPTED


async def test_slash_new_starts_a_new_conversation(server: Server) -> None:
    term = Terminal(server.ws).start()
    await term.prompts(1)
    first = term.session.conversation_id
    term.say("/new")
    out = await term.prompts(2)
    assert term.session.conversation_id not in (None, first)
    assert f"[connected: conversation {term.session.conversation_id}." in out
    assert await term.finish() == 0


async def test_resuming_a_conversation_shows_its_history_once(server: Server) -> None:
    term = Terminal(server.ws).start()
    await term.prompts(1)
    term.say("what is your return policy?")
    seen = await term.prompts(2)
    exchange = seen[seen.index("You: what") : seen.rindex("You: ")]
    assert await term.finish() == 0
    conversation, token = term.session.conversation_id, term.session.token
    assert conversation is not None
    assert token is not None

    again = Terminal(server.ws, conversation=conversation, token=token).start()
    # The prompt waits for the end of the replay (the ready frame's last_seq).
    out = await again.prompts(2)
    assert "resumed" in out
    assert out.endswith(f"\n{exchange}You: ")
    assert out.count(exchange) == 1
    assert await again.finish() == 0


async def test_unreachable_server_is_one_line_and_exit_1() -> None:
    term = Terminal(f"ws://127.0.0.1:{free_port()}/ws/chat").start()
    assert await asyncio.wait_for(term.task, 30) == 1  # type: ignore[arg-type]
    assert len(term.errors) == 1
    assert term.errors[0].startswith("error: cannot reach ws://127.0.0.1:")
    assert term.errors[0].count("\n") == 1


@pytest.mark.parametrize(
    "url", ["http://127.0.0.1:8000/ws/chat", "localhost:8000", "ws://127.0.0.1:99999/ws"]
)
async def test_a_url_that_is_not_a_websocket_url_is_one_line_and_exit_2(url: str) -> None:
    term = Terminal(url).start()
    assert await asyncio.wait_for(term.task, 30) == 2  # type: ignore[arg-type]
    assert term.errors == [f"error: {url} is not a websocket URL (ws://HOST[:PORT]/ws/chat or wss://…)\n"]


@pytest.fixture
def restartable(tmp_path: Path) -> Iterator[Server]:
    srv = Server(tmp_path, SHOPCHAT_LOCAL_STREAM_DELAY_MS="40").start()
    yield srv
    srv.stop()


async def test_resumes_after_the_server_is_killed_without_showing_anything_twice(restartable: Server) -> None:
    server = restartable
    term = Terminal(server.ws).start()
    await term.prompts(1)
    term.say("hi")
    first = (await term.prompts(2)).split("Assistant: ", 1)[1].split("\n", 1)[0]
    term.say("what is your return policy?")
    await term.wait_for(lambda out: out.count("Assistant: ") == 2)
    await asyncio.to_thread(server.kill)
    await term.wait_for(lambda out: "[connection lost; reconnecting…]" in out)
    await asyncio.to_thread(server.start)
    out = await term.prompts(3)
    assert "[reconnected]" in out
    # The answer interrupted by the restart is reset and then shown whole, once, after the marker.
    after_reset = out.split(RESET_MARKER, 1)[1].split("\n", 1)[1]
    answer = after_reset.split("Assistant: ", 1)[1].split("\n", 1)[0]
    assert answer.startswith(RETURN_POLICY)
    assert after_reset.count("Assistant: ") == 1
    assert out.count(first) == 1  # the earlier answer is not replayed
    # And the conversation goes on over the new connection.
    term.say("thanks")
    out = await term.prompts(4)
    assert out.count("Assistant: ") == 4
    assert await term.finish() == 0


# ---- a scripted server, for frames and refusals the real one does not produce on demand -----------------

Script = Callable[[ServerConnection], Awaitable[None]]


@contextlib.asynccontextmanager
async def _scripted(script: Script) -> AsyncIterator[str]:
    async with serve(script, "127.0.0.1", 0) as ws_server:
        port = next(iter(ws_server.sockets)).getsockname()[1]
        yield f"ws://127.0.0.1:{port}/ws/chat"


READY = {
    "type": "ready",
    "conversation_id": "c1",
    "token": "t1",
    "last_seq": 0,
    "resumed": False,
    "max_message_chars": 4000,
    "model_state": "ok",
}


async def test_unknown_frame_types_are_shown_and_do_not_break_the_client() -> None:
    async def script(ws: ServerConnection) -> None:
        await ws.send(json.dumps(READY))
        message = json.loads(await ws.recv())
        mid = message["id"]
        frames: list[Any] = [
            {"type": "accepted", "seq": 1, "message_id": mid, "text": message["text"], "created_at": "x"},
            {"type": "tool_call", "seq": 2, "message_id": mid, "call_id": "k1", "name": "get_order_details",
             "arguments": {"order_id": "536365"}},
            {"type": "tool_result", "seq": 3, "message_id": mid, "call_id": "k1", "ok": True,
             "summary": "Order 536365: shipped"},
            {"type": "delta", "seq": 4, "message_id": mid, "text": "It has shipped."},
            {"type": "handoff", "seq": 5},
            [1, 2],
            {"type": "delta", "seq": "5", "message_id": mid},
            {"type": "done", "seq": 6, "message_id": mid, "route": "chat", "text": "It has shipped.",
             "usage": {"prompt_tokens": 1, "completion_tokens": 1}},
        ]  # fmt: skip
        for frame in frames:
            await ws.send(json.dumps(frame))
        await ws.send("not json")
        await ws.wait_closed()

    async with _scripted(script) as url:
        term = Terminal(url).start()
        await term.prompts(1)
        term.say("where is my order 536365?")
        out = await term.wait_for(lambda out: "[unreadable frame] not json" in out)
        assert await term.finish() == 0
    assert (
        '[tool_call] {"call_id": "k1", "name": "get_order_details", "arguments": {"order_id": "536365"}}'
        in out
    )
    assert '[tool_result] {"call_id": "k1", "ok": true, "summary": "Order 536365: shipped"}' in out
    assert "[handoff] {}" in out
    assert "Assistant: It has shipped.\n" in out
    assert "[unreadable frame] [1, 2]" in out
    assert "[delta] {}" in out  # a known type without its fields


async def test_after_a_drop_it_resumes_from_last_seq_and_resends_an_unacknowledged_message() -> None:
    connections: list[str] = []
    resent: list[dict[str, Any]] = []
    first_message: list[dict[str, Any]] = []

    async def script(ws: ServerConnection) -> None:
        assert ws.request is not None
        connections.append(ws.request.path)
        if len(connections) == 1:  # takes the message, then drops before acknowledging it
            await ws.send(json.dumps(READY))
            first_message.append(json.loads(await ws.recv()))
            await ws.close(1011, "gone")
        elif len(connections) == 2:  # too busy: come back after retry_after_s
            refusal = {"type": "error", "code": "rate_limited", "message": "Busy.", "retry_after_s": 0.2}
            await ws.send(json.dumps(refusal))
            await ws.close(4429, "busy")
        else:
            await ws.send(json.dumps({**READY, "token": "t2", "resumed": True}))
            message = json.loads(await ws.recv())
            resent.append(message)
            mid = message["id"]
            accepted = {"type": "accepted", "seq": 1, "message_id": mid, "text": "hi", "created_at": "x"}
            for frame in (
                accepted,
                {"type": "delta", "seq": 2, "message_id": mid, "text": "Hello there."},
                accepted,  # a repeated acknowledgement: already shown
                {"type": "done", "seq": 3, "message_id": mid, "route": "chat", "text": "Hello there.",
                 "usage": {"prompt_tokens": 1, "completion_tokens": 1}},
            ):  # fmt: skip
                await ws.send(json.dumps(frame))
            await ws.wait_closed()

    async with _scripted(script) as url:
        term = Terminal(url).start()
        await term.prompts(1)
        term.say("hi")
        out = await term.prompts(2)
        assert await term.finish() == 0
    assert resent == first_message
    assert connections[2] == "/ws/chat?conversation_id=c1&token=t1&last_seq=0"
    assert term.session.token == "t2"
    assert term.session.last_seq == 3
    assert out.count("[connection lost; reconnecting…]") == 1
    assert out.count("Assistant: Hello there.\n") == 1


@pytest.mark.parametrize(("code", "retry"), [(4401, None), (4429, 3.0)], ids=["unauthorized", "too-many"])
async def test_a_refused_handshake_is_one_line_and_exit_1(code: int, retry: float | None) -> None:
    kind = "unauthorized" if code == 4401 else "rate_limited"

    async def script(ws: ServerConnection) -> None:
        refusal = {"type": "error", "code": kind, "message": "Refused.", "retry_after_s": retry}
        await ws.send(json.dumps(refusal))
        await ws.close(code, "refused")

    async with _scripted(script) as url:
        term = Terminal(url, customer="12347").start()
        assert await asyncio.wait_for(term.task, 30) == 1  # type: ignore[arg-type]
    assert term.errors == [f"error: the server refused the connection: {kind}: Refused.\n"]


async def test_a_foreign_origin_refusal_http_403_is_one_line_and_exit_1() -> None:
    from websockets.http11 import Request, Response

    def refuse(connection: ServerConnection, request: Request) -> Response:
        return connection.respond(403, "Forbidden\n")

    async def script(ws: ServerConnection) -> None:
        await ws.wait_closed()

    async with serve(script, "127.0.0.1", 0, process_request=refuse) as ws_server:
        port = next(iter(ws_server.sockets)).getsockname()[1]
        term = Terminal(f"ws://127.0.0.1:{port}/ws/chat").start()
        assert await asyncio.wait_for(term.task, 30) == 1  # type: ignore[arg-type]
    assert term.errors == [
        f"error: the server at ws://127.0.0.1:{port}/ws/chat refused the connection (HTTP 403)\n"
    ]


# ---- the real command ------------------------------------------------------------------------------------


def _command(*args: str, stdin: str = "", timeout: float = 90) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "app", "chat", *args],
        cwd=ROOT,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def test_the_command_answers_lines_from_stdin(server: Server) -> None:
    done = _command("--url", server.ws, stdin="what is your return policy?\n/quit\n")
    assert done.returncode == 0, done.stderr
    assert "You: what is your return policy?\nAssistant: " + RETURN_POLICY in done.stdout
    assert done.stderr == ""


def test_the_command_against_no_server_exits_1_with_one_line() -> None:
    done = _command("--url", f"ws://127.0.0.1:{free_port()}/ws/chat")
    assert done.returncode == 1
    assert done.stderr.startswith("error: cannot reach ws://127.0.0.1:")
    assert done.stderr.count("\n") == 1
    assert "Traceback" not in done.stdout + done.stderr


def test_the_command_refuses_a_conversation_without_its_token() -> None:
    done = _command("--conversation", "c1")
    assert done.returncode == 2
    assert done.stderr == "error: --conversation and --token go together\n"

"""The load generator: many websocket chat clients on one event loop, cheap enough to out-run the server.

Each connection is a bare asyncio protocol speaking just enough RFC 6455 (no extensions, so no compression)
instead of a full websocket library: at 300+ streams × 50 deltas/s a library's per-frame futures and tasks
would cost as much CPU as a small server, and the load generator shares the machine with the server.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import orjson

_MAX_HEAD = 64 * 1024


def _frame(opcode: int, payload: bytes) -> bytes:
    """A masked client frame (clients must mask; the key is random per frame as the RFC asks)."""
    n = len(payload)
    if n < 126:
        head = bytes((0x80 | opcode, 0x80 | n))
    elif n < 65536:
        head = bytes((0x80 | opcode, 0x80 | 126)) + n.to_bytes(2, "big")
    else:
        head = bytes((0x80 | opcode, 0x80 | 127)) + n.to_bytes(8, "big")
    mask = os.urandom(4)
    key = (mask * (n // 4 + 1))[:n]
    body = (int.from_bytes(payload, "big") ^ int.from_bytes(key, "big")).to_bytes(n, "big")
    return head + mask + body


@dataclass(slots=True)
class Answer:
    """What one client saw of the answer to one of its messages; times are ``time.monotonic()``."""

    message_id: str
    ref: str | None
    t_send: float
    t_accepted: float | None = None
    t_first: float | None = None
    t_last: float | None = None
    t_end: float | None = None
    gaps: list[float] = field(default_factory=list)
    parts: list[str] = field(default_factory=list)
    frames: int = 0
    outcome: str = "pending"  # done | error | timeout | closed
    error_code: str | None = None
    done_text: str | None = None
    route: str | None = None

    @property
    def text(self) -> str:
        """The concatenated deltas."""
        return "".join(self.parts)


class ChatConnection(asyncio.Protocol):
    """One websocket to ``/ws/chat``: handshake, frame parsing, and the answer in flight."""

    def __init__(self, host: str, port: int, path: str) -> None:
        self.request = (
            f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            f"Sec-WebSocket-Key: {base64.b64encode(os.urandom(16)).decode()}\r\n"
            "Sec-WebSocket-Version: 13\r\n\r\n"
        )
        self.transport: asyncio.Transport | None = None
        self.buffer = bytearray()
        self.upgraded = False
        self.fragments: list[bytes] = []
        loop = asyncio.get_running_loop()
        self.ready: asyncio.Future[dict[str, Any]] = loop.create_future()
        self.closed: asyncio.Future[None] = loop.create_future()
        self.current: Answer | None = None
        self.ended: asyncio.Future[None] | None = None
        # Error frames that ended no answer (e.g. a per-frame error while nothing was pending).
        self.stray_errors: list[str] = []
        self.counter = 0

    # ---- transport callbacks -----------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        """Send the upgrade request."""
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        transport.write(self.request.encode())

    def connection_lost(self, exc: Exception | None) -> None:
        """Fail whatever was waiting."""
        self.transport = None
        if not self.ready.done():
            self.ready.set_exception(ConnectionError("closed before the ready frame"))
        self._end("closed")
        if not self.closed.done():
            self.closed.set_result(None)

    def data_received(self, data: bytes) -> None:
        """Parse every complete frame; all frames in one read share its arrival time."""
        now = time.monotonic()
        buf = self.buffer
        buf += data
        if not self.upgraded:
            end = buf.find(b"\r\n\r\n")
            if end < 0:
                if len(buf) > _MAX_HEAD and self.transport is not None:
                    self.transport.close()
                return
            head = bytes(buf[:end])
            del buf[: end + 4]
            if not head.startswith((b"HTTP/1.1 101", b"HTTP/1.0 101")):
                if not self.ready.done():
                    self.ready.set_exception(ConnectionError(head.split(b"\r\n", 1)[0].decode("latin-1")))
                if self.transport is not None:
                    self.transport.close()
                return
            self.upgraded = True
        pos, size = 0, len(buf)
        while size - pos >= 2:
            b0, b1 = buf[pos], buf[pos + 1]
            length, header = b1 & 0x7F, 2
            if length == 126:
                if size - pos < 4:
                    break
                length, header = (buf[pos + 2] << 8) | buf[pos + 3], 4
            elif length == 127:
                if size - pos < 10:
                    break
                length, header = int.from_bytes(buf[pos + 2 : pos + 10], "big"), 10
            end = pos + header + length
            if end > size:
                break
            payload = bytes(buf[pos + header : end])
            pos = end
            self._frame(b0, payload, now)
        if pos:
            del buf[:pos]

    def _frame(self, b0: int, payload: bytes, now: float) -> None:
        opcode = b0 & 0x0F
        if opcode in (0, 1):
            if not b0 & 0x80:
                self.fragments.append(payload)
                return
            if self.fragments:
                payload = b"".join([*self.fragments, payload])
                self.fragments.clear()
            self._message(payload, now)
        elif opcode == 9:
            self._send(10, payload)
        elif opcode == 8:
            self._send(8, payload[:2])
            if self.transport is not None:
                self.transport.close()

    def _send(self, opcode: int, payload: bytes) -> None:
        if self.transport is not None and not self.transport.is_closing():
            self.transport.write(_frame(opcode, payload))

    # ---- protocol --------------------------------------------------------------------------------

    def _message(self, payload: bytes, now: float) -> None:
        frame = orjson.loads(payload)
        kind = frame.get("type")
        answer = self.current
        if kind == "delta":
            if answer is None or frame.get("message_id") != answer.message_id:
                return
            if answer.t_last is None:
                answer.t_first = now
            else:
                answer.gaps.append(now - answer.t_last)
            answer.t_last = now
            answer.parts.append(frame["text"])
            answer.frames += 1
        elif kind == "accepted":
            if answer is not None and frame.get("message_id") == answer.message_id:
                answer.t_accepted = now
        elif kind == "done":
            if answer is not None and frame.get("message_id") == answer.message_id:
                answer.done_text = frame.get("text")
                answer.route = frame.get("route")
                answer.t_end = now
                self._end("done")
        elif kind == "error":
            code = str(frame.get("code"))
            # With a seq or our message id it ends the answer; before `accepted` the message was not taken.
            ends = answer is not None and (
                frame.get("seq") is not None
                or frame.get("reply_to") == answer.message_id
                or answer.t_accepted is None
            )
            if ends and answer is not None:
                answer.error_code = code
                answer.t_end = now
                self._end("error")
            else:
                self.stray_errors.append(code)
        elif kind == "ready" and not self.ready.done():
            self.ready.set_result(frame)

    def _end(self, outcome: str) -> None:
        answer, ended = self.current, self.ended
        if answer is None or ended is None:
            return
        answer.outcome = outcome
        self.current, self.ended = None, None
        if not ended.done():
            ended.set_result(None)

    async def ask(self, text: str, ref: str | None, timeout_s: float) -> Answer:
        """Send one message and wait for its terminal frame (or the timeout, or the socket closing)."""
        self.counter += 1
        answer = Answer(message_id=f"m{self.counter}", ref=ref, t_send=time.monotonic())
        if self.transport is None or self.transport.is_closing():
            answer.outcome = "closed"
            return answer
        ended: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.current, self.ended = answer, ended
        body = orjson.dumps({"type": "message", "id": answer.message_id, "text": text})
        answer.t_send = time.monotonic()  # after encoding, so only the server's time counts
        self._send(1, body)
        try:
            await asyncio.wait_for(ended, timeout_s)
        except TimeoutError:
            if self.current is answer:
                self.current, self.ended = None, None
            answer.outcome = "timeout"
        return answer

    def close(self) -> None:
        """Send a normal close and drop the connection."""
        self._send(8, (1000).to_bytes(2, "big"))
        if self.transport is not None:
            self.transport.close()


async def connect(host: str, port: int, path: str, timeout_s: float) -> ChatConnection:
    """Open a websocket and wait for the server's ``ready`` frame."""
    loop = asyncio.get_running_loop()
    transport, protocol = await asyncio.wait_for(
        loop.create_connection(lambda: ChatConnection(host, port, path), host, port), timeout_s
    )
    try:
        await asyncio.wait_for(protocol.ready, timeout_s)
    except BaseException:
        transport.close()
        raise
    return protocol


@dataclass
class Fleet:
    """A set of open connections to one server, used together for a measurement."""

    conns: list[ChatConnection]
    connect_failures: dict[str, int]
    host: str = "127.0.0.1"
    port: int = 0
    path: str = "/ws/chat"
    timeout_s: float = 30.0

    @classmethod
    async def open(
        cls,
        host: str,
        port: int,
        n: int,
        *,
        path: str = "/ws/chat",
        parallel: int = 50,
        timeout_s: float = 30.0,
    ) -> Fleet:
        """Open ``n`` connections, at most ``parallel`` handshakes at a time so the ramp is gentle."""
        gate = asyncio.Semaphore(parallel)
        failures: dict[str, int] = {}

        async def one() -> ChatConnection | None:
            async with gate:
                try:
                    return await connect(host, port, path, timeout_s)
                except (OSError, TimeoutError, ConnectionError) as exc:
                    key = type(exc).__name__
                    failures[key] = failures.get(key, 0) + 1
                    return None

        opened = await asyncio.gather(*(one() for _ in range(n)))
        return cls([c for c in opened if c is not None], failures, host, port, path, timeout_s)

    async def renew(self, index: int) -> ChatConnection | None:
        """Close connection ``index`` and open a new one (a new conversation) in its place; None if it failed."""
        old = self.conns[index]
        old.close()
        try:
            conn = await connect(self.host, self.port, self.path, self.timeout_s)
        except (OSError, TimeoutError, ConnectionError) as exc:
            key = type(exc).__name__
            self.connect_failures[key] = self.connect_failures.get(key, 0) + 1
            return None
        self.conns[index] = conn
        return conn

    async def converse(
        self,
        question: Callable[[int, int], tuple[str, str | None]],
        *,
        messages: int,
        stagger_s: float,
        answer_timeout_s: float,
        until: float | None = None,
        turns: int | None = None,
    ) -> list[Answer]:
        """Each client sends up to ``messages`` questions, the next one as soon as the previous is answered.

        Client ``i`` starts after ``i/n`` of ``stagger_s`` so load ramps in instead of arriving as one burst;
        no client starts a new question after ``until`` (monotonic). ``question(client, k)`` gives the text
        and its reference tag. With ``turns``, a client starts a new conversation (a new socket) after every
        ``turns`` answers, so conversations stay as short whatever the server's speed.
        """
        n = len(self.conns)
        answers: list[Answer] = []

        async def client(index: int, conn: ChatConnection) -> None:
            await asyncio.sleep(stagger_s * index / max(n, 1))
            for k in range(messages):
                if until is not None and time.monotonic() >= until:
                    return
                if turns is not None and conn.counter >= turns:
                    renewed = await self.renew(index)
                    if renewed is None:
                        return
                    conn = renewed
                text, ref = question(index, k)
                answer = await conn.ask(text, ref, answer_timeout_s)
                answers.append(answer)
                if answer.outcome in ("timeout", "closed"):
                    return

        await asyncio.gather(*(client(i, c) for i, c in enumerate(self.conns)))
        return answers

    def stray_errors(self) -> list[str]:
        """Error codes that ended no answer, over all connections."""
        return [code for conn in self.conns for code in conn.stray_errors]

    async def close(self) -> None:
        """Close every connection and give the closes a moment to go out."""
        for conn in self.conns:
            conn.close()
        waiting: Sequence[asyncio.Future[None]] = [c.closed for c in self.conns]
        if waiting:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(asyncio.gather(*waiting), 5.0)

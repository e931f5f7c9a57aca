"""A CPU-cheap fake OpenAI-compatible upstream: ``POST /v1/chat/completions`` streaming pre-encoded chunks.

Run: ``python -m loadkit.upstream --port PORT`` (with ``bench`` on ``PYTHONPATH``). One shared timer writes the
next due chunk to every open stream, so thousands of streams cost one timer callback per tick rather than a
task and a sleep each. ``POST /config`` changes the answer for later requests; ``GET /stats`` (``?reset=1``)
reports what was streamed and, per tagged question, the upstream's own time to first token.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import math
import os
import re
import signal
import sys
import time
from dataclasses import dataclass, field
from typing import Any

from loadkit.answer import REF_PATTERN, tokens

TICK_S = 0.02
_STREAM_TRUE = re.compile(rb'"stream"\s*:\s*true')
_INCLUDE_USAGE_TRUE = re.compile(rb'"include_usage"\s*:\s*true')
_MAX_HEAD = 64 * 1024
_STREAM_HEAD = (
    b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ncache-control: no-cache\r\n"
    b"transfer-encoding: chunked\r\n\r\n"
)


def _chunked(data: bytes) -> bytes:
    return b"%x\r\n%s\r\n" % (len(data), data)


def _sse(obj: dict[str, Any]) -> bytes:
    return _chunked(b"data: " + json.dumps(obj, separators=(",", ":")).encode() + b"\n\n")


def _chunk(delta: dict[str, str], finish: str | None = None) -> dict[str, Any]:
    return {
        "id": "chatcmpl-bench",
        "object": "chat.completion.chunk",
        "created": 1700000000,
        "model": "fake-model",
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
    }


@dataclass(frozen=True, slots=True)
class Plan:
    """Everything one answer writes, encoded once per configuration rather than once per stream."""

    n_tokens: int
    rate: float
    ttft_s: float
    head: bytes
    frames: list[bytes]
    tail: bytes
    tail_usage: bytes
    text: str

    @classmethod
    def build(cls, n_tokens: int, rate: float, ttft_ms: float) -> Plan:
        """Encode an answer of ``n_tokens`` streamed at ``rate`` tokens/s after ``ttft_ms``."""
        words = tokens(n_tokens)
        usage = {"prompt_tokens": 100, "completion_tokens": n_tokens, "total_tokens": 100 + n_tokens}
        usage_chunk = {**_chunk({}), "choices": [], "usage": usage}
        end = _sse(_chunk({}, "stop"))
        done = _chunked(b"data: [DONE]\n\n") + b"0\r\n\r\n"
        return cls(
            n_tokens=n_tokens,
            rate=rate,
            ttft_s=ttft_ms / 1000,
            head=_STREAM_HEAD + _sse(_chunk({"role": "assistant", "content": ""})),
            frames=[_sse(_chunk({"content": w})) for w in words],
            tail=end + done,
            tail_usage=end + _sse(usage_chunk) + done,
            text="".join(words),
        )


@dataclass
class Stats:
    """Counters since the last reset."""

    started: float = field(default_factory=time.monotonic)
    requests: int = 0
    streams: int = 0
    finished: int = 0
    aborted: int = 0
    tokens: int = 0
    ticks: int = 0
    late_ticks: int = 0
    max_tick_lag_s: float = 0.0
    max_active: int = 0
    # ref -> (request fully read, first content chunk written), both time.monotonic()
    first_token: dict[str, tuple[float, float]] = field(default_factory=dict)

    def as_json(self) -> dict[str, Any]:
        """The counters as a JSON-able dict."""
        return {
            "seconds": time.monotonic() - self.started,
            "requests": self.requests,
            "streams": self.streams,
            "finished": self.finished,
            "aborted": self.aborted,
            "tokens": self.tokens,
            "ticks": self.ticks,
            "late_ticks": self.late_ticks,
            "max_tick_lag_s": self.max_tick_lag_s,
            "max_active": self.max_active,
            "first_token": self.first_token,
        }


class Stream:
    """One streaming answer on one connection."""

    __slots__ = ("conn", "plan", "ref", "sent", "start", "t_recv", "tail")

    def __init__(
        self, conn: Connection, plan: Plan, include_usage: bool, ref: str | None, now: float
    ) -> None:
        self.conn = conn
        self.plan = plan
        self.ref = ref
        self.tail = plan.tail_usage if include_usage else plan.tail
        self.t_recv = now
        self.start = now + plan.ttft_s
        self.sent = 0

    def pump(self, now: float) -> bool:
        """Write every token due by ``now``; True once the answer is complete."""
        plan = self.plan
        # floor, not int(): before the first token is due the difference is negative and must give 0 tokens.
        due = min(plan.n_tokens, 1 + math.floor((now - self.start) * plan.rate))
        if due <= self.sent:
            return False
        server = self.conn.server
        if self.sent == 0 and self.ref is not None:
            server.stats.first_token[self.ref] = (self.t_recv, time.monotonic())
        data = plan.frames[self.sent] if due == self.sent + 1 else b"".join(plan.frames[self.sent : due])
        server.stats.tokens += due - self.sent
        self.sent = due
        if due == plan.n_tokens:
            data += self.tail
        transport = self.conn.transport
        if transport is not None:
            transport.write(data)
        return due == plan.n_tokens


class Upstream:
    """The shared state: configuration, open streams and the one timer that feeds them."""

    def __init__(self, plan: Plan) -> None:
        self.plan = plan
        self.stats = Stats()
        self.active: set[Stream] = set()
        self.loop = asyncio.get_running_loop()
        self.next_tick = self.loop.time() + TICK_S
        self.loop.call_at(self.next_tick, self._tick)

    def _tick(self) -> None:
        now = self.loop.time()
        lag = now - self.next_tick
        stats = self.stats
        stats.ticks += 1
        if lag > TICK_S / 2:
            stats.late_ticks += 1
        stats.max_tick_lag_s = max(stats.max_tick_lag_s, lag)
        # Absolute deadlines keep the rate exact; after a long stall skip ahead instead of bursting ticks.
        self.next_tick += TICK_S
        if self.next_tick <= now:
            self.next_tick = now + TICK_S
        finished = [s for s in self.active if s.pump(now)]
        for stream in finished:
            self.end(stream, aborted=False)
        self.loop.call_at(self.next_tick, self._tick)

    def begin(self, stream: Stream) -> None:
        """Start streaming: headers now, the first token now or after the configured delay."""
        self.stats.streams += 1
        self.active.add(stream)
        self.stats.max_active = max(self.stats.max_active, len(self.active))
        transport = stream.conn.transport
        if transport is not None:
            transport.write(stream.plan.head)
        if stream.plan.ttft_s <= 0:
            self._first(stream)
        else:
            self.loop.call_at(stream.start, self._first, stream)

    def _first(self, stream: Stream) -> None:
        # The first token goes out on time rather than on the next tick, so the upstream's own TTFT is ~0.
        if stream in self.active and stream.pump(max(self.loop.time(), stream.start)):
            self.end(stream, aborted=False)

    def end(self, stream: Stream, *, aborted: bool) -> None:
        """Forget a stream that completed or whose connection went away."""
        if stream not in self.active:
            return
        self.active.discard(stream)
        if aborted:
            self.stats.aborted += 1
        else:
            self.stats.finished += 1
        stream.conn.stream = None
        if not aborted:
            stream.conn.process()


class Connection(asyncio.Protocol):
    """One HTTP/1.1 keep-alive connection; requests are handled one after the other."""

    def __init__(self, server: Upstream) -> None:
        self.server = server
        self.transport: asyncio.Transport | None = None
        self.buffer = bytearray()
        self.stream: Stream | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        """Remember the transport."""
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport

    def connection_lost(self, exc: Exception | None) -> None:
        """Drop the stream in flight, if any."""
        if self.stream is not None:
            self.server.end(self.stream, aborted=True)
        self.transport = None

    def data_received(self, data: bytes) -> None:
        """Buffer and handle complete requests."""
        self.buffer += data
        self.process()

    def process(self) -> None:
        """Handle buffered requests while no answer is streaming on this connection."""
        while self.stream is None and self.transport is not None:
            end = self.buffer.find(b"\r\n\r\n")
            if end < 0:
                if len(self.buffer) > _MAX_HEAD:
                    self.transport.close()
                return
            lines = bytes(self.buffer[:end]).decode("latin-1").split("\r\n")
            method, target, _ = [*lines[0].split(" ", 2), "", ""][:3]
            headers = {}
            for line in lines[1:]:
                name, _, value = line.partition(":")
                headers[name.strip().lower()] = value.strip()
            length = int(headers.get("content-length") or 0)
            if len(self.buffer) < end + 4 + length:
                return
            body = bytes(self.buffer[end + 4 : end + 4 + length])
            del self.buffer[: end + 4 + length]
            self.handle(method, target, body)
            if headers.get("connection", "").lower() == "close" and self.stream is None:
                self.transport.close()

    def respond(self, status: str, payload: Any) -> None:
        """Send a small JSON response."""
        data = json.dumps(payload).encode()
        assert self.transport is not None
        self.transport.write(
            b"HTTP/1.1 %s\r\ncontent-type: application/json\r\ncontent-length: %d\r\n\r\n%s"
            % (status.encode(), len(data), data)
        )

    def handle(self, method: str, target: str, body: bytes) -> None:
        """Route one request."""
        server = self.server
        path, _, query = target.partition("?")
        if method == "POST" and path == "/v1/chat/completions":
            self.completion(body)
        elif method == "GET" and path == "/stats":
            self.respond("200 OK", server.stats.as_json())
            if "reset=1" in query:
                server.stats = Stats()
        elif method == "POST" and path == "/config":
            cfg = json.loads(body or b"{}")
            plan = server.plan
            server.plan = Plan.build(
                int(cfg.get("tokens", plan.n_tokens)),
                float(cfg.get("rate", plan.rate)),
                float(cfg.get("ttft_ms", plan.ttft_s * 1000)),
            )
            self.respond("200 OK", {"tokens": server.plan.n_tokens, "rate": server.plan.rate})
        elif method == "GET" and path == "/healthz":
            self.respond("200 OK", {"status": "ok"})
        else:
            self.respond("404 Not Found", {"error": {"message": "not found"}})

    def completion(self, body: bytes) -> None:
        """Start a streaming answer, or answer at once when the request does not stream."""
        server = self.server
        now = time.monotonic()
        server.stats.requests += 1
        refs = REF_PATTERN.findall(body)
        # The latest user message comes last, so the last tag in the body is this question's.
        ref = refs[-1].decode() if refs else None
        plan = server.plan
        # The two flags are read from the raw body rather than by decoding it all (a request carries the
        # whole prompt, tools included: decoding it was a tenth of this process's CPU). Inside a JSON string a
        # quote is escaped, so these patterns only ever match keys.
        if not _STREAM_TRUE.search(body):
            self.respond(
                "200 OK",
                {
                    "id": "chatcmpl-bench",
                    "object": "chat.completion",
                    "created": 1700000000,
                    "model": "fake-model",
                    "choices": [
                        {
                            "index": 0,
                            "message": {"role": "assistant", "content": plan.text},
                            "finish_reason": "stop",
                        }
                    ],
                    "usage": {"prompt_tokens": 100, "completion_tokens": plan.n_tokens, "total_tokens": 0},
                },
            )
            return
        include_usage = _INCLUDE_USAGE_TRUE.search(body) is not None
        self.stream = Stream(self, plan, include_usage, ref, now)
        server.begin(self.stream)


async def serve(port: int, plan: Plan, max_seconds: float) -> None:
    """Serve until SIGTERM/SIGINT, ``max_seconds``, or the parent process going away."""
    loop = asyncio.get_running_loop()
    upstream = Upstream(plan)
    server = await loop.create_server(lambda: Connection(upstream), "127.0.0.1", port, backlog=4096)
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    parent = os.getppid()
    deadline = time.monotonic() + max_seconds
    print(f"upstream: listening on 127.0.0.1:{port}", flush=True)
    # An orphaned upstream must not outlive the benchmark that started it.
    while not stop.is_set() and os.getppid() == parent and time.monotonic() < deadline:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), 1.0)
    server.close()


def main() -> None:
    """Parse the command line and serve."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--tokens", type=int, default=200, help="tokens per answer")
    parser.add_argument("--rate", type=float, default=50.0, help="tokens per second per stream")
    parser.add_argument("--ttft-ms", type=float, default=0.0, help="delay before the first token")
    parser.add_argument("--max-seconds", type=float, default=3 * 3600, help="exit after this long")
    args = parser.parse_args()
    try:
        asyncio.run(serve(args.port, Plan.build(args.tokens, args.rate, args.ttft_ms), args.max_seconds))
    except KeyboardInterrupt:
        sys.exit(0)


if __name__ == "__main__":
    main()

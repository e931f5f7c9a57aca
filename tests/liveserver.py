"""A real uvicorn server on a thread of the test process, serving an app the test built (with its fakes).

It speaks the same websocket protocol implementation as ``shopchat serve`` (uvicorn's default), over real
TCP, so what a slow or hostile client does to the server can be watched from inside: its loop runs
coroutines for the test (``call``) and its logs reach ``caplog`` (uvicorn's logging is left alone).
"""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections.abc import Coroutine
from typing import Any, TypeVar

import uvicorn
from fastapi import FastAPI

from app.cli import WS_MAX_SIZE

T = TypeVar("T")


def free_port() -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class LiveServer:
    """``start()`` serves ``app`` on 127.0.0.1 until ``stop()``."""

    def __init__(self, app: FastAPI, *, send_buffer: int | None = None) -> None:
        self.app = app
        self.port = free_port()
        # Accepted connections inherit the listening socket's send buffer: a small one stands in for a slow
        # network (the kernel would otherwise buffer megabytes for a client that does not read).
        self._listener = socket.socket()
        self._listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if send_buffer is not None:
            self._listener.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, send_buffer)
        self._listener.bind(("127.0.0.1", self.port))
        config = uvicorn.Config(
            app, host="127.0.0.1", port=self.port, ws_max_size=WS_MAX_SIZE, log_config=None, lifespan="on"
        )
        self.server = uvicorn.Server(config)
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._run, name="live-uvicorn", daemon=True)

    def _run(self) -> None:
        asyncio.set_event_loop(self.loop)
        self.loop.run_until_complete(self.server.serve(sockets=[self._listener]))

    def start(self, timeout: float = 60) -> LiveServer:
        """Serve, and return once the server accepts connections."""
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not self.server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise AssertionError("the live server did not start")
            time.sleep(0.05)
        return self

    def stop(self) -> None:
        """Shut down (lifespan included) and wait for the thread."""
        self.server.should_exit = True
        self._thread.join(30)
        self.loop.close()
        self._listener.close()

    def call(self, coroutine: Coroutine[Any, Any, T], timeout: float = 60) -> T:
        """Run ``coroutine`` on the server's event loop and return its result (blocking)."""
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(timeout)

    @property
    def ws(self) -> str:
        """The chat websocket's URL."""
        return f"ws://127.0.0.1:{self.port}/ws/chat"

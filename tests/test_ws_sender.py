"""The socket's sender task against a fake websocket: how it ends when the client lags or the store fails."""

from __future__ import annotations

import asyncio
import logging
from typing import cast

import pytest
from fastapi import WebSocket

from app.conversation.subscriber import Subscriber
from app.store.records import StoredPayload
from app.web.socket import _sender


class FakeSocket:
    """What the sender uses of a websocket; sends wait while ``reading`` is clear, like a client not reading."""

    def __init__(self) -> None:
        self.sent: list[str] = []
        self.closed: tuple[int, str] | None = None
        self.reading = asyncio.Event()
        self.reading.set()

    async def send_text(self, data: str) -> None:
        await self.reading.wait()
        self.sent.append(data)

    async def close(self, code: int = 1000, reason: str | None = None) -> None:
        self.closed = (code, reason or "")


def event(seq: int) -> StoredPayload:
    return StoredPayload(seq, f'{{"type":"delta","seq":{seq}}}')


async def test_a_store_failure_mid_replay_closes_with_1011_and_one_log_line(
    caplog: pytest.LogCaptureFixture,
) -> None:
    async def read(after: int, limit: int) -> list[StoredPayload]:
        if after >= 100:
            raise ConnectionError("database unavailable")
        return [event(seq) for seq in range(after + 1, after + limit + 1)]

    subscriber = Subscriber(last_seq=0, page_size=100)
    await subscriber.start_replay(read)
    websocket = FakeSocket()
    with caplog.at_level(logging.INFO):
        await asyncio.wait_for(_sender(cast(WebSocket, websocket), subscriber), 5)
    assert len(websocket.sent) == 100
    assert websocket.closed is not None
    assert websocket.closed[0] == 1011
    assert len(caplog.records) == 1
    assert caplog.records[0].exc_info is None
    assert "database unavailable" in caplog.records[0].getMessage()


async def test_a_client_that_stops_reading_gets_4408_after_the_frame_in_flight() -> None:
    subscriber = Subscriber(last_seq=0, max_queue=100)
    subscriber.finish_replay()
    websocket = FakeSocket()
    websocket.reading.clear()
    sender = asyncio.create_task(_sender(cast(WebSocket, websocket), subscriber))
    subscriber.deliver(1, event(1).payload)
    await asyncio.sleep(0.01)  # the sender is now stuck sending seq 1
    for seq in range(2, 103):
        subscriber.deliver(seq, event(seq).payload)
    websocket.reading.set()
    await asyncio.wait_for(sender, 5)
    assert websocket.sent == [event(1).payload]
    assert websocket.closed is not None
    assert websocket.closed[0] == 4408

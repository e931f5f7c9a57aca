"""Replays through the service on a real SQLite store: a 12,000-event conversation, paged, then live."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Sequence
from pathlib import Path

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from app.conversation.service import ChatService
from app.conversation.subscriber import Subscriber
from app.errors import ErrorCode, ShopchatError
from app.store.migrate import upgrade
from app.store.records import StoredPayload
from app.store.store import Store
from tests.conftest import sqlite_url
from tests.conversation.rig import start_service
from tests.conversation.test_service import CONFIG
from tests.fakes import ScriptedModel
from tests.history import write_long_conversation

LONG = 12_000


class PagedReadsStore(Store):
    """A store that records how many events each replay read asked for and got."""

    def __init__(self, engine: AsyncEngine) -> None:
        super().__init__(engine)
        self.reads: list[tuple[int | None, int]] = []

    async def payloads_after(
        self, conversation_id: str, seq: int, limit: int | None = None
    ) -> list[StoredPayload]:
        """Read, and record the limit and the number of events read."""
        found = await super().payloads_after(conversation_id, seq, limit)
        self.reads.append((limit, len(found)))
        return found


@pytest.fixture
async def service(tmp_path: Path) -> AsyncIterator[ChatService]:
    store = PagedReadsStore(Store.from_url(sqlite_url(tmp_path / "chat.db")).engine)
    await upgrade(store.engine)
    chat, _ = start_service(store, ScriptedModel(), CONFIG)
    try:
        yield chat
    finally:
        await chat.close()
        await store.close()


def seqs(frames: Sequence[str]) -> list[int]:
    return [json.loads(frame)["seq"] for frame in frames]


async def take_until(subscriber: Subscriber, last: str, largest: list[int]) -> list[str]:
    """Frames until one contains ``last``, noting the largest the outbox grew (30 s at most)."""
    frames: list[str] = []
    async with asyncio.timeout(30):
        while not frames or last not in frames[-1]:
            largest.append(subscriber.outbox.qsize())
            frame = await subscriber.next()
            assert frame is not None
            frames.append(frame)
    return frames


async def test_a_12000_event_conversation_replays_in_pages_then_goes_live(service: ChatService) -> None:
    store = service.store
    assert isinstance(store, PagedReadsStore)
    cid = store.new_conversation_id()
    await write_long_conversation(store, cid, LONG)
    hub = await service.open(cid, None)
    subscriber = Subscriber(last_seq=0)
    await service.attach(hub, subscriber)
    largest: list[int] = []
    replay = await take_until(subscriber, f'"seq":{LONG},', largest)
    await service.submit(hub, subscriber, "live", "hi")
    live = await take_until(subscriber, '"type":"done"', largest)
    assert seqs(replay) == list(range(1, LONG + 1))
    assert seqs(live) == list(range(LONG + 1, LONG + 1 + len(live)))
    assert json.loads(live[0])["message_id"] == "live"
    # Never the whole conversation at once: pages from the store, and at most a page waiting to be sent.
    assert all(limit == subscriber.page_size for limit, _ in store.reads)
    assert len(store.reads) >= LONG // subscriber.page_size
    assert max(largest) <= subscriber.page_size


async def test_events_published_during_a_long_replay_come_after_it_once_each(service: ChatService) -> None:
    cid = service.store.new_conversation_id()
    await write_long_conversation(service.store, cid, LONG)
    hub = await service.open(cid, None)
    subscriber = Subscriber(last_seq=0)
    await service.attach(hub, subscriber)
    largest: list[int] = []
    first = await take_until(subscriber, '"seq":1000,', largest)
    # A message from another tab of the same conversation, answered while this socket is still replaying.
    other = Subscriber(last_seq=hub.journal.published_seq)
    await service.attach(hub, other)
    await service.submit(hub, other, "meanwhile", "hi")
    rest = await take_until(subscriber, '"message_id":"meanwhile","route"', largest)
    assert seqs(first + rest) == list(range(1, len(first) + len(rest) + 1))
    assert json.loads(rest[-1])["message_id"] == "meanwhile"


async def test_a_last_seq_beyond_the_newest_event_is_refused(service: ChatService) -> None:
    cid = service.store.new_conversation_id()
    await write_long_conversation(service.store, cid, 24)
    hub = await service.open(cid, None)
    subscriber = Subscriber(last_seq=25)
    with pytest.raises(ShopchatError) as refused:
        await service.attach(hub, subscriber)
    assert refused.value.code == ErrorCode.INVALID_VALUE
    assert hub.sockets == 0
    assert subscriber.outbox.empty()

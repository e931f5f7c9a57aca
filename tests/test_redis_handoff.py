"""Two processes on one Redis: an operator connected to one hears of a customer asking for a person on the
other (the queue hint), and watches that conversation's handoff live."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import orjson
import pytest
from redis.asyncio import Redis

from app.bus.redis_broadcaster import RedisBroadcaster
from app.conversation.handoff import OPERATORS_CHANNEL, HandoffDesk
from app.conversation.pipeline import ChatConfig
from app.conversation.service import ChatService
from app.conversation.subscriber import Subscriber
from app.events import EVENT, Handoff
from app.store.migrate import upgrade
from app.store.store import Store
from tests.conftest import sqlite_url
from tests.conversation.rig import start_service
from tests.fakes import ScriptedModel

CONFIG = ChatConfig(
    context_tokens=16_000,
    max_output_tokens=512,
    max_message_chars=2000,
    abandon_after_s=5,
    recommendations_n=4,
)


@pytest.fixture
async def processes(redis_url: str, tmp_path: Path) -> AsyncIterator[tuple[ChatService, RedisBroadcaster]]:
    """The customer's process (a service publishing through Redis) and the operator's process's bus."""
    redis = Redis.from_url(redis_url)
    here, there = (
        RedisBroadcaster(redis, channel="test:handoff"),
        RedisBroadcaster(redis, channel="test:handoff"),
    )
    await here.start()
    await there.start()
    store = Store.from_url(sqlite_url(tmp_path / "chat.db"))
    await upgrade(store.engine)
    service, _ = start_service(store, ScriptedModel(), CONFIG, desk=HandoffDesk())
    # The rig records in process; publish through Redis instead, as the server does with SHOPCHAT_REDIS_URL.
    service.broadcaster = here
    service.eventlog.broadcaster = here
    service.desk.broadcaster = here
    yield service, there
    await service.close()
    await store.close()
    await here.aclose()
    await there.aclose()
    await redis.aclose()


def live() -> Subscriber:
    subscriber = Subscriber(last_seq=0)
    subscriber.finish_replay()
    return subscriber


async def test_an_operator_on_another_process_hears_of_a_handoff_and_sees_it_live(
    processes: tuple[ChatService, RedisBroadcaster],
) -> None:
    service, there = processes
    hints, watching = live(), live()
    there.subscribe(OPERATORS_CHANNEL, hints)
    hub = service.new_hub(None)
    await service.attach(hub, live())
    there.subscribe(hub.conversation_id, watching)
    await service.submit(hub, Subscriber(last_seq=0), "m1", "can I talk to a person?")
    hint = await asyncio.wait_for(hints.next(), 5)
    assert hint is not None
    assert orjson.loads(hint) == {"type": "queue_changed", "conversation_id": hub.conversation_id}
    async with asyncio.timeout(5):
        while True:
            payload = await watching.next()
            assert payload is not None
            event = EVENT.validate_json(payload)
            if isinstance(event, Handoff):
                break
    assert event.status == "waiting"

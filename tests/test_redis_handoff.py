"""Two processes on one Redis and one database: an operator connected to one hears of a customer asking for a
person on the other, watches the handoff live, and taking over there stops the answer the other is writing."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path

import orjson
import pytest
from redis.asyncio import Redis

from app.bus.redis_broadcaster import RedisBroadcaster
from app.bus.redis_leases import RedisLeases
from app.conversation.handoff import OPERATORS_CHANNEL, HandoffDesk
from app.conversation.owner import Operator
from app.conversation.pipeline import ChatConfig
from app.conversation.service import ChatService
from app.conversation.subscriber import Subscriber
from app.events import EVENT, Delta, Done, Error, Handoff, StoredEvent
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


@dataclass
class Process:
    """One server process: its store connection, bus and service."""

    store: Store
    bus: RedisBroadcaster
    service: ChatService


@pytest.fixture
async def processes(redis_url: str, tmp_path: Path) -> AsyncIterator[tuple[Process, Process]]:
    redis = Redis.from_url(redis_url)
    url = sqlite_url(tmp_path / "chat.db")
    await upgrade(url)
    started: list[Process] = []
    for _ in range(2):
        store = Store.from_url(url)
        bus = RedisBroadcaster(redis, channel="test:handoff")
        await bus.start()
        model = ScriptedModel(chunks=[f"w{i} " for i in range(300)], delay_s=0.01)
        leases = RedisLeases(redis)
        service, _ = start_service(store, model, CONFIG, desk=HandoffDesk(), bus=bus, leases=leases)
        started.append(Process(store, bus, service))
    yield started[0], started[1]
    for process in started:
        await process.service.close()
        await process.bus.aclose()
        await process.store.close()
    await redis.aclose()


def live() -> Subscriber:
    subscriber = Subscriber(last_seq=0)
    subscriber.finish_replay()
    return subscriber


async def until(condition: Callable[[], object]) -> None:
    async with asyncio.timeout(10):
        while True:
            if condition():
                return
            await asyncio.sleep(0.01)


async def test_an_operator_on_another_process_hears_of_a_handoff_and_sees_it_live(
    processes: tuple[Process, Process],
) -> None:
    here, there = processes
    hints, watching = live(), live()
    there.bus.subscribe(OPERATORS_CHANNEL, hints)
    hub = here.service.new_hub(None)
    await here.service.attach(hub, live())
    there.bus.subscribe(hub.conversation_id, watching)
    await here.service.submit(hub, Subscriber(last_seq=0), "m1", "can I talk to a person?")
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


async def test_taking_over_on_another_process_stops_the_answer_being_written(
    processes: tuple[Process, Process],
) -> None:
    here, there = processes
    hub = here.service.new_hub(None)
    seen: list[StoredEvent] = []
    customer = live()
    await here.service.attach(hub, customer)

    async def read() -> None:
        while (payload := await customer.next()) is not None:
            seen.append(EVENT.validate_json(payload))

    reader = asyncio.create_task(read())
    await here.service.submit(hub, Subscriber(last_seq=0), "m1", "tell me a long story")
    await until(lambda: any(isinstance(e, Delta) for e in seen))
    await there.service.take(hub.conversation_id, Operator(1, "anna"))
    await until(lambda: any(isinstance(e, Done) for e in seen))
    await asyncio.sleep(0.2)
    reader.cancel()
    terminal = [e for e in seen if isinstance(e, Done | Error)]
    assert len(terminal) == 1
    assert isinstance(terminal[0], Done)
    assert terminal[0].stopped
    assert hub.owner.state == "human"
    stored = await here.store.events_after(hub.conversation_id, 0)
    assert [e.seq for e in stored] == list(range(1, len(stored) + 1))
    assert any(isinstance(e, Handoff) and e.status == "joined" for e in stored)

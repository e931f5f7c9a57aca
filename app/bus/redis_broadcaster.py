"""``Broadcaster`` over Redis pub/sub: a conversation's sockets may be connected to any process.

Every event is stored (with its ``seq``) before it is published, so the bus carries only live fan-out, never
the record: pub/sub, fire and forget, is enough. A socket that misses something reads it from the store when
it reconnects with its ``last_seq``, and subscribers drop any ``seq`` they already have. Each process listens on
one channel for every conversation from the moment it starts, so a socket that subscribes and then replays
from the store can never fall in a gap between the two; it receives other processes' events and hands those
of conversations it has sockets for to them. Its own events go to its own sockets directly, not via Redis.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import uuid
from collections.abc import Callable

from redis.asyncio import Redis
from redis.exceptions import RedisError

from app.conversation.broadcaster import Control, InProcessBroadcaster
from app.conversation.subscriber import Subscriber

log = logging.getLogger("shopchat.bus")


class RedisBroadcaster:
    """Implements ``app.conversation.broadcaster.Broadcaster``; ``start``/``aclose`` run its two tasks."""

    def __init__(self, redis: Redis, *, channel: str = "shopchat:events", max_pending: int = 100_000) -> None:
        self.redis = redis
        self.channel = channel
        self.origin = uuid.uuid4().hex
        self.local = InProcessBroadcaster()
        self.max_pending = max_pending
        self._outgoing: asyncio.Queue[str] = asyncio.Queue()
        self._tasks: list[asyncio.Task[None]] = []
        self._listening = asyncio.Event()
        self._dropped = 0
        self._on_control: Callable[[str, Control], None] = lambda _c, _m: None
        self._on_activity: Callable[[str], None] = lambda _c: None

    async def start(self, timeout_s: float = 10.0) -> None:
        """Listen to the channel (returns once subscribed) and start publishing."""
        self._tasks = [
            asyncio.create_task(self._listen(), name="bus-listen"),
            asyncio.create_task(self._publish(), name="bus-publish"),
        ]
        await asyncio.wait_for(self._listening.wait(), timeout_s)

    async def aclose(self) -> None:
        """Publish what is waiting (briefly), then stop both tasks."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._outgoing.join(), 2.0)
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks = []

    # ---- Broadcaster -------------------------------------------------------------------------------

    def subscribe(self, conversation_id: str, subscriber: Subscriber) -> None:
        """Start delivering the conversation's events, from every process, to ``subscriber``."""
        self.local.subscribe(conversation_id, subscriber)

    def unsubscribe(self, conversation_id: str, subscriber: Subscriber) -> None:
        """Stop delivering to ``subscriber``."""
        self.local.unsubscribe(conversation_id, subscriber)

    def publish(self, conversation_id: str, seq: int, payload: str) -> None:
        """Deliver to this process's sockets now and queue the event for the other processes."""
        self.local.publish(conversation_id, seq, payload)
        if self._outgoing.qsize() >= self.max_pending:
            # Redis is gone for long: other processes' sockets catch up from the store when they reconnect.
            self._dropped += 1
            return
        self._outgoing.put_nowait(f"{self.origin}\n{conversation_id}\n{seq}\n{payload}")

    def close(self) -> None:
        """Close every local subscriber's outbox."""
        self.local.close()

    # ---- Peers -------------------------------------------------------------------------------------

    def send(self, conversation_id: str, message: Control) -> None:
        """Queue a control message for the other processes (``seq`` 0 marks it: events start at 1)."""
        self._outgoing.put_nowait(f"{self.origin}\n{conversation_id}\n0\n{json.dumps(message)}")

    def listen(self, on_control: Callable[[str, Control], None], on_activity: Callable[[str], None]) -> None:
        """Hand other processes' control messages and event notices to the service."""
        self._on_control = on_control
        self._on_activity = on_activity

    # ---- tasks -------------------------------------------------------------------------------------

    async def _publish(self) -> None:
        while True:
            messages = [await self._outgoing.get()]
            while not self._outgoing.empty() and len(messages) < 512:
                messages.append(self._outgoing.get_nowait())
            try:
                async with self.redis.pipeline(transaction=False) as pipe:
                    for message in messages:
                        pipe.publish(self.channel, message)
                    await pipe.execute()
            except (RedisError, OSError) as exc:
                log.error(
                    "could not publish %d events to Redis: %s: %s", len(messages), type(exc).__name__, exc
                )
                await asyncio.sleep(1.0)
            finally:
                for _ in messages:
                    self._outgoing.task_done()
            if self._dropped:
                log.error("dropped %d events for other processes (Redis too slow or down)", self._dropped)
                self._dropped = 0

    async def _listen(self) -> None:
        while True:
            pubsub = self.redis.pubsub(ignore_subscribe_messages=True)
            try:
                await pubsub.subscribe(self.channel)
                self._listening.set()
                async for message in pubsub.listen():
                    data = message.get("data")
                    if isinstance(data, bytes):
                        self._deliver(data.decode())
            except (RedisError, OSError) as exc:
                log.error("lost the Redis event bus (%s: %s); reconnecting", type(exc).__name__, exc)
                await asyncio.sleep(1.0)
            finally:
                with contextlib.suppress(Exception):
                    await pubsub.aclose()

    def _deliver(self, data: str) -> None:
        try:
            origin, conversation_id, seq, payload = data.split("\n", 3)
            number = int(seq)
        except ValueError:
            log.warning("ignored a malformed message on %s", self.channel)
            return
        if origin == self.origin:
            return
        if number == 0:
            try:
                message = json.loads(payload)
            except ValueError:
                log.warning("ignored a malformed control message on %s", self.channel)
                return
            if isinstance(message, dict):
                self._on_control(conversation_id, {str(k): str(v) for k, v in message.items()})
            return
        self._on_activity(conversation_id)
        self.local.publish(conversation_id, number, payload)

"""``Broadcaster`` over Redis pub/sub: a conversation's sockets may be connected to any process.

Every event is stored (with its ``seq``) before it is published, so the bus carries only live fan-out, never
the record: pub/sub, fire and forget, is enough. A socket that misses something reads it from the store when
it reconnects with its ``last_seq``, and subscribers drop any ``seq`` they already have. Each process listens on
one channel for every conversation from the moment it starts, so a socket that subscribes and then replays
from the store can never fall in a gap between the two; it receives other processes' events and hands those
of conversations it has sockets for to them. Its own events go to its own sockets directly, not via Redis.

Events go out in batches: whatever was published while the previous batch was on its way to Redis leaves as one
``PUBLISH`` (see ``encode_batch``), because every process reads every message on the channel, its own
included, and reading a pub/sub message costs the event loop far more than its bytes (tens of µs in
redis-py). One message per event made each process's loop spend about a tenth of its time on the bus.
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


_BATCH = "shopchat-batch/1"
"""The first line of a batch message; a message without it is one event in the older single-event format."""


def encode_batch(origin: str, events: list[tuple[str, int, str]]) -> str:
    """One channel message for ``events`` (conversation, seq, payload) of process ``origin``, in order.

    Each event is its conversation id, its seq and its payload's length on a line each, then the payload, so a
    payload may hold anything, newlines included.
    """
    parts = [_BATCH, "\n", origin, "\n"]
    for conversation_id, seq, payload in events:
        parts += [conversation_id, "\n", str(seq), "\n", str(len(payload)), "\n", payload]
    return "".join(parts)


class MalformedMessageError(ValueError):
    """A channel message that is neither a batch nor an event of the older format."""


def decode_batch(data: str) -> tuple[str, list[tuple[str, int, str]]]:
    """The origin and the events of a channel message (a batch, or one event of the older format)."""
    try:
        return _decode(data)
    except ValueError as exc:
        raise MalformedMessageError(f"{exc} in {data[:80]!r}") from None


def _decode(data: str) -> tuple[str, list[tuple[str, int, str]]]:
    if not data.startswith(_BATCH + "\n"):
        origin, conversation_id, seq, payload = data.split("\n", 3)
        return origin, [(conversation_id, int(seq), payload)]
    pos = len(_BATCH) + 1
    end = data.index("\n", pos)
    origin = data[pos:end]
    pos = end + 1
    events = []
    while pos < len(data):
        conv_end = data.index("\n", pos)
        seq_end = data.index("\n", conv_end + 1)
        length_end = data.index("\n", seq_end + 1)
        length = int(data[seq_end + 1 : length_end])
        payload_end = length_end + 1 + length
        if length < 0 or payload_end > len(data):
            raise ValueError("a payload runs past the end of the batch")
        events.append(
            (data[pos:conv_end], int(data[conv_end + 1 : seq_end]), data[length_end + 1 : payload_end])
        )
        pos = payload_end
    return origin, events


class RedisBroadcaster:
    """Implements ``app.conversation.broadcaster.Broadcaster``; ``start``/``aclose`` run its two tasks."""

    def __init__(
        self,
        redis: Redis,
        *,
        channel: str = "shopchat:events",
        max_pending: int = 100_000,
        max_batch_chars: int = 256 * 1024,
    ) -> None:
        self.redis = redis
        self.channel = channel
        self.origin = uuid.uuid4().hex
        self.local = InProcessBroadcaster()
        self.max_pending = max_pending
        self.max_batch_chars = max_batch_chars
        # Events and control messages (seq 0) for the other processes, in publishing order.
        self._pending: list[tuple[str, int, str]] = []
        self._wake = asyncio.Event()
        self._idle = asyncio.Event()
        self._idle.set()
        self._tasks: list[asyncio.Task[None]] = []
        self._listening = asyncio.Event()
        self._dropped = 0
        self._own_prefix = f"{_BATCH}\n{self.origin}\n".encode()
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
            await asyncio.wait_for(self._idle.wait(), 2.0)
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
        if len(self._pending) >= self.max_pending:
            # Redis is gone for long: other processes' sockets catch up from the store when they reconnect.
            self._dropped += 1
            return
        self._queue((conversation_id, seq, payload))

    def close(self) -> None:
        """Close every local subscriber's outbox."""
        self.local.close()

    # ---- Peers -------------------------------------------------------------------------------------

    def send(self, conversation_id: str, message: Control) -> None:
        """Queue a control message for the other processes (``seq`` 0 marks it: events start at 1)."""
        self._queue((conversation_id, 0, json.dumps(message)))

    def listen(self, on_control: Callable[[str, Control], None], on_activity: Callable[[str], None]) -> None:
        """Hand other processes' control messages and event notices to the service."""
        self._on_control = on_control
        self._on_activity = on_activity

    # ---- tasks -------------------------------------------------------------------------------------

    def _queue(self, event: tuple[str, int, str]) -> None:
        self._pending.append(event)
        self._idle.clear()
        self._wake.set()

    def _take_batch(self) -> list[tuple[str, int, str]]:
        """The oldest pending events up to ``max_batch_chars`` of payload (at least one)."""
        size, count = 0, 0
        for _, _, payload in self._pending:
            size += len(payload)
            if count and size > self.max_batch_chars:
                break
            count += 1
        batch = self._pending[:count]
        del self._pending[:count]
        return batch

    async def _publish(self) -> None:
        # A connection of its own, outside the shared pool: the fan-out never waits for (or fails on) a pool
        # that a burst of connecting sockets has used up, and one task publishing in order needs just one.
        pool = self.redis.connection_pool
        connection = pool.connection_class(**pool.connection_kwargs)
        try:
            while True:
                await self._wake.wait()
                self._wake.clear()
                while self._pending:
                    batch = self._take_batch()
                    try:
                        await connection.send_command(
                            "PUBLISH", self.channel, encode_batch(self.origin, batch)
                        )
                        await connection.read_response()
                    except (RedisError, OSError) as exc:
                        log.error(
                            "could not publish %d events to Redis: %s: %s",
                            len(batch),
                            type(exc).__name__,
                            exc,
                        )
                        await connection.disconnect()
                        await asyncio.sleep(1.0)
                self._settle()
        finally:
            await connection.disconnect()

    def _settle(self) -> None:
        if self._dropped:
            log.error("dropped %d events for other processes (Redis too slow or down)", self._dropped)
            self._dropped = 0
        if not self._pending:
            self._idle.set()

    async def _listen(self) -> None:
        while True:
            pubsub = self.redis.pubsub(ignore_subscribe_messages=True)
            try:
                await pubsub.subscribe(self.channel)
                self._listening.set()
                async for message in pubsub.listen():
                    data = message.get("data")
                    # Our own batches come back too: skipped before decoding.
                    if isinstance(data, bytes) and not data.startswith(self._own_prefix):
                        self._deliver(data.decode())
            except (RedisError, OSError) as exc:
                log.error("lost the Redis event bus (%s: %s); reconnecting", type(exc).__name__, exc)
                await asyncio.sleep(1.0)
            finally:
                with contextlib.suppress(Exception):
                    await pubsub.aclose()

    def _deliver(self, data: str) -> None:
        try:
            origin, events = decode_batch(data)
        except MalformedMessageError:
            log.warning("ignored a malformed message on %s", self.channel)
            return
        if origin == self.origin:
            return
        for conversation_id, number, payload in events:
            if number == 0:
                self._control(conversation_id, payload)
            else:
                self._on_activity(conversation_id)
                self.local.publish(conversation_id, number, payload)

    def _control(self, conversation_id: str, payload: str) -> None:
        try:
            message = json.loads(payload)
        except ValueError:
            log.warning("ignored a malformed control message on %s", self.channel)
            return
        if isinstance(message, dict):
            self._on_control(conversation_id, {str(k): str(v) for k, v in message.items()})

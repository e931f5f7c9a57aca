"""``/ws/operator``: the operators' inbox live — the queue, one watched conversation, and their actions.

Signed in by the operator session (cookie or bearer header), checked before the socket is accepted; a foreign
``Origin`` is refused too. The queue is re-read from the store whenever a hint arrives on the broadcaster's
``OPERATORS_CHANNEL``, and a watched conversation is an ordinary subscriber of its events: both go through
the same ``Broadcaster`` as the customers' sockets, so with Redis an operator on one process sees changes made
on another. Frames are limited per operator (``FRAMES_PER_MINUTE``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass
from urllib.parse import urlsplit

from fastapi import APIRouter, WebSocket
from starlette.websockets import WebSocketDisconnect, WebSocketDisconnected, WebSocketState

from app.conversation.handoff import OPERATORS_CHANNEL
from app.conversation.hub import Hub
from app.conversation.owner import Operator
from app.conversation.subscriber import Subscriber
from app.errors import ErrorCode, ShopchatError
from app.events import Error
from app.web.inbox import Inbox
from app.web.operator_frames import (
    ActionDone,
    Hello,
    OpClose,
    OpConversation,
    OperatorInfo,
    OpPing,
    OpQueue,
    OpRelease,
    OpSay,
    OpTake,
    Pong,
    event_frame,
    parse_operator_frame,
)
from app.web.operator_routes import authenticate_websocket
from app.web.ratelimit import Counters, LocalCounters, Rate

log = logging.getLogger("shopchat.operators")
router = APIRouter()

FRAMES_PER_MINUTE = 120
FRAMES_BURST = 30
MAX_FRAME_CHARS = 16_384
MAX_WAITING_FRAMES = 2000
CLOSE_UNAUTHORIZED = 4401
CLOSE_FORBIDDEN = 4403
CLOSE_TOO_SLOW = 4408


def _same_origin(websocket: WebSocket, allowed: tuple[str, ...]) -> bool:
    """A browser's socket must come from this server's own pages (or an allowed origin); scripts send none."""
    origin = websocket.headers.get("origin")
    if origin is None:
        return True
    if origin in allowed:
        return True
    return urlsplit(origin).netloc == websocket.headers.get("host")


@dataclass(eq=False)
class _Watch:
    """The conversation an operator is watching: its hub, its subscriber and the task forwarding its events."""

    hub: Hub
    subscriber: Subscriber
    pump: asyncio.Task[None]


class OperatorConnection:
    """One operator socket: an outbox, the queue's hints, at most one watched conversation."""

    def __init__(self, websocket: WebSocket, inbox: Inbox, operator: Operator, counters: Counters) -> None:
        self.websocket = websocket
        self.inbox = inbox
        self.service = inbox.service
        self.operator = operator
        self.counters = counters
        self.outbox: asyncio.Queue[str | None] = asyncio.Queue()
        self.hints = Subscriber(last_seq=0)
        self.hints.finish_replay()
        self.watch: _Watch | None = None
        self.rate = Rate(FRAMES_PER_MINUTE, FRAMES_BURST)

    def send(self, payload: str) -> None:
        """Queue a frame; a socket this far behind is closed (it reconnects and reads the queue again)."""
        if self.outbox.qsize() >= MAX_WAITING_FRAMES:
            while not self.outbox.empty():
                self.outbox.get_nowait()
            self.outbox.put_nowait(None)
            return
        self.outbox.put_nowait(payload)

    def error(self, code: ErrorCode, message: str, retry_after_s: float | None = None) -> None:
        """An ``error`` frame about the operator's last frame; the socket stays open."""
        self.send(Error(code=code, message=message, retry_after_s=retry_after_s).model_dump_json())

    async def run(self) -> None:
        """Serve the socket until the operator goes away."""
        broadcaster = self.service.broadcaster
        broadcaster.subscribe(OPERATORS_CHANNEL, self.hints)
        tasks = [
            asyncio.create_task(self._sender(), name="operator-send"),
            asyncio.create_task(self._queue_pump(), name="operator-queue"),
        ]
        try:
            self.send(
                Hello(operator=OperatorInfo(id=self.operator.id, name=self.operator.name)).model_dump_json()
            )
            await self._send_queue()
            await self._receive(tasks[0])
        finally:
            broadcaster.unsubscribe(OPERATORS_CHANNEL, self.hints)
            self.hints.close()
            self._unwatch()
            for task in tasks:
                task.cancel()
            for task in tasks:
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task

    async def _sender(self) -> None:
        try:
            while (payload := await self.outbox.get()) is not None:
                await self.websocket.send_text(payload)
            await self.websocket.close(code=CLOSE_TOO_SLOW, reason="too far behind; reconnect")
        except (WebSocketDisconnect, WebSocketDisconnected, RuntimeError):
            pass

    async def _queue_pump(self) -> None:
        while await self.hints.next() is not None:
            # Hints that came meanwhile are answered by the same read.
            while not self.hints.outbox.empty():
                if self.hints.outbox.get_nowait() is None:
                    return
            await self._send_queue()

    async def _send_queue(self) -> None:
        try:
            queue = await self.inbox.queue()
        except Exception:
            log.exception("could not read the operators' queue")
            self.error(
                ErrorCode.INTERNAL, "The queue could not be read; it is sent again on the next change."
            )
            return
        self.send(queue.model_dump_json())

    async def _receive(self, sender: asyncio.Task[None]) -> None:
        while self.websocket.client_state == WebSocketState.CONNECTED and not sender.done():
            message = await self.websocket.receive()
            if message["type"] == "websocket.disconnect":
                return
            raw = message.get("text")
            if raw is None:
                self.error(ErrorCode.BINARY_FRAME, "Binary frames are not supported; send JSON text.")
                continue
            if len(raw) > MAX_FRAME_CHARS:
                self.error(
                    ErrorCode.FRAME_TOO_LARGE, f"The frame is longer than {MAX_FRAME_CHARS:,} characters."
                )
                continue
            wait = await self.counters.take([(f"operator:{self.operator.id}", self.rate)])
            if wait is not None:
                self.error(ErrorCode.RATE_LIMITED, "Too many frames; wait a moment.", round(wait, 1))
                continue
            try:
                await self._handle(raw)
            except ShopchatError as exc:
                self.error(exc.code, exc.message)
            except Exception:
                log.exception("failed to handle an operator frame")
                self.error(ErrorCode.INTERNAL, "Something went wrong on our side.")

    async def _handle(self, raw: str) -> None:
        frame = parse_operator_frame(raw)
        if isinstance(frame, Error):
            self.send(frame.model_dump_json())
        elif isinstance(frame, OpQueue):
            await self._send_queue()
        elif isinstance(frame, OpConversation):
            await self._watch(frame.conversation_id, frame.last_seq)
        elif isinstance(frame, OpTake):
            await self.service.take(frame.conversation_id, self.operator)
            self._done("take", frame.conversation_id)
        elif isinstance(frame, OpSay):
            await self.service.say(frame.conversation_id, self.operator, frame.text)
            self._done("say", frame.conversation_id)
        elif isinstance(frame, OpRelease):
            await self.service.release(frame.conversation_id, self.operator)
            self._done("release", frame.conversation_id)
        elif isinstance(frame, OpClose):
            await self.service.close_conversation(frame.conversation_id, self.operator)
            self._done("close", frame.conversation_id)
        elif isinstance(frame, OpPing):
            self.send(Pong().model_dump_json())

    def _done(self, action: str, conversation_id: str) -> None:
        self.send(ActionDone(action=action, conversation_id=conversation_id).model_dump_json())

    async def _watch(self, conversation_id: str, last_seq: int) -> None:
        """Show a conversation: its details, then its events after ``last_seq`` (replayed, then live)."""
        self._unwatch()
        info = await self.inbox.conversation(conversation_id, last_seq)
        if info is None:
            raise ShopchatError("There is no such conversation.", code=ErrorCode.NOT_FOUND)
        hub = await self.service.operate(conversation_id)
        subscriber = Subscriber(last_seq=last_seq)
        try:
            await self.service.attach(hub, subscriber)
        finally:
            self.service.done_operating(hub)
        self.send(info.model_copy(update={"last_seq": hub.journal.published_seq}).model_dump_json())
        pump = asyncio.create_task(self._forward(conversation_id, subscriber), name="operator-watch")
        self.watch = _Watch(hub, subscriber, pump)

    async def _forward(self, conversation_id: str, subscriber: Subscriber) -> None:
        try:
            while (payload := await subscriber.next()) is not None:
                self.send(event_frame(conversation_id, payload))
        except Exception:
            log.exception("stopped forwarding %s to an operator", conversation_id)
            self.error(ErrorCode.INTERNAL, "The transcript stopped; open the conversation again.")

    def _unwatch(self) -> None:
        watch, self.watch = self.watch, None
        if watch is None:
            return
        watch.pump.cancel()
        self.service.detach(watch.hub, watch.subscriber)
        watch.subscriber.close()


@router.websocket("/ws/operator")
async def operator_socket(websocket: WebSocket) -> None:
    """An operator's inbox connection; see docs/protocol.md, "The operators' inbox"."""
    state = websocket.app.state
    inbox: Inbox | None = getattr(state, "inbox", None)
    if inbox is None:
        await websocket.close(code=CLOSE_FORBIDDEN)
        return
    if not _same_origin(websocket, state.ws_config.allowed_origins):
        log.warning("refused an operator websocket from origin %r", websocket.headers.get("origin", "")[:80])
        await websocket.close(code=CLOSE_FORBIDDEN)
        return
    session = await authenticate_websocket(websocket)
    if session is None:
        # Refused before it is accepted: the handshake gets HTTP 403 and no socket opens.
        await websocket.close(code=CLOSE_UNAUTHORIZED)
        return
    await websocket.accept()
    limits = getattr(state, "limits", None)
    counters: Counters = limits.counters if limits is not None else LocalCounters()
    connection = OperatorConnection(
        websocket, inbox, Operator(session.operator.id, session.operator.name), counters
    )
    inbox.presence.online += 1
    try:
        await connection.run()
    except WebSocketDisconnect:
        pass
    finally:
        inbox.presence.online -= 1

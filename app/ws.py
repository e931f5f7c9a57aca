"""The ``/ws/chat`` websocket: authentication, frame validation and the send/receive loops."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import time

from fastapi import APIRouter, WebSocket
from starlette.websockets import WebSocketDisconnect, WebSocketState

from app.api import ChatDep, SignerDep, WsConfigDep
from app.auth import verify_customer
from app.chat import ChatService, Hub, Subscriber
from app.errors import ErrorCode
from app.protocol import (
    ClientCancel,
    ClientFeedback,
    ClientMessage,
    ClientPing,
    Error,
    FeedbackSaved,
    Pong,
    Ready,
    parse_client_frame,
)
from app.wsconfig import WsConfig

log = logging.getLogger("shopchat.ws")
router = APIRouter()

CLOSE_BAD_REQUEST = 4400
CLOSE_UNAUTHORIZED = 4401
CLOSE_TOO_SLOW = 4408
_ID = re.compile(r"^[A-Za-z0-9_.:\-]{1,64}$")


class RateLimiter:
    """A token bucket: ``rate`` messages a minute with bursts of up to a fifth of that."""

    def __init__(self, per_minute: int) -> None:
        self.capacity = max(3.0, per_minute / 5)
        self.tokens = self.capacity
        self.rate = per_minute / 60.0
        self.updated = time.monotonic()

    def take(self) -> float | None:
        """Spend one token; None if allowed, else the seconds until one is available."""
        now = time.monotonic()
        self.tokens = min(self.capacity, self.tokens + (now - self.updated) * self.rate)
        self.updated = now
        if self.tokens >= 1:
            self.tokens -= 1
            return None
        return (1 - self.tokens) / self.rate


async def _refuse(websocket: WebSocket, code: ErrorCode, message: str, close_code: int) -> None:
    await websocket.accept()
    await websocket.send_text(Error(code=code, message=message).model_dump_json())
    await websocket.close(code=close_code, reason=message[:120])


async def _sender(websocket: WebSocket, subscriber: Subscriber) -> None:
    while True:
        frame = await subscriber.outbox.get()
        if frame is None:
            if subscriber.overflowed:
                await websocket.close(code=CLOSE_TOO_SLOW, reason="client too slow; reconnect with last_seq")
            return
        await websocket.send_text(frame.model_dump_json())


@router.websocket("/ws/chat")
async def chat_socket(websocket: WebSocket, service: ChatDep, signer: SignerDep, config: WsConfigDep) -> None:
    """One customer's chat connection; see docs/protocol.md."""
    origin = websocket.headers.get("origin")
    # Browsers always send Origin; refusing foreign ones before the handshake stops cross-site hijacking.
    if origin is not None and origin.rstrip("/") not in config.allowed_origins:
        log.warning("refused websocket from origin %s", origin)
        await websocket.close(code=1008)
        return

    params = websocket.query_params
    conversation_id = params.get("conversation_id") or None
    token = params.get("token") or None
    customer_id = params.get("customer_id") or None
    last_seq_raw = params.get("last_seq")
    if customer_id is not None and not _ID.match(customer_id):
        await _refuse(
            websocket, ErrorCode.INVALID_VALUE, "customer_id must be 1-64 of A-Z a-z 0-9 _ . : -", 4400
        )
        return
    if (
        customer_id is not None
        and conversation_id is None
        and config.customer_signing_key is not None
        and not verify_customer(config.customer_signing_key, customer_id, params.get("customer_sig") or "")
    ):
        # Without this anyone could claim to be any customer and ask about their purchases.
        await _refuse(
            websocket, ErrorCode.UNAUTHORIZED, "customer_id needs a valid customer_sig.", CLOSE_UNAUTHORIZED
        )
        return
    try:
        last_seq = int(last_seq_raw) if last_seq_raw not in (None, "") else None
        if last_seq is not None and last_seq < 0:
            raise ValueError
    except ValueError:
        await _refuse(websocket, ErrorCode.INVALID_VALUE, "last_seq must be a non-negative integer", 4400)
        return

    resumed = conversation_id is not None
    if conversation_id is None:
        conversation_id = service.store.new_conversation_id()
        last_seq = 0
    elif token is None or not re.fullmatch(r"[0-9a-f]{32}", conversation_id):
        await _refuse(
            websocket, ErrorCode.UNAUTHORIZED, "Resuming a conversation needs its id and token.", 4401
        )
        return
    elif not signer.verify(conversation_id, token):
        await _refuse(
            websocket, ErrorCode.UNAUTHORIZED, "The conversation token is not valid.", CLOSE_UNAUTHORIZED
        )
        return

    await websocket.accept()
    stored = await service.store.get_conversation(conversation_id) if resumed else None
    if stored is not None:
        customer_id = stored.customer_id
    # Without last_seq a resuming client has seen everything; replay nothing.
    start_seq = last_seq if last_seq is not None else (stored.last_seq if stored is not None else 0)
    subscriber = Subscriber(last_seq=start_seq)
    subscriber.deliver(
        Ready(
            conversation_id=conversation_id,
            token=signer.issue(conversation_id),
            customer_id=customer_id,
            last_seq=stored.last_seq if stored is not None else 0,
            resumed=resumed,
            max_message_chars=service.config.max_message_chars,
        )
    )
    hub = await service.attach(conversation_id, customer_id, subscriber)
    sender = asyncio.create_task(_sender(websocket, subscriber), name=f"send:{conversation_id}")
    try:
        await _receive_loop(websocket, service, hub, subscriber, config, sender)
    except WebSocketDisconnect:
        pass
    finally:
        service.detach(hub, subscriber)
        subscriber.close()
        sender.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await sender


async def _receive_loop(
    websocket: WebSocket,
    service: ChatService,
    hub: Hub,
    subscriber: Subscriber,
    config: WsConfig,
    sender: asyncio.Task[None],
) -> None:
    limiter = RateLimiter(config.rate_limit_per_minute)
    while websocket.client_state == WebSocketState.CONNECTED and not sender.done():
        message = await websocket.receive()
        if message["type"] == "websocket.disconnect":
            return
        raw = message.get("text")
        if raw is None:
            subscriber.send_now(
                Error(code=ErrorCode.BINARY_FRAME, message="Binary frames are not supported; send JSON text.")
            )
            continue
        if len(raw.encode()) > config.max_frame_bytes:
            subscriber.send_now(
                Error(
                    code=ErrorCode.FRAME_TOO_LARGE,
                    message=f"The frame is larger than {config.max_frame_bytes:,} bytes.",
                )
            )
            continue
        try:
            await _handle(raw, service, hub, subscriber, limiter)
        except Exception:
            # A bug must not take the conversation down with it; the client may retry.
            log.exception("failed to handle a frame in %s", hub.conversation_id)
            subscriber.send_now(Error(code=ErrorCode.INTERNAL, message="Something went wrong on our side."))


async def _handle(
    raw: str, service: ChatService, hub: Hub, subscriber: Subscriber, limiter: RateLimiter
) -> None:
    frame = parse_client_frame(raw)
    if isinstance(frame, Error):
        subscriber.send_now(frame)
    elif isinstance(frame, ClientMessage):
        problem = service.check_message(frame.text)
        if problem is not None:
            subscriber.send_now(problem.model_copy(update={"reply_to": frame.id}))
            return
        wait = limiter.take()
        if wait is not None:
            subscriber.send_now(
                Error(
                    code=ErrorCode.RATE_LIMITED,
                    message="You are sending messages too quickly. Please wait a moment.",
                    reply_to=frame.id,
                    retry_after_s=round(wait, 1),
                )
            )
            return
        await service.submit(hub, subscriber, frame.id, frame.text)
    elif isinstance(frame, ClientCancel):
        if not service.cancel(hub, frame.message_id):
            subscriber.send_now(
                Error(
                    code=ErrorCode.NOT_FOUND,
                    message="There is no answer in progress for that message.",
                    reply_to=frame.message_id,
                )
            )
    elif isinstance(frame, ClientFeedback):
        if await service.feedback(hub, frame.message_id, frame.rating, frame.comment):
            subscriber.send_now(FeedbackSaved(message_id=frame.message_id, rating=frame.rating))
        else:
            subscriber.send_now(
                Error(
                    code=ErrorCode.NOT_FOUND,
                    message="There is no answer to that message to rate.",
                    reply_to=frame.message_id,
                )
            )
    elif isinstance(frame, ClientPing):
        subscriber.send_now(Pong())

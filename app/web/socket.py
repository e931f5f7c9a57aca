"""The ``/ws/chat`` websocket: handshake, frame validation and the send/receive loops."""

from __future__ import annotations

import asyncio
import contextlib
import logging

from fastapi import APIRouter, WebSocket
from starlette.websockets import WebSocketDisconnect, WebSocketDisconnected, WebSocketState

from app.conversation.hub import Hub
from app.conversation.service import ChatService
from app.conversation.subscriber import Subscriber
from app.errors import ErrorCode, ShopchatError
from app.events import Error
from app.llm.health import ModelHealth
from app.store.store import Store
from app.web.auth import TokenSigner
from app.web.deps import ChatDep, LimitsDep, MetricsDep, ModelHealthDep, SignerDep, StoreDep, WsConfigDep
from app.web.frames import (
    ClientCancel,
    ClientConfirm,
    ClientFeedback,
    ClientMessage,
    ClientPing,
    ClientTicket,
    FeedbackSaved,
    Pong,
    Ready,
    parse_client_frame,
)
from app.web.handshake import (
    CLOSE_BAD_REQUEST,
    CLOSE_TOO_MANY,
    CLOSE_TOO_SLOW,
    CLOSE_UNAUTHORIZED,
    CLOSE_UNAVAILABLE,
    EXPIRED_MESSAGE,
    Handshake,
    Refusal,
    parse_handshake,
)
from app.web.limits import WsConfig
from app.web.ratelimit import ClientLimits, MessageBudget, client_key

log = logging.getLogger("shopchat.ws")
router = APIRouter()


async def _refuse(websocket: WebSocket, refusal: Refusal) -> None:
    if refusal.before_accept:
        log.warning("refused websocket: %s", refusal.message)
        await websocket.close(code=refusal.close_code)
        return
    await websocket.accept()
    assert refusal.code is not None
    error = Error(code=refusal.code, message=refusal.message, retry_after_s=refusal.retry_after_s)
    await websocket.send_text(error.model_dump_json())
    await websocket.close(code=refusal.close_code, reason=refusal.message[:120])


async def _sender(websocket: WebSocket, subscriber: Subscriber) -> None:
    try:
        while (payload := await subscriber.next()) is not None:
            await websocket.send_text(payload)
        if subscriber.overflowed:
            log.info("closing a websocket that fell %d frames behind (4408)", subscriber.max_queue)
            await websocket.close(code=CLOSE_TOO_SLOW, reason="client too slow; reconnect with last_seq")
    except (WebSocketDisconnect, WebSocketDisconnected):
        pass  # the client went away; the receive loop sees it too
    except Exception as exc:
        # The store failed mid-replay: one line, and a close code that tells the client to come back.
        log.warning("stopped sending to a websocket: %s: %s", type(exc).__name__, exc)
        with contextlib.suppress(Exception):
            await websocket.close(code=CLOSE_UNAVAILABLE, reason="temporarily unavailable")


@router.websocket("/ws/chat")
async def chat_socket(
    websocket: WebSocket,
    service: ChatDep,
    signer: SignerDep,
    config: WsConfigDep,
    limits: LimitsDep,
    store: StoreDep,
    health: ModelHealthDep,
    metrics: MetricsDep,
) -> None:
    """One customer's chat connection; see docs/protocol.md."""
    decision = parse_handshake(websocket.headers.get("origin"), websocket.query_params, config, signer)
    if isinstance(decision, Refusal):
        await _refuse(websocket, decision)
        return
    # The client's address, as uvicorn resolved it (X-Forwarded-For only from trusted proxies).
    client = client_key(websocket.client.host if websocket.client is not None else None)
    limited = await limits.connect(client, new_conversation=decision.conversation_id is None)
    if limited is not None:
        log.info("refused websocket from %s: %s", client, limited.message)
        retry = round(limited.retry_after_s, 1)
        await _refuse(
            websocket, Refusal(CLOSE_TOO_MANY, ErrorCode.RATE_LIMITED, limited.message, retry_after_s=retry)
        )
        return
    metrics.open_sockets.inc()
    try:
        await _converse(websocket, decision, client, service, signer, config, limits, store, health)
    finally:
        metrics.open_sockets.dec()
        await limits.disconnect(client)


UNAVAILABLE_MESSAGE = "The chat is temporarily unavailable. Please try again in a moment."


async def _unavailable(websocket: WebSocket) -> None:
    # The database is unreachable: say so in a frame the widget understands, then let it reconnect.
    await websocket.send_text(Error(code=ErrorCode.INTERNAL, message=UNAVAILABLE_MESSAGE).model_dump_json())
    await websocket.close(code=CLOSE_UNAVAILABLE, reason="temporarily unavailable")


async def _legacy_refusal(store: Store, signer: TokenSigner, conversation_id: str) -> Refusal | None:
    """A token from before tokens expired is good only for a stored conversation started within their lifetime."""
    try:
        record = await store.get_conversation(conversation_id)
    except Exception:
        log.exception("could not read conversation %s", conversation_id)
        return Refusal(CLOSE_UNAVAILABLE, ErrorCode.INTERNAL, UNAVAILABLE_MESSAGE)
    if record is None or signer.legacy_expired(record.created_at):
        return Refusal(CLOSE_UNAUTHORIZED, ErrorCode.UNAUTHORIZED, EXPIRED_MESSAGE)
    return None


async def _converse(
    websocket: WebSocket,
    decision: Handshake,
    client: str,
    service: ChatService,
    signer: TokenSigner,
    config: WsConfig,
    limits: ClientLimits,
    store: Store,
    health: ModelHealth,
) -> None:
    if decision.legacy_token:
        assert decision.conversation_id is not None
        refusal = await _legacy_refusal(store, signer, decision.conversation_id)
        if refusal is not None:
            await _refuse(websocket, refusal)
            return
    await websocket.accept()
    resumed = decision.conversation_id is not None
    try:
        if decision.conversation_id is None:
            hub = service.new_hub(decision.customer_id)
        else:
            hub = await service.open(decision.conversation_id, decision.customer_id)
    except Exception:
        log.exception("could not open conversation %s", decision.conversation_id)
        await _unavailable(websocket)
        return
    newest = hub.journal.published_seq
    # Without last_seq a resuming client has seen everything; replay nothing.
    subscriber = Subscriber(last_seq=decision.last_seq if decision.last_seq is not None else newest)
    subscriber.send(
        Ready(
            conversation_id=hub.conversation_id,
            token=signer.issue(hub.conversation_id, hub.customer_id),
            customer_id=hub.customer_id,
            last_seq=newest,
            resumed=resumed,
            max_message_chars=config.max_message_chars,
            model_state=health.report().state,
        ).model_dump_json()
    )
    try:
        await service.attach(hub, subscriber)
    except ShopchatError as exc:
        await websocket.send_text(Error(code=exc.code, message=exc.message).model_dump_json())
        await websocket.close(code=CLOSE_BAD_REQUEST, reason=exc.message[:120])
        return
    except Exception:
        log.exception("could not replay conversation %s", hub.conversation_id)
        await _unavailable(websocket)
        return
    sender = asyncio.create_task(_sender(websocket, subscriber), name=f"send:{hub.conversation_id}")
    try:
        budget = MessageBudget(limits, client, hub.conversation_id)
        await _receive_loop(websocket, service, hub, subscriber, config, sender, budget)
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
    limiter: MessageBudget,
) -> None:
    failures = 0
    while websocket.client_state == WebSocketState.CONNECTED and not sender.done():
        message = await websocket.receive()
        if message["type"] == "websocket.disconnect":
            return
        raw = message.get("text")
        if raw is None:
            _reply(
                subscriber,
                Error(
                    code=ErrorCode.BINARY_FRAME, message="Binary frames are not supported; send JSON text."
                ),
            )
            continue
        # surrogatepass: only an in-process client can hand over a lone surrogate; it is refused when parsed.
        if len(raw.encode(errors="surrogatepass")) > config.max_frame_bytes:
            _reply(
                subscriber,
                Error(
                    code=ErrorCode.FRAME_TOO_LARGE,
                    message=f"The frame is larger than {config.max_frame_bytes:,} bytes.",
                ),
            )
            continue
        try:
            await _handle(raw, service, hub, subscriber, limiter)
        except Exception as exc:
            # A bug must not take the conversation down with it; the client may retry. One traceback per
            # connection is enough to find it: a client repeating the frame must not flood the log.
            if failures == 0:
                log.exception("failed to handle a frame in %s", hub.conversation_id)
            else:
                log.error("failed to handle a frame in %s again: %s", hub.conversation_id, type(exc).__name__)
            failures += 1
            _reply(subscriber, Error(code=ErrorCode.INTERNAL, message="Something went wrong on our side."))


def _reply(subscriber: Subscriber, frame: Error | FeedbackSaved | Pong) -> None:
    subscriber.send(frame.model_dump_json())


async def _handle(
    raw: str, service: ChatService, hub: Hub, subscriber: Subscriber, limiter: MessageBudget
) -> None:
    frame = parse_client_frame(raw)
    if isinstance(frame, Error):
        _reply(subscriber, frame)
    elif isinstance(frame, ClientMessage):
        problem = service.check_message(frame.text)
        if problem is not None:
            _reply(subscriber, problem.model_copy(update={"reply_to": frame.id}))
            return
        wait = await limiter.take()
        if wait is not None:
            _reply(
                subscriber,
                Error(
                    code=ErrorCode.RATE_LIMITED,
                    message="You are sending messages too quickly. Please wait a moment.",
                    reply_to=frame.id,
                    retry_after_s=round(wait, 1),
                ),
            )
            return
        await service.submit(hub, subscriber, frame.id, frame.text)
    elif isinstance(frame, ClientConfirm):
        wait = await limiter.take()
        if wait is not None:
            _reply(
                subscriber,
                Error(
                    code=ErrorCode.RATE_LIMITED,
                    message="You are sending messages too quickly. Please wait a moment.",
                    retry_after_s=round(wait, 1),
                ),
            )
            return
        problem = await service.confirm(hub, subscriber, frame.action_id, frame.approve)
        if problem is not None:
            _reply(subscriber, problem)
    elif isinstance(frame, ClientCancel):
        if not service.cancel(hub, frame.message_id):
            _reply(
                subscriber,
                Error(
                    code=ErrorCode.NOT_FOUND,
                    message="There is no answer in progress for that message.",
                    reply_to=frame.message_id,
                ),
            )
    elif isinstance(frame, ClientFeedback):
        if await service.feedback(hub, frame.message_id, frame.rating, frame.comment):
            _reply(subscriber, FeedbackSaved(message_id=frame.message_id, rating=frame.rating))
        else:
            _reply(
                subscriber,
                Error(
                    code=ErrorCode.NOT_FOUND,
                    message="There is no answer to that message to rate.",
                    reply_to=frame.message_id,
                ),
            )
    elif isinstance(frame, ClientTicket):
        await _ticket(frame, service, hub, subscriber, limiter)
    elif isinstance(frame, ClientPing):
        _reply(subscriber, Pong())


async def _ticket(
    frame: ClientTicket, service: ChatService, hub: Hub, subscriber: Subscriber, limiter: MessageBudget
) -> None:
    """The customer's email address for the team; answered by a stored ``handoff`` event, or an error."""
    wait = await limiter.take()
    if wait is not None:
        _reply(
            subscriber,
            Error(
                code=ErrorCode.RATE_LIMITED,
                message="You are sending messages too quickly. Please wait a moment.",
                retry_after_s=round(wait, 1),
            ),
        )
        return
    try:
        await service.ticket(hub, frame.email)
    except ShopchatError as exc:
        _reply(subscriber, Error(code=exc.code, message=exc.message))

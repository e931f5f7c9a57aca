"""Conversations in flight: storing messages, answering them one at a time, fanning events out to sockets.

Every event is stored before it is sent, under the conversation's lock, so ``seq`` order is send order and a
reconnecting client can replay exactly what it missed.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal

from app.errors import ConfigError, ErrorCode, ModelError, ShopchatError
from app.models.base import ChatModel, ChatRequest, Finished, TextDelta
from app.prompts import PromptLibrary, customer_view
from app.protocol import (
    Accepted,
    Delta,
    Done,
    Error,
    FeedbackSaved,
    Pong,
    ProductCard,
    Ready,
    Recommendations,
    Reset,
    Route,
    Usage,
)
from app.recommender import Recommendation, Recommender
from app.router import IntentRouter
from app.shop import Shop
from app.store import MessageStatus, Store, StoredEvent
from app.tokens import ChatMessage, TokenCounter, fit_messages

log = logging.getLogger("shopchat.chat")
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")

OutFrame = Ready | Accepted | Delta | Reset | Recommendations | Done | Error | FeedbackSaved | Pong
StopReason = Literal["cancel", "abandoned", "shutdown"]


def _delta(message_id: str, text: str) -> Callable[[int], StoredEvent]:
    return lambda seq: Delta(seq=seq, message_id=message_id, text=text)


class Subscriber:
    """One websocket's view of a conversation: a bounded outbox, de-duplicated by ``seq``."""

    def __init__(self, last_seq: int, max_queue: int = 2000) -> None:
        self.last_seq = last_seq
        self.outbox: asyncio.Queue[OutFrame | None] = asyncio.Queue(maxsize=max_queue)
        self.overflowed = False
        self._replaying = True
        self._held: list[StoredEvent] = []

    def deliver(self, frame: OutFrame) -> None:
        """Queue a frame without blocking; live events wait while the replay is being read."""
        seq = getattr(frame, "seq", None)
        if seq is not None and self._replaying:
            self._held.append(frame)  # type: ignore[arg-type]
            return
        self._put(frame)

    def send_now(self, frame: OutFrame) -> None:
        """Queue a frame for this socket alone, bypassing the replay hold (still de-duplicated by ``seq``)."""
        seq = getattr(frame, "seq", None)
        if seq is not None and seq <= self.last_seq:
            # Already delivered (or about to be, by the replay): send it again explicitly as an acknowledgement.
            with contextlib.suppress(asyncio.QueueFull):
                self.outbox.put_nowait(frame)
            return
        self._put(frame)

    def _put(self, frame: OutFrame) -> None:
        seq = getattr(frame, "seq", None)
        if seq is not None:
            if seq <= self.last_seq:
                return
            self.last_seq = seq
        try:
            self.outbox.put_nowait(frame)
        except asyncio.QueueFull:
            # A client this far behind reconnects and replays from the store instead.
            self.overflowed = True
            with contextlib.suppress(asyncio.QueueFull):
                self.outbox.put_nowait(None)

    def finish_replay(self, stored: list[StoredEvent]) -> None:
        """Send the stored events, then the live ones that arrived meanwhile, each once and in order."""
        for event in stored:
            self._put(event)
        for event in sorted(self._held, key=lambda e: e.seq or 0):
            self._put(event)
        self._held.clear()
        self._replaying = False

    def close(self) -> None:
        """Tell the sender loop to stop."""
        with contextlib.suppress(asyncio.QueueFull):
            self.outbox.put_nowait(None)


@dataclass(slots=True)
class _Job:
    accepted: Accepted
    recovered: bool = False


@dataclass(slots=True)
class _Draft:
    """An answer being generated: what has been produced so far."""

    message_id: str
    route: Route = "chat"
    parts: list[str] = field(default_factory=list)
    cards: list[ProductCard] = field(default_factory=list)
    prompt_tokens: int = 0
    completion_tokens: int | None = None

    @property
    def text(self) -> str:
        """The answer so far."""
        return "".join(self.parts)


@dataclass(slots=True)
class _Running:
    message_id: str
    task: asyncio.Task[None]
    stop_reason: StopReason | None = None


@dataclass
class Hub:
    """The live state of one conversation in this process."""

    conversation_id: str
    customer_id: str | None
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    subscribers: set[Subscriber] = field(default_factory=set)
    jobs: asyncio.Queue[_Job] = field(default_factory=asyncio.Queue)
    queued: set[str] = field(default_factory=set)
    worker: asyncio.Task[None] | None = None
    running: _Running | None = None
    abandon_timer: asyncio.TimerHandle | None = None
    persisted: bool = False


@dataclass(frozen=True, slots=True)
class ChatConfig:
    """The settings the chat service needs."""

    context_tokens: int
    max_output_tokens: int
    max_message_chars: int
    abandon_after_s: float
    recommendations_n: int


class ChatService:
    """Owns every conversation's hub; the websocket layer calls into it."""

    def __init__(
        self,
        *,
        store: Store,
        model: ChatModel,
        router: IntentRouter,
        recommender: Recommender,
        prompts: PromptLibrary,
        shop: Shop,
        counter: TokenCounter,
        config: ChatConfig,
    ) -> None:
        self.store = store
        self.model = model
        self.router = router
        self.recommender = recommender
        self.prompts = prompts
        self.shop = shop
        self.counter = counter
        self.config = config
        self._hubs: dict[str, Hub] = {}
        self._system_prompt = prompts.system_prompt(shop)
        self._system_tokens = counter.count_messages([{"role": "system", "content": self._system_prompt}])
        if self._system_tokens >= config.context_tokens - config.max_output_tokens:
            raise ConfigError(
                f"the system prompt alone takes {self._system_tokens} tokens, more than SHOPCHAT_LLM_CONTEXT_TOKENS "
                f"({config.context_tokens}) minus SHOPCHAT_LLM_MAX_OUTPUT_TOKENS ({config.max_output_tokens}) leaves"
            )
        self._closing = False

    # ---- connections -------------------------------------------------------------------------------

    async def attach(self, conversation_id: str, customer_id: str | None, subscriber: Subscriber) -> Hub:
        """Subscribe a socket, replay what it missed, and resume answers a previous process left unfinished."""
        hub = self._hubs.get(conversation_id)
        if hub is None:
            hub = Hub(conversation_id=conversation_id, customer_id=customer_id)
            self._hubs[conversation_id] = hub
            await self._recover(hub)
        if hub.abandon_timer is not None:
            hub.abandon_timer.cancel()
            hub.abandon_timer = None
        hub.subscribers.add(subscriber)
        stored = await self.store.events_after(conversation_id, subscriber.last_seq)
        subscriber.finish_replay(stored)
        return hub

    def detach(self, hub: Hub, subscriber: Subscriber) -> None:
        """Unsubscribe; when nobody is left, start the abandon timer."""
        hub.subscribers.discard(subscriber)
        if hub.subscribers or self._closing:
            return
        if hub.running is None and hub.jobs.empty():
            self._drop(hub)
            return
        loop = asyncio.get_running_loop()
        hub.abandon_timer = loop.call_later(self.config.abandon_after_s, self._abandon, hub)

    def _abandon(self, hub: Hub) -> None:
        hub.abandon_timer = None
        if hub.subscribers:
            return
        log.info("conversation %s abandoned; stopping its answer", hub.conversation_id)
        if hub.running is not None:
            hub.running.stop_reason = "abandoned"
            hub.running.task.cancel()
        # Unstarted messages stay stored without an answer; the next connection recovers them.
        if hub.worker is not None:
            hub.worker.cancel()
        self._drop(hub)

    def _drop(self, hub: Hub) -> None:
        if self._hubs.get(hub.conversation_id) is hub and not hub.subscribers:
            del self._hubs[hub.conversation_id]

    async def _recover(self, hub: Hub) -> None:
        conversation = await self.store.get_conversation(hub.conversation_id)
        if conversation is None:
            return
        hub.persisted = True
        hub.customer_id = conversation.customer_id
        for accepted in await self.store.pending_answers(hub.conversation_id):
            log.info("resuming unfinished answer to %s in %s", accepted.message_id, hub.conversation_id)
            self._enqueue(hub, _Job(accepted=accepted, recovered=True))

    # ---- client frames -----------------------------------------------------------------------------

    def check_message(self, text: str) -> Error | None:
        """Reject a message before storing it when it can never be answered."""
        if not text.strip():
            return Error(code=ErrorCode.INVALID_VALUE, message="The message is empty.")
        if _UNSTORABLE.search(text):
            # PostgreSQL cannot store NUL and no database can store half a UTF-16 pair: refuse them up front
            # instead of failing after the client thinks the message was sent.
            return Error(
                code=ErrorCode.INVALID_VALUE,
                message="The message contains a NUL or invalid Unicode character.",
            )
        if len(text) > self.config.max_message_chars:
            return Error(
                code=ErrorCode.MESSAGE_TOO_LONG,
                message=f"The message is {len(text):,} characters long; the limit is "
                f"{self.config.max_message_chars:,}.",
            )
        budget = self.config.context_tokens - self.config.max_output_tokens - self._system_tokens
        tokens = self.counter.count_message({"role": "user", "content": text})
        if tokens > budget:
            return Error(
                code=ErrorCode.MESSAGE_TOO_MANY_TOKENS,
                message=f"The message is too long for the assistant ({tokens:,} tokens; at most "
                f"{max(budget, 0):,} fit). Please shorten it.",
            )
        return None

    async def submit(self, hub: Hub, subscriber: Subscriber, message_id: str, text: str) -> None:
        """Store a user message (idempotently) and queue its answer."""
        if not hub.persisted:
            await self.store.ensure_conversation(hub.conversation_id, hub.customer_id)
            hub.persisted = True
        async with hub.lock:
            accepted, is_new = await self.store.accept_user_message(hub.conversation_id, message_id, text)
            if is_new:
                self._broadcast(hub, accepted)
        if is_new:
            self._enqueue(hub, _Job(accepted=accepted))
        else:
            # The client resent a message we have: repeat the acknowledgement to it alone.
            subscriber.send_now(accepted)

    def cancel(self, hub: Hub, message_id: str) -> bool:
        """Stop the answer to ``message_id`` if it is being generated or waiting; False if neither."""
        running = hub.running
        if running is not None and running.message_id == message_id:
            running.stop_reason = "cancel"
            running.task.cancel()
            return True
        if message_id in hub.queued:
            hub.queued.discard(message_id)
            return True
        return False

    async def feedback(self, hub: Hub, message_id: str, rating: int, comment: str | None) -> bool:
        """Store thumbs up/down on an answer; False if there is no such answer."""
        return await self.store.set_feedback(hub.conversation_id, message_id, rating, comment)

    # ---- answering ---------------------------------------------------------------------------------

    def _enqueue(self, hub: Hub, job: _Job) -> None:
        hub.queued.add(job.accepted.message_id)
        hub.jobs.put_nowait(job)
        if hub.worker is None or hub.worker.done():
            hub.worker = asyncio.create_task(self._work(hub), name=f"answer:{hub.conversation_id}")

    async def _work(self, hub: Hub) -> None:
        while not hub.jobs.empty():
            job = hub.jobs.get_nowait()
            message_id = job.accepted.message_id
            if message_id not in hub.queued:
                await self._finish_cancelled_unstarted(hub, job)
                continue
            hub.queued.discard(message_id)
            task = asyncio.create_task(self._answer(hub, job), name=f"answer:{message_id}")
            hub.running = _Running(message_id=message_id, task=task)
            try:
                await asyncio.shield(task)
            except asyncio.CancelledError:
                current = asyncio.current_task()
                if current is None or not current.cancelling():
                    continue  # only the answer was stopped (stop button): go on with the next message
                # The worker itself is being cancelled (abandon/shutdown): stop the answer, wait for its cleanup.
                if not task.done():
                    if hub.running.stop_reason is None:
                        hub.running.stop_reason = "shutdown"
                    task.cancel()
                    with contextlib.suppress(asyncio.CancelledError):
                        await task
                raise
            finally:
                hub.running = None
        if not hub.subscribers and hub.abandon_timer is None:
            self._drop(hub)

    async def _emit(self, hub: Hub, build: Callable[[int], StoredEvent]) -> StoredEvent:
        async with hub.lock:
            event = await self.store.append_event(hub.conversation_id, build)
            self._broadcast(hub, event)
        return event

    def _broadcast(self, hub: Hub, frame: OutFrame) -> None:
        for subscriber in list(hub.subscribers):
            subscriber.deliver(frame)

    async def _finish_cancelled_unstarted(self, hub: Hub, job: _Job) -> None:
        draft = _Draft(message_id=job.accepted.message_id)
        await self.store.start_answer(hub.conversation_id, draft.message_id, draft.route)
        await self._finish(hub, draft, "stopped")

    async def _answer(self, hub: Hub, job: _Job) -> None:
        draft = _Draft(message_id=job.accepted.message_id)
        text = job.accepted.text
        started = time.monotonic()
        try:
            if job.recovered:
                await self._emit(hub, lambda seq: Reset(seq=seq, message_id=draft.message_id))
            draft.route = (await asyncio.to_thread(self.router.classify, text)).route
            await self.store.start_answer(hub.conversation_id, draft.message_id, draft.route)
            items: list[Recommendation] = []
            if draft.route == "recommend":
                items = await asyncio.to_thread(
                    self.recommender.recommend, hub.customer_id, text, self.config.recommendations_n
                )
                draft.cards = [
                    ProductCard(
                        product_id=i.product_id,
                        name=i.name,
                        price=i.price,
                        currency=i.currency,
                        reason=i.reason,
                    )
                    for i in items
                ]
                cards = draft.cards
                await self._emit(
                    hub, lambda seq: Recommendations(seq=seq, message_id=draft.message_id, items=cards)
                )
            request = await self._build_request(hub, draft.message_id, text, draft.route, items)
            draft.prompt_tokens = self.counter.count_messages(request.messages)
            async for event in self.model.stream(request):
                if isinstance(event, TextDelta) and event.text:
                    draft.parts.append(event.text)
                    await self._emit(hub, _delta(draft.message_id, event.text))
                elif isinstance(event, Finished):
                    # Providers' own counts win over ours; local servers often report none.
                    draft.prompt_tokens = event.prompt_tokens or draft.prompt_tokens
                    draft.completion_tokens = event.completion_tokens
            usage = await self._finish(hub, draft, "done")
            log.info(
                "answered %s/%s route=%s tokens=%d+%d in %.2fs",
                hub.conversation_id, draft.message_id, draft.route, usage.prompt_tokens, usage.completion_tokens,
                time.monotonic() - started,
            )  # fmt: skip
        except asyncio.CancelledError:
            reason = (hub.running.stop_reason if hub.running is not None else None) or "shutdown"
            # A shutdown leaves the answer unfinished on purpose: the next process regenerates it after a reset.
            if reason != "shutdown":
                await asyncio.shield(self._finish(hub, draft, "stopped"))
            raise
        except Exception as exc:
            if not isinstance(exc, ShopchatError):
                log.exception("answer to %s/%s failed", hub.conversation_id, draft.message_id)
            await self._finish(hub, draft, "failed", exc)

    async def _finish(
        self, hub: Hub, draft: _Draft, status: MessageStatus, exc: Exception | None = None
    ) -> Usage:
        """Store the answer as it stands and send the event that ends it (``done`` or ``error``)."""
        text = draft.text
        usage = Usage(
            prompt_tokens=draft.prompt_tokens,
            completion_tokens=draft.completion_tokens
            if draft.completion_tokens is not None and status == "done"
            else self.counter.count_text(text),
        )
        code: ErrorCode | None = None
        if status == "failed":
            code = exc.code if isinstance(exc, ShopchatError) else ErrorCode.INTERNAL
        await self.store.finish_answer(
            hub.conversation_id, draft.message_id, text=text, status=status, route=draft.route,
            prompt_tokens=usage.prompt_tokens, completion_tokens=usage.completion_tokens,
            error_code=str(code) if code else None, recommendations=[c.model_dump() for c in draft.cards],
        )  # fmt: skip
        message_id, route = draft.message_id, draft.route
        if code is None:
            stopped = status == "stopped"
            await self._emit(
                hub,
                lambda seq: Done(
                    seq=seq, message_id=message_id, route=route, text=text, usage=usage, stopped=stopped
                ),
            )  # fmt: skip
        else:
            shown = (
                exc.message
                if isinstance(exc, ShopchatError)
                else "Something went wrong on our side. Please try again."
            )
            retry_after = exc.retry_after_s if isinstance(exc, ModelError) else None
            await self._emit(
                hub,
                lambda seq: Error(
                    seq=seq, code=code, message=shown, reply_to=message_id, retry_after_s=retry_after
                ),
            )  # fmt: skip
        return usage

    async def _build_request(
        self, hub: Hub, message_id: str, text: str, route: Route, items: list[Recommendation]
    ) -> ChatRequest:
        customer = customer_view(self.shop, hub.customer_id)
        system = self._system_prompt
        if route == "recommend":
            system += "\n\n" + self.prompts.recommendation_handoff(self.shop, items, customer, text)
        context_text = self.prompts.customer_context(self.shop, customer)
        history = await self.store.history(hub.conversation_id, before_client_id=message_id)
        fitted = fit_messages(
            self.counter,
            system={"role": "system", "content": system},
            context={"role": "system", "content": context_text} if context_text else None,
            history=[ChatMessage(role=t.role, content=t.text) for t in history],
            latest={"role": "user", "content": text},
            context_tokens=self.config.context_tokens,
            max_output_tokens=self.config.max_output_tokens,
        )
        return ChatRequest(
            messages=fitted.messages,
            route=route,
            query=text,
            customer_id=hub.customer_id,
            recommendations=items,
            max_output_tokens=self.config.max_output_tokens,
        )

    async def close(self) -> None:
        """Stop every answer in flight, leaving them to be resumed by the next process."""
        self._closing = True
        workers = [
            hub.worker for hub in self._hubs.values() if hub.worker is not None and not hub.worker.done()
        ]
        for hub in self._hubs.values():
            if hub.abandon_timer is not None:
                hub.abandon_timer.cancel()
            for subscriber in hub.subscribers:
                subscriber.close()
        for worker in workers:
            worker.cancel()
        await asyncio.gather(*workers, return_exceptions=True)
        self._hubs.clear()

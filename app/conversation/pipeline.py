"""The answer pipeline: route a stored message, gather what the model needs, stream its answer into the log."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Callable
from concurrent.futures import Executor
from dataclasses import dataclass, field, replace
from typing import TypeVar

from app.conversation.confirmations import Confirmations, Decision
from app.conversation.hub import Hub, Job
from app.conversation.limits import AnswerClock, TokenCap, output_cap
from app.conversation.metrics import Metrics, NoMetrics
from app.conversation.prefetch import Prefetch
from app.conversation.router import RouteDecision, Router
from app.conversation.tools import NoTools, ToolLoop, Tools, tool_timeout
from app.errors import (
    CUSTOMER_MESSAGES,
    BudgetError,
    ConfigError,
    ContextOverflowError,
    ErrorCode,
    ModelError,
    ShopchatError,
    customer_message,
    loggable,
)
from app.events import (
    Done,
    Error,
    FinishReason,
    ProductCard,
    Recommendations,
    Reset,
    Route,
    Source,
    StoredEvent,
    Usage,
)
from app.llm.model import ChatModel, ChatRequest, Finished, ModelEvent, TextDelta, ToolCall, clean_text
from app.llm.prompts import PromptLibrary, customer_view
from app.llm.tokens import ChatMessage, TokenCounter, fit_messages
from app.shop.catalog import Product, Shop
from app.shop.knowledge import KnowledgeBase
from app.shop.profile import FaqEntry
from app.shop.recommender import Recommendation, Recommender
from app.store.records import AnswerFinished, AnswerStarted, MessageStatus
from app.store.store import Store

log = logging.getLogger("shopchat.answer")
T = TypeVar("T")

INTERNAL_MESSAGE = CUSTOMER_MESSAGES[ErrorCode.INTERNAL]
# What a chat prompt gets of the shop's knowledge: the FAQ entries scoring at least this (the built-in
# responder's "ask back" level: close enough to be worth reading), and products matching most of the words.
KNOWLEDGE_FAQ = 3
KNOWLEDGE_FAQ_SCORE = 0.42
KNOWLEDGE_FAQ_WORDS = 0.4  # by words alone: a BM25 of 2 or more (FAQ_LEXICAL_SCALE 5)
KNOWLEDGE_PRODUCTS = 5
KNOWLEDGE_PRODUCT_MATCH = 0.6


@dataclass(frozen=True, slots=True)
class ChatConfig:
    """The settings the conversation layer needs."""

    context_tokens: int
    max_output_tokens: int
    max_message_chars: int
    abandon_after_s: float
    recommendations_n: int
    # The whole model request, retries and first token included; and the longest the model may stay silent.
    answer_timeout_s: float = 90.0
    idle_timeout_s: float = 30.0
    # Start the chat request beside routing and storing (see prefetch.py); for remote models only.
    early_start: bool = False
    # A model with tools decides itself whether to recommend (its recommend_products tool): the router's
    # recommend route, with product cards straight away, is then only a fast path for confident decisions.
    tools_decide: bool = False


@dataclass(slots=True)
class Draft:
    """An answer being generated: what has been produced so far."""

    message_id: str
    route: Route = "chat"
    intent: str | None = None
    parts: list[str] = field(default_factory=list)
    cards: list[ProductCard] = field(default_factory=list)
    sources: list[Source] = field(default_factory=list)
    found: bool = False  # the shop knowledge found for the message is among ``sources``
    prompt_tokens: int = 0
    completion_tokens: int | None = None
    finish_reason: FinishReason = "stop"
    started: float = field(default_factory=time.monotonic)

    @property
    def text(self) -> str:
        """The answer so far."""
        return "".join(self.parts)


class AnswerPipeline:
    """Generates one answer at a time for a hub; every event goes through the hub's journal."""

    def __init__(
        self,
        *,
        store: Store,
        model: ChatModel,
        router: Router,
        recommender: Recommender,
        prompts: PromptLibrary,
        shop: Shop,
        counter: TokenCounter,
        config: ChatConfig,
        cpu: Executor | None = None,
        tools: Tools | None = None,
        metrics: Metrics | None = None,
        confirmations: Confirmations | None = None,
        knowledge: KnowledgeBase | None = None,
    ) -> None:
        self.store = store
        self.confirmations = confirmations
        # For remote models: the FAQ entries and products found for a chat message go into its prompt.
        self.knowledge = knowledge
        self.metrics: Metrics = metrics or NoMetrics()
        self.model = model
        self.router = router
        self.recommender = recommender
        self.prompts = prompts
        self.shop = shop
        self.counter = counter
        self.config = config
        self._cpu = cpu
        self.tools: Tools = tools or NoTools()
        self.system_prompt = prompts.system_prompt(shop)
        self.system_tokens = counter.count_messages([{"role": "system", "content": self.system_prompt}])
        if self.system_tokens >= config.context_tokens - config.max_output_tokens:
            raise ConfigError(
                f"the system prompt alone takes {self.system_tokens} tokens, more than SHOPCHAT_LLM_CONTEXT_TOKENS "
                f"({config.context_tokens}) minus SHOPCHAT_LLM_MAX_OUTPUT_TOKENS ({config.max_output_tokens}) leaves"
            )

    def classify(self, text: str) -> asyncio.Future[RouteDecision]:
        """Start routing a message now; await the result when the answer starts."""
        return asyncio.ensure_future(self.router.route(text))

    def start_early(self, hub: Hub, message_id: str, text: str) -> Prefetch | None:
        """Start the chat answer's model request now, unless rules already route the message elsewhere."""
        if not self.config.early_start or self.router.settled(text) not in (None, "chat"):
            return None
        return Prefetch(self.model, lambda: self._request(hub, message_id, text, "chat", []), name=message_id)

    async def _off_loop(self, fn: Callable[[], T]) -> T:
        # Embeddings and ranking are CPU work: they run beside the event loop, never on it.
        return await asyncio.get_running_loop().run_in_executor(self._cpu, fn)

    async def answer(self, hub: Hub, job: Job) -> None:
        """Generate and store the answer to ``job``; ends with exactly one ``done`` or ``error``."""
        draft = Draft(message_id=job.accepted.message_id)
        text = job.accepted.text
        started = time.monotonic()
        journal = hub.journal
        journal.failed = None
        prefetch, job.prefetch = job.prefetch, None
        try:
            if job.recovered:
                journal.event(lambda seq: Reset(seq=seq, message_id=draft.message_id))
            loop = ToolLoop(
                self.tools,
                hub,
                draft.message_id,
                timeout_s=tool_timeout(self.config.idle_timeout_s),
                metrics=self.metrics,
                confirmations=self.confirmations,
            )
            answers = (
                await self.confirmations.decision(hub, draft.message_id, text)
                if self.confirmations is not None
                else None
            )
            if answers is not None:
                # The customer answered a confirmation: the change is made (or not) before the model speaks.
                if job.route is not None:
                    job.route.cancel()
                if prefetch is not None:
                    prefetch.drop()
                    prefetch = None
            else:
                decision = await job.route if job.route is not None else await self.classify(text)
                draft.route, draft.intent = decision.route, decision.intent
                if draft.route == "recommend" and not decision.confident and self._model_recommends(hub):
                    draft.route = "chat"
            if prefetch is not None and draft.route != "chat":
                prefetch.drop()
                prefetch = None
            journal.write(AnswerStarted(hub.conversation_id, draft.message_id, draft.route))
            if answers is not None and self.confirmations is not None:
                await self._settle(hub, loop, answers)
            items: list[Recommendation] = []
            if draft.route == "recommend":
                customer_id = hub.customer_id
                shown = hub.transcript.shown()
                items = await self._off_loop(
                    lambda: self.recommender.recommend(
                        customer_id, text, self.config.recommendations_n, shown
                    )
                )
                hub.transcript.showed([(i.product_id, i.price) for i in items])
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
                journal.event(lambda seq: Recommendations(seq=seq, message_id=draft.message_id, items=cards))
            try:
                await self._stream(hub, draft, self._answer_events(hub, draft, text, items, prefetch, loop))
            finally:
                draft.sources.extend(loop.sources)
            ended = await self.finish(hub, draft, "done")
            if isinstance(ended, Done):
                log.info(
                    "answered %s/%s route=%s tokens=%d+%d finish=%s in %.2fs",
                    hub.conversation_id, draft.message_id, draft.route, ended.usage.prompt_tokens,
                    ended.usage.completion_tokens, ended.finish_reason, time.monotonic() - started,
                )  # fmt: skip
        except asyncio.CancelledError:
            reason = (hub.running.stop_reason if hub.running is not None else None) or "shutdown"
            # A shutdown leaves the answer unfinished on purpose: the next process regenerates it after a reset.
            if reason != "shutdown":
                await asyncio.shield(self.finish(hub, draft, "stopped"))
            raise
        except Exception as exc:
            if isinstance(exc, ShopchatError):
                # One line with what the model server (or template) said; customers read our own words.
                log.warning(
                    "answer to %s/%s failed: %s: %s",
                    hub.conversation_id, draft.message_id, exc.code, loggable(exc.detail or exc.message),
                )  # fmt: skip
            else:
                log.exception("answer to %s/%s failed", hub.conversation_id, draft.message_id)
            journal.failed = None
            await self.finish(hub, draft, "failed", exc)
        finally:
            if prefetch is not None:
                prefetch.drop()  # unused (stopped before the model was asked): no-op once its events ran

    async def _stream(self, hub: Hub, draft: Draft, stream: AsyncIterator[ModelEvent]) -> None:
        """Stream the model's answer into the journal, ended by the model or by our token and time limits."""
        journal = hub.journal
        cap = TokenCap(self.counter, output_cap(self.config.max_output_tokens))
        finished = False
        first = True
        try:
            async with AnswerClock(
                answer_s=self.config.answer_timeout_s, idle_s=self.config.idle_timeout_s
            ) as clock:
                async for event in stream:
                    clock.heard()
                    if hub.owner.state == "human":
                        # A person took over mid-answer: it ends here, stopped (taking over cancels it too).
                        if hub.running is not None:
                            hub.running.stop_reason = "handoff"
                        raise asyncio.CancelledError
                    if isinstance(event, TextDelta):
                        # The one place model text enters: what no database or encoder takes never gets further.
                        text = clean_text(event.text)
                        if not text:
                            continue
                        if journal.failed is not None:
                            raise journal.failed
                        draft.parts.append(text)
                        if first:
                            self.metrics.first_text(time.monotonic() - draft.started)
                        journal.text(draft.message_id, text, urgent=first)
                        first = False
                        if cap.add(text):
                            # The server ignores max_tokens (or counts differently): end the answer ourselves.
                            log.warning(
                                "answer to %s/%s cut at %d output tokens (our count)",
                                hub.conversation_id, draft.message_id, cap.tokens,
                            )  # fmt: skip
                            draft.finish_reason = "length"
                            return
                    elif isinstance(event, Finished):
                        # Providers' own counts win over ours; local servers often report none.
                        draft.prompt_tokens = event.prompt_tokens or draft.prompt_tokens
                        draft.completion_tokens = event.completion_tokens
                        draft.finish_reason = _finish_reason(event.finish_reason)
                        hub.helpless = hub.helpless + 1 if event.helpless else 0
                        finished = True
        finally:
            # Close the model's stream (and its connection) now, also when we stopped reading it.
            aclose = getattr(stream, "aclose", None)
            if aclose is not None:
                await aclose()
        if not finished:
            raise ModelError(
                code=ErrorCode.MODEL_ERROR, detail=f"{self.model.name}: the stream ended unfinished"
            )

    async def finish(
        self, hub: Hub, draft: Draft, status: MessageStatus, exc: Exception | None = None
    ) -> StoredEvent:
        """Store the answer as it stands with the event that ends it (``done`` or ``error``), together.

        If that cannot be stored, the answer ends with an ``internal`` error without its text; only when even
        that fails (the database is down) does this raise, and the message stays pending for a later process.
        """
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
        self._measure(draft, status, code, exc)
        message_id, route, intent = draft.message_id, draft.route, draft.intent
        build: Callable[[int], StoredEvent]
        if code is None:
            stopped = status == "stopped"
            finish_reason = draft.finish_reason
            sources = _distinct(
                [Source(kind="product", id=c.product_id, title=c.name) for c in draft.cards] + draft.sources
            )

            def build(seq: int) -> StoredEvent:
                return Done(
                    seq=seq,
                    message_id=message_id,
                    route=route,
                    text=text,
                    usage=usage,
                    stopped=stopped,
                    finish_reason=finish_reason,
                    intent=intent,
                    sources=sources,
                )
        else:
            shown = customer_message(exc) if exc is not None else INTERNAL_MESSAGE
            retry_after = exc.retry_after_s if isinstance(exc, ModelError) else None
            error_code = code

            def build(seq: int) -> StoredEvent:
                return Error(
                    seq=seq, code=error_code, message=shown, reply_to=message_id, retry_after_s=retry_after
                )

        finished = AnswerFinished(
            conversation_id=hub.conversation_id,
            client_id=message_id,
            text=text,
            status=status,
            route=route,
            prompt_tokens=usage.prompt_tokens,
            completion_tokens=usage.completion_tokens,
            error_code=str(code) if code else None,
            recommendations=tuple(c.model_dump() for c in draft.cards),
        )
        # The answer row is (re)started here too, so a message stopped before it began still gets one.
        started = AnswerStarted(hub.conversation_id, message_id, route)
        try:
            ended = await hub.journal.event(build, started, finished)
        except Exception as exc_store:
            if code == ErrorCode.INTERNAL and not text and not draft.cards:
                raise  # nothing of ours left to leave out: the database itself fails
            # What the answer holds may be what the database refused: end it without that, but end it.
            log.error(
                "storing the end of %s/%s failed (%s); ending it as internal without its text",
                hub.conversation_id, message_id, loggable(str(exc_store)),
            )  # fmt: skip
            hub.journal.failed = None
            bare = replace(
                finished, text="", status="failed", error_code=str(ErrorCode.INTERNAL), recommendations=()
            )
            return await hub.journal.event(
                lambda seq: Error(
                    seq=seq, code=ErrorCode.INTERNAL, message=INTERNAL_MESSAGE, reply_to=message_id
                ),
                started,
                bare,
            )
        if status in ("done", "stopped"):
            hub.transcript.answered(message_id, text)
        return ended

    def _measure(
        self, draft: Draft, status: MessageStatus, code: ErrorCode | None, exc: Exception | None
    ) -> None:
        self.metrics.answer_ended(
            draft.route, str(code) if code is not None else status, time.monotonic() - draft.started
        )
        if isinstance(exc, ModelError):
            self.metrics.model_error(str(exc.code))

    def _model_recommends(self, hub: Hub) -> bool:
        """Whether the model decides on recommendations itself, with its recommend_products tool."""
        return self.config.tools_decide and any(s.name == "recommend_products" for s in self.tools.specs(hub))

    async def _settle(self, hub: Hub, loop: ToolLoop, answers: Decision) -> None:
        """Claim the customer's decision (once) and make the change when approved; the model reads how it went."""
        assert self.confirmations is not None
        action = await self.confirmations.claim(hub, answers)
        if action is not None:
            await loop.settle(action, answers.approve, decided=True)
            return
        known = await self.confirmations.action(hub, answers.action_id)
        if known is not None:
            await loop.settle(known, answers.approve, decided=False)

    async def _answer_events(
        self,
        hub: Hub,
        draft: Draft,
        text: str,
        items: list[Recommendation],
        prefetch: Prefetch | None,
        loop: ToolLoop,
    ) -> AsyncIterator[ModelEvent]:
        """The model's answer with its tool rounds: call → result → model again, until it answers.

        Text streamed before a call stays in the answer. The one ``Finished`` at the end carries the usage of
        all rounds. A model that calls tools again after it was told to answer (see ``ToolLoop``) fails the
        answer with ``model_error``.
        """
        estimated = 0
        prompt: int | None = 0
        completion: int | None = 0
        ends_in_text = False
        while True:
            calls: list[ToolCall] = []
            said: list[str] = []
            finished: Finished | None = None
            events = self._model_events(hub, draft, text, items, prefetch, loop)
            prefetch = None
            try:
                async for event in events:
                    if isinstance(event, ToolCall):
                        calls.append(event)
                    elif isinstance(event, Finished):
                        finished = event
                    else:
                        if ends_in_text and not said and event.text and not event.text[0].isspace():
                            yield TextDelta("\n\n")  # the text of an earlier round ended a paragraph
                        said.append(event.text)
                        yield event
            finally:
                aclose = getattr(events, "aclose", None)
                if aclose is not None:
                    await aclose()
            if finished is None:
                return  # the stream ended unfinished: the caller reports it
            estimated += draft.prompt_tokens
            prompt = (
                prompt + finished.prompt_tokens if prompt is not None and finished.prompt_tokens else None
            )
            completion = (
                completion + finished.completion_tokens
                if completion is not None and finished.completion_tokens is not None
                else None
            )
            if not calls:
                draft.prompt_tokens = estimated
                yield replace(finished, prompt_tokens=prompt, completion_tokens=completion)
                return
            if loop.choice == "none":
                raise ModelError(
                    code=ErrorCode.MODEL_ERROR,
                    detail=f"{self.model.name}: called tools again after the limit of {loop.calls} calls",
                )
            round_text = "".join(said)
            ends_in_text = bool(round_text.strip()) or ends_in_text
            async for handled in loop.round(round_text, calls):
                yield handled

    async def _model_events(
        self,
        hub: Hub,
        draft: Draft,
        text: str,
        items: list[Recommendation],
        prefetch: Prefetch | None,
        loop: ToolLoop | None = None,
    ) -> AsyncIterator[ModelEvent]:
        """The model's answer (the early request's, if there is one); a prompt the server refuses as too long is
        refitted to what it stated, once.

        The server's ``prompt_tokens`` calibrate our counting for every later prompt (see ``Calibration``).
        """
        calibration = self.counter.calibration
        attempt: AsyncIterator[ModelEvent]
        if prefetch is not None:
            attempt = prefetch.events()
        else:
            request, draft.prompt_tokens = await self._request(
                hub, draft.message_id, text, draft.route, items, loop=loop
            )
            if not draft.found:
                draft.found = True  # every round finds the same: keep the first's
                draft.sources[:0] = request.sources
            attempt = self.model.stream(request)
        retried = False
        try:
            while True:
                started = False
                try:
                    async for event in attempt:
                        if not started:
                            started = True
                            if prefetch is not None and not draft.prompt_tokens:
                                draft.prompt_tokens = prefetch.prompt_tokens  # counted when it was built
                            if prefetch is not None and prefetch.request is not None and not draft.found:
                                draft.found = True
                                draft.sources[:0] = prefetch.request.sources
                        if isinstance(event, Finished) and event.prompt_tokens:
                            calibration.observe(draft.prompt_tokens, event.prompt_tokens)
                        yield event
                    return
                except ContextOverflowError as exc:
                    if started:
                        raise
                    if prefetch is not None and not draft.prompt_tokens:
                        draft.prompt_tokens = prefetch.prompt_tokens
                    estimated = draft.prompt_tokens
                    # Learnt even when it is too late for this answer: the next one is fitted tighter.
                    calibration.overflowed(
                        estimated, context_tokens=exc.context_tokens, prompt_tokens=exc.prompt_tokens
                    )
                    if retried:
                        raise
                    retried = True
                    limit = calibration.budget(self.config.context_tokens, self.config.max_output_tokens)
                    if exc.prompt_tokens is None:
                        limit = min(limit, estimated * 3 // 4)  # nothing says by how much: a quarter at least
                    limit = min(limit, estimated - 1)
                    log.warning(
                        "model context overflow in %s/%s: the server stated a window of %s tokens and a prompt "
                        "of %s (we counted %d; SHOPCHAT_LLM_CONTEXT_TOKENS=%d); retrying with at most %d",
                        hub.conversation_id, draft.message_id, exc.context_tokens, exc.prompt_tokens, estimated,
                        self.config.context_tokens, limit,
                    )  # fmt: skip
                    request, draft.prompt_tokens = await self._request(
                        hub, draft.message_id, text, draft.route, items, limit=limit, loop=loop
                    )
                    attempt = self.model.stream(request)
        finally:
            # Close the model's stream (and its connection) now, also when the answer stopped reading it.
            aclose = getattr(attempt, "aclose", None)
            if aclose is not None:
                await aclose()

    async def _request(
        self,
        hub: Hub,
        message_id: str,
        text: str,
        route: Route,
        items: list[Recommendation],
        *,
        limit: int | None = None,
        loop: ToolLoop | None = None,
    ) -> tuple[ChatRequest, int]:
        """The request for the model, and our count of its prompt tokens (at most ``limit``, when given).

        The conversation's tools go with it, and the answer's tool rounds so far (``loop``) after the message.
        """
        customer = customer_view(self.shop, hub.customer_id)
        system = self.system_prompt
        if route == "recommend":
            # The customer's text goes only into the user message below, never into the system message.
            system += "\n\n" + self.prompts.recommendation_handoff(self.shop, items, customer)
        context_text = self.prompts.customer_context(self.shop, customer)
        sources: list[Source] = []
        if route == "chat" and self.knowledge is not None:
            faq, products = await self._find(text)
            sources = [Source(kind="faq", id=e.faq_id, title=e.questions[0]) for e in faq] + [
                Source(kind="product", id=p.product_id, title=p.name) for p in products
            ]
            found = self.prompts.knowledge(self.shop, faq, products)
            context_text = f"{context_text}\n\n{found}" if context_text else found
        history = hub.transcript.before(message_id)
        specs = self.tools.specs(hub)
        while True:
            try:
                fitted = fit_messages(
                    self.counter,
                    system={"role": "system", "content": system},
                    context={"role": "system", "content": context_text} if context_text else None,
                    history=[ChatMessage(role=t.role, content=t.text) for t in history],
                    latest={"role": "user", "content": text},
                    context_tokens=self.config.context_tokens,
                    max_output_tokens=self.config.max_output_tokens,
                    limit=limit,
                    tools=specs,
                    tail=loop.tail if loop is not None else (),
                )
                break
            except BudgetError:
                # Tool results that crowd out the customer's message give way first, the longest first.
                if loop is None or not loop.shrink():
                    raise
        request = ChatRequest(
            messages=fitted.messages,
            route=route,
            query=text,
            customer_id=hub.customer_id,
            recommendations=items,
            max_output_tokens=self.config.max_output_tokens,
            tools=tuple(specs),
            tool_choice=loop.choice if loop is not None else "auto",
            sources=tuple(sources),
        )
        return request, fitted.prompt_tokens

    async def _find(self, text: str) -> tuple[list[FaqEntry], list[Product]]:
        """The FAQ entries and products relevant to a chat message.

        The first token must not wait for an embedding: when the encoder shares its vectors (see
        ``SharedEmbeddings``), the message's vector is used if routing has made it already, else the FAQ is
        searched by its words; scoring alone runs on the loop. Without shared vectors the message is embedded
        here, off the event loop.
        """
        knowledge = self.knowledge
        assert knowledge is not None
        ready = getattr(knowledge.encoder, "ready", None)
        vector = ready(text) if ready is not None else None

        def search() -> tuple[list[FaqEntry], list[Product]]:
            if vector is not None:
                hits = knowledge.faq.search_vector(vector, text, n=KNOWLEDGE_FAQ)
                faq = [h.entry for h in hits if h.score >= KNOWLEDGE_FAQ_SCORE]
            elif ready is not None:
                hits = knowledge.faq.search_words(text, n=KNOWLEDGE_FAQ)
                faq = [h.entry for h in hits if h.score >= KNOWLEDGE_FAQ_WORDS]
            else:
                hits = knowledge.faq.search(text, n=KNOWLEDGE_FAQ)
                faq = [h.entry for h in hits if h.score >= KNOWLEDGE_FAQ_SCORE]
            products = [
                h.product
                for h in knowledge.catalog.search(text, n=KNOWLEDGE_PRODUCTS)
                if h.matched >= KNOWLEDGE_PRODUCT_MATCH
            ]
            return faq, products

        if ready is not None:
            return (
                search()
            )  # scoring alone takes well under a millisecond: no thread hop on the first token's path
        return await self._off_loop(search)  # embeds the message: CPU work, off the event loop


def _distinct(sources: list[Source]) -> list[Source]:
    """Each source once, in the order first given."""
    seen: set[tuple[str, str]] = set()
    kept = []
    for source in sources:
        if (source.kind, source.id) not in seen:
            seen.add((source.kind, source.id))
            kept.append(source)
    return kept


def _finish_reason(reason: str) -> FinishReason:
    """The model's finish reason in our vocabulary (servers differ: "length", "max_tokens", "eos" …)."""
    if reason in ("length", "max_tokens"):
        return "length"
    if reason == "content_filter":
        return "content_filter"
    return "stop"

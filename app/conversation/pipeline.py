"""The answer pipeline: route a stored message, gather what the model needs, stream its answer into the log."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from concurrent.futures import Executor
from dataclasses import dataclass, field
from typing import TypeVar

from app.conversation.hub import Hub, Job
from app.conversation.router import RouteDecision, Router
from app.errors import ConfigError, ErrorCode, ModelError, ShopchatError
from app.events import Done, Error, ProductCard, Recommendations, Reset, Route, StoredEvent, Usage
from app.llm.model import ChatModel, ChatRequest, Finished, TextDelta
from app.llm.prompts import PromptLibrary, customer_view
from app.llm.tokens import ChatMessage, TokenCounter, fit_messages
from app.shop.catalog import Shop
from app.shop.recommender import Recommendation, Recommender
from app.store.records import AnswerFinished, AnswerStarted, MessageStatus
from app.store.store import Store

log = logging.getLogger("shopchat.answer")
T = TypeVar("T")

INTERNAL_MESSAGE = "Something went wrong on our side. Please try again."


@dataclass(frozen=True, slots=True)
class ChatConfig:
    """The settings the conversation layer needs."""

    context_tokens: int
    max_output_tokens: int
    max_message_chars: int
    abandon_after_s: float
    recommendations_n: int


@dataclass(slots=True)
class Draft:
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
    ) -> None:
        self.store = store
        self.model = model
        self.router = router
        self.recommender = recommender
        self.prompts = prompts
        self.shop = shop
        self.counter = counter
        self.config = config
        self._cpu = cpu
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
        try:
            if job.recovered:
                journal.event(lambda seq: Reset(seq=seq, message_id=draft.message_id))
            decision = await job.route if job.route is not None else await self.classify(text)
            draft.route = decision.route
            journal.write(AnswerStarted(hub.conversation_id, draft.message_id, draft.route))
            items: list[Recommendation] = []
            if draft.route == "recommend":
                customer_id = hub.customer_id
                items = await self._off_loop(
                    lambda: self.recommender.recommend(customer_id, text, self.config.recommendations_n)
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
                journal.event(lambda seq: Recommendations(seq=seq, message_id=draft.message_id, items=cards))
            request, draft.prompt_tokens = await self._request(
                hub, draft.message_id, text, draft.route, items
            )
            first = True
            async for event in self.model.stream(request):
                if isinstance(event, TextDelta) and event.text:
                    if journal.failed is not None:
                        raise journal.failed
                    draft.parts.append(event.text)
                    journal.text(draft.message_id, event.text, urgent=first)
                    first = False
                elif isinstance(event, Finished):
                    # Providers' own counts win over ours; local servers often report none.
                    draft.prompt_tokens = event.prompt_tokens or draft.prompt_tokens
                    draft.completion_tokens = event.completion_tokens
            usage = await self.finish(hub, draft, "done")
            log.info(
                "answered %s/%s route=%s tokens=%d+%d in %.2fs",
                hub.conversation_id, draft.message_id, draft.route, usage.prompt_tokens, usage.completion_tokens,
                time.monotonic() - started,
            )  # fmt: skip
        except asyncio.CancelledError:
            reason = (hub.running.stop_reason if hub.running is not None else None) or "shutdown"
            # A shutdown leaves the answer unfinished on purpose: the next process regenerates it after a reset.
            if reason != "shutdown":
                await asyncio.shield(self.finish(hub, draft, "stopped"))
            raise
        except Exception as exc:
            if not isinstance(exc, ShopchatError):
                log.exception("answer to %s/%s failed", hub.conversation_id, draft.message_id)
            journal.failed = None
            await self.finish(hub, draft, "failed", exc)

    async def finish(
        self, hub: Hub, draft: Draft, status: MessageStatus, exc: Exception | None = None
    ) -> Usage:
        """Store the answer as it stands with the event that ends it (``done`` or ``error``), together."""
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
        message_id, route = draft.message_id, draft.route
        build: Callable[[int], StoredEvent]
        if code is None:
            stopped = status == "stopped"

            def build(seq: int) -> StoredEvent:
                return Done(
                    seq=seq, message_id=message_id, route=route, text=text, usage=usage, stopped=stopped
                )
        else:
            shown = exc.message if isinstance(exc, ShopchatError) else INTERNAL_MESSAGE
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
        await hub.journal.event(build, AnswerStarted(hub.conversation_id, message_id, route), finished)
        if status in ("done", "stopped"):
            hub.transcript.answered(message_id, text)
        return usage

    async def _request(
        self, hub: Hub, message_id: str, text: str, route: Route, items: list[Recommendation]
    ) -> tuple[ChatRequest, int]:
        """The request for the model, and our count of its prompt tokens."""
        customer = customer_view(self.shop, hub.customer_id)
        system = self.system_prompt
        if route == "recommend":
            # The customer's text goes only into the user message below, never into the system message.
            system += "\n\n" + self.prompts.recommendation_handoff(self.shop, items, customer)
        context_text = self.prompts.customer_context(self.shop, customer)
        history = hub.transcript.before(message_id)
        fitted = fit_messages(
            self.counter,
            system={"role": "system", "content": system},
            context={"role": "system", "content": context_text} if context_text else None,
            history=[ChatMessage(role=t.role, content=t.text) for t in history],
            latest={"role": "user", "content": text},
            context_tokens=self.config.context_tokens,
            max_output_tokens=self.config.max_output_tokens,
        )
        request = ChatRequest(
            messages=fitted.messages,
            route=route,
            query=text,
            customer_id=hub.customer_id,
            recommendations=items,
            max_output_tokens=self.config.max_output_tokens,
        )
        return request, fitted.prompt_tokens

"""Test doubles: a scripted chat model, fake tools, a fixed recommender and router, a recording fan-out, a slow
store."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field

from sqlalchemy.ext.asyncio import AsyncEngine

from app.conversation.broadcaster import InProcessBroadcaster
from app.conversation.hub import Hub
from app.conversation.router import RouteDecision
from app.conversation.subscriber import Subscriber
from app.conversation.tools import Proposal, ToolOutcome
from app.errors import ModelError
from app.events import EVENT, Route, StoredEvent
from app.llm.model import ChatRequest, Finished, ModelEvent, TextDelta, ToolCall, ToolSpec
from app.shop.recommender import NOTHING_SHOWN, Recommendation, Shown
from app.store.actions import ActionRecord
from app.store.records import Write
from app.store.store import Store


@dataclass
class ScriptedModel:
    """Streams scripted chunks; can pause between them, fail after some, and records every request.

    With ``turns``, the n-th request gets the n-th turn (the last one again once they run out): its strings are
    text, its ``ToolCall``s calls, and a turn with calls finishes with "tool_calls".
    """

    chunks: Sequence[str] = ("Hello", " there", "!")
    turns: Sequence[Sequence[str | ToolCall]] = ()
    delay_s: float = 0.0
    fail_after: int | None = None
    error: ModelError | None = None
    usage: tuple[int, int] | None = None
    requests: list[ChatRequest] = field(default_factory=list)
    abandoned: list[ChatRequest] = field(default_factory=list)  # streams closed before their end
    started: asyncio.Event = field(default_factory=asyncio.Event)
    name: str = "scripted"
    helpless: bool = False  # every answer "could not help" (Finished.helpless)

    async def stream(self, request: ChatRequest) -> AsyncIterator[ModelEvent]:
        """Yield the script."""
        self.requests.append(request)
        self.started.set()
        script: Sequence[str | ToolCall] = self.chunks
        if self.turns:
            script = self.turns[min(len(self.requests), len(self.turns)) - 1]
        finished = False
        try:
            for index, chunk in enumerate(script):
                if self.fail_after is not None and index == self.fail_after:
                    raise self.error or ModelError("scripted failure")
                if self.delay_s:
                    await asyncio.sleep(self.delay_s)
                yield TextDelta(chunk) if isinstance(chunk, str) else chunk
            if self.fail_after is not None and self.fail_after >= len(script):
                raise self.error or ModelError("scripted failure")
            prompt, completion = self.usage if self.usage else (None, None)
            finished = True
            reason = "tool_calls" if any(isinstance(c, ToolCall) for c in script) else "stop"
            yield Finished(
                finish_reason=reason,
                prompt_tokens=prompt,
                completion_tokens=completion,
                helpless=self.helpless,
            )
        finally:
            if not finished:
                self.abandoned.append(request)

    async def aclose(self) -> None:
        """Nothing to release."""


@dataclass
class FakeTools:
    """Offers ``names``; each call answers ``{"name": ..., "arguments": ...}``, fails when its name is in
    ``failing``, and waits for ``release`` when its name is in ``blocking``; records every call it runs."""

    names: Sequence[str] = ("get_order_details",)
    failing: Sequence[str] = ()
    blocking: Sequence[str] = ()
    padding: int = 0  # characters of filler added to every result
    proposing: Sequence[str] = ()
    runs: list[ToolCall] = field(default_factory=list)
    proposed: list[ToolCall] = field(default_factory=list)
    made: list[ActionRecord] = field(default_factory=list)
    entered: asyncio.Event = field(default_factory=asyncio.Event)
    release: asyncio.Event = field(default_factory=asyncio.Event)

    def specs(self, hub: Hub) -> list[ToolSpec]:
        """One spec per name, with an ``order_id`` argument."""
        parameters = {
            "type": "object",
            "properties": {"order_id": {"type": "string", "description": "Order."}},
        }
        return [ToolSpec(name, f"The {name} tool.", parameters) for name in self.names]

    async def run(self, hub: Hub, call: ToolCall) -> ToolOutcome:
        """Echo the call as JSON; fail or block as configured; propose (change nothing) for ``proposing``."""
        if call.name in self.proposing:
            self.proposed.append(call)
            summary = f"Do {call.name} {call.arguments}"
            return ToolOutcome(ok=True, content="{}", summary=summary, proposal=Proposal(summary, "c1"))
        self.runs.append(call)
        self.entered.set()
        if call.name in self.blocking:
            await self.release.wait()
        if call.name in self.failing:
            raise RuntimeError("the order system is down")
        result = {"name": call.name, "arguments": json.loads(call.arguments or "{}")}
        if self.padding:
            result["padding"] = "x " * (self.padding // 2)
        content = json.dumps(result)
        return ToolOutcome(ok=True, content=content, summary=f"Found order {call.arguments}")

    async def confirmed(self, hub: Hub, action: ActionRecord) -> ToolOutcome:
        """Record the approved change; its result echoes it."""
        self.made.append(action)
        content = json.dumps({"done": action.tool, "arguments": action.arguments})
        return ToolOutcome(ok=True, content=content, summary=f"Done: {action.summary}")


@dataclass
class FixedRecommender:
    """Returns the same recommendations and records the calls."""

    items: Sequence[Recommendation] = ()
    calls: list[tuple[str | None, str, int]] = field(default_factory=list)

    def recommend(
        self, customer_id: str | None, query: str, n: int = 5, shown: Shown = NOTHING_SHOWN
    ) -> list[Recommendation]:
        """The fixed items, at most ``n``."""
        self.calls.append((customer_id, query, n))
        return list(self.items)[:n]


@dataclass
class FixedRouter:
    """Routes every message the same way."""

    fixed: Route = "chat"

    async def route(self, text: str) -> RouteDecision:
        """The fixed route."""
        return RouteDecision(
            route=self.fixed, p_recommend=1.0 if self.fixed == "recommend" else 0.0, by_rule=True
        )

    def settled(self, text: str) -> Route | None:
        """Always settled: the fixed route."""
        return self.fixed


@dataclass
class SlowRouter:
    """Routes every message the same way after ``delay_s``, as the learned model would (no rule settles it)."""

    fixed: Route = "chat"
    delay_s: float = 0.05

    async def route(self, text: str) -> RouteDecision:
        """The fixed route, late."""
        await asyncio.sleep(self.delay_s)
        return RouteDecision(route=self.fixed, p_recommend=0.5, by_rule=False)

    def settled(self, text: str) -> Route | None:
        """Never settled by rules."""
        return None


@dataclass
class RecordingBroadcaster:
    """The in-process fan-out, recording every published event in order."""

    published: list[tuple[str, int, str]] = field(default_factory=list)
    inner: InProcessBroadcaster = field(default_factory=InProcessBroadcaster)

    def subscribe(self, conversation_id: str, subscriber: Subscriber) -> None:
        """Start delivering to ``subscriber``."""
        self.inner.subscribe(conversation_id, subscriber)

    def unsubscribe(self, conversation_id: str, subscriber: Subscriber) -> None:
        """Stop delivering to ``subscriber``."""
        self.inner.unsubscribe(conversation_id, subscriber)

    def publish(self, conversation_id: str, seq: int, payload: str) -> None:
        """Record, then deliver."""
        self.published.append((conversation_id, seq, payload))
        self.inner.publish(conversation_id, seq, payload)

    def close(self) -> None:
        """Close every subscriber."""
        self.inner.close()

    def events(self, conversation_id: str) -> list[StoredEvent]:
        """The events published for one conversation, parsed."""
        return [EVENT.validate_json(p) for c, _, p in self.published if c == conversation_id]


class SlowStore(Store):
    """A store whose every write takes ``delay_s`` longer: a busy database, for coalescing and ordering."""

    def __init__(self, engine: AsyncEngine, delay_s: float) -> None:
        super().__init__(engine)
        self.delay_s = delay_s
        self.batches: list[int] = []

    async def write(self, writes: Sequence[Write]) -> None:
        """Wait, then write."""
        self.batches.append(len(writes))
        await asyncio.sleep(self.delay_s)
        await super().write(writes)


class FlakyStore(Store):
    """A store whose next ``failures`` writes fail, as a database that drops out for a moment would."""

    def __init__(self, engine: AsyncEngine) -> None:
        super().__init__(engine)
        self.failures = 0

    async def write(self, writes: Sequence[Write]) -> None:
        """Fail while failures remain, else write."""
        if self.failures:
            self.failures -= 1
            raise ConnectionError("database unavailable")
        await super().write(writes)

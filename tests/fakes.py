"""Test doubles above the model adapter: a scripted chat model and a fixed recommender."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field

from app.errors import ModelError
from app.llm.model import ChatRequest, Finished, ModelEvent, TextDelta
from app.shop.recommender import Recommendation


@dataclass
class ScriptedModel:
    """Streams scripted chunks; can pause between them, fail after some, and records every request."""

    chunks: Sequence[str] = ("Hello", " there", "!")
    delay_s: float = 0.0
    fail_after: int | None = None
    error: ModelError | None = None
    usage: tuple[int, int] | None = None
    requests: list[ChatRequest] = field(default_factory=list)
    started: asyncio.Event = field(default_factory=asyncio.Event)
    name: str = "scripted"

    async def stream(self, request: ChatRequest) -> AsyncIterator[ModelEvent]:
        """Yield the script."""
        self.requests.append(request)
        self.started.set()
        for index, chunk in enumerate(self.chunks):
            if self.fail_after is not None and index == self.fail_after:
                raise self.error or ModelError("scripted failure")
            if self.delay_s:
                await asyncio.sleep(self.delay_s)
            yield TextDelta(chunk)
        if self.fail_after is not None and self.fail_after >= len(self.chunks):
            raise self.error or ModelError("scripted failure")
        prompt, completion = self.usage if self.usage else (None, None)
        yield Finished(finish_reason="stop", prompt_tokens=prompt, completion_tokens=completion)

    async def aclose(self) -> None:
        """Nothing to release."""


@dataclass
class FixedRecommender:
    """Returns the same recommendations and records the calls."""

    items: Sequence[Recommendation] = ()
    calls: list[tuple[str | None, str, int]] = field(default_factory=list)

    def recommend(self, customer_id: str | None, query: str, n: int = 5) -> list[Recommendation]:
        """The fixed items, at most ``n``."""
        self.calls.append((customer_id, query, n))
        return list(self.items)[:n]

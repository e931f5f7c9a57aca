"""Routing: does a message ask for product recommendations (``recommend``) or anything else (``chat``)?

The route follows the message's intent (``app.llm.intents``): cards only for ``recommend``, every other intent
(a question about one item, an order, a refund, small talk …) is answered in words.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import numpy as np
import numpy.typing as npt

from app.events import Route
from app.llm.intents import TRAIN_PATH, Intent, IntentClassifier, IntentGuess, default_classifier, ruled
from app.shop.embedding import Encoder


def read_labelled(path: Path) -> list[tuple[Route, str]]:
    """Read ``label<TAB>text`` lines; labels are routes."""
    rows: list[tuple[Route, str]] = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        label, _, text = line.partition("\t")
        if label not in ("chat", "recommend") or not text:
            raise ValueError(f"{path}:{number}: expected 'chat|recommend<TAB>text'")
        rows.append(("recommend" if label == "recommend" else "chat", text))
    return rows


@dataclass(frozen=True, slots=True)
class RouteDecision:
    """The chosen route, the probability the model gave ``recommend``, and the intent it came from."""

    route: Route
    p_recommend: float
    by_rule: bool
    intent: Intent | None = None
    # How sure the classifier is of ``intent`` (1.0 when rules decided); a fast path acts only when confident.
    confidence: float = 0.0
    confident: bool = False


class Router(Protocol):
    """Decides which route answers a customer message."""

    async def route(self, text: str) -> RouteDecision:
        """Route one customer message without blocking the event loop."""
        ...

    def settled(self, text: str) -> Route | None:
        """The route if explicit rules alone decide it (no model needed), else None; instant."""
        ...


def decision(guess: IntentGuess) -> RouteDecision:
    """The route an intent implies: product cards for ``recommend`` only."""
    return RouteDecision(
        route="recommend" if guess.intent == "recommend" else "chat",
        p_recommend=guess.p_recommend,
        by_rule=guess.by_rule,
        intent=guess.intent,
        confidence=guess.confidence,
        confident=guess.confident,
    )


class IntentRouter:
    """Routes by the message's intent: explicit rules first, then the intent classifier on its embedding."""

    def __init__(self, encoder: Encoder, classifier: IntentClassifier) -> None:
        self._encoder = encoder
        self.classifier = classifier

    def p_recommend(self, text: str) -> float:
        """The learned model's probability that ``text`` asks for recommendations."""
        return self.classifier.classify(text).p_recommend

    def classify(self, text: str) -> RouteDecision:
        """Route one customer message (blocking: embeds it here)."""
        return self._decide(text, self._encoder.encode([text])[0])

    async def route(self, text: str) -> RouteDecision:
        """Route one customer message: the embedding is awaited (encoder process) or made on a thread."""
        embed = getattr(self._encoder, "embed", None)
        if embed is not None:
            vector = await embed(text)
        else:
            vectors = await asyncio.get_running_loop().run_in_executor(None, self._encoder.encode, [text])
            vector = vectors[0]
        return self._decide(text, vector)

    def settled(self, text: str) -> Route | None:
        """``recommend`` for an unambiguous ask for suggestions, ``chat`` for a clear service request, else None."""
        intent = ruled(text)
        if intent is None:
            return None
        return "recommend" if intent == "recommend" else "chat"

    def _decide(self, text: str, vector: npt.NDArray[np.float32]) -> RouteDecision:
        # The one embedding routing made is reused for the intent: a message is embedded once.
        return decision(self.classifier.decide(text, vector))


def default_router(encoder: Encoder, path: Path = TRAIN_PATH) -> IntentRouter:
    """The router over the intent classifier trained on the shipped examples; trained once per process."""
    return IntentRouter(encoder, default_classifier(encoder, path))

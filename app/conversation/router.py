"""Intent routing: does a message ask for product recommendations (``recommend``) or anything else (``chat``)?"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Protocol

import numpy as np
import numpy.typing as npt

from app.events import Route
from app.shop.embedding import Encoder

TRAIN_PATH = Path(__file__).resolve().parent.parent / "data" / "router" / "train.tsv"

# Unambiguous asks for suggestions; they settle the route before the learned model is consulted, so a shop
# can rely on them whatever the training data says.
_RECOMMEND_CUES = re.compile(
    r"\b(recommend(ation)?s?( me)?|suggest(ions?)?|gift ideas?|what should i (buy|get|order)|"
    r"more like (this|these|that)|best ?sellers?|something (similar|cheaper|different))\b",
    re.IGNORECASE,
)
# "Do you recommend tracked shipping?"-style questions are about service, not products.
_SERVICE_WORDS = re.compile(
    r"\b(shipping|delivery|courier|postage|refund|return(s|ing)?|payment|pay|password|account|order number)\b",
    re.IGNORECASE,
)


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
    """The chosen route and the probability the model gave ``recommend``."""

    route: Route
    p_recommend: float
    by_rule: bool


class Router(Protocol):
    """Decides which route answers a customer message."""

    async def route(self, text: str) -> RouteDecision:
        """Route one customer message without blocking the event loop."""
        ...

    def settled(self, text: str) -> Route | None:
        """The route if explicit rules alone decide it (no model needed), else None; instant."""
        ...


def _train_logistic(
    x: npt.NDArray[np.float32],
    y: npt.NDArray[np.float32],
    l2: float = 1e-3,
    steps: int = 800,
    lr: float = 2.0,
) -> tuple[npt.NDArray[np.float64], float]:
    # Full-batch gradient descent: a few hundred examples × 512 dims train in milliseconds, deterministically.
    w = np.zeros(x.shape[1], dtype=np.float64)
    b = 0.0
    xd = x.astype(np.float64)
    for _ in range(steps):
        z = xd @ w + b
        p = 1.0 / (1.0 + np.exp(-z))
        grad = p - y
        w -= lr * (xd.T @ grad / len(y) + l2 * w)
        b -= lr * float(grad.mean())
    return w, b


class IntentRouter:
    """Logistic regression on sentence embeddings plus a few explicit cues; trained at start-up."""

    def __init__(
        self, encoder: Encoder, examples: Sequence[tuple[Route, str]], threshold: float = 0.5
    ) -> None:
        if not any(label == "recommend" for label, _ in examples) or not any(
            label == "chat" for label, _ in examples
        ):
            raise ValueError("router training data needs examples of both routes")
        self._encoder = encoder
        self.threshold = threshold
        x = encoder.encode([text for _, text in examples])
        y = np.array([1.0 if label == "recommend" else 0.0 for label, _ in examples], dtype=np.float32)
        self._w, self._b = _train_logistic(x, y)

    def p_recommend(self, text: str) -> float:
        """The learned model's probability that ``text`` asks for recommendations."""
        return self._probability(self._encoder.encode([text])[0])

    def _probability(self, vector: npt.NDArray[np.float32]) -> float:
        z = float(vector.astype(np.float64) @ self._w + self._b)
        return 1.0 / (1.0 + float(np.exp(-z)))

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
        """``recommend`` for an unambiguous ask for suggestions; otherwise the learned model decides (None)."""
        if _RECOMMEND_CUES.search(text) and not _SERVICE_WORDS.search(text):
            return "recommend"
        return None

    def _decide(self, text: str, vector: npt.NDArray[np.float32]) -> RouteDecision:
        p = self._probability(vector)
        if self.settled(text) == "recommend":
            return RouteDecision(route="recommend", p_recommend=p, by_rule=True)
        return RouteDecision(
            route="recommend" if p >= self.threshold else "chat", p_recommend=p, by_rule=False
        )


@lru_cache(maxsize=4)
def _cached_router(encoder: Encoder, path: Path) -> IntentRouter:
    return IntentRouter(encoder, read_labelled(path))


def default_router(encoder: Encoder, path: Path = TRAIN_PATH) -> IntentRouter:
    """The router trained on the shipped examples; trained once per process."""
    return _cached_router(encoder, path)

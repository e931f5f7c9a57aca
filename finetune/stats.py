"""Exact distributions in bounded memory (a count per distinct value) and the guide's epoch/cost estimate."""

from __future__ import annotations

import bisect
import itertools
import math
from collections import Counter
from dataclasses import dataclass
from typing import Any

# The guide's defaults for how many epochs a job trains when none is given.
TARGET_EPOCHS = 3
MIN_TARGET_EXAMPLES = 100
MAX_TARGET_EXAMPLES = 25_000
MIN_DEFAULT_EPOCHS = 1
MAX_DEFAULT_EPOCHS = 25

# USD per 1M training tokens (OpenAI's published prices); override with --price-per-million.
TRAINING_PRICE_PER_MILLION: dict[str, float] = {
    "gpt-4.1-nano": 1.50,
    "gpt-4.1-mini": 5.00,
    "gpt-4.1": 25.00,
    "gpt-4o-mini": 3.00,
    "gpt-4o": 25.00,
    "gpt-3.5-turbo": 8.00,
    "davinci-002": 6.00,
    "babbage-002": 0.40,
}


class Distribution:
    """Counts per integer value: exact quantiles with memory bounded by the number of distinct values."""

    def __init__(self) -> None:
        self.counts: Counter[int] = Counter()
        self.n = 0
        self.total = 0

    def add(self, value: int) -> None:
        """Record one observation."""
        self.counts[value] += 1
        self.n += 1
        self.total += value

    def add_counts(self, counts: Counter[int]) -> None:
        """Record many observations at once, given as a count per value (e.g. another process's)."""
        self.counts.update(counts)
        self.n += sum(counts.values())
        self.total += sum(value * n for value, n in counts.items())

    def _value_at(self, rank: int, keys: list[int], cumulative: list[int]) -> int:
        return keys[bisect.bisect_right(cumulative, rank)]

    def quantile(self, q: float) -> float:
        """``numpy.quantile(values, q)`` (linear interpolation) without holding the values."""
        if not self.n:
            return math.nan
        keys = sorted(self.counts)
        cumulative = list(itertools.accumulate(self.counts[k] for k in keys))
        position = q * (self.n - 1)
        low = math.floor(position)
        lo_value = self._value_at(low, keys, cumulative)
        hi_value = self._value_at(min(low + 1, self.n - 1), keys, cumulative)
        return lo_value + (hi_value - lo_value) * (position - low)

    def summary(self) -> dict[str, Any]:
        """min / p5 / median / mean / p95 / max / sum, as the report shows them."""
        if not self.n:
            return {"count": 0}
        return {
            "count": self.n,
            "min": min(self.counts),
            "p5": self.quantile(0.05),
            "median": self.quantile(0.5),
            "mean": self.total / self.n,
            "p95": self.quantile(0.95),
            "max": max(self.counts),
            "sum": self.total,
        }


def default_epochs(n_train_examples: int) -> int:
    """The guide's default epoch count for a training set of this size."""
    n_epochs = TARGET_EPOCHS
    if n_train_examples == 0:
        return n_epochs
    if n_train_examples * TARGET_EPOCHS < MIN_TARGET_EXAMPLES:
        n_epochs = min(MAX_DEFAULT_EPOCHS, MIN_TARGET_EXAMPLES // n_train_examples)
    elif n_train_examples * TARGET_EPOCHS > MAX_TARGET_EXAMPLES:
        n_epochs = max(MIN_DEFAULT_EPOCHS, MAX_TARGET_EXAMPLES // n_train_examples)
    return n_epochs


def price_per_million(model: str, override: float | None = None) -> float | None:
    """USD per 1M training tokens of ``model``: the override, the longest matching prefix, or None."""
    if override is not None:
        return override
    prefixes = [p for p in TRAINING_PRICE_PER_MILLION if model.startswith(p)]
    return TRAINING_PRICE_PER_MILLION[max(prefixes, key=len)] if prefixes else None


@dataclass(frozen=True, slots=True)
class CostEstimate:
    """Billed tokens and price of training on the train split."""

    n_train_examples: int
    epochs: int
    epochs_source: str
    billing_tokens_in_dataset: int
    billed_tokens: int
    price_per_million: float | None
    cost_usd: float | None

    def as_json(self) -> dict[str, Any]:
        """The estimate as report.json holds it."""
        return {
            "n_train_examples": self.n_train_examples,
            "epochs": self.epochs,
            "epochs_source": self.epochs_source,
            "billing_tokens_in_dataset": self.billing_tokens_in_dataset,
            "billed_tokens": self.billed_tokens,
            "price_per_million_usd": self.price_per_million,
            "estimated_cost_usd": self.cost_usd,
        }


def estimate_cost(
    train_tokens: Distribution,
    max_tokens_per_example: int,
    model: str,
    epochs: int | None,
    price: float | None,
) -> CostEstimate:
    """The guide's rule: sum of min(limit, tokens) over training examples, times epochs."""
    n = train_tokens.n
    n_epochs = epochs if epochs is not None else default_epochs(n)
    in_dataset = sum(
        min(max_tokens_per_example, value) * count for value, count in train_tokens.counts.items()
    )
    billed = in_dataset * n_epochs
    unit = price_per_million(model, price)
    return CostEstimate(
        n_train_examples=n,
        epochs=n_epochs,
        epochs_source="--epochs" if epochs is not None else "default",
        billing_tokens_in_dataset=in_dataset,
        billed_tokens=billed,
        price_per_million=unit,
        cost_usd=round(billed / 1_000_000 * unit, 4) if unit is not None else None,
    )

"""Retrieval over the shop's FAQ (semantic) and catalog (BM25 over product names)."""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import numpy.typing as npt

from app.embedding import Encoder
from app.shop import FaqEntry, Product, Shop

_WORD = re.compile(r"[a-z0-9]+")
# Words that say nothing about which product is meant.
_STOP = frozenset(
    [
        "a",
        "an",
        "the",
        "and",
        "or",
        "of",
        "for",
        "to",
        "in",
        "on",
        "with",
        "is",
        "are",
        "do",
        "does",
        "you",
        "your",
        "have",
        "has",
        "i",
        "me",
        "my",
        "we",
        "our",
        "it",
        "this",
        "that",
        "sell",
        "any",
        "some",
        "how",
        "much",
        "what",
        "price",
        "cost",
        "costs",
        "stock",
        "available",
        "there",
        "can",
        "get",
        "buy",
        "please",
        "want",
        "need",
        "looking",
        "find",
        "show",
        "tell",
        "about",
        "per",
        "each",
        "one",
    ]
)


def _singular(word: str) -> str:
    # Crude English plural folding, applied alike to names and queries, so "boxes" finds "Lunch Box".
    if len(word) <= 3 or not word.endswith("s") or word.endswith("ss"):
        return word
    if word.endswith("ies"):
        return word[:-3] + "y"
    if word.endswith(("xes", "ches", "shes", "sses")):
        return word[:-2]
    return word[:-1]


def terms(text: str) -> list[str]:
    """Lower-case word stems used for catalog search (plural 's' folded)."""
    out = []
    for word in _WORD.findall(text.lower()):
        if word in _STOP:
            continue
        out.append(_singular(word))
    return out


@dataclass(frozen=True, slots=True)
class FaqHit:
    """An FAQ entry and how closely the best of its questions matches."""

    entry: FaqEntry
    score: float


@dataclass(frozen=True, slots=True)
class ProductHit:
    """A catalog product and its BM25 score for the query."""

    product: Product
    score: float
    matched: float


@lru_cache(maxsize=8)
def _encode_cached(encoder: Encoder, texts: tuple[str, ...]) -> npt.NDArray[np.float32]:
    # Every app instance (and test) with the same FAQ shares one embedding pass.
    vectors = encoder.encode(texts)
    vectors.setflags(write=False)
    return vectors


class FaqIndex:
    """Nearest-question search over every phrasing of every FAQ entry."""

    def __init__(self, encoder: Encoder, entries: Sequence[FaqEntry]) -> None:
        self._encoder = encoder
        self._entries = list(entries)
        owners: list[int] = []
        texts: list[str] = []
        for index, entry in enumerate(self._entries):
            for question in entry.questions:
                owners.append(index)
                texts.append(question)
        self._owners = np.array(owners, dtype=np.int64)
        self._vectors = _encode_cached(encoder, tuple(texts))

    def search(self, text: str, n: int = 3) -> list[FaqHit]:
        """The ``n`` best entries, best first, scored by cosine similarity of the closest phrasing."""
        if not self._entries:
            return []
        sims = self._vectors @ self._encoder.encode([text])[0]
        best = np.full(len(self._entries), -1.0)
        np.maximum.at(best, self._owners, sims)
        order = np.argsort(-best, kind="stable")[:n]
        return [FaqHit(entry=self._entries[i], score=float(best[i])) for i in order]


class CatalogIndex:
    """Okapi BM25 over product names; small enough to score every product per query."""

    def __init__(self, products: Sequence[Product], k1: float = 1.2, b: float = 0.75) -> None:
        self._products = list(products)
        self._docs = [Counter(terms(p.name)) for p in self._products]
        lengths = np.array([sum(d.values()) for d in self._docs], dtype=np.float64)
        self._avg_len = float(lengths.mean()) if len(lengths) else 1.0
        self._lengths = lengths
        df: Counter[str] = Counter()
        for doc in self._docs:
            df.update(doc.keys())
        n = len(self._docs)
        self._idf = {t: math.log(1 + (n - f + 0.5) / (f + 0.5)) for t, f in df.items()}
        self._postings: dict[str, list[int]] = {}
        for index, doc in enumerate(self._docs):
            for term in doc:
                self._postings.setdefault(term, []).append(index)
        self._k1 = k1
        self._b = b

    def search(self, text: str, n: int = 5) -> list[ProductHit]:
        """Products whose names match ``text``, best first; ``matched`` is the share of the query's words found."""
        wanted = list(dict.fromkeys(terms(text)))
        query = [t for t in wanted if t in self._idf]
        if not query:
            return []
        scores: dict[int, float] = {}
        matched: Counter[int] = Counter()
        for term in query:
            idf = self._idf[term]
            for index in self._postings[term]:
                tf = self._docs[index][term]
                norm = tf + self._k1 * (1 - self._b + self._b * self._lengths[index] / self._avg_len)
                scores[index] = scores.get(index, 0.0) + idf * tf * (self._k1 + 1) / norm
                matched[index] += 1
        ranked = sorted(scores, key=lambda i: (-scores[i], -self._products[i].n_customers))[:n]
        return [
            ProductHit(product=self._products[i], score=scores[i], matched=matched[i] / len(wanted))
            for i in ranked
        ]

    def vocabulary(self) -> frozenset[str]:
        """Every term that occurs in some product name."""
        return frozenset(self._idf)


class KnowledgeBase:
    """The shop's searchable knowledge: FAQ answers and the catalog."""

    def __init__(self, shop: Shop, encoder: Encoder) -> None:
        self.shop = shop
        self.faq = FaqIndex(encoder, shop.faq)
        self.catalog = CatalogIndex(list(shop.products.values()))

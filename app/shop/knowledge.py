"""Retrieval over the shop's FAQ (sentence embeddings plus BM25) and catalog (BM25 over product names)."""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Final

import numpy as np
import numpy.typing as npt

from app.shop.catalog import FaqEntry, Product, Shop
from app.shop.embedding import Encoder, encode_corpus
from app.shop.text import singular

_WORD = re.compile(r"[a-z0-9]+")
# FAQ texts come in the shop's languages: "rücksendung" is one word, not "r" and "cksendung".
_FAQ_WORD = re.compile(r"[^\W_]+")
_COMMON = frozenset(
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
        "can",
        "be",
        "what",
        "how",
        "when",
        "where",
        "which",
        "who",
        "will",
        "would",
        "could",
        "should",
        "please",
        "there",
        "any",
        "some",
        "am",
        "was",
        "were",
        "if",
        "at",
        "by",
        "from",
        "as",
        "so",
        "just",
    ]
)
# In a catalog search these also say nothing about which product is meant.
_SHOPPING = frozenset(
    [
        "sell",
        "much",
        "price",
        "cost",
        "costs",
        "stock",
        "available",
        "get",
        "buy",
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
_CATALOG_STOP = _COMMON | _SHOPPING

# Hybrid FAQ score = best cosine + FAQ_LEXICAL_WEIGHT * min(BM25 / FAQ_LEXICAL_SCALE, 1). Chosen by
# leave-one-out over the FAQ's own phrasings (each held out and matched against the rest): 70/98 top-1
# against 64/98 for embeddings alone.
FAQ_LEXICAL_WEIGHT = 0.15
FAQ_LEXICAL_SCALE = 5.0


def _stem_more(word: str) -> str:
    word = singular(word)
    if len(word) > 5 and word.endswith("ing"):
        return word[:-3]
    if len(word) > 4 and word.endswith("ed"):
        return word[:-2]
    return word


def terms(text: str) -> list[str]:
    """Catalog search terms: lower-case, plurals folded, shopping filler words dropped."""
    return [singular(w) for w in _WORD.findall(text.lower()) if w not in _CATALOG_STOP]


# Words shop customers use for the same thing ("postage", "carriage", "shipping" are delivery): one term each, so
# the lexical part of the FAQ score counts them as the shop's own word.
_SAME: Final = {
    "postage": "delivery",
    "carriage": "delivery",
    "shipping": "delivery",
    "package": "parcel",
    "packet": "parcel",
    "staff": "human",
    "agent": "human",
    "person": "human",
    "colleague": "human",
}


def faq_terms(text: str) -> list[str]:
    """FAQ search terms: lower-case, synonyms merged, plurals and -ing/-ed folded, function words dropped."""
    return [_stem_more(_SAME.get(w, w)) for w in _FAQ_WORD.findall(text.lower()) if w not in _COMMON]


class BM25:
    """Okapi BM25 over small collections; scores only the documents that share a term with the query."""

    def __init__(self, documents: Iterable[Sequence[str]], k1: float = 1.2, b: float = 0.75) -> None:
        self._docs = [Counter(doc) for doc in documents]
        self._lengths = [sum(doc.values()) for doc in self._docs]
        self._avg_len = (sum(self._lengths) / len(self._docs)) if self._docs else 1.0
        df: Counter[str] = Counter()
        for doc in self._docs:
            df.update(doc.keys())
        n = len(self._docs)
        self.idf = {t: math.log(1 + (n - f + 0.5) / (f + 0.5)) for t, f in df.items()}
        self._postings: dict[str, list[int]] = {}
        for index, doc in enumerate(self._docs):
            for term in doc:
                self._postings.setdefault(term, []).append(index)
        self._k1 = k1
        self._b = b

    def __len__(self) -> int:
        return len(self._docs)

    def scores(self, query: Sequence[str]) -> tuple[dict[int, float], Counter[int]]:
        """Score per matching document, and how many distinct query terms each matched."""
        scores: dict[int, float] = {}
        matched: Counter[int] = Counter()
        for term in dict.fromkeys(query):
            idf = self.idf.get(term)
            if idf is None:
                continue
            for index in self._postings[term]:
                tf = self._docs[index][term]
                norm = tf + self._k1 * (1 - self._b + self._b * self._lengths[index] / self._avg_len)
                scores[index] = scores.get(index, 0.0) + idf * tf * (self._k1 + 1) / norm
                matched[index] += 1
        return scores, matched


@dataclass(frozen=True, slots=True)
class FaqHit:
    """An FAQ entry and its hybrid score (closest phrasing's cosine plus a bounded lexical bonus)."""

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
    vectors = encode_corpus(encoder, texts)
    vectors.setflags(write=False)
    return vectors


class FaqIndex:
    """Finds the FAQ entry a question is about: nearest phrasing by meaning, plus shared words."""

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
        # Words carry what paraphrase embeddings blur ("damaged" vs "late"): each entry's phrasings and answer.
        self._lexical = BM25(
            faq_terms(" ".join([*entry.questions, entry.answer, *entry.answers.values()]))
            for entry in self._entries
        )

    def search(self, text: str, n: int = 3) -> list[FaqHit]:
        """The ``n`` best entries, best first."""
        if not self._entries:
            return []
        return self.search_vector(self._encoder.encode([text])[0], text, n)

    def nearest_entries(self, text: str, n: int = 2) -> list[str]:
        """The ids of the ``n`` entries whose phrasings are closest to ``text`` by meaning alone."""
        if not self._entries:
            return []
        sims = self._vectors @ self._encoder.encode([text])[0]
        best = np.full(len(self._entries), -1.0)
        np.maximum.at(best, self._owners, sims)
        return [self._entries[i].faq_id for i in np.argsort(-best, kind="stable")[:n]]

    def search_words(self, text: str, n: int = 3) -> list[FaqHit]:
        """The ``n`` entries sharing the most telling words with ``text`` (no embedding: for when it cannot
        wait); the score is the lexical part of ``search``'s, 0 to 1."""
        lexical, _ = self._lexical.scores(faq_terms(text))
        ranked = sorted(lexical, key=lambda i: -lexical[i])[:n]
        return [
            FaqHit(entry=self._entries[i], score=min(lexical[i] / FAQ_LEXICAL_SCALE, 1.0)) for i in ranked
        ]

    def search_vector(self, vector: npt.NDArray[np.float32], text: str, n: int = 3) -> list[FaqHit]:
        """``search`` with the text's embedding already made."""
        if not self._entries:
            return []
        sims = self._vectors @ vector
        best = np.full(len(self._entries), -1.0)
        np.maximum.at(best, self._owners, sims)
        lexical, _ = self._lexical.scores(faq_terms(text))
        for index, value in lexical.items():
            best[index] += FAQ_LEXICAL_WEIGHT * min(value / FAQ_LEXICAL_SCALE, 1.0)
        order = np.argsort(-best, kind="stable")[:n]
        return [FaqHit(entry=self._entries[i], score=float(best[i])) for i in order]


class CatalogIndex:
    """BM25 over product names; small enough to score every matching product per query."""

    def __init__(self, products: Sequence[Product]) -> None:
        self._products = list(products)
        self._bm25 = BM25(terms(p.name) for p in self._products)

    def search(self, text: str, n: int = 5) -> list[ProductHit]:
        """Products whose names match ``text``, best first; ``matched`` is the share of the query's words found."""
        wanted = list(dict.fromkeys(terms(text)))
        if not wanted:
            return []
        scores, matched = self._bm25.scores(wanted)
        ranked = sorted(scores, key=lambda i: (-scores[i], -self._products[i].n_customers))[:n]
        return [
            ProductHit(product=self._products[i], score=scores[i], matched=matched[i] / len(wanted))
            for i in ranked
        ]

    def vocabulary(self) -> frozenset[str]:
        """Every term that occurs in some product name."""
        return frozenset(self._bm25.idf)


class KnowledgeBase:
    """The shop's searchable knowledge: FAQ answers and the catalog."""

    def __init__(self, shop: Shop, encoder: Encoder) -> None:
        self.shop = shop
        self.encoder = encoder
        self.faq = FaqIndex(encoder, shop.faq)
        # Postage and fee lines are not something to describe to a customer asking about products.
        self.catalog = CatalogIndex(shop.for_sale())

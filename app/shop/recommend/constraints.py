"""What a customer's message asks for: a price range, product keywords and products they refer to."""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from typing import Final

from app.shop.text import singular

# Words that carry the request's intent or grammar, never a product type. "gift"/"present" are here because
# "a gift under £5" asks for anything giftable, not for gift-wrap or gift bags.
STOPWORDS: Final = frozenset(
    [
        "a",
        "an",
        "the",
        "and",
        "or",
        "but",
        "of",
        "for",
        "to",
        "in",
        "on",
        "at",
        "by",
        "with",
        "from",
        "into",
        "about",
        "as",
        "is",
        "are",
        "was",
        "were",
        "be",
        "been",
        "am",
        "do",
        "does",
        "did",
        "i",
        "me",
        "my",
        "mine",
        "we",
        "us",
        "our",
        "you",
        "your",
        "he",
        "him",
        "his",
        "she",
        "her",
        "they",
        "them",
        "their",
        "it",
        "its",
        "this",
        "that",
        "these",
        "those",
        "there",
        "here",
        "what",
        "which",
        "who",
        "whom",
        "whose",
        "when",
        "where",
        "why",
        "how",
        "any",
        "some",
        "something",
        "anything",
        "things",
        "thing",
        "stuff",
        "one",
        "ones",
        "please",
        "pls",
        "thanks",
        "thank",
        "hi",
        "hello",
        "hey",
        "can",
        "could",
        "would",
        "should",
        "will",
        "shall",
        "may",
        "might",
        "must",
        "need",
        "want",
        "wants",
        "wanted",
        "like",
        "love",
        "looking",
        "look",
        "find",
        "show",
        "give",
        "get",
        "got",
        "recommend",
        "recommendation",
        "recommendations",
        "suggest",
        "suggestion",
        "suggestions",
        "idea",
        "ideas",
        "gift",
        "gifts",
        "present",
        "presents",
        "buy",
        "buying",
        "bought",
        "purchase",
        "purchased",
        "order",
        "ordered",
        "ordering",
        "goes",
        "go",
        "going",
        "pair",
        "pairs",
        "match",
        "matches",
        "matching",
        "nice",
        "good",
        "great",
        "best",
        "cool",
        "lovely",
        "cheap",
        "cheaper",
        "cheapest",
        "under",
        "below",
        "less",
        "than",
        "over",
        "above",
        "more",
        "most",
        "max",
        "maximum",
        "min",
        "minimum",
        "least",
        "at",
        "up",
        "within",
        "around",
        "about",
        "between",
        "price",
        "priced",
        "pounds",
        "pound",
        "quid",
        "pence",
        "gbp",
        "p",
        "else",
        "also",
        "too",
        "very",
        "really",
        "just",
        "again",
        "other",
        "another",
        "same",
        "similar",
        "new",
        "old",
        "little",
        "lot",
        "lots",
        "much",
        "many",
        "few",
        "have",
        "has",
        "had",
        "maybe",
        "perhaps",
        "someone",
        "somebody",
        "friend",
        "mum",
        "mom",
        "dad",
        "mother",
        "father",
        "wife",
        "husband",
        "sister",
        "brother",
        "kid",
        "kids",
        "child",
        "children",
        "birthday",
        "anniversary",
        "person",
        "people",
        "customer",
        "customers",
        "me!",
        "tell",
        "know",
        "think",
        # When and how, not what: "what should I buy next?" must not look for "Next Day Carriage".
        "next",
        "then",
        "now",
        "time",
        "first",
        "last",
        "all",
        "back",
        "keep",
        "let",
        "make",
        "take",
        "pick",
        "choose",
        "no",
        "not",
        "only",
        "own",
        "top",
        "hot",
        "popular",
        "favourite",
        "favorite",
        "different",
        "instead",
        "alternative",
        "alternatives",
        "option",
        "options",
        "expensive",
        "pricey",
        "pricier",
        "dearer",
        "affordable",
        "budget",
        "shop",
        "store",
        "item",
        "items",
        "product",
        "products",
        # The chat itself, not what is for sale: "I sent you a message" must not look for Message Cards.
        "message",
        "messages",
        "msg",
        "chat",
        "text",
        "email",
        "mail",
        "reply",
        "answer",
        "question",
        "help",
        "send",
        "sent",
        "ask",
        "asked",
        "say",
        "said",
        "wondering",
        "today",
        "tomorrow",
        "week",
        "year",
    ]
)

_AMOUNT: Final = r"(?:£|\$|€|gbp\s*)?\s*(\d+(?:[.,]\d{1,2})?)\s*(p\b|pence\b|pounds?\b|quid\b|gbp\b)?"
_CAP: Final = re.compile(
    r"\b(?:under|below|beneath|less\s+than|cheaper\s+than|no\s+more\s+than|not\s+more\s+than|"
    r"up\s+to|max(?:imum)?(?:\s+of)?|at\s+most|within|no\s+(?:higher|greater)\s+than)\s*" + _AMOUNT,
    re.IGNORECASE,
)
_CAP_AFTER: Final = re.compile(
    _AMOUNT + r"\s*(?:or\s+less|or\s+under|or\s+below|max(?:imum)?\b|tops\b)", re.I
)
_FLOOR: Final = re.compile(
    r"\b(?:over|above|more\s+than|at\s+least|minimum(?:\s+of)?|min)\s*" + _AMOUNT, re.IGNORECASE
)
_BETWEEN: Final = re.compile(r"\bbetween\s*" + _AMOUNT + r"\s*(?:and|-|to)\s*" + _AMOUNT, re.IGNORECASE)
_LESS_SIGN: Final = re.compile(r"<=?\s*" + _AMOUNT)
# "goes with the mug I bought", "to match my lantern", "similar to the bunting": products the customer refers
# to, which anchor co-purchase suggestions instead of filtering the catalogue.
_ANCHOR: Final = re.compile(
    r"\b(?:go(?:es)?\s+(?:well\s+)?with|going\s+with|pairs?\s+with|to\s+match|matches|matching|"
    r"similar\s+to|like\s+(?:the|my)|complements?|along\s+with|together\s+with|with\s+(?:the|my))\s+"
    r"(?P<what>[^?.!,;]+)",
    re.IGNORECASE,
)
_WORD: Final = re.compile(r"[a-z][a-z'-]*")
# Relative asks: what the conversation just showed is the reference ("cheaper" than those cards).
_CHEAPER: Final = re.compile(
    r"\b(?:cheaper|less\s+expensive|lower[\s-]+price[sd]?|more\s+affordable|too\s+(?:expensive|pricey|dear|much)|"
    r"g(?:ü|ue)nstiger\w*|billiger\w*|preiswerter\w*|zu\s+teuer)\b",
    re.IGNORECASE,
)
_DEARER: Final = re.compile(
    r"\b(?:more\s+expensive|pricier|dearer|higher[\s-]+end|more\s+(?:upmarket|luxurious|premium)|teurer\w*|"
    r"hochwertiger\w*)\b",
    re.IGNORECASE,
)
# "something different", "show me more", "anything else?": not what was already shown. "More than £5" is a
# price floor, not this.
_FRESH: Final = re.compile(
    r"\b(?:different|else|other|others|another|new|alternatives?|instead|more(?!\s+(?:than|expensive|affordable|"
    r"upmarket|luxurious|premium)\b))\b",
    re.IGNORECASE,
)


@dataclass(frozen=True, slots=True)
class Constraints:
    """Parsed constraints; ``keywords`` filter products by name, ``anchors`` name products already owned."""

    max_price: float | None = None
    min_price: float | None = None
    keywords: tuple[str, ...] = ()
    anchors: tuple[str, ...] = ()
    cheaper: bool = False
    dearer: bool = False
    fresh: bool = False

    @property
    def relative(self) -> bool:
        """Whether the message is about the products shown before ("cheaper", "something different" …)."""
        return self.cheaper or self.dearer or self.fresh

    def allows_price(self, price: float) -> bool:
        """Whether ``price`` lies in the requested range (bounds inclusive)."""
        if self.max_price is not None and price > self.max_price:
            return False
        return not (self.min_price is not None and price < self.min_price)

    def after(self, prices: Sequence[float]) -> Constraints:
        """Bounds for "cheaper" / "more expensive" than the cards last shown, at ``prices``.

        Cheaper means below the cheapest of them (more expensive: above the dearest); a price the customer
        named ("cheaper than £3") wins. With nothing shown before, there is nothing to compare with.
        """
        if not prices:
            return self
        out = self
        if self.cheaper and self.max_price is None:
            out = replace(out, max_price=math.nextafter(min(prices), -math.inf))
        if self.dearer and self.min_price is None:
            out = replace(out, min_price=math.nextafter(max(prices), math.inf))
        return out


_SYNONYMS: Final = {"xmas": "christmas", "mugs": "mug", "colour": "color", "grey": "gray"}


def words(text: str) -> list[str]:
    """Lower-case singular words of ``text``, with a few spelling variants folded together."""
    out: list[str] = []
    for raw in _WORD.findall(text.lower()):
        word = raw.strip("'-")
        if word:
            out.append(singular(_SYNONYMS.get(word, word)))
    return out


def _amount(number: str, unit: str | None) -> float:
    value = float(number.replace(",", "."))
    if unit and unit.lower() in {"p", "pence"}:
        return value / 100.0
    return value


def _content_words(text: str, vocabulary: Iterable[str] | None) -> tuple[str, ...]:
    vocab = set(vocabulary) if vocabulary is not None else None
    seen: list[str] = []
    for word in words(text):
        if word in STOPWORDS or len(word) < 3 or word in seen:
            continue
        if vocab is None or word in vocab:
            seen.append(word)
    return tuple(seen)


def parse_constraints(message: str, vocabulary: Iterable[str] | None = None) -> Constraints:
    """Read price bounds, keywords and referred-to products from a customer's message.

    ``vocabulary`` (singular lower-case words of product names) keeps only words that could match a product;
    without it every content word is a keyword.
    """
    text = message or ""
    max_price: float | None = None
    min_price: float | None = None
    between = _BETWEEN.search(text)
    if between:
        low = _amount(between.group(1), between.group(2))
        high = _amount(between.group(3), between.group(4) or between.group(2))
        min_price, max_price = min(low, high), max(low, high)
        text = text.replace(between.group(0), " ")
    for pattern in (_CAP, _CAP_AFTER, _LESS_SIGN):
        for match in pattern.finditer(text):
            cap = _amount(match.group(1), match.group(2))
            max_price = cap if max_price is None else min(max_price, cap)
    for match in _FLOOR.finditer(text):
        floor = _amount(match.group(1), match.group(2))
        min_price = floor if min_price is None else max(min_price, floor)
    anchors: tuple[str, ...] = ()
    anchor = _ANCHOR.search(text)
    rest = text
    if anchor:
        anchors = _content_words(anchor.group("what"), vocabulary)
        rest = text[: anchor.start()] + " " + text[anchor.end() :]
    keywords = tuple(w for w in _content_words(rest, vocabulary) if w not in anchors)
    return Constraints(
        max_price=max_price,
        min_price=min_price,
        keywords=keywords,
        anchors=anchors,
        cheaper=_CHEAPER.search(text) is not None,
        dearer=_DEARER.search(text) is not None,
        fresh=_FRESH.search(text) is not None,
    )

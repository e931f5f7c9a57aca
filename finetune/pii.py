"""Personal data redaction with typed, per-conversation-consistent placeholders such as ``[EMAIL_1]``."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from finetune.errors import ErrorCode, FinetuneError

EMAIL_RE = re.compile(
    r"(?<![\w.+-])[A-Za-z0-9._%+-]{1,64}@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,24}\b"
)
IBAN_RE = re.compile(r"\b[A-Z]{2}\d{2}(?: ?[A-Z0-9]{4}){2,7}(?: ?[A-Z0-9]{1,3})?\b", re.IGNORECASE)
CARD_RE = re.compile(r"(?<![\d-])\d(?:[ -]?\d){12,18}(?![\d-])")
# A country code, an area code in parentheses ("(020)", "(0)"), then digit groups split by spaces, dashes or dots:
# groups of any length, so "07700 900123", "030 12345678" and "+33 1 23 45 67 89" are all one number.
# ``_phone_ok`` then asks for 10-15 digits written the way phone numbers start.
PHONE_RE = re.compile(
    r"(?<![\w+#£$€.,/-])(?:\+\d{1,3}[ .-]?)?(?:\(\d{1,5}\)[ .-]?)?\d{1,15}(?:[ .-]\d{1,8}){0,5}"
    r"(?![\w/-]|[.,]\d)"
)
_NANP_RE = re.compile(r"^(?:1[ .-])?\(?\d{3}\)?[ .-]?\d{3}[ .-]\d{4}$")
# "01.02.2023 10" or "2023-01-15 10" have the digits of a phone number; a real date at the start says otherwise.
_DATE_START_RE = re.compile(
    r"(\d{1,2})([./-])(\d{1,2})\2((?:19|20)\d\d)(?!\d)|((?:19|20)\d\d)([./-])(\d{1,2})\6(\d{1,2})(?!\d)"
)
_STREET_TYPES = (
    "Street|St|Road|Rd|Avenue|Ave|Lane|Ln|Drive|Dr|Boulevard|Blvd|Close|Way|Court|Ct|Place|Pl|Terrace|"
    "Crescent|Gardens|Square|Sq|Parkway|Pkwy|Highway|Hwy|Row|Mews|Grove|Walk"
)
ADDRESS_RE = re.compile(
    rf"\b\d{{1,5}}[A-Za-z]?,?\s+(?:[A-Z][a-z'’]+\.?\s+){{1,4}}(?:{_STREET_TYPES})\b\.?"
    r"(?:,?\s*(?:Apt|Apartment|Flat|Suite|Unit)\.?\s*#?\w{1,6})?"
    r"(?:,\s*[A-Z][a-z]+(?:[ -][A-Z][a-z]+){0,2})?"
    r"(?:,?\s*(?:[A-Z]{1,2}\d[A-Z\d]?\s+\d[A-Z]{2}|[A-Z]{2}\s+\d{5}(?:-\d{4})?|\d{5}(?:-\d{4})?))?"
)
POSTCODE_RE = re.compile(r"\b[A-Z]{1,2}\d[A-Z\d]?\s+\d[A-Z]{2}\b")

_ID_KEYWORDS = "order|purchase|invoice|bill|booking|tracking|reference|ref|transaction|shipment"
_ACCOUNT_KEYWORDS = "account|acct|customer|member|membership|loyalty card"
# Without a qualifier ("number", "#", "id") a bare short number after "order" is more often a quantity or a
# product code ("order 22423"), so it needs six digits or a leading '#'.
DEFAULT_ID_PATTERNS: tuple[tuple[str, str], ...] = (
    (
        "ORDER",
        rf"(?i)\b(?:{_ID_KEYWORDS})\b(?:\s+(?!phone|mobile|card|tele|tel\b|contact)\w+){{0,3}}?\s*"
        r"(?:number|no\.?|num|id|code|#)\s*(?:is\s+|:\s*)?"
        r"(?P<value>#?[A-Z]{0,4}-?\d[\d-]{2,}[A-Z0-9]*)",
    ),
    (
        "ORDER",
        rf"(?i)\b(?:{_ID_KEYWORDS})\s*(?:is\s+|:\s*)?(?P<value>#\d{{3,}}[A-Z0-9-]*|[A-Z]{{0,4}}-?\d{{6,}}[A-Z0-9]*)",
    ),
    (
        "ACCOUNT",
        rf"(?i)\b(?:{_ACCOUNT_KEYWORDS})\s*(?:number|no\.?|num|id|#)?\s*(?:is\s+|:\s*)?"
        r"(?P<value>#?[A-Z]{0,4}-?\d{5,}[A-Z0-9]*)",
    ),
)
_PLACEHOLDER_RE = re.compile(r"\[[A-Z]+_\d+\]")
# Cheap necessary conditions, so that the full patterns (slow in ``re``) run only on text that may match.
_CLUSTER_RE = re.compile(r"\d[\d ().-]*\d")
_STREET_GATE_RE = re.compile(rf" (?:{_STREET_TYPES})\b")
# What ADDRESS_RE needs right after the house number: optional letter and comma, space, a capital.
_HOUSE_NUMBER_RE = re.compile(r"\d[A-Za-z]?,?\s+[A-Z]")
_DEFAULT_KEYWORDS = tuple(k.strip() for k in f"{_ID_KEYWORDS}|{_ACCOUNT_KEYWORDS}".split("|"))
# The keyword alternatives each default pattern starts with, in DEFAULT_ID_PATTERNS order.
_DEFAULT_ID_ANCHORS = (
    tuple(_ID_KEYWORDS.split("|")),
    tuple(_ID_KEYWORDS.split("|")),
    tuple(_ACCOUNT_KEYWORDS.split("|")),
)


_DIGIT_RE = re.compile(r"\d")
# Cluster characters that are not digits: what ``len(cluster) - digits`` counts, at C speed.
_NOT_DIGITS = str.maketrans(dict.fromkeys(" ().-"))


class Scan:
    """What the gates know about a text: its digit clusters (start, end, digits), '@' and lowercase form."""

    __slots__ = (
        "_positions",
        "clusters",
        "has_at",
        "has_digit",
        "lower",
        "max_digits",
        "spaced_digits",
        "text",
    )

    def __init__(
        self,
        text: str,
        clusters: tuple[tuple[int, int, int], ...] = (),
        has_digit: bool = False,
        max_digits: int = 0,
        spaced_digits: bool = False,
    ) -> None:
        self.text = text
        self.lower = text.lower()
        self.has_at = "@" in text
        self.clusters = clusters
        self.max_digits = max_digits
        self.spaced_digits = spaced_digits
        self.has_digit = has_digit
        self._positions: dict[str, list[int]] = {}

    @classmethod
    def of(cls, text: str) -> Scan:
        """Scan ``text`` once (one cheap regex pass, none for ASCII text without digits)."""
        start = 0
        ascii_digits = False
        if text.isascii():
            # Ten substring searches run at memchr speed, where ``re`` steps through the text one position
            # at a time looking for a digit; no cluster can start before the first digit.
            found = [i for i in map(text.find, "0123456789") if i >= 0]
            if not found:
                return cls(text)
            start = min(found)
            ascii_digits = True
        clusters: list[tuple[int, int, int]] = []
        max_digits = 0
        spaced = False
        for match in _CLUSTER_RE.finditer(text, start):
            cluster = match.group(0)
            digits = len(cluster.translate(_NOT_DIGITS))
            clusters.append((match.start(), match.end(), digits))
            max_digits = max(max_digits, digits)
            spaced = spaced or " " in cluster
        # A single digit forms no cluster, so look for one only when there is no cluster.
        has_digit = ascii_digits or bool(clusters) or _DIGIT_RE.search(text) is not None
        return cls(text, tuple(clusters), has_digit, max_digits, spaced)

    def positions(self, word: str) -> list[int]:
        """Every start of ``word`` in ``lower`` (overlaps included), found once per scan."""
        cached = self._positions.get(word)
        if cached is None:
            cached = []
            lower = self.lower
            start = lower.find(word)
            while start >= 0:
                cached.append(start)
                start = lower.find(word, start + 1)
            self._positions[word] = cached
        return cached

    def keyword_hits(self) -> list[tuple[int, int]]:
        """(start, end) in ``lower`` of every occurrence of every default identifier keyword."""
        return [(start, start + len(k)) for k in _DEFAULT_KEYWORDS for start in self.positions(k)]


def _same_kind(a: str, b: str) -> bool:
    return (a.isdigit() and b.isdigit()) or (a.isalpha() and b.isalpha())


def _always(_: Scan) -> bool:
    return True


def _has_id_keyword(scan: Scan) -> bool:
    # The default patterns need a keyword at most a few words before a number of 3+ digits: some keyword
    # lies within ``lower[start - 48 : start]`` of such a cluster.
    if scan.max_digits < 3:
        return False
    hits = scan.keyword_hits()
    if not hits:
        return False
    return any(
        digits >= 3 and any(max(0, start - 48) <= a and b <= start for a, b in hits)
        for start, _, digits in scan.clusters
    )


def _street_gate(scan: Scan) -> bool:
    # Every address starts with a house number then a capitalised word; looking for that first (a pattern
    # that starts with a digit, which ``re`` skips to quickly) spares most texts the street-name search.
    return (
        scan.has_digit
        and _HOUSE_NUMBER_RE.search(scan.text) is not None
        and _STREET_GATE_RE.search(scan.text) is not None
    )


def _could_be_letter(ch: str) -> bool:
    # ``[A-Z]`` under IGNORECASE also matches a few non-ASCII letters (İ, ı, ſ, K).
    return not ch.isascii() or ch.isalpha()


def _iban_gate(scan: Scan) -> bool:
    # An IBAN's two check digits follow its two country letters, so they start a digit cluster right
    # after two letters.
    text = scan.text
    return scan.max_digits >= 8 and any(
        start >= 2 and _could_be_letter(text[start - 1]) and _could_be_letter(text[start - 2])
        for start, _, _ in scan.clusters
    )


def luhn_valid(digits: str) -> bool:
    """The Luhn checksum that every payment card number satisfies."""
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = ord(ch) - 48
        if i % 2:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return total % 10 == 0


def iban_valid(candidate: str) -> bool:
    """ISO 13616 check: length 15-34 and mod-97 of the rearranged number equals 1."""
    iban = candidate.replace(" ", "").upper()
    if not 15 <= len(iban) <= 34 or not iban[:2].isalpha() or not iban[2:4].isdigit():
        return False
    rearranged = iban[4:] + iban[:4]
    try:
        return int("".join(str(int(ch, 36)) for ch in rearranged)) % 97 == 1
    except ValueError:
        # Case-insensitive matching lets letters such as 'İ' or 'ſ' through, which are no base-36 digit.
        return False


def _digits(text: str) -> str:
    return "".join(ch for ch in text if ch.isdigit())


def _is_date_start(text: str) -> bool:
    match = _DATE_START_RE.match(text)
    if match is None:
        return False
    if match.group(1) is not None:
        first, second = int(match.group(1)), int(match.group(3))
        # Day-month or month-day order.
        return 1 <= min(first, second) <= 12 and 1 <= max(first, second) <= 31
    month, day = int(match.group(7)), int(match.group(8))
    return 1 <= month <= 12 and 1 <= day <= 31


def _phone_ok(text: str) -> bool:
    n = len(_digits(text))
    if not 10 <= n <= 15 or _is_date_start(text):
        return False
    return text[0] in "+(0" or bool(_NANP_RE.match(text))


@dataclass(frozen=True, slots=True)
class Detector:
    """A PII type: its pattern, an optional validator, and how values are normalised for consistency."""

    kind: str
    pattern: re.Pattern[str]
    accept: Callable[[str], bool] | None = None
    normalise: Callable[[str], str] = str.casefold
    group: str | int = 0
    gate: Callable[[Scan], bool] = _always
    # Lowercase words one of which every match starts with: on ASCII text the pattern is then tried only
    # where one occurs, instead of at every position (``re`` has no fast prefix scan for ``(?i)a|b|c``).
    anchors: tuple[str, ...] = ()

    def finditer(self, scan: Scan) -> Iterator[re.Match[str]]:
        """``pattern.finditer(text)``: the same matches, found faster when the detector has anchors."""
        text = scan.text
        if not self.anchors or not text.isascii():
            yield from self.pattern.finditer(text)
            return
        starts = {start for anchor in self.anchors for start in scan.positions(anchor)}
        # What ``finditer`` does, minus the positions where no match can start: try each candidate in order,
        # resuming after the end of each match (the patterns never match the empty string).
        resume = 0
        for start in sorted(starts):
            if start < resume:
                continue
            match = self.pattern.match(text, start)
            if match is not None:
                yield match
                resume = match.end()


def _id_detector(
    kind: str, pattern: str, gate: Callable[[Scan], bool] = _always, anchors: tuple[str, ...] = ()
) -> Detector:
    try:
        compiled = re.compile(pattern)
    except re.error as exc:
        raise FinetuneError(ErrorCode.BAD_OPTION, f"bad {kind} pattern {pattern!r}: {exc}") from exc
    group: str | int = "value" if "value" in compiled.groupindex else 0
    return Detector(
        kind, compiled, normalise=lambda v: v.lstrip("#").upper(), group=group, gate=gate, anchors=anchors
    )


def default_detectors(id_patterns: Sequence[tuple[str, str]] = DEFAULT_ID_PATTERNS) -> list[Detector]:
    """Detectors in priority order: where two match overlapping text, the earlier wins."""
    defaults = tuple(id_patterns) == DEFAULT_ID_PATTERNS
    id_gate = _has_id_keyword if defaults else _always
    anchors = _DEFAULT_ID_ANCHORS if defaults else ((),) * len(id_patterns)
    return [
        Detector("EMAIL", EMAIL_RE, gate=lambda s: s.has_at),
        *(
            _id_detector(kind.upper(), pattern, id_gate, anchor)
            for (kind, pattern), anchor in zip(id_patterns, anchors, strict=True)
        ),
        Detector(
            "IBAN",
            IBAN_RE,
            iban_valid,
            lambda v: v.replace(" ", "").upper(),
            gate=_iban_gate,
        ),
        Detector(
            "CARD", CARD_RE, lambda v: luhn_valid(_digits(v)), _digits, gate=lambda s: s.max_digits >= 13
        ),
        Detector("PHONE", PHONE_RE, _phone_ok, _digits, gate=lambda s: s.max_digits >= 10),
        Detector(
            "ADDRESS",
            ADDRESS_RE,
            normalise=lambda v: " ".join(v.casefold().split()),
            gate=_street_gate,
        ),
        Detector(
            "ADDRESS",
            POSTCODE_RE,
            normalise=lambda v: " ".join(v.upper().split()),
            gate=lambda s: s.spaced_digits,
        ),
    ]


@dataclass(slots=True)
class Redaction:
    """The state of redacting one conversation: value → placeholder, and counts per type."""

    placeholders: dict[tuple[str, str], str] = field(default_factory=dict)
    raw: dict[str, str] = field(default_factory=dict)
    per_kind: dict[str, int] = field(default_factory=dict)

    def known_spans(self, text: str) -> list[tuple[int, int, str, str]]:
        """Where values already redacted in this conversation occur again as whole words (longest first)."""
        spans: list[tuple[int, int, str, str]] = []
        for value in sorted(self.raw, key=len, reverse=True):
            start = text.find(value)
            while start >= 0:
                end = start + len(value)
                # A boundary is broken only by a neighbour of the same kind (digit by digit, letter by
                # letter), so "order113542617735902" still matches the known number.
                whole = (start == 0 or not _same_kind(text[start - 1], value[0])) and (
                    end == len(text) or not _same_kind(text[end], value[-1])
                )
                if whole and not any(start < e and s < end for s, e, _, _ in spans):
                    spans.append((start, end, "", value))
                start = text.find(value, end)
        return spans

    def placeholder(self, kind: str, key: str, raw: str, remember: bool = False) -> str:
        """The placeholder of a value, numbered on first sight; ``remember`` also matches it bare later."""
        existing = self.placeholders.get((kind, key))
        if existing is None:
            self.per_kind[kind] = self.per_kind.get(kind, 0) + 1
            existing = f"[{kind}_{self.per_kind[kind]}]"
            self.placeholders[(kind, key)] = existing
        if remember or len(raw) >= 4:
            self.raw.setdefault(raw, existing)
        return existing


class Redactor:
    """Finds PII in text; one ``Redaction`` per conversation keeps placeholders consistent."""

    def __init__(self, detectors: Iterable[Detector] | None = None) -> None:
        self.detectors = list(detectors) if detectors is not None else default_detectors()

    def redact(self, text: str, state: Redaction) -> str:
        """``text`` with every detected value replaced by its placeholder."""
        scan = Scan.of(text)
        self._learn(scan, state)
        return self._apply(scan, state)

    def _apply(self, scan: Scan, state: Redaction) -> str:
        # Identifier detectors already ran in ``_learn``; their values are found again as known spans.
        text = scan.text
        found = state.known_spans(text) if state.raw else []
        for detector in self.detectors:
            if detector.group == "value" or not detector.gate(scan):
                continue
            for match in detector.finditer(scan):
                start, end = match.span(detector.group)
                if start < 0 or any(start < e and s < end for s, e, _, _ in found):
                    continue
                value = text[start:end]
                if _PLACEHOLDER_RE.fullmatch(value) or (
                    detector.accept is not None and not detector.accept(value)
                ):
                    continue
                found.append((start, end, detector.kind, detector.normalise(value)))
        if not found:
            return text
        # Numbered in reading order, so the first email in a conversation is always [EMAIL_1].
        found.sort()
        parts: list[str] = []
        last = 0
        for start, end, kind, key in found:
            parts.append(text[last:start])
            parts.append(state.raw[key] if not kind else state.placeholder(kind, key, text[start:end]))
            last = end
        parts.append(text[last:])
        return "".join(parts)

    def _learn(self, scan: Scan, state: Redaction) -> None:
        """Register the values that context marks as identifiers ("order 12345678"), so bare repeats match."""
        # The identifier detectors share one gate; it is not cheap, so it is asked once.
        gates: dict[Callable[[Scan], bool], bool] = {}
        for detector in self.detectors:
            if detector.group != "value":
                continue
            passed = gates.get(detector.gate)
            if passed is None:
                passed = gates[detector.gate] = detector.gate(scan)
            if not passed:
                continue
            for match in detector.finditer(scan):
                value = match.group("value")
                if value and not _PLACEHOLDER_RE.fullmatch(value):
                    state.placeholder(detector.kind, detector.normalise(value), value, remember=True)

    def redact_messages(self, messages: list[Any], state: Redaction | None = None) -> Redaction:
        """Redact every text content in place; identifiers found anywhere are redacted everywhere."""
        from finetune.cleaning import map_contents

        state = state if state is not None else Redaction()
        scans: dict[str, Scan] = {}

        def learn(text: str) -> str:
            scan = scans[text] = scans.get(text) or Scan.of(text)
            self._learn(scan, state)
            return text

        map_contents(messages, learn)
        map_contents(messages, lambda t: self._apply(scans[t], state))
        return state

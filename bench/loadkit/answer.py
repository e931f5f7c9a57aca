"""The fixed answer every fake completion streams, shared by the upstream and the load generator."""

from __future__ import annotations

import bisect
import re
from itertools import accumulate

# Plain ASCII words: JSON escapes nothing, so the text a client receives is byte-for-byte what was streamed.
_TEXT = (
    "Thanks for asking about our shop. We sell handmade goods and ship them carefully from our small "
    "workshop every weekday, with tracked delivery, easy returns within thirty days and friendly help "
    "whenever you need it, so please let us know what else you would like to hear about today"
)
_WORDS = _TEXT.split()

# The load generator tags each question so the upstream can report its own time to first token for it.
REF_PATTERN = re.compile(rb"\(ref ([A-Za-z0-9]+)\)")


def tokens(n: int) -> list[str]:
    """The ``n`` tokens of the answer; the first has no leading space, like a real model's."""
    return [(" " if i else "") + _WORDS[i % len(_WORDS)] for i in range(n)]


def answer_text(n: int) -> str:
    """The whole answer of ``n`` tokens."""
    return "".join(tokens(n))


class TokenCounter:
    """Counts how many upstream tokens a received prefix of the answer holds (deltas may coalesce tokens)."""

    def __init__(self, n: int) -> None:
        self.ends = list(accumulate(len(t) for t in tokens(n)))

    def count(self, received_chars: int) -> int:
        """Tokens wholly contained in the first ``received_chars`` characters."""
        return bisect.bisect_right(self.ends, received_chars)


def tag(ref: str) -> str:
    """The suffix that carries ``ref`` inside a question."""
    return f" (ref {ref})"

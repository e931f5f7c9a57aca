"""Word normalisation shared by catalog search, FAQ search and recommendation constraints."""

from __future__ import annotations


def singular(word: str) -> str:
    """A crude English singular, enough to match "mugs" with "mug" and "candles" with "candle"."""
    if len(word) > 4 and word.endswith("ies"):
        return word[:-3] + "y"
    if len(word) > 4 and word.endswith(("ches", "shes", "xes", "sses")):
        return word[:-2]
    if len(word) > 3 and word.endswith("s") and not word.endswith(("ss", "us", "is", "mas")):
        return word[:-1]
    return word

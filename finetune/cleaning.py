"""Normalising conversation text: special tokens, whitespace, empty and split turns."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

# Chat-template control tokens of the common model families; left in training text they teach the model to
# emit them, and tiktoken refuses some of them by default.
SPECIAL_TOKEN_RE = re.compile(
    r"<\|[A-Za-z0-9_]{1,40}\|>"
    r"|</?s>|\[/?INST\]|<</?SYS>>|<(?:start|end)_of_turn>|<\|?(?:begin|end)_of_text\|?>"
)
_TRAILING_SPACE_RE = re.compile(r"[ \t\u00a0]+\n")
_BLANK_LINES_RE = re.compile(r"\n{3,}")
_MERGEABLE_ROLES = frozenset({"system", "developer", "user", "assistant"})
# Keys that make a message more than role + text; such messages are never merged.
_STRUCTURAL_KEYS = frozenset({"tool_calls", "tool_call_id", "function_call", "name"})


@dataclass(slots=True)
class CleaningStats:
    """What cleaning changed in one example."""

    special_tokens: int = 0
    empty_turns_dropped: int = 0
    turns_merged: int = 0
    counts: dict[str, int] = field(default_factory=dict)


def clean_text(text: str, stats: CleaningStats | None = None) -> str:
    """Strip special tokens, trailing spaces and runs of blank lines; trim the ends."""
    if "<" in text or "[INST" in text or "[/INST" in text:
        text, n = SPECIAL_TOKEN_RE.subn("", text)
        if stats is not None:
            stats.special_tokens += n
    if "\r" in text:
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    # The substring tests are much cheaper than a regex pass and usually fail.
    if " \n" in text or "\t\n" in text or "\u00a0\n" in text:
        text = _TRAILING_SPACE_RE.sub("\n", text)
    if "\n\n\n" in text:
        text = _BLANK_LINES_RE.sub("\n\n", text)
    return text.strip()


def _map_text(content: object, fn: Callable[[str], str]) -> object:
    if isinstance(content, str):
        return fn(content)
    if isinstance(content, list):
        return [
            {**part, "text": fn(part["text"])}
            if isinstance(part, dict) and isinstance(part.get("text"), str)
            else part
            for part in content
        ]
    return content


def map_contents(messages: list[Any], fn: Callable[[str], str]) -> None:
    """Apply ``fn`` to every text content in place; malformed messages are left for validation to report."""
    for message in messages:
        if isinstance(message, dict) and "content" in message:
            message["content"] = _map_text(message["content"], fn)


def _is_empty(message: dict[str, Any]) -> bool:
    content = message.get("content")
    if message.get("tool_calls") or message.get("function_call"):
        return False
    if isinstance(content, str):
        return not content
    if isinstance(content, list):
        return not any(not isinstance(p, dict) or p.get("type") != "text" or p.get("text") for p in content)
    return False


def _mergeable(a: object, b: object) -> bool:
    return (
        isinstance(a, dict)
        and isinstance(b, dict)
        and a.get("role") == b.get("role")
        and a.get("role") in _MERGEABLE_ROLES
        and isinstance(a.get("content"), str)
        and isinstance(b.get("content"), str)
        and a.get("weight", 1) == b.get("weight", 1)
        and not (_STRUCTURAL_KEYS & (a.keys() | b.keys()))
    )


def clean_messages(messages: list[Any], stats: CleaningStats | None = None) -> list[Any]:
    """Cleaned copy of ``messages``: text normalised, empty turns dropped, same-role neighbours merged."""
    stats = stats if stats is not None else CleaningStats()
    out: list[Any] = []
    for message in messages:
        if not isinstance(message, dict):
            out.append(message)
            continue
        message = dict(message)
        if "content" in message:
            message["content"] = _map_text(message["content"], lambda t: clean_text(t, stats))
        if _is_empty(message):
            stats.empty_turns_dropped += 1
            continue
        if out and _mergeable(out[-1], message):
            out[-1]["content"] = f"{out[-1]['content']}\n\n{message['content']}"
            stats.turns_merged += 1
            continue
        out.append(message)
    return out

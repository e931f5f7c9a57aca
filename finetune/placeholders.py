"""Template slots such as ``{{Order Number}}`` in source data: kept as they are, or filled consistently."""

from __future__ import annotations

import hashlib
import json
import re
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping
from enum import StrEnum
from pathlib import Path
from typing import Any

from finetune.errors import ErrorCode, FinetuneError

PLACEHOLDER_RE = re.compile(r"\{\{\s*([^{}\n]{1,80}?)\s*\}\}")


class PlaceholderMode(StrEnum):
    """``keep`` leaves slots untouched; ``fill`` replaces known ones with the configured values."""

    KEEP = "keep"
    FILL = "fill"


def _key(name: str) -> str:
    return " ".join(name.lower().split())


class PlaceholderFiller:
    """Fills slots from a name → value(s) table; a slot with several values gets one per conversation."""

    def __init__(self, values: Mapping[str, str | list[str]]) -> None:
        self.values: dict[str, list[str]] = {
            _key(k): ([v] if isinstance(v, str) else list(v)) for k, v in values.items() if v
        }

    @classmethod
    def from_file(
        cls, path: Path, defaults: Mapping[str, str | list[str]] | None = None
    ) -> PlaceholderFiller:
        """Load a JSON object of slot name → value or list of values, over ``defaults``."""
        try:
            loaded = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise FinetuneError(
                ErrorCode.BAD_OPTION, f"cannot read placeholder values {path}: {exc}"
            ) from exc
        if not isinstance(loaded, dict) or not all(
            isinstance(v, str) or (isinstance(v, list) and all(isinstance(x, str) for x in v))
            for v in loaded.values()
        ):
            raise FinetuneError(
                ErrorCode.BAD_OPTION, f"{path}: expected an object of strings or lists of strings"
            )
        return cls({**(defaults or {}), **loaded})

    def fill(self, text: str, conversation_key: str, unfilled: dict[str, int]) -> str:
        """Replace every known slot; the same slot gets the same value throughout one conversation."""
        if "{{" not in text:
            return text

        def substitute(match: re.Match[str]) -> str:
            options = self.values.get(_key(match.group(1)))
            if not options:
                unfilled[match.group(1)] = unfilled.get(match.group(1), 0) + 1
                return match.group(0)
            if len(options) == 1:
                return options[0]
            digest = hashlib.blake2b(
                f"{conversation_key}\0{_key(match.group(1))}".encode(), digest_size=8
            ).digest()
            return options[int.from_bytes(digest, "big") % len(options)]

        return PLACEHOLDER_RE.sub(substitute, text)


def count_placeholders(text: str) -> int:
    """Slots left in ``text``."""
    return len(PLACEHOLDER_RE.findall(text)) if "{{" in text else 0


def _texts(messages: Iterable[Any]) -> Iterator[str]:
    for message in messages:
        content = message.get("content") if isinstance(message, dict) else None
        if isinstance(content, str):
            yield content
        elif isinstance(content, list):
            yield from (p["text"] for p in content if isinstance(p, dict) and isinstance(p.get("text"), str))


def has_slots(messages: Iterable[Any]) -> bool:
    """Whether any message still holds a template slot such as ``{{Order Number}}``."""
    return any("{{" in text and PLACEHOLDER_RE.search(text) is not None for text in _texts(messages))


def slots_in(messages: Iterable[Any]) -> Counter[str]:
    """How often each template slot occurs in the messages, by its name ("Order Number")."""
    found: Counter[str] = Counter()
    for text in _texts(messages):
        if "{{" in text:
            found.update(match.group(1) for match in PLACEHOLDER_RE.finditer(text))
    return found

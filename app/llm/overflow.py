"""Recognising a model server's "the prompt is longer than my context window" error, and what it states.

Formats seen from servers (the numbers are what a retry trims to):

- OpenAI: ``This model's maximum context length is 8192 tokens. However, your messages resulted in 8227
  tokens …`` or ``… However, you requested 4120 tokens (3120 in the messages, 1000 in the completion) …``,
  with ``code: context_length_exceeded``.
- vLLM: the same sentences, ``… and your request has 2778 input tokens …``, ``The decoder prompt (length
  17772) is longer than the maximum model length of 16384`` and ``Prompt length of 5016 is longer than the
  maximum model length of 4096``.
- llama.cpp server: ``{"type": "exceed_context_size_error", "n_prompt_tokens": 1407, "n_ctx": 256, "message":
  "request (1407 tokens) exceeds the available context size (256 tokens) …"}`` (older builds: ``the request
  exceeds the available context size, try increasing it``, with no numbers), sometimes with status 500.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from app.errors import ContextOverflowError

OVERFLOW_MESSAGE = "This conversation has grown too long for the assistant's model. Please try again."

_MARKERS = (
    "context_length_exceeded",
    "exceed_context_size_error",
    "maximum context length",
    "exceeds the available context size",
    "maximum model length",
    "too long to fit into the model",
    "context size has been exceeded",
)
_CONTEXT = tuple(
    re.compile(p, re.IGNORECASE)
    for p in (
        r"maximum context length is (\d+)",
        r"available context size \((\d+) tokens?\)",
        r"maximum model length of (\d+)",
        r"\(context length (\d+)\)",
    )
)
_PROMPT = tuple(
    re.compile(p, re.IGNORECASE)
    for p in (
        r"\((\d+) in the messages",
        r"messages resulted in (\d+) tokens",
        r"your request has (\d+) input tokens",
        r"request \((\d+) tokens?\)",
        r"prompt \(length (\d+)\)",
        r"prompt length of (\d+)",
        r"\(total length (\d+)\)",
    )
)


def _first(patterns: tuple[re.Pattern[str], ...], text: str) -> int | None:
    for pattern in patterns:
        found = pattern.search(text)
        if found:
            return int(found.group(1))
    return None


def _int(value: object) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else None


def context_overflow(message: str, body: object = None) -> ContextOverflowError | None:
    """The overflow a server's error states (its ``message`` and JSON ``body``), or None for other errors."""
    fields: Mapping[str, object] = body if isinstance(body, Mapping) else {}
    nested = fields.get("error")
    if isinstance(nested, Mapping):
        fields = nested
    text = " ".join(str(part) for part in (message, fields.get("message") or "", fields.get("type") or ""))
    code = str(fields.get("code") or "")
    lowered = text.lower()
    if code != "context_length_exceeded" and not any(marker in lowered for marker in _MARKERS):
        return None
    return ContextOverflowError(
        OVERFLOW_MESSAGE,
        context_tokens=_int(fields.get("n_ctx")) or _first(_CONTEXT, text),
        prompt_tokens=_int(fields.get("n_prompt_tokens")) or _first(_PROMPT, text),
    )

"""Token counting as the guide does it (3 per message, +1 per name, +3 reply priming), plus model limits."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import tiktoken

from app.llm.tokens import (
    REPLY_PRIMING,
    TOKENS_PER_MESSAGE,
    TOKENS_PER_NAME,
    encoding_name_for_model,
    get_encoding,
)

# The guide's own limit, used for models the table below does not know.
DEFAULT_MAX_TOKENS = 4096

# Maximum tokens per training example, from OpenAI's fine-tuning docs; prefixes match dated snapshots.
MODEL_TOKEN_LIMITS: dict[str, int] = {
    "gpt-4.1-nano": 65_536,
    "gpt-4.1-mini": 65_536,
    "gpt-4.1": 65_536,
    "gpt-4o-mini": 65_536,
    "gpt-4o": 65_536,
    "gpt-4-0613": 8_192,
    "gpt-3.5-turbo-0613": 4_096,
    "gpt-3.5-turbo": 16_385,
    "babbage-002": 16_384,
    "davinci-002": 16_384,
}


def token_limit(model: str, overrides: Mapping[str, int] | None = None) -> int:
    """The per-example token limit of ``model``: exact name, then longest known prefix, then 4096."""
    table = {**MODEL_TOKEN_LIMITS, **(overrides or {})}
    if model in table:
        return table[model]
    prefixes = [p for p in table if model.startswith(p)]
    return table[max(prefixes, key=len)] if prefixes else DEFAULT_MAX_TOKENS


@dataclass(frozen=True, slots=True)
class ExampleTokens:
    """Token counts of one example: ``total`` as the guide bills it, ``per_message`` sums to it minus 3."""

    total: int
    assistant: int
    per_message: tuple[int, ...]


class Tokenizer:
    """Counts example tokens with one tiktoken encoding; repeated system prompts and tool lists are cached."""

    def __init__(self, encoding: tiktoken.Encoding) -> None:
        self.encoding = encoding
        # The Rust method itself: the Python wrapper only adds a frame and a retry for lone surrogates,
        # which ``count`` keeps.
        self._encode = encoding._core_bpe.encode_ordinary
        self._role_tokens = {
            role: len(self._encode(role))
            for role in ("system", "developer", "user", "assistant", "tool", "function")
        }
        # System prompts and tool declarations repeat across a whole dataset; other text rarely does.
        self._repeated: dict[str, int] = {}

    @classmethod
    def for_model(cls, model: str, encoding_name: str | None = None) -> Tokenizer:
        """The tokenizer of an OpenAI model (``o200k_base`` for models tiktoken does not know)."""
        return cls(get_encoding(encoding_name or encoding_name_for_model(model)))

    def count(self, text: str) -> int:
        """Tokens in plain text, special-token look-alikes counted as ordinary text."""
        try:
            return len(self._encode(text))
        except UnicodeEncodeError:
            return len(self.encoding.encode_ordinary(text))

    def _count_repeated(self, text: str) -> int:
        cached = self._repeated.get(text)
        if cached is None:
            cached = self.count(text)
            if len(self._repeated) < 256:
                self._repeated[text] = cached
        return cached

    def _content_tokens(self, content: object) -> int:
        if isinstance(content, str):
            return self.count(content)
        if isinstance(content, list):
            return sum(
                self.count(p["text"])
                for p in content
                if isinstance(p, dict) and isinstance(p.get("text"), str)
            )
        return 0

    def message_tokens(self, message: Mapping[str, Any]) -> int:
        """One message's tokens: 3 + every string value (+1 for a name), tool calls as name + arguments."""
        return self._message(message)[0]

    def _message(self, message: Mapping[str, Any]) -> tuple[int, int]:
        """(all tokens of the message, tokens of its content alone)."""
        if len(message) == 2:
            # The usual role + text message, without the general loop below.
            role = message.get("role")
            content = message.get("content")
            role_tokens = self._role_tokens.get(role) if type(role) is str else None
            if role_tokens is not None and type(content) is str:
                content_tokens = self._count_repeated(content) if role == "system" else self.count(content)
                return TOKENS_PER_MESSAGE + role_tokens + content_tokens, content_tokens
        total = TOKENS_PER_MESSAGE
        content_tokens = 0
        for key, value in message.items():
            if key == "role":
                total += self._role_tokens.get(value) or self.count(str(value))
            elif key == "content":
                if message.get("role") == "system" and isinstance(value, str):
                    content_tokens = self._count_repeated(value)
                else:
                    content_tokens = self._content_tokens(value)
                total += content_tokens
            elif key in ("tool_calls", "function_call"):
                calls = value if isinstance(value, list) else [{"function": value}]
                for call in calls:
                    function = call.get("function") if isinstance(call, dict) else None
                    if isinstance(function, dict):
                        total += self.count(str(function.get("name", "")))
                        total += self.count(str(function.get("arguments", "")))
            elif isinstance(value, str):
                total += self.count(value)
                if key == "name":
                    total += TOKENS_PER_NAME
        return total, content_tokens

    def plain_example_tokens(self, messages: Sequence[Mapping[str, str]]) -> tuple[int, int]:
        """(total, assistant) tokens of role + text messages with known roles (``is_plain`` examples).

        The same numbers as ``example_tokens``, without its per-message generality: most of a large file's
        examples take this path, and after the tokenizer itself the Python around it is the largest cost.
        """
        encode = self._encode
        role_tokens = self._role_tokens
        total = REPLY_PRIMING
        assistant = 0
        try:
            for message in messages:
                role = message["role"]
                content = message["content"]
                n = self._count_repeated(content) if role == "system" else len(encode(content))
                total += TOKENS_PER_MESSAGE + role_tokens[role] + n
                if role == "assistant":
                    assistant += n
        except UnicodeEncodeError:
            counts = self.example_tokens(messages)
            return counts.total, counts.assistant
        return total, assistant

    def tools_tokens(self, tools: object) -> int:
        """Tokens of the tool declarations (their compact JSON), counted once per example."""
        if not tools:
            return 0
        return self._count_repeated(json.dumps(tools, separators=(",", ":"), sort_keys=True))

    def example_tokens(self, messages: Sequence[Mapping[str, Any]], tools: object = None) -> ExampleTokens:
        """Token counts of a well-formed example; assistant tokens are the assistant messages' content."""
        per_message: list[int] = []
        assistant = 0
        for message in messages:
            total, content = self._message(message)
            per_message.append(total)
            if message.get("role") == "assistant":
                assistant += content
        total = sum(per_message) + REPLY_PRIMING + self.tools_tokens(tools)
        return ExampleTokens(total=total, assistant=assistant, per_message=tuple(per_message))

"""Checks a customer message must pass before it is stored: nothing stored can turn out unanswerable."""

from __future__ import annotations

import re

from app.errors import ErrorCode
from app.events import Error
from app.llm.tokens import TokenCounter

# PostgreSQL cannot store NUL and no database can store half a UTF-16 pair.
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")


class MessageChecks:
    """Refuses empty, unstorable, too long and too many-token messages with a typed error."""

    def __init__(self, counter: TokenCounter, *, max_chars: int, max_tokens: int) -> None:
        self.counter = counter
        self.max_chars = max_chars
        self.max_tokens = max_tokens

    def check(self, text: str) -> Error | None:
        """None when the message can be stored and answered, else the error to send back."""
        if not text.strip():
            return Error(code=ErrorCode.INVALID_VALUE, message="The message is empty.")
        if _UNSTORABLE.search(text):
            return Error(
                code=ErrorCode.INVALID_VALUE,
                message="The message contains a NUL or invalid Unicode character.",
            )
        if len(text) > self.max_chars:
            return Error(
                code=ErrorCode.MESSAGE_TOO_LONG,
                message=f"The message is {len(text):,} characters long; the limit is {self.max_chars:,}.",
            )
        tokens = self.counter.count_message({"role": "user", "content": text})
        if tokens > self.max_tokens:
            return Error(
                code=ErrorCode.MESSAGE_TOO_MANY_TOKENS,
                message=f"The message is too long for the assistant ({tokens:,} tokens; at most "
                f"{max(self.max_tokens, 0):,} fit). Please shorten it.",
            )
        return None

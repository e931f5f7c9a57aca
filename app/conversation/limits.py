"""The limits of one answer that the model cannot talk us out of: output tokens we count, and wall time."""

from __future__ import annotations

import asyncio
from types import TracebackType

from app.errors import ErrorCode, ModelError
from app.llm.tokens import TokenCounter

# A model's tokenizer and ours disagree by a few percent (more when ours is a guess): the cap leaves room so
# that an answer the model ended on its own is never cut by our count.
CAP_MARGIN = 0.25
CAP_MARGIN_MIN = 16
# Text is counted in pieces of about this many characters (each piece's boundary may add one token to the
# count); near the cap, every delta is counted.
PIECE_CHARS = 64


def output_cap(max_output_tokens: int) -> int:
    """The most output tokens (by our count) an answer may have before we end it ourselves."""
    return max_output_tokens + max(CAP_MARGIN_MIN, int(max_output_tokens * CAP_MARGIN))


class TokenCap:
    """Our own running count of an answer's output tokens, against a cap; never re-counts text it counted."""

    def __init__(self, counter: TokenCounter, cap: int) -> None:
        self.counter = counter
        self.cap = cap
        self.tokens = 0
        self._pending: list[str] = []
        self._pending_chars = 0

    def add(self, text: str) -> bool:
        """Count ``text``; True once the answer is over the cap."""
        self._pending.append(text)
        self._pending_chars += len(text)
        # A token is at least one character, so text shorter than what is left cannot cross the cap yet.
        if self._pending_chars >= min(PIECE_CHARS, self.cap - self.tokens):
            self.tokens += self.counter.count_text("".join(self._pending))
            self._pending.clear()
            self._pending_chars = 0
        return self.tokens > self.cap


class AnswerClock:
    """``async with``: ends the block with ``ModelError(model_timeout)`` when the answer takes longer than
    ``answer_s`` in all, or the model stays silent for ``idle_s`` (before its first token or between two).

    ``heard()`` notes that the model sent something; it only stores a time, so it costs nothing per token.
    """

    def __init__(self, *, answer_s: float, idle_s: float) -> None:
        self.answer_s = answer_s
        self.idle_s = idle_s
        self.why: str | None = None
        self._loop = asyncio.get_running_loop()
        self._timeout = asyncio.timeout(None)
        self._deadline = 0.0
        self._heard = 0.0
        self._check: asyncio.TimerHandle | None = None

    def heard(self) -> None:
        """The model sent something: its silence starts again."""
        self._heard = self._loop.time()

    async def __aenter__(self) -> AnswerClock:
        now = self._loop.time()
        self._deadline = now + self.answer_s
        self._heard = now
        await self._timeout.__aenter__()
        self._schedule()
        return self

    def _schedule(self) -> None:
        self._check = self._loop.call_at(min(self._heard + self.idle_s, self._deadline), self._on_check)

    def _on_check(self) -> None:
        now = self._loop.time()
        if now >= self._deadline:
            self.why = f"the answer took more than {self.answer_s:g} s"
        elif now >= self._heard + self.idle_s:
            self.why = f"the model sent nothing for {self.idle_s:g} s"
        else:
            self._schedule()  # the model spoke since: look again when its silence could next run out
            return
        self._timeout.reschedule(now)

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._check is not None:
            self._check.cancel()
        try:
            await self._timeout.__aexit__(exc_type, exc, tb)
        except TimeoutError:
            raise ModelError(code=ErrorCode.MODEL_TIMEOUT, detail=self.why) from None

"""One answer's limits: the output-token cap counts text once, in pieces; the clock ends silent or long answers."""

from __future__ import annotations

import asyncio

import pytest

from app.conversation.limits import AnswerClock, TokenCap, output_cap
from app.errors import ErrorCode, ModelError
from app.llm.tokens import TokenCounter


class RecordingCounter(TokenCounter):
    """Counts like the real one and records every text it was asked to count."""

    def __init__(self) -> None:
        super().__init__("gpt-4o-mini")
        self.counted: list[str] = []

    def count_text(self, text: str) -> int:
        """Record, then count."""
        self.counted.append(text)
        return super().count_text(text)


def test_the_cap_counts_every_character_once_and_stops_just_past_the_cap() -> None:
    counter = RecordingCounter()
    cap = TokenCap(counter, 300)
    added = []
    while not cap.add(" word"):
        added.append(" word")
        assert len(added) < 1000
    assert 300 < cap.tokens <= 302
    assert sum(map(len, counter.counted)) == len(" word") * (len(added) + 1)
    assert len(counter.counted) < len(added) / 5  # in pieces, not one call per delta


def test_the_cap_leaves_a_margin_over_max_tokens() -> None:
    assert output_cap(512) == 640
    assert output_cap(16) == 32


async def test_the_clock_lets_a_model_that_keeps_talking_go_on_past_its_idle_timeout() -> None:
    async with AnswerClock(answer_s=5, idle_s=0.5) as clock:
        for _ in range(15):
            await asyncio.sleep(0.05)
            clock.heard()


async def test_the_clock_ends_a_silent_model_with_model_timeout() -> None:
    with pytest.raises(ModelError) as caught:
        async with AnswerClock(answer_s=5, idle_s=0.1):
            await asyncio.sleep(1)
    assert caught.value.code == ErrorCode.MODEL_TIMEOUT
    assert "sent nothing" in (caught.value.detail or "")


async def test_the_clock_ends_a_long_answer_however_busy_the_model() -> None:
    async def busy() -> None:
        async with AnswerClock(answer_s=0.2, idle_s=1) as clock:
            for _ in range(20):
                await asyncio.sleep(0.02)
                clock.heard()

    with pytest.raises(ModelError) as caught:
        await busy()
    assert caught.value.code == ErrorCode.MODEL_TIMEOUT
    assert "took more than" in (caught.value.detail or "")


async def test_a_cancel_from_outside_stays_a_cancel() -> None:
    async def answer() -> None:
        async with AnswerClock(answer_s=5, idle_s=5):
            await asyncio.sleep(1)

    task = asyncio.create_task(answer())
    await asyncio.sleep(0.05)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task

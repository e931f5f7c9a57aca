"""Text normalisation, turn merging and template slots."""

from __future__ import annotations

from typing import Any

from finetune.cleaning import CleaningStats, clean_messages, clean_text
from finetune.placeholders import PlaceholderFiller


def test_strips_special_tokens_and_whitespace() -> None:
    stats = CleaningStats()
    assert (
        clean_text("  <|im_start|>Hello<|endoftext|> there  \r\n\n\n\nBye [INST] ", stats)
        == "Hello there\n\nBye"
    )
    assert stats.special_tokens == 3


def test_merges_consecutive_same_role_turns_and_drops_empty_ones() -> None:
    stats = CleaningStats()
    messages: list[Any] = [
        {"role": "user", "content": "Hi"},
        {"role": "user", "content": "  "},
        {"role": "user", "content": "my parcel is late"},
        {"role": "assistant", "content": "Sorry!"},
    ]
    assert clean_messages(messages, stats) == [
        {"role": "user", "content": "Hi\n\nmy parcel is late"},
        {"role": "assistant", "content": "Sorry!"},
    ]
    assert (stats.empty_turns_dropped, stats.turns_merged) == (1, 1)


def test_does_not_merge_tool_calls_or_different_weights() -> None:
    messages: list[Any] = [
        {"role": "assistant", "content": "a", "weight": 0},
        {"role": "assistant", "content": "b", "weight": 1},
        {"role": "assistant", "content": None, "tool_calls": [{"id": "x"}]},
    ]
    assert len(clean_messages(messages)) == 3


def test_cleaning_does_not_mutate_the_input() -> None:
    messages: list[Any] = [{"role": "user", "content": " hi "}]
    clean_messages(messages)
    assert messages[0]["content"] == " hi "


def test_fill_is_consistent_within_a_conversation() -> None:
    filler = PlaceholderFiller({"Order Number": ["#A1", "#B2", "#C3", "#D4"], "Website Name": "Hollybrook"})
    unfilled: dict[str, int] = {}
    text = "Order {{Order Number}} on {{ website name }}; again {{Order Number}}; {{Live Chat}}"
    out = filler.fill(text, "conv-1", unfilled)
    first = out.split()[1]
    assert first in {"#A1", "#B2", "#C3", "#D4"}
    assert out == f"Order {first} on Hollybrook; again {first}; {{{{Live Chat}}}}"
    assert unfilled == {"Live Chat": 1}
    assert filler.fill(text, "conv-1", {}) == out

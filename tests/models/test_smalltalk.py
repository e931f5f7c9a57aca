"""Greetings, thanks and goodbyes, told apart from questions."""

from __future__ import annotations

import pytest

from app.llm.smalltalk import small_talk


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        ("hello there!", "hello"),
        ("Guten Tag", "hello"),
        ("thank you so much, that's helpful", "thanks"),
        ("merci beaucoup", "thanks"),
        ("ok thanks bye", "bye"),
        ("have a nice evening", "bye"),
        ("hi, how are you?", "how_are_you"),
        ("are you a robot?", "bot"),
        ("is this a bot or a real person", "bot"),
        ("anyone there?", "hello"),
        ("lovely stuff", "ok"),
        ("good night", "bye"),
        ("vielen lieben dank", "thanks"),
    ],
)
def test_small_talk_is_told_by_its_kind(text: str, kind: str) -> None:
    assert small_talk(text) == kind


def test_a_greeting_with_a_question_is_not_small_talk() -> None:
    assert small_talk("hi, where is my order?") is None
    assert small_talk("thanks, and do you ship to France?") is None


def test_someone_there_with_a_question_is_not_small_talk() -> None:
    assert small_talk("is anyone there who can help with my refund") is None

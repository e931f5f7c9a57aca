"""Recognising a customer who asks for a person, in English and German, negations included."""

from __future__ import annotations

import pytest

from app.llm.asks import asks_for_human


@pytest.mark.parametrize(
    "text",
    [
        "can I speak to a human?",
        "Can I talk to a person please",
        "I want an agent",
        "human please",
        "Agent!",
        "Connect me with a real person.",
        "I'd like to speak to someone from customer service",
        "Thanks. Can I chat with a representative?",
        "Kann ich mit einem Mitarbeiter sprechen?",
        "Ich möchte mit einem Menschen reden",
        "Mitarbeiter bitte",
        "Ich brauche einen Mitarbeiter",
        "I would like to speak to a manager",
        "can I have a human",
        "I need to speak with customer care",
    ],
)
def test_a_request_for_a_person_is_recognised(text: str) -> None:
    assert asks_for_human(text)


@pytest.mark.parametrize(
    "text",
    [
        "I don't want a human",
        "no need for an agent, thanks",
        "I do not need to talk to a person",
        "Ich will keinen Menschen",
        "Ich möchte nicht mit einem Mitarbeiter sprechen",
        "where is my order?",
        "is this a person or a bot?",
        "I want a gift for someone special",
        "I need a present for somebody who likes tea",
        "Ich brauche ein Geschenk für jemanden",
        "can you write a card for my colleague?",
        "the person who delivered was rude",
        "I was promised a refund by your agent but want to know when",
        "do you have agent discounts",
        "",
    ],
)
def test_other_messages_are_not_requests(text: str) -> None:
    assert not asks_for_human(text)

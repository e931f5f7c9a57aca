"""Support topics a message names, and whether an FAQ entry's text explains them."""

from __future__ import annotations

import pytest

from app.llm.topics import named_topics, serves
from app.shop.catalog import load_shop


def _names(text: str) -> set[str]:
    return {topic.name for topic in named_topics(text)}


@pytest.mark.parametrize(
    ("text", "topic"),
    [
        ("do I earn points on my purchases", "loyalty"),
        ("my mastercard keeps getting declined", "payment_failure"),
        ("can the parcel come on a sunday", "delivery_day"),
        ("can I collect it myself from your warehouse", "collection_or_shop"),
        ("Habt ihr eine Filiale in Hamburg?", "collection_or_shop"),
        ("will you match a cheaper price I found", "price_match"),
        ("do you do a student discount", "group_discount"),
        ("what happens if I'm not home when the courier comes", "delivery_instructions"),
        ("I never got an order confirmation", "order_confirmation"),
    ],
)
def test_a_support_topic_is_named_by_its_words(text: str, topic: str) -> None:
    assert topic in _names(text)


@pytest.mark.parametrize(
    "text",
    ["how long does delivery take", "I ordered on Sunday, when will it arrive?", "my refund hasn't arrived"],
)
def test_ordinary_shop_questions_name_no_support_topic(text: str) -> None:
    assert _names(text) == set()


def test_an_entry_that_speaks_of_the_topic_serves_it() -> None:
    (loyalty,) = named_topics("do you have a loyalty scheme")
    assert serves(loyalty, ["Do you reward regulars?", "Every £1 earns one loyalty point."])


def test_an_entry_about_something_else_does_not_serve_it() -> None:
    (loyalty,) = named_topics("do you have a loyalty scheme")
    returns = next(e for e in load_shop().faq if e.faq_id == "returns")
    assert not serves(loyalty, [*returns.questions, returns.answer])


@pytest.mark.parametrize(
    ("text", "topic"),
    [
        ("does the lantern need assembling", "assembly"),
        ("do you sell refurbished items", "used_goods"),
        ("i want to sell my products through your shop", "partnerships"),
        ("parcel was left outside in the rain", "delivery_instructions"),
        ("can you hold my parcel while i'm on holiday", "delivery_instructions"),
        ("do you ship to po boxes", "delivery_instructions"),
        ("why did you cancel my order? I didn't ask for that", "cancelled_by_shop"),
    ],
)
def test_more_topics_are_named_by_their_words(text: str, topic: str) -> None:
    assert topic in _names(text)


@pytest.mark.parametrize(
    ("text", "topic"),
    [
        ("I don't have a printer, can I still return something?", "printer"),
        ("Do you offer 60-day payment terms for trade accounts?", "payment_terms"),
        ("can i get my name printed on the mug", "personalisation"),
        ("can I change my name on my account", "account_details"),
        ("can I buy it on finance", "pay_later"),
        ("are you on instagram", "app_or_social"),
    ],
)
def test_topics_added_in_the_third_round_are_named(text: str, topic: str) -> None:
    assert topic in _names(text)


@pytest.mark.parametrize(
    "text",
    [
        "i need to change the name on the delivery",
        "Finance needs an invoice with VAT. Where can I download it?",
        "I had two codes, one from instagram and one from the newsletter",
        "Wir haben einen kleinen Laden in Köln und würden gern größere Mengen bestellen.",
    ],
)
def test_words_near_a_topic_that_ask_something_else_name_none(text: str) -> None:
    assert _names(text) == set()


def test_the_name_on_an_order_is_not_the_account_detail() -> None:
    topic = next(t for t in named_topics("can I change my name on my account"))
    assert not serves(topic, ["Can I change the name on my order?"])


@pytest.mark.parametrize(
    ("text", "topic"),
    [
        (
            "I live in Ireland, is there a returns label for me or do I pay the post myself",
            "returns_from_abroad",
        ),
        ("can i swap the cushion for a different colour instead of getting a refund", "exchange"),
        ("Kann ich den Artikel gegen eine andere Größe umtauschen statt Geld zurück?", "exchange"),
        ("my newsletter 10% code never arrived in my inbox", "code_not_received"),
        ("what does the gift wrap look like, is it christmas paper or plain", "wrapping_design"),
        ("Kann ich den Gutschein auch teilweise einlösen und den Rest später nutzen?", "gift_card_balance"),
    ],
)
def test_topics_that_sound_covered_but_ask_something_else_are_named(text: str, topic: str) -> None:
    assert topic in _names(text)


def test_the_demo_wrong_item_answer_does_not_explain_an_exchange_asked_for() -> None:
    shop = load_shop()
    wrong_item = next(e for e in shop.faq if e.faq_id == "wrong_item")
    exchange = next(t for t in named_topics("can I exchange it for a different size"))
    assert not serves(exchange, [*wrong_item.questions, wrong_item.answer])

"""Support topics a message names, and whether an FAQ entry's text explains them."""

from __future__ import annotations

import pytest

from app.llm.topics import TOPICS, named_topics, serves
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


@pytest.mark.parametrize(
    ("text", "topic"),
    [
        ("Would you be able to give me store credit rather than a refund?", "store_credit"),
        ("can i swap my gift card for cash", "gift_card_cash"),
        ("can i use 2 gift cards on the same order", "several_gift_cards"),
        ("is it possible to put a photo of us on the e-gift card", "card_design"),
        ("is there a character limit on the gift message?", "message_length"),
        ("is there a surcharge for paying with amex", "surcharge"),
        ("When exactly do you take the payment - when I order or when it's dispatched?", "payment_timing"),
        ("are you open on bank holidays", "public_holidays"),
        ("What's your postal address? I'd like to send a formal written complaint.", "shop_address"),
        ("can i log into my account with google instead of a password", "social_login"),
        (
            "I checked out as a guest last week. Can I add that order to the account I've just made?",
            "guest_order_link",
        ),
        ("can i turn off the tracking cookies on your website", "cookies"),
        ("i'm in the US, do you take the UK VAT off for export orders?", "export_vat"),
        (
            "Muss ich bei einer Lieferung in die Schweiz das Zollformular selbst ausfüllen?",
            "customs_paperwork",
        ),
        ("are there things you won't send abroad, like candles or the reed diffusers?", "restricted_items"),
        ("do you have a warehouse in europe or does everything come from the uk", "dispatch_location"),
        ("Kann die Rücksendung auch bei mir zu Hause abgeholt werden?", "return_collection"),
        ("do you send an email once the refund has actually gone through?", "notification_email"),
        ("the outer box was crushed but the vase is fine. do i get anything off for that?", "compensation"),
        ("my code expired yesterday :( could you extend it for me pls", "code_extension"),
    ],
)
def test_everyday_topics_a_shop_faq_may_lack_are_named(text: str, topic: str) -> None:
    assert topic in _names(text)


def test_no_entry_of_the_demo_faq_serves_a_topic_it_does_not_explain() -> None:
    """Every topic in the lexicon is one the demo FAQ lacks; an entry 'serving' one would be a pattern too loose
    ("wholesale prices" is no sale price, "photo of the damage" no gift-card design)."""
    shop = load_shop()
    served = {
        (topic.name, entry.faq_id)
        for topic in TOPICS
        for entry in shop.faq
        if serves(topic, (*entry.questions, entry.answer, *entry.answers.values()))
    }
    assert served == set()


def test_new_customers_money_off_is_no_compensation() -> None:
    assert _names("do new customers get money off") == set()

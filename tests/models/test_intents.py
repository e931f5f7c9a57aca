from __future__ import annotations

from pathlib import Path

import pytest

from app.llm.intents import (
    INTENTS,
    TRAIN_PATH,
    IntentClassifier,
    default_classifier,
    negated_recommend,
    read_examples,
    ruled,
)
from app.shop.embedding import Encoder

BENCH_DATA = Path(__file__).resolve().parents[2] / "bench" / "data"


@pytest.fixture(scope="module")
def classifier(encoder: Encoder) -> IntentClassifier:
    return default_classifier(encoder)


# The exact messages the issue quotes as getting product cards by mistake.
@pytest.mark.parametrize(
    ("text", "intent"),
    [
        ("what brand are they?", "product_question"),
        ("I want to return a broken mug", "return_refund"),
        ("I do not want any recommendations, just track my parcel", "order_status"),
        ("no recommendations, just track my parcel", "order_status"),
    ],
)
def test_issue_examples(classifier: IntentClassifier, text: str, intent: str) -> None:
    assert classifier.classify(text).intent == intent


@pytest.mark.parametrize(
    "text",
    [
        "I don't want suggestions, where is my order?",
        "no product ideas please, I need to cancel order 4411",
        "Keine Empfehlungen bitte, ich will nur mein Paket verfolgen",
        "stop recommending things and refund my money",
    ],
)
def test_negated_recommendations_never_route_to_recommend(classifier: IntentClassifier, text: str) -> None:
    assert classifier.classify(text).intent != "recommend"


def test_negation_is_detected_within_its_clause() -> None:
    assert negated_recommend("I do not want any recommendations, just track my parcel")
    assert not negated_recommend("I don't know what to buy, any recommendations?")


def test_a_negated_ask_leaves_no_recommend_rule() -> None:
    assert ruled("no suggestions please") != "recommend"


@pytest.mark.parametrize(
    ("text", "intent"),
    [
        ("where is my parcel? also, could you recommend a mug?", "order_status"),
        ("I want to return the lamp, and maybe suggest a better one", "return_refund"),
        ("recommend something nice, but first cancel order 5512 please", "cancel_order"),
        ("my card was declined, any ideas what to do?", "payment_problem"),
    ],
)
def test_mixed_messages_put_the_service_request_first(
    classifier: IntentClassifier, text: str, intent: str
) -> None:
    assert classifier.classify(text).intent == intent


@pytest.mark.parametrize(
    ("intent", "english", "german"),
    [
        ("recommend", "could you suggest a present for my brother?", "Kannst du mir ein Geschenk empfehlen?"),
        (
            "product_question",
            "is the blue teapot dishwasher safe?",
            "Ist die blaue Teekanne spülmaschinenfest?",
        ),
        ("order_status", "my parcel still hasn't arrived", "Wo ist meine Bestellung?"),
        ("cancel_order", "please cancel my order from yesterday", "Bitte stornieren Sie meine Bestellung"),
        (
            "return_refund",
            "how do I get a refund for the cracked plate?",
            "Ich möchte den Teller zurückschicken",
        ),
        ("change_address", "I need to change the delivery address", "Ich möchte meine Lieferadresse ändern"),
        ("payment_problem", "my card was declined at checkout", "Meine Zahlung ist fehlgeschlagen"),
        ("account", "I forgot my password", "Ich habe mein Passwort vergessen"),
        ("human", "can I talk to a real person?", "Ich möchte mit einem Mitarbeiter sprechen"),
        ("complaint", "your service is appalling, I'm very unhappy", "Ich möchte mich beschweren"),
        ("faq", "do you ship to Spain?", "Wie hoch sind die Versandkosten?"),
        ("smalltalk", "hello!", "Hallo"),
        ("out_of_scope", "what will the weather be tomorrow?", "Wie wird das Wetter morgen?"),
    ],
)
def test_each_intent_typical_phrasing(
    classifier: IntentClassifier, intent: str, english: str, german: str
) -> None:
    assert (classifier.classify(english).intent, classifier.classify(german).intent) == (intent, intent)


def test_recommend_words_about_things_a_shop_does_not_sell_are_out_of_scope(
    classifier: IntentClassifier,
) -> None:
    assert classifier.classify("can you recommend a good film to watch tonight?").intent == "out_of_scope"


def test_service_question_with_recommend_word_gets_no_cards(classifier: IntentClassifier) -> None:
    assert classifier.classify("do you recommend tracked shipping?").intent != "recommend"


def test_rules_are_confident(classifier: IntentClassifier) -> None:
    guess = classifier.classify("please cancel my order")
    assert guess.by_rule
    assert guess.confident


def test_decide_reuses_the_callers_embedding(classifier: IntentClassifier, encoder: Encoder) -> None:
    text = "show me something similar but cheaper"
    assert classifier.decide(text, encoder.encode([text])[0]) == classifier.classify(text)


def test_training_data_covers_every_intent() -> None:
    assert {intent for intent, _ in read_examples(TRAIN_PATH)} == set(INTENTS)


def test_malformed_training_line_names_the_line(tmp_path: Path) -> None:
    path = tmp_path / "bad.tsv"
    path.write_text("smalltalk\thello\nshopping\tsomething\n", encoding="utf-8")
    with pytest.raises(ValueError, match=r"bad\.tsv:2"):
        read_examples(path)


def test_held_out_sets_do_not_overlap_training_set() -> None:
    train = {text.lower() for _, text in read_examples(TRAIN_PATH)}
    for name in ("intents_heldout.tsv", "intents_tuning.tsv", "intents_dev.tsv"):
        held = {text.lower() for _, text in read_examples(BENCH_DATA / name)}
        assert not train & held, name


def test_held_out_set_has_at_least_500_messages_of_every_intent() -> None:
    rows = read_examples(BENCH_DATA / "intents_heldout.tsv")
    assert len(rows) >= 500
    assert {intent for intent, _ in rows} == set(INTENTS)

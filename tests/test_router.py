from __future__ import annotations

from pathlib import Path

import pytest

from app.conversation.router import IntentRouter, default_router, read_labelled
from app.llm.intents import TRAIN_PATH, IntentClassifier, read_examples
from app.shop.embedding import Encoder

EVAL_SET = Path(__file__).parent / "data" / "router_eval.tsv"


@pytest.fixture(scope="module")
def router(encoder: Encoder) -> IntentRouter:
    return default_router(encoder)


@pytest.mark.parametrize(
    "text",
    [
        "recommend me something",
        "what should I buy?",
        "suggest a gift for my dad",
        "More like this",
        "Cheaper",
    ],
)
def test_recommendation_requests_route_to_recommend(router: IntentRouter, text: str) -> None:
    assert router.classify(text).route == "recommend"


@pytest.mark.parametrize(
    "text",
    ["hi", "what is your return policy?", "where is my order?", "do you recommend tracked shipping?"],
)
def test_everything_else_routes_to_chat(router: IntentRouter, text: str) -> None:
    assert router.classify(text).route == "chat"


def test_accuracy_on_held_out_labelled_set(router: IntentRouter) -> None:
    rows = read_labelled(EVAL_SET)
    correct = sum(router.classify(text).route == label for label, text in rows)
    accuracy = correct / len(rows)
    print(f"router accuracy on {len(rows)} held-out examples: {accuracy:.3f}")
    assert accuracy >= 0.95


def test_learned_model_alone_is_accurate_too(router: IntentRouter) -> None:
    rows = read_labelled(EVAL_SET)
    correct = sum((router.p_recommend(text) >= 0.5) == (label == "recommend") for label, text in rows)
    assert correct / len(rows) >= 0.9


def test_eval_set_does_not_overlap_training_set() -> None:
    train = {text.lower() for _, text in read_examples(TRAIN_PATH)}
    assert not train & {text.lower() for _, text in read_labelled(EVAL_SET)}


def test_training_needs_recommend_and_another_intent(encoder: Encoder) -> None:
    with pytest.raises(ValueError, match="recommend and at least one other intent"):
        IntentRouter(encoder, IntentClassifier(encoder, [("smalltalk", "hi")]))


@pytest.mark.parametrize(
    ("text", "intent"),
    [
        ("what brand are they?", "product_question"),
        ("I want to return a broken mug", "return_refund"),
        ("I do not want any recommendations, just track my parcel", "order_status"),
    ],
)
def test_the_issue_examples_get_no_cards(router: IntentRouter, text: str, intent: str) -> None:
    decision = router.classify(text)
    assert (decision.route, decision.intent) == ("chat", intent)


def test_a_decision_carries_its_intent(router: IntentRouter) -> None:
    assert router.classify("suggest a gift for my dad").intent == "recommend"


def test_a_clear_service_request_is_settled_as_chat(router: IntentRouter) -> None:
    assert router.settled("no recommendations, just track my parcel") == "chat"


def test_malformed_labelled_file_names_the_line(tmp_path: Path) -> None:
    path = tmp_path / "bad.tsv"
    path.write_text("chat\thello\nmaybe\tsomething\n")
    with pytest.raises(ValueError, match=r"bad\.tsv:2"):
        read_labelled(path)

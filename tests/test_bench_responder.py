"""The built-in responder's scoring (bench/responder.py): what counts as a right answer."""

from __future__ import annotations

import pytest

from app.llm.local import LocalChatModel
from app.llm.prompts import PromptLibrary
from app.shop.catalog import load_shop
from app.shop.embedding import Encoder
from app.shop.knowledge import KnowledgeBase
from bench.responder import RESPONDER_SETS, Row, answered, dialogue_outcome, outcome, read_rows


@pytest.fixture(scope="module")
def model(encoder: Encoder) -> LocalChatModel:
    return LocalChatModel(KnowledgeBase(load_shop(), encoder), PromptLibrary(), delay_s=0)


def _answer(model: LocalChatModel, faq_id: str) -> str:
    return next(e.answer for e in model.knowledge.shop.faq if e.faq_id == faq_id)


def test_the_expected_answer_alone_is_right(model: LocalChatModel) -> None:
    row = Row("how long do refunds take", "refund_status", "en", "single")
    assert outcome(model, row, "Sorry for the wait.\n\n" + _answer(model, "refund_status")) == "right"


def test_a_reply_with_two_entries_answers_is_not_right(model: LocalChatModel) -> None:
    row = Row("how long do refunds take", "refund_status", "en", "single")
    both = _answer(model, "returns") + "\n\n" + _answer(model, "refund_status")
    assert outcome(model, row, both) == "wrong"


def test_an_answer_ending_like_another_entrys_answer_is_one_answer(model: LocalChatModel) -> None:
    # The discount-code answer contains the sentence that ends the gift-card answer.
    assert answered(model, _answer(model, "discount_code")) == {"discount_code"}
    both = _answer(model, "discount_code") + "\n\n" + _answer(model, "gift_cards")
    assert answered(model, both) == {"discount_code", "gift_cards"}


def test_a_dialogue_reply_with_two_accepted_answers_is_not_right(model: LocalChatModel) -> None:
    both = _answer(model, "delivery_cost") + "\n\n" + _answer(model, "delivery_time")
    assert not dialogue_outcome(model, both, "delivery_cost|delivery_time")
    assert dialogue_outcome(model, _answer(model, "delivery_time"), "delivery_cost|delivery_time")


@pytest.mark.parametrize("name", sorted(RESPONDER_SETS))
def test_every_slice_names_real_entries_and_kinds(model: LocalChatModel, name: str) -> None:
    ids = {e.faq_id for e in model.knowledge.shop.faq} | {"uncovered", "smalltalk"}
    rows = read_rows(RESPONDER_SETS[name])
    assert rows
    assert {r.expected for r in rows} <= ids
    assert {r.kind for r in rows} <= {"single", "multi", "typo", "uncovered", "smalltalk"}

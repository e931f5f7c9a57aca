from __future__ import annotations

from pathlib import Path

import pytest

from app.llm.local import LocalChatModel
from app.llm.model import ChatRequest, Finished, TextDelta
from app.llm.prompts import PromptLibrary
from app.shop.catalog import load_shop
from app.shop.embedding import Encoder
from app.shop.knowledge import KnowledgeBase
from app.shop.recommender import Recommendation


@pytest.fixture(scope="module")
def model(encoder: Encoder) -> LocalChatModel:
    return LocalChatModel(KnowledgeBase(load_shop(), encoder), PromptLibrary(), delay_s=0)


def ask(model: LocalChatModel, text: str) -> str:
    return model.answer(ChatRequest(messages=[], route="chat", query=text))


def test_confident_faq_match_returns_the_curated_answer(model: LocalChatModel) -> None:
    assert ask(model, "what is your return policy?") == model.knowledge.shop.faq[0].answer


def test_greeting_gets_small_talk(model: LocalChatModel) -> None:
    assert ask(model, "hi").startswith("Hello!")


def test_product_question_lists_matching_products_with_prices(model: LocalChatModel) -> None:
    answer = ask(model, "do you sell lunch boxes?")
    assert "Lunch Box" in answer
    assert "£" in answer


def test_unrelated_question_offers_a_human(model: LocalChatModel) -> None:
    answer = ask(model, "what's the meaning of life?")
    assert "colleague" in answer
    assert model.knowledge.shop.support_email in answer


def test_ambiguous_question_asks_to_clarify(model: LocalChatModel) -> None:
    model_strict = LocalChatModel(
        model.knowledge, model.prompts, confidence=0.99, clarify_below=0.3, delay_s=0
    )
    assert "?" in ask(model_strict, "my order is wrong")
    assert "do you mean" in ask(model_strict, "my order is wrong").lower() or "is your question" in ask(
        model_strict, "my order is wrong"
    )


def test_recommend_route_introduces_the_recommendations(model: LocalChatModel) -> None:
    item = Recommendation("22423", "Regency Cakestand 3 Tier", 12.75, "GBP", "popular", 1.0)
    answer = model.answer(
        ChatRequest(messages=[], route="recommend", query="recommend me", recommendations=[item])
    )
    assert "Regency Cakestand 3 Tier" in answer
    assert "£12.75" in answer


async def test_stream_reassembles_to_the_answer_and_ends_with_finished(model: LocalChatModel) -> None:
    request = ChatRequest(messages=[], route="chat", query="what is your return policy?")
    events = [event async for event in model.stream(request)]
    assert isinstance(events[-1], Finished)
    text = "".join(e.text for e in events if isinstance(e, TextDelta))
    assert text == model.answer(request)
    assert len(events) > 10


FAQ_EVAL = Path(__file__).resolve().parent.parent / "data" / "faq_eval.tsv"


def test_held_out_paraphrases_are_answered_right_or_clarified_rarely_wrong(model: LocalChatModel) -> None:
    rows = [line.split("\t") for line in FAQ_EVAL.read_text().splitlines() if line.strip()]
    by_answer = {entry.answer: entry.faq_id for entry in model.knowledge.shop.faq}
    outcomes = [by_answer.get(ask(model, question)) for _, question in rows]
    right = sum(got == want for got, (want, _) in zip(outcomes, rows, strict=True))
    wrong = sum(got is not None and got != want for got, (want, _) in zip(outcomes, rows, strict=True))
    print(
        f"local responder on {len(rows)} held-out paraphrases: {right} right, {wrong} wrong, rest clarified"
    )
    assert right / len(rows) >= 0.6
    assert wrong / len(rows) <= 0.05

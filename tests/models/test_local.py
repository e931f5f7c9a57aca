from __future__ import annotations

import dataclasses
import inspect
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pytest

from app.llm.actions import Act
from app.llm.complaint import Complaint
from app.llm.local import LocalChatModel
from app.llm.model import ChatRequest, Finished, TextDelta, ToolCall, ToolSpec
from app.llm.prompts import PromptLibrary
from app.llm.smalltalk import small_talk
from app.llm.tokens import ChatMessage
from app.settings import Settings
from app.shop.catalog import load_shop
from app.shop.embedding import Encoder
from app.shop.knowledge import KnowledgeBase
from app.shop.profile import FaqEntry
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


def test_greeting_is_the_shops_own(model: LocalChatModel, encoder: Encoder) -> None:
    shop = model.knowledge.shop
    assert ask(model, "hello") == shop.greeting
    plain = dataclasses.replace(shop, greeting="")
    default = ask(LocalChatModel(KnowledgeBase(plain, encoder), model.prompts, delay_s=0), "hello")
    # Without a greeting of its own, a shop is not offered as a gift shop.
    assert shop.name in default
    assert "gift" not in default.replace(shop.name, "").lower()


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


def answered_entries(model: LocalChatModel, reply: str) -> set[str]:
    """The FAQ entries whose curated answer the reply gives (a complaint reply wraps it in an apology)."""
    return {e.faq_id for e in model.knowledge.shop.faq if e.answer[-60:] in reply}


def test_held_out_paraphrases_are_answered_right_or_clarified_rarely_wrong(model: LocalChatModel) -> None:
    rows = [line.split("\t") for line in FAQ_EVAL.read_text().splitlines() if line.strip()]
    found = [answered_entries(model, ask(model, question)) for _, question in rows]
    outcomes = [next(iter(entries)) if len(entries) == 1 else None for entries in found]
    right = sum(got == want for got, (want, _) in zip(outcomes, rows, strict=True))
    wrong = sum(got is not None and got != want for got, (want, _) in zip(outcomes, rows, strict=True))
    print(
        f"local responder on {len(rows)} held-out paraphrases: {right} right, {wrong} wrong, rest clarified"
    )
    assert right / len(rows) >= 0.6
    assert wrong / len(rows) <= 0.05


def test_angry_damaged_parcel_gets_the_damaged_answer_an_apology_and_a_person(model: LocalChatModel) -> None:
    reply = ask(model, "This is ridiculous, my parcel arrived broken and nobody answers my emails!")
    shop = model.knowledge.shop
    assert answered_entries(model, reply) == {"damaged_item"}
    assert reply.startswith("I'm so sorry your order arrived damaged")
    assert "haven't had a reply" in reply
    assert (
        f"a person to look into this, please write to **{shop.support_email}** ({shop.support_hours})"
        in reply
    )


ORDER_TOOLS = (ToolSpec("get_order_details", "Get one order."), ToolSpec("verify_customer", "Verify."))


async def test_an_order_request_streams_its_tool_call_then_finishes_for_tools(model: LocalChatModel) -> None:
    text = "Where is my order 1234703?"
    request = ChatRequest(
        messages=[{"role": "user", "content": text}], route="chat", query=text, tools=ORDER_TOOLS
    )
    events = [event async for event in model.stream(request)]
    assert events == [
        ToolCall("local-1", "get_order_details", '{"order_id":"1234703"}'),
        Finished(finish_reason="tool_calls"),
    ]


async def test_the_tool_result_is_streamed_as_the_answer(model: LocalChatModel) -> None:
    text = "Where is my order 1234703?"
    order = (
        '{"order_id":"1234703","status":"shipped","placed_at":"2026-12-02T10:00:00+00:00","currency":"GBP",'
        '"total":5.0,"items":[],"address":{},"carrier":"DPD","tracking_number":"15123"}'
    )
    request = ChatRequest(
        messages=[
            {"role": "user", "content": text},
            {
                "role": "assistant",
                "content": "",
                "tool_calls": [
                    {
                        "id": "local-1",
                        "type": "function",
                        "function": {"name": "get_order_details", "arguments": '{"order_id":"1234703"}'},
                    }
                ],
            },
            {"role": "tool", "tool_call_id": "local-1", "content": order},
        ],
        route="chat",
        query=text,
        tools=ORDER_TOOLS,
    )
    events = [event async for event in model.stream(request)]
    assert events[-1] == Finished(finish_reason="stop")
    answer = "".join(e.text for e in events if isinstance(e, TextDelta))
    assert "is on its way. It's with DPD, tracking number **15123**." in answer


def test_an_order_request_without_order_tools_gets_the_way_to_a_person(model: LocalChatModel) -> None:
    shop = model.knowledge.shop
    decision = model.respond(ChatRequest(messages=[], route="chat", query="cancel order 1234705"))
    assert not isinstance(decision, Act)
    assert shop.support_email in decision.text
    assert "can't look up or change orders" in decision.text


def test_complaint_the_faq_has_no_entry_for_gets_an_apology_and_a_person_not_a_neighbour(
    model: LocalChatModel, encoder: Encoder
) -> None:
    shop = model.knowledge.shop
    without = dataclasses.replace(shop, faq=[e for e in shop.faq if e.faq_id != "wrong_item"])
    responder = LocalChatModel(KnowledgeBase(without, encoder), model.prompts, delay_s=0)
    reply = ask(responder, "You sent me the wrong item.")
    # Nearest by meaning is "I received a faulty item": its answer would be wrong here.
    assert answered_entries(responder, reply) == set()
    assert reply.startswith("I'm sorry you received the wrong item.")
    assert shop.support_email in reply


COMPLAINTS_EVAL = Path(__file__).resolve().parent.parent / "data" / "complaints_eval.tsv"
COMPLAINT_ENTRY = {
    "damaged": "damaged_item",
    "late": "track_order",
    "wrong_item": "wrong_item",
    "refund": "refund_status",
}


def test_held_out_complaints_are_answered_on_topic_with_an_apology_and_a_person(
    model: LocalChatModel,
) -> None:
    """40 complaints written apart from the cues and the training examples (app/data/complaints/train.tsv):
    angry, sarcastic, polite and misspelt, about damaged, late and wrong items, missing refunds and service.

    Measured when written: on topic 34/40 (85%), apology and person 35/40 (88%); before this responder knew
    complaints: 11/40 and 0/40. Thresholds: 75% and 80%.
    """
    rows = [line.split("\t") for line in COMPLAINTS_EVAL.read_text().splitlines() if line.strip()]
    email = model.knowledge.shop.support_email
    on_topic = apologised = 0
    for topic, text in rows:
        reply = ask(model, text)
        wanted = {COMPLAINT_ENTRY[topic]} if topic in COMPLAINT_ENTRY else set()  # service: a person, no FAQ
        on_topic += answered_entries(model, reply) == wanted and "can't answer" not in reply
        apologised += "sorry" in reply.lower() and "a person" in reply and email in reply
    print(
        f"complaints: {on_topic}/{len(rows)} on topic, {apologised}/{len(rows)} with an apology and a person"
    )
    assert on_topic / len(rows) >= 0.75
    assert apologised / len(rows) >= 0.8


def entry(model: LocalChatModel, faq_id: str) -> FaqEntry:
    return next(e for e in model.knowledge.shop.faq if e.faq_id == faq_id)


def after(model: LocalChatModel, *turns: str) -> str:
    """The reply to the last of ``turns``, the responder having answered each one before it."""
    history: list[ChatMessage] = []
    reply = ""
    for turn in turns:
        history.append({"role": "user", "content": turn})
        reply = model.answer(ChatRequest(messages=list(history), route="chat", query=turn))
        history.append({"role": "assistant", "content": reply})
    return reply


def test_a_follow_up_is_read_with_the_question_it_follows(model: LocalChatModel) -> None:
    assert after(model, "how much is delivery?", "and to Germany?") == entry(model, "international").answer


def test_it_in_a_follow_up_is_the_topic_just_answered(model: LocalChatModel) -> None:
    assert after(model, "do you gift wrap?", "how much is it?") == entry(model, "gift_wrap").answer


def test_yes_after_the_offer_of_a_colleague_hands_over(model: LocalChatModel) -> None:
    shop = model.knowledge.shop
    reply = after(model, "what's the meaning of life?", "yes please")
    assert reply.startswith("Of course — a colleague will take it from here.")
    assert shop.support_email in reply


def test_no_after_the_offer_of_a_colleague_moves_on(model: LocalChatModel) -> None:
    assert (
        after(model, "what's the meaning of life?", "no thanks") == "Alright! What else can I help you with?"
    )


def test_yes_without_an_offer_is_not_a_handoff(model: LocalChatModel) -> None:
    assert "colleague will take it" not in after(model, "how much is delivery?", "yes please")


def test_the_first_picks_the_first_option_of_a_clarifying_question(model: LocalChatModel) -> None:
    strict = LocalChatModel(model.knowledge, model.prompts, confidence=0.99, clarify_below=0.3, delay_s=0)
    question = after(strict, "my order is wrong")
    offered = [e for e in strict.knowledge.shop.faq if f"*{e.questions[0].rstrip('?')}*" in question]
    first = min(offered, key=lambda e: question.index(f"*{e.questions[0].rstrip('?')}*"))
    assert after(strict, "my order is wrong", "the first") == first.answer


def test_a_long_message_is_answered_by_its_question_not_its_preamble(model: LocalChatModel) -> None:
    text = "Hello. I'm about to place an order for my mum. Do you take PayPal?"
    assert ask(model, text) == entry(model, "payment_methods").answer


def test_two_clear_questions_get_both_answers(model: LocalChatModel) -> None:
    reply = ask(model, "Do you gift wrap? And do you sell gift cards?")
    assert answered_entries(model, reply) == {"gift_wrap", "gift_cards"}


def test_misspelt_words_are_folded_to_the_shops_own(model: LocalChatModel) -> None:
    assert ask(model, "whats ur retrun polcy") == entry(model, "returns").answer


@pytest.mark.parametrize("text", ["cancel my newsletter", "my card was declined", "payment failed"])
def test_a_topic_the_faq_lacks_gets_no_other_topics_answer(model: LocalChatModel, text: str) -> None:
    reply = ask(model, text)
    assert answered_entries(model, reply) == set()
    assert "?" in reply


def test_a_german_question_gets_the_german_answer(model: LocalChatModel) -> None:
    assert ask(model, "kann ich mit PayPal bezahlen?") == entry(model, "payment_methods").answers["de"]


def test_a_german_customer_gets_the_fallback_in_german(model: LocalChatModel) -> None:
    reply = ask(model, "was ist der Sinn des Lebens?")
    assert reply.startswith("Das kann ich leider nicht zuverlässig beantworten.")
    assert model.knowledge.shop.support_email in reply


def test_without_the_customers_language_the_english_answer_says_so(model: LocalChatModel) -> None:
    reply = ask(model, "quels moyens de paiement acceptez-vous ?")
    assert (
        reply == "I'm sorry, I only have this answer in English:\n\n" + entry(model, "payment_methods").answer
    )


@pytest.mark.parametrize(
    ("text", "reply"),
    [
        ("thank you so much, that's helpful", "You're welcome! Is there anything else I can help you with?"),
        ("ok thanks bye", "Thanks for visiting Hollybrook Gifts — have a lovely day!"),
        ("danke schön", "Gern geschehen! Kann ich dir sonst noch helfen?"),
        ("Hallo!", "Hallo! Ich bin der Assistent von Hollybrook Gifts."),
    ],
)
def test_small_talk_variants_get_small_talk_in_their_language(
    model: LocalChatModel, text: str, reply: str
) -> None:
    assert ask(model, text).startswith(reply)


async def test_the_german_fallback_is_also_a_helpless_answer(model: LocalChatModel) -> None:
    text = "was ist der Sinn des Lebens?"
    events = [event async for event in model.stream(ChatRequest(messages=[], route="chat", query=text))]
    assert events[-1] == Finished(finish_reason="stop", helpless=True)


def test_a_support_topic_no_entry_explains_gets_no_neighbours_answer(model: LocalChatModel) -> None:
    # Nearest by meaning is the delivery-time entry, which says nothing about Sundays.
    reply = ask(model, "can the courier bring it on a sunday")
    assert answered_entries(model, reply) == set()
    assert model.knowledge.shop.support_email in reply


def test_a_support_topic_is_answered_by_the_entry_that_explains_it(encoder: Encoder) -> None:
    shop = load_shop()
    loyalty = FaqEntry(
        faq_id="loyalty",
        questions=("Do you have a loyalty scheme?", "How do reward points work?"),
        answer="Every £1 you spend earns one loyalty point; 100 points are worth £5 off.",
    )
    with_loyalty = dataclasses.replace(shop, faq=[*shop.faq, loyalty])
    model = LocalChatModel(KnowledgeBase(with_loyalty, encoder), PromptLibrary(), delay_s=0)
    assert ask(model, "do I collect points when I shop with you") == loyalty.answer


def test_a_failed_payment_in_other_words_gets_the_payment_reply(model: LocalChatModel) -> None:
    reply = ask(model, "my visa got rejected at the last step")
    assert reply.startswith("I'm sorry your payment didn't go through")


def test_a_complaint_naming_a_topic_its_entry_lacks_gets_no_entrys_answer(model: LocalChatModel) -> None:
    reply = ask(model, "Ridiculous. Weeks later my loyalty points have still not arrived!")
    assert reply.startswith("I'm sorry")
    assert answered_entries(model, reply) == set()


class AlwaysAComplaint:
    """A complaint reader that takes every message for a late parcel by likeness (never by words)."""

    def read(self, text: str) -> Complaint | None:
        return None

    def resembles(self, text: str) -> Complaint | None:
        return Complaint(topic="late", upset=False, unanswered=False)


def test_a_message_the_intent_model_reads_as_something_else_is_no_complaint(model: LocalChatModel) -> None:
    fake = LocalChatModel(model.knowledge, model.prompts, delay_s=0)
    fake.complaints = AlwaysAComplaint()  # type: ignore[assignment]
    assert not ask(fake, "what is the capital of france").startswith("I'm sorry your order")


def test_the_answer_given_is_the_longest_whose_ending_the_reply_has(model: LocalChatModel) -> None:
    # The discount-code answer contains the sentence that ends the gift-card answer.
    answered = model._answered_entry(entry(model, "discount_code").answer)
    assert answered is not None
    assert answered.faq_id == "discount_code"


def test_a_question_about_returns_close_to_refund_complaints_gets_no_apology(model: LocalChatModel) -> None:
    reply = ask(model, "hi, how long do I get to send back an unwanted gift")
    assert not reply.startswith("I'm sorry your refund")


def test_a_complaint_by_its_words_is_one_when_the_faq_has_no_answer(model: LocalChatModel) -> None:
    # The intent model reads a cancellation; the words say the refund never came.
    reply = ask(model, "I cancelled my order before it shipped and I've not been refunded.")
    assert reply.startswith("I'm sorry your refund")


class RoutedEncoder:
    """The real encoder, plus routing's vectors already made (as ``SharedEmbeddings.ready`` gives them); counts
    the texts embedded after start-up."""

    def __init__(self, inner: Encoder, routed: list[str]) -> None:
        self.inner = inner
        self.model_id = getattr(inner, "model_id", None)
        self._routed = dict(zip(routed, inner.encode(routed), strict=True))
        self.embedded: list[str] = []

    def encode(self, texts: Sequence[str]) -> npt.NDArray[np.float32]:
        self.embedded.extend(texts)
        return self.inner.encode(texts)

    def ready(self, text: str) -> npt.NDArray[np.float32] | None:
        return self._routed.get(text)


def test_a_message_routing_has_embedded_is_not_embedded_again(encoder: Encoder) -> None:
    text = "what is your return policy?"
    routed = RoutedEncoder(encoder, [text])
    model = LocalChatModel(KnowledgeBase(load_shop(), routed), PromptLibrary(), delay_s=0)
    routed.embedded.clear()
    assert ask(model, text) == entry(model, "returns").answer
    assert routed.embedded == []


def test_praise_gets_thanked_as_small_talk(model: LocalChatModel) -> None:
    reply = ask(model, "you're brilliant")
    assert reply.startswith("Thank you, that's kind of you!")
    assert model.is_small_talk(reply)


def test_abuse_of_the_bot_is_small_talk_offering_a_person_not_a_complaint(model: LocalChatModel) -> None:
    reply = ask(model, "worst bot ever")
    assert model.is_small_talk(reply)
    assert model.knowledge.shop.support_email in reply


def test_yes_after_the_apology_for_abuse_hands_over(model: LocalChatModel) -> None:
    first = ask(model, "worst bot ever")
    history: list[ChatMessage] = [
        {"role": "user", "content": "worst bot ever"},
        {"role": "assistant", "content": first},
    ]
    reply = model.answer(
        ChatRequest(messages=[*history, {"role": "user", "content": "yes"}], route="chat", query="yes")
    )
    assert reply.startswith("Of course — a colleague will take it from here.")


def test_a_german_complaint_gets_the_curated_german_answer(model: LocalChatModel) -> None:
    damaged = next(e for e in model.knowledge.shop.faq if e.faq_id == "damaged_item")
    assert ask(model, "Mein Teller ist zerbrochen angekommen") == damaged.answers["de"]


@pytest.mark.parametrize(
    ("text", "right"),
    [
        ("can stuff with a name printed on it be sent back", "returns"),
        ("Would it be possible to have the parcel on Thursday if I order this afternoon?", "delivery_time"),
        ("Need to swap 24 units of the mini bunting for 48 on order 88012 before it ships", "change_order"),
    ],
)
def test_a_calm_question_near_known_complaints_gets_no_other_topics_answer(
    model: LocalChatModel, text: str, right: str
) -> None:
    """Likeness to known complaints once gave these the late, refund or wrong-item answer."""
    assert answered_entries(model, ask(model, text)) <= {right}


def test_a_problem_told_in_words_the_cues_miss_is_still_answered_as_a_complaint(
    model: LocalChatModel,
) -> None:
    reply = ask(model, "the fairy lights don't switch on at all, half the bulbs are dead")
    assert answered_entries(model, reply) == {"damaged_item"}


def test_a_question_leaning_on_its_story_gets_no_second_answer(model: LocalChatModel) -> None:
    text = "Last time I ordered I made an account but I can't remember the password at all. How do I get back in?"
    assert answered_entries(model, ask(model, text)) == {"account"}


@pytest.mark.parametrize("text", ["one sec", "just browsing", "tell me a joke", "nvm"])
def test_new_small_talk_gets_a_small_talk_reply(model: LocalChatModel, text: str) -> None:
    assert model.is_small_talk(ask(model, text))


def test_a_german_question_is_not_held_back_by_german_words_other_entries_use(model: LocalChatModel) -> None:
    assert ask(model, "Wie lange dauert die Erstattung?") == entry(model, "refund_status").answers["de"]


def test_a_second_question_about_what_was_just_asked_gets_no_other_entrys_answer(
    model: LocalChatModel,
) -> None:
    reply = ask(model, "I got a gift card for Christmas. Does it have an expiry date?")
    assert answered_entries(model, reply) == {"gift_cards"}


@pytest.mark.parametrize("text", ["sup", "good morrow", "neat", "ttyl"])
def test_small_talk_the_vocabulary_lacks_is_found_by_the_intent_model(
    model: LocalChatModel, text: str
) -> None:
    assert small_talk(text) is None
    assert model.is_small_talk(ask(model, text))


def test_small_talk_of_no_known_kind_opens_with_a_greeting_and_later_acknowledges(
    model: LocalChatModel,
) -> None:
    assert ask(model, "sup").startswith(model.knowledge.shop.greeting or "Hello")
    assert after(model, "how much is delivery?", "neat").startswith("Alright!")


def test_the_servers_default_confidence_is_the_one_measured() -> None:
    """bench/quality.py measures the responder's own default; the server must run with the same one."""
    default = inspect.signature(LocalChatModel.__init__).parameters["confidence"].default
    assert Settings.model_fields["local_confidence"].default == default


def test_merry_christmas_to_the_shop_by_name_is_small_talk(model: LocalChatModel) -> None:
    name = model.knowledge.shop.name.split()[0]
    assert model.is_small_talk(ask(model, f"merry christmas to everyone at {name} 🎄"))


def test_the_asking_clause_of_one_long_sentence_is_what_is_answered(model: LocalChatModel) -> None:
    text = (
        "I bought a carriage clock as a present for my husband but he already has one, how would I go about "
        "sending it back to you"
    )
    assert answered_entries(model, ask(model, text)) == {"returns"}


def test_a_misspelt_long_german_word_is_folded_to_the_shops_own(model: LocalChatModel) -> None:
    assert ask(model, "gibt es geschenkverpakung") == entry(model, "gift_wrap").answers["de"]


def test_a_german_inflection_is_not_taken_for_a_misspelling(model: LocalChatModel) -> None:
    assert model._fold("gibt es die tassen auch in größer", "de") == "gibt es die tassen auch in größer"


def test_a_short_complaint_is_never_answered_as_small_talk(model: LocalChatModel) -> None:
    assert not model.is_small_talk(ask(model, "still not arrived!!"))

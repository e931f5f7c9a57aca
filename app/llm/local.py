"""The embedded default model: a retrieval responder that needs no API key, no network and no GPU.

Order requests (status, cancel, return, change of address) follow ``app.llm.actions``: it calls the order tools
the request offers, like a hosted model would. Anything else it answers from the shop's curated FAQ when it is
confident, describes matching catalog products, asks a
clarifying question when two answers are close, and otherwise offers a human. A complaint is answered on its
topic, with an apology and the way to reach a person. It never improvises policy.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from concurrent.futures import Executor
from dataclasses import dataclass

from app.llm.actions import Act, Contact, Decision, Say, decide
from app.llm.complaint import FAQ_PROBES, Complaint, ComplaintReader, Topic
from app.llm.model import ChatRequest, Finished, ModelEvent, TextDelta
from app.llm.prompts import PromptLibrary, customer_view
from app.shop.catalog import Shop
from app.shop.knowledge import KnowledgeBase, ProductHit

_CHUNK = re.compile(r"\S+\s*|\s+")
FALLBACK_OPENING = "I'm sorry, I can't answer that one reliably."
"""How the answer that could not help begins (it ends the stream with ``Finished.helpless``)."""
# A curated answer's own opening apology, dropped when the complaint reply has already apologised.
_OPENING_APOLOGY = re.compile(
    r"^\s*((i'?m|i am|we'?re|we are) )?((so|very|really|truly) )?sorry\b[^.!?\n]{0,40}[.!]\s*", re.IGNORECASE
)
_SORRY: dict[Topic | None, str] = {
    "damaged": "I'm so sorry your order arrived damaged",
    "wrong_item": "I'm sorry you received the wrong item",
    "missing": "I'm sorry something is missing from your order",
    "refund": "I'm sorry your refund hasn't reached you yet",
    "late": "I'm sorry your order is taking so long to reach you",
    "service": "I'm sorry about how you were treated — that's not the service we want anyone to get",
    "no_reply": "I'm sorry nobody has got back to you — that's not the service we want anyone to get",
    None: "I'm sorry about this",
}


@dataclass(frozen=True, slots=True)
class _SmallTalk:
    pattern: re.Pattern[str]
    reply: str


def _small_talk(shop: Shop) -> list[_SmallTalk]:
    shop_name, hours = shop.name, shop.support_hours
    # The shop's own greeting (shop.toml [widget] greeting) says what this shop offers; the default claims only
    # what every shop has.
    hello = shop.greeting or (
        f"Hello! I'm the {shop_name} assistant. I can help with orders, delivery, returns and payments, "
        "or suggest products — what can I do for you?"
    )

    def rx(words: str) -> re.Pattern[str]:
        return re.compile(rf"^\W*({words})\b[\W\w]{{0,25}}$", re.IGNORECASE)

    return [
        _SmallTalk(
            rx(r"are you (a )?(bot|robot|human|real|person|ai)|who are you|what are you"),
            f"I'm the {shop_name} virtual assistant — an automated helper, not a person. I can answer questions "
            f"about orders, delivery, returns and payments, and suggest products. A human colleague is available "
            f"{hours} whenever you'd like one.",
        ),
        _SmallTalk(
            rx(r"thanks?|thank you|thx|cheers|ta|great,? thanks?"),
            "You're welcome! Is there anything else I can help you with?",
        ),
        _SmallTalk(
            rx(r"bye|goodbye|see you|that'?s all|no,? that'?s (all|it)|have a (nice|good) day"),
            f"Thanks for visiting {shop_name} — have a lovely day!",
        ),
        _SmallTalk(rx(r"how are you|how'?s it going"), "I'm very well, thank you! How can I help you today?"),
        _SmallTalk(
            rx(r"hi|hello|hey|hiya|good (morning|afternoon|evening)|greetings|howdy"),
            hello,
        ),
        _SmallTalk(rx(r"ok(ay)?|yes|no|sure|fine|cool"), "Alright! What else can I help you with?"),
    ]


class LocalChatModel:
    """Answers from the shop's own FAQ and catalog; streams word by word like a hosted model."""

    name = "local"

    def __init__(
        self,
        knowledge: KnowledgeBase,
        prompts: PromptLibrary,
        *,
        confidence: float = 0.55,
        clarify_below: float = 0.42,
        clarify_margin: float = 0.05,
        delay_s: float = 0.015,
        cpu: Executor | None = None,
    ) -> None:
        self.knowledge = knowledge
        self.prompts = prompts
        self.confidence = confidence
        self.clarify_below = clarify_below
        self.clarify_margin = clarify_margin
        self.delay_s = delay_s
        self._cpu = cpu
        self._small_talk = _small_talk(knowledge.shop)
        self.complaints = ComplaintReader(
            knowledge.encoder, [q for e in knowledge.shop.faq for q in e.questions]
        )
        self._contact = Contact(knowledge.shop.support_email, knowledge.shop.support_hours)

    def respond(self, request: ChatRequest) -> Decision:
        """The order policy's step (tool calls or text) for an order request, else ``answer``'s text."""
        decision = decide(request, self._contact)
        return decision if decision is not None else Say(self.answer(request))

    def answer(self, request: ChatRequest) -> str:
        """The whole answer, decided up front; ``stream`` paces it out."""
        shop = self.knowledge.shop
        query = request.query.strip()
        if request.route == "recommend":
            customer = customer_view(shop, request.customer_id)
            return self.prompts.local_recommendation(shop, request.recommendations, customer, query)
        complaint = self.complaints.read(query)
        if complaint is not None:
            return self._answer_complaint(complaint, query)
        for talk in self._small_talk:
            if talk.pattern.match(query):
                return talk.reply
        faq = self.knowledge.faq.search(query, n=2)
        products = [h for h in self.knowledge.catalog.search(query, n=3) if h.matched >= 0.6]
        # A message that names products and nothing else ("do you sell mugs?") is about the catalog, unless
        # it is a near-verbatim FAQ question.
        if products and products[0].matched >= 1.0 and (not faq or faq[0].score < 0.8):
            return self._describe_products(products)
        # Two entries nearly tied are a question to ask, not a guess to make: leave-one-out over the FAQ's own
        # phrasings showed a 0.05 margin halves confidently wrong answers.
        decisive = len(faq) < 2 or faq[0].score - faq[1].score >= self.clarify_margin
        if faq and faq[0].score >= self.confidence and decisive:
            answer = faq[0].entry.answer
            if products and faq[0].entry.topic == "products":
                answer = self._describe_products(products) + "\n\n" + answer
            return answer
        # The FAQ has no confident answer: a complaint in words the cues do not know is still a complaint.
        complaint = self.complaints.resembles(query)
        if complaint is not None:
            return self._answer_complaint(complaint, query)
        if products:
            return self._describe_products(products)
        if faq and faq[0].score >= self.clarify_below:
            options = [hit.entry.questions[0] for hit in faq if hit.score >= self.clarify_below]
            if len(options) == 1:
                return f"Just to make sure I understand: is your question *{options[0]}*"
            return (
                "I want to get this right — do you mean *"
                + options[0].rstrip("?")
                + "*, or *"
                + options[1].rstrip("?")
                + "*? If it's something else, a colleague can help too."
            )
        return (
            f"{FALLBACK_OPENING} I can help with **orders, delivery, returns, payments** "
            f"and **product suggestions** — or pass you to a colleague ({shop.support_hours}, {shop.support_email}). "
            "Would you like me to do that?"
        )

    def _answer_complaint(self, complaint: Complaint, query: str) -> str:
        """Acknowledge and apologise, answer the complaint's topic from the FAQ, and say how to reach a person."""
        shop = self.knowledge.shop
        topic = complaint.topic
        opening = _SORRY[topic] + (", and I understand how frustrating it is." if complaint.upset else ".")
        if complaint.unanswered and topic != "no_reply":
            opening += " I'm sorry too that you haven't had a reply from us — that shouldn't happen."
        parts = [opening]
        body = self._complaint_topic_answer(topic, query)
        if body:
            parts.append(_OPENING_APOLOGY.sub("", body, count=1))
        contact = f"**{shop.support_email}**" if shop.support_email else "the shop's customer service"
        hours = f" ({shop.support_hours})" if shop.support_hours else ""
        parts.append(
            f"If you'd like a person to look into this, please write to {contact}{hours} with your order number, "
            "and a colleague will put it right."
        )
        return "\n\n".join(parts)

    def _complaint_topic_answer(self, topic: Topic | None, query: str) -> str | None:
        """The shop's curated answer for the complaint's topic, or None when its FAQ has none."""
        if topic is None:
            # Upset without a nameable problem: answer the question in it, if it clearly has one.
            hits = self.knowledge.faq.search(query, n=2)
            decisive = len(hits) < 2 or hits[0].score - hits[1].score >= self.clarify_margin
            return hits[0].entry.answer if hits and hits[0].score >= self.confidence and decisive else None
        probe = FAQ_PROBES.get(topic)
        if probe is None:
            return None
        for hit in self.knowledge.faq.search(probe.question, n=3):
            if hit.score >= self.confidence and probe.evidence.search(" ".join(hit.entry.questions)):
                return hit.entry.answer
        return None

    def _describe_products(self, hits: list[ProductHit]) -> str:
        shop = self.knowledge.shop
        if len(hits) == 1:
            p = hits[0].product
            return f"Yes — we have **{p.name}** for {shop.format_price(p.price)}."
        lines = [f"- **{h.product.name}** — {shop.format_price(h.product.price)}" for h in hits]
        return "Here's what I found in our shop:\n\n" + "\n".join(lines)

    async def stream(self, request: ChatRequest) -> AsyncIterator[ModelEvent]:
        """Stream the answer word by word, pausing ``delay_s`` between words; or the tool calls it makes."""
        # Retrieval embeds the question: CPU work that must not stall the event loop's other conversations.
        decision = await asyncio.get_running_loop().run_in_executor(self._cpu, self.respond, request)
        if isinstance(decision, Act):
            for call in decision.calls:
                yield call
            yield Finished(finish_reason="tool_calls")
            return
        for index, chunk in enumerate(_CHUNK.findall(decision.text)):
            if index and self.delay_s:
                await asyncio.sleep(self.delay_s)
            yield TextDelta(chunk)
        yield Finished(finish_reason="stop", helpless=decision.text.startswith(FALLBACK_OPENING))

    async def aclose(self) -> None:
        """Nothing to release."""

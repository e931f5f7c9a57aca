"""The embedded default model: a retrieval responder that needs no API key, no network and no GPU.

Order requests (status, cancel, return, change of address) follow ``app.llm.actions``: it calls the order tools
the request offers, like a hosted model would. Anything else it answers from the shop's curated FAQ when it is
confident, describes matching catalog products, asks a
clarifying question when two answers are close, and otherwise offers a human. A complaint is answered on its
topic, with an apology and the way to reach a person. It never improvises policy.

It reads the turn before (``app.llm.exchange``): "yes" accepts the person it just offered, "the first" picks an
option it just asked about, and "and to Germany?" is read with the question it follows. A long message is
answered by its sentence that asks; misspelt words are folded to the shop's own; a topic none of the shop's
texts mention needs a clearly close entry. It answers in the customer's language when the shop wrote the
answer in it (``answer_de``), else in English and says so.
"""

from __future__ import annotations

import asyncio
import re
from collections import Counter
from collections.abc import AsyncIterator
from concurrent.futures import Executor
from pathlib import Path
from typing import Final, get_args

import numpy as np
import numpy.typing as npt

from app.llm.actions import Act, Contact, Decision, Say, decide
from app.llm.complaint import FAQ_PROBES, Complaint, ComplaintReader, Topic
from app.llm.exchange import Exchange
from app.llm.intents import TRAIN_PATH, IntentGuess, default_classifier, ruled
from app.llm.language import ENGLISH, GERMAN, Language, detect_language
from app.llm.model import ChatRequest, Finished, ModelEvent, TextDelta
from app.llm.phrases import OFFERS, PHRASES, phrase
from app.llm.prompts import PromptLibrary, customer_view
from app.llm.smalltalk import Kind, kind_of, small_talk
from app.llm.topics import SupportTopic, named_topics, serves
from app.shop.knowledge import FaqHit, KnowledgeBase, ProductHit, faq_terms
from app.shop.profile import FaqEntry

_CHUNK = re.compile(r"\S+\s*|\s+")
FALLBACK_OPENING = "I'm sorry, I can't answer that one reliably."
"""How the answer that could not help begins (it ends the stream with ``Finished.helpless``)."""
# The same opening in every language the responder speaks ("Das kann ich leider nicht …").
_FALLBACK_OPENINGS: Final = tuple(PHRASES[lang]["fallback"].split(". ")[0] + "." for lang in PHRASES)
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
_TOKEN: Final = re.compile(r"[^\W\d_]+(?:'[^\W\d_]+)?")
_SENTENCE: Final = re.compile(r"(?<=[.!?])\s+|\n+")
# A customer's message has a few sentences; a pasted wall of text must not cost one search per line.
_MAX_SENTENCES: Final = 6
_QUESTION_WORD: Final = re.compile(
    r"^\W*(how|what|whats|wat|when|where|wheres|which|who|why|can|could|do|does|did|is|are|will|would|should|"
    r"have|has|any|wie|was|wann|wo|welche|kann|könnt|gibt|habt)\b",
    re.IGNORECASE,
)
_YES: Final = re.compile(
    r"^\W*(yes|yeah|yep|yup|sure|ok(ay)?|please( do)?|go ahead|do it|ja|gerne|gern|bitte|oui|sí|si)\b"
    r"(\W+(please|pls|thanks|thank you|bitte|gerne|do|that|that'?d be great|merci))*\W*$",
    re.IGNORECASE,
)
_NO: Final = re.compile(
    r"^\W*(no|nope|nah|not now|no need|nein|non)\b(\W+(thanks|thank you|danke|merci|it'?s fine|i'?m fine|"
    r"not now))*\W*$",
    re.IGNORECASE,
)
# The responder's clarifying questions, in every language it speaks; the options are in *asterisks*.
_CLARIFYING: Final = re.compile(
    "|".join(
        re.escape(PHRASES[lang][key].split("*")[0])
        for lang in PHRASES
        for key in ("clarify_one", "clarify_two", "also_asked")
    )
)
_OPTION: Final = re.compile(r"\*([^*]+)\*")
_FIRST: Final = re.compile(r"\b(first|1st|former|top|erste\w*|premi\w*)\b|^\W*(1|a)\W*$", re.IGNORECASE)
_SECOND: Final = re.compile(
    r"\b(second|2nd|latter|other|last|bottom|zweite\w*|andere\w*|deuxi\w*|second\w*)\b|^\W*(2|b)\W*$",
    re.IGNORECASE,
)
# A follow-up that leans on the turn before: "and to Germany?", "what about next day?", "how much is it?".
_FOLLOW_ON: Final = re.compile(r"^\W*(and|what about|how about|what if|also|und|et|y|en|e)\b", re.IGNORECASE)
_REFERS_BACK: Final = re.compile(r"\b(it|they|them|that|this|those|these|es|sie|das|dies)\b", re.IGNORECASE)


_NOT_A_COMPLAINT: Final = frozenset({"cancel_order", "change_address", "account", "payment_problem", "faq"})
# What a message resembling a known complaint may still be about for its complaint's answer to fit: a confident
# guess of anything else ("do I earn points?" is a question, however close it sits to "wrong item") is not one.
# A question about returns ("how long have I got to return it?") sits close to refund complaints: it is not one.
_COMPLAINT_INTENTS: Final = frozenset({"complaint", "order_status", "human"})


def _yes_or_no(text: str) -> bool | None:
    """True for a plain yes ("yes please"), False for a plain no ("no thanks"), else None."""
    if _YES.match(text):
        return True
    if _NO.match(text):
        return False
    return None


def _sentences(text: str) -> list[str]:
    """The message's distinct sentences, at most ``_MAX_SENTENCES``: each is searched on its own."""
    return list(dict.fromkeys(s.strip() for s in _SENTENCE.split(text) if s.strip()))[:_MAX_SENTENCES]


_LONG_SENTENCE: Final = 14


def _clauses(text: str) -> list[str]:
    """The message's sentences and comma-separated parts: "my return clock, does it run from …" asks."""
    return [c.strip() for c in re.split(r"[.!?;,]+\s*|\n+", text) if c.strip()] + (
        [text.strip()] if text.rstrip().endswith("?") else []
    )


# "Need to swap 24 for 48 before it ships": a change asked for, not a problem reported.
_REQUEST: Final = re.compile(
    r"^\W*(i |we )?(need|want|would like|'d like|wanna|wish) to\b|^\W*(please|pls) (change|swap|cancel|add|remove)\b",
    re.IGNORECASE,
)
# "What do I do?", "can you sort this?": asking for help with the problem just told, not a question of its own.
_HELP_PLEASE: Final = re.compile(
    r"^\W*(what (do|should|can) (i|we) do( now| next| about (it|this|that))?|what now|please advise|(can|could|will|"
    r"would) (you|someone|somebody) (please )?(help|sort (this|it|that)( out)?|fix (this|it|that)|look into (this|it"
    r"|that)|advise)|how (do|can) (i|we) (get|have) (this|it|that) (sorted|fixed|resolved)|was (soll|kann) ich (jetzt )?"
    r"tun)\b",
    re.IGNORECASE,
)


def _asks(sentence: str) -> bool:
    return sentence.rstrip().endswith("?") or _QUESTION_WORD.match(_LEAD.sub("", sentence)) is not None


# "so will the paperwork show the price", "and how long does it take": a question after a conjunction.
_LEAD: Final = re.compile(r"^\W*((so|and|but|also|then|ok|okay|well|just|quick question)\W+)+", re.IGNORECASE)


def _follows_on(text: str) -> bool:
    return _FOLLOW_ON.match(text) is not None or len(text.split()) <= 5


def _slips(word: str) -> set[str]:
    """``word`` with one letter dropped (not the first) or two neighbours swapped: what fast typing does.

    Not substitutions: those make other real words ("since" → "spice").
    """
    dropped = {word[:i] + word[i + 1 :] for i in range(1, len(word))}
    swapped = {word[:i] + word[i + 1] + word[i] + word[i + 2 :] for i in range(1, len(word) - 1)}
    return (dropped | swapped) - {word}


def _words(text: str) -> set[str]:
    return {m.group(0).lower() for m in _TOKEN.finditer(text)}


def _chat_words(path: Path = TRAIN_PATH) -> Counter[str]:
    """How often each word occurs in the intent examples: ordinary customer language, with its typos once."""
    return Counter(m.group(0).lower() for m in _TOKEN.finditer(path.read_text(encoding="utf-8")))


class LocalChatModel:
    """Answers from the shop's own FAQ and catalog; streams word by word like a hosted model."""

    name = "local"

    def __init__(
        self,
        knowledge: KnowledgeBase,
        prompts: PromptLibrary,
        *,
        confidence: float = 0.5,
        clarify_below: float = 0.42,
        clarify_margin: float = 0.05,
        unfamiliar_margin: float = 0.1,
        follow_on_below: float = 0.35,
        rare_word_gap: float = 0.1,
        intent_veto: float = 0.9,
        small_talk_sure: float = 0.6,
        delay_s: float = 0.015,
        cpu: Executor | None = None,
    ) -> None:
        self.knowledge = knowledge
        self.prompts = prompts
        self.confidence = confidence
        self.clarify_below = clarify_below
        self.clarify_margin = clarify_margin
        self.unfamiliar_margin = unfamiliar_margin
        self.follow_on_below = follow_on_below
        self.rare_word_gap = rare_word_gap
        self.intent_veto = intent_veto
        self.small_talk_sure = small_talk_sure
        self.delay_s = delay_s
        self._cpu = cpu
        shop = knowledge.shop
        self._small_talk_replies = frozenset(
            [shop.greeting] * bool(shop.greeting)
            + [self._say(kind, lang) for lang in PHRASES for kind in get_args(Kind)]
        )
        name = shop.name.strip()
        self._shop_name = re.compile(
            rf"\b({re.escape(name)}|{re.escape(name.split()[0])})\b" if name else r"(?!)", re.IGNORECASE
        )
        self._entry_by_question = {q.rstrip("?").strip(): e for e in shop.faq for q in e.questions}
        # The words the shop's own texts use: what a misspelling is folded to, and what a covered topic says.
        self._known = _words(
            " ".join(
                [
                    *(q for e in shop.faq for q in e.questions),
                    *(e.answer for e in shop.faq),
                    *(text for e in shop.faq for text in e.answers.values()),
                    *shop.policies.values(),
                ]
                + [p.name for p in shop.products.values()]
            )
        )
        self._typos = {
            slip: w for w in sorted(self._known) if len(w) >= 4 for slip in _slips(w) if len(slip) >= 5
        }
        self._terms = {
            e.faq_id: frozenset(faq_terms(" ".join(e.questions) + " " + e.answer)) for e in shop.faq
        }
        self._rule_intents = {e.faq_id: frozenset(ruled(q) for q in e.questions) - {None} for e in shop.faq}
        self._intents = default_classifier(knowledge.encoder)
        self._entry_intents = {
            e.faq_id: {self._intents.classify(q).intent for q in e.questions} for e in shop.faq
        }
        self._entries_with = Counter(t for terms in self._terms.values() for t in terms)
        # Everything each entry says, in every language: what decides whether it explains a support topic.
        self._texts = {e.faq_id: (*e.questions, e.answer, *e.answers.values()) for e in shop.faq}
        self._served: dict[str, frozenset[str]] = {}
        # Ordinary chat words (the intent examples) are real words, never "corrected" and never a new topic.
        self._real_words = _chat_words()
        self.complaints = ComplaintReader(
            knowledge.encoder, [q for e in knowledge.shop.faq for q in e.questions]
        )
        self._contact = Contact(knowledge.shop.support_email, knowledge.shop.support_hours)

    def is_small_talk(self, reply: str) -> bool:
        """Whether ``reply`` is one of the small-talk replies (a greeting, thanks, goodbye …)."""
        return reply in self._small_talk_replies

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
        lang = detect_language(query)
        before = Exchange.before(request.messages)
        reply = self._reply_to_question(query, before, lang)
        if reply is not None:
            return reply
        topics = named_topics(query)
        if self._payment_trouble(query, topics):
            # No FAQ entry is about a failed payment: the payment-methods or gift-card answer would be wrong.
            return self._say("payment_problem", lang)
        # Small talk is a message with no word about anything else: "worst bot ever" is about the chat, not a
        # complaint about an order.
        # "merry christmas to everyone at Hollybrook": the shop's own name says nothing else.
        kind = small_talk(self._shop_name.sub(" ", query))
        if kind is not None:
            return self._small_talk(kind, lang)
        complaint = self.complaints.read(query)
        # A complaint in its words ("still nothing!!") is never waved off as chat, however the model reads it.
        kind = self._small_talk_by_model(query, topics, before) if complaint is None else None
        if kind is not None:
            return self._small_talk(kind, lang)
        if complaint is not None and not self._asks_for_something_else(query):
            return self._answer_complaint(complaint, query, topics, lang)
        return self._from_knowledge(query, lang, before, topics)

    def _small_talk_by_model(self, query: str, topics: list[SupportTopic], before: Exchange) -> Kind | None:
        """Small talk in words the vocabulary lacks ("g'day", "much obliged"), when the intent model is sure.

        On the development slices the model's small-talk class at this confidence took no question for small
        talk and found 49 of 60 small-talk lines the vocabulary missed.
        """
        if topics or len(query.split()) > 8:
            return None
        guess = self._classify(query)
        if guess.intent != "smalltalk" or guess.confidence < self.small_talk_sure:
            return None
        # Words of no known kind: a greeting to open the chat, an acknowledgement later.
        return kind_of(query) or ("ok" if before.reply else "hello")

    def _payment_trouble(self, query: str, topics: list[SupportTopic]) -> bool:
        """Whether the message reports a failed payment that no FAQ entry explains."""
        if any(t.name == "payment_failure" for t in topics):
            return not self._served_by_any(topics)
        return ruled(query) == "payment_problem"

    def _serving(self, topic: SupportTopic) -> frozenset[str]:
        """The ids of the entries whose own text explains ``topic`` (read once per topic: the FAQ does not change)."""
        ids = self._served.get(topic.name)
        if ids is None:
            ids = frozenset(faq_id for faq_id, texts in self._texts.items() if serves(topic, texts))
            self._served[topic.name] = ids
        return ids

    def _serves(self, entry: FaqEntry, topics: list[SupportTopic]) -> bool:
        """Whether ``entry``'s own text explains every support topic the message names."""
        return all(entry.faq_id in self._serving(topic) for topic in topics)

    def _served_by_any(self, topics: list[SupportTopic]) -> bool:
        return all(self._serving(topic) for topic in topics)

    def _asks_for_something_else(self, query: str) -> bool:
        """Whether the intent model is sure a message with complaint words asks for a change, not about a
        problem ("how late can I cancel?" is no late parcel)."""
        guess = self._classify(query)
        return guess.confidence >= self.intent_veto and guess.intent in _NOT_A_COMPLAINT

    def _ready(self, text: str) -> npt.NDArray[np.float32] | None:
        """The text's embedding if routing has made it already (a ``SharedEmbeddings`` encoder), else None."""
        ready = getattr(self.knowledge.encoder, "ready", None)
        vector: npt.NDArray[np.float32] | None = ready(text) if ready is not None else None
        return vector

    def _classify(self, text: str) -> IntentGuess:
        """The intent of ``text``, from routing's embedding of it when there is one (no second embedding)."""
        vector = self._ready(text)
        return self._intents.classify(text) if vector is None else self._intents.decide(text, vector)

    def _faq_search(self, text: str) -> list[FaqHit]:
        """The two best FAQ hits for ``text``, from routing's embedding of it when there is one."""
        vector = self._ready(text)
        faq = self.knowledge.faq
        return faq.search(text, n=2) if vector is None else faq.search_vector(vector, text, n=2)

    def _say(self, key: str, lang: Language, **values: str) -> str:
        shop = self.knowledge.shop
        return phrase(key, lang, shop=shop.name, hours=shop.support_hours, email=shop.support_email, **values)

    def _small_talk(self, kind: Kind, lang: Language) -> str:
        shop = self.knowledge.shop
        # The shop's own greeting (shop.toml [widget] greeting) says what this shop offers; the default claims
        # only what every shop has. It is in the shop's language, so only English customers get it.
        if kind == "hello" and shop.greeting and lang == ENGLISH:
            return shop.greeting
        return self._say(kind, lang)

    def _reply_to_question(self, query: str, before: Exchange, lang: Language) -> str | None:
        """The answer to a reply to the responder's own last question: an offer of a person, or "A or B?"."""
        if not before.reply:
            return None
        said = _yes_or_no(query)
        if said is not None and before.reply.rstrip().endswith(OFFERS):
            return self._say("handoff" if said else "ok", lang)
        options = [self._entry_by_question.get(o.rstrip("?").strip()) for o in _OPTION.findall(before.reply)]
        entries = [e for e in options if e is not None]
        if not entries or not _CLARIFYING.search(before.reply):
            return None
        picked: FaqEntry | None = None
        if len(entries) == 1 and said is not None:
            picked = entries[0] if said else None
            if picked is None:
                return self._say("fallback", lang)
        elif len(entries) > 1 and _FIRST.search(query):
            picked = entries[0]
        elif len(entries) > 1 and _SECOND.search(query):
            picked = entries[1]
        elif len(query.split()) <= 8:
            # The customer repeats the words of the option they mean ("the delivery one").
            words = set(faq_terms(query))
            overlap = [len(words & set(faq_terms(" ".join(e.questions)))) for e in entries]
            if max(overlap) > 0 and overlap.count(max(overlap)) == 1:
                picked = entries[overlap.index(max(overlap))]
        return self._entry_answer(picked, lang) if picked is not None else None

    def _from_knowledge(
        self, query: str, lang: Language, before: Exchange, topics: list[SupportTopic] | None = None
    ) -> str:
        """The FAQ's answer, products, a clarifying question, or the offer of a person."""
        text = self._fold(query, lang) if lang in (ENGLISH, GERMAN) else query
        topics = named_topics(text) if topics is None else topics
        faq = self._best_hits(text)
        earlier = self._answered_entry(before.reply)
        if earlier is not None and before.question and _follows_on(query):
            # "and to Germany?", "how much is it?": read with the question it follows.
            own_sure = faq[0].score >= self.confidence and self._decisive(faq, text)
            # "und nach Österreich?" after the delivery price: a weak match on the same topic is the change of
            # one detail ("to Austria"), not a new question.
            same_topic = (
                faq[0].entry.topic == earlier.topic
                and faq[0].entry is not earlier
                and faq[0].score >= self.follow_on_below
                and self._decisive(faq, text)
            )
            if same_topic and not _REFERS_BACK.search(query) and self._serves(faq[0].entry, topics):
                return self._entry_answer(faq[0].entry, lang)
            if not own_sure or _REFERS_BACK.search(query):
                asked = self._fold(before.question, lang) if lang in (ENGLISH, GERMAN) else before.question
                faq = self._faq_search(asked + " " + text)
        products = [h for h in self.knowledge.catalog.search(query, n=3) if h.matched >= 0.6]
        # A message that names products and nothing else ("do you sell mugs?") is about the catalog, unless
        # it is a near-verbatim FAQ question.
        if products and products[0].matched >= 1.0 and (not faq or faq[0].score < 0.8):
            return self._describe_products(products)
        # Words the shop's texts never use ("newsletter", "Klarna", "showroom") are a topic the FAQ may lack:
        # only a clearly close entry answers then.
        needed = self.confidence
        if lang == ENGLISH and faq and self._unexplained(text, faq[0].entry):
            needed += self.unfamiliar_margin
        # A support topic none of the shop's entries explains ("loyalty points", "Sunday delivery"): a neighbour's
        # answer would be a guess, and so would a question offering neighbours.
        unexplained_topic = not self._served_by_any(topics)
        chosen = None if unexplained_topic else self._choose(faq, text, needed)
        if chosen is not None and not self._serves(chosen, topics):
            chosen = None
        if chosen is not None:
            answer = self._entry_answer(chosen, lang)
            if len(_SENTENCE.split(text)) > 1:
                answer += self._other_question(text, chosen, lang)
            if products and chosen.topic == "products":
                answer = self._describe_products(products) + "\n\n" + answer
            return answer
        # The FAQ has no confident answer: a complaint in words the cues do not know is still a complaint when the
        # customer is upset or its words name a problem, or unless the intent model is sure the message is about
        # something else.
        complaint = None if unexplained_topic else self.complaints.resembles(query)
        if complaint is not None and (
            complaint.upset or self.complaints.read(query) is not None or self._may_be_a_complaint(query)
        ):
            return self._answer_complaint(complaint, query, topics, lang)
        if products:
            return self._describe_products(products)
        faq = [hit for hit in faq if self._serves(hit.entry, topics)]
        if faq and faq[0].score >= self.clarify_below:
            options = [hit.entry.questions[0] for hit in faq if hit.score >= self.clarify_below]
            if len(options) == 1:
                return self._say("clarify_one", lang, a=options[0])
            return self._say("clarify_two", lang, a=options[0].rstrip("?"), b=options[1].rstrip("?"))
        return self._say("fallback", lang)

    def _may_be_a_complaint(self, query: str) -> bool:
        # A calm message that asks something ("can stuff with a name on it be sent back", "would it come by
        # Thursday?") is a question however close it sits to known complaints: likeness chose the wrong topic for
        # most of them, and a wrong topic's answer with an apology is worse than asking back.
        if any(
            _asks(clause) or _REQUEST.match(clause)
            for clause in _clauses(query)
            if not _HELP_PLEASE.search(clause)
        ):
            return False
        guess = self._classify(query)
        return guess.intent in _COMPLAINT_INTENTS or guess.confidence < 0.6

    def _choose(self, hits: list[FaqHit], text: str, needed: float) -> FaqEntry | None:
        """The leading entry when it scores ``needed`` and leads clearly."""
        if not hits or hits[0].score < needed:
            return None
        # The words name a service request ("change my email address" is the account) that the entry's own
        # questions, read by the same rules, never are ("change my delivery address"): a neighbour, not it.
        asked = ruled(text)
        owned = self._rule_intents[hits[0].entry.faq_id]
        if asked not in (None, "recommend") and owned and asked not in owned:
            return None
        # Likewise when the intent model is sure the message is about something none of the entry's own
        # questions are ("I was charged but never got a confirmation" is a payment, not a missing item).
        guess = self._classify(text)
        if (
            guess.confidence >= self.intent_veto
            and guess.intent not in self._entry_intents[hits[0].entry.faq_id]
        ):
            return None
        return hits[0].entry if self._decisive(hits, text) else None

    def _decisive(self, hits: list[FaqHit], text: str = "") -> bool:
        # Two entries nearly tied are a question to ask, not a guess to make: leave-one-out over the FAQ's own
        # phrasings showed a 0.05 margin halves confidently wrong answers.
        if not hits:
            return False
        if len(hits) < 2:
            return True
        if hits[0].score - hits[1].score < self.clarify_margin:
            return False
        if hits[0].score - hits[1].score >= self.rare_word_gap:
            return True
        # "cancel my newsletter": "cancel" says one entry, "newsletter" only the runner-up's text has. A word
        # that few entries use and the leader's lacks makes the leader a guess.
        # Only English: the shop's German lives in a few entries' phrasings, so any German word ("dauert",
        # "bestelle") would look rare and owned by whichever entry has more of them.
        if detect_language(text) != ENGLISH:
            return True
        terms = set(faq_terms(text))
        first, second = (self._terms[h.entry.faq_id] for h in hits[:2])
        rare = {t for t in terms - first if len(t) >= 5 and t in second and self._entries_with[t] <= 2}
        return not rare

    def _best_hits(self, text: str) -> list[FaqHit]:
        """FAQ hits for the message, or for its sentence that asks something ("Hi. I moved. Can I …?")."""
        whole = self._faq_search(text)
        sentences = [s for s in _sentences(text) if small_talk(s) is None]
        if len(sentences) == 1 and len(text.split()) >= _LONG_SENTENCE:
            # One long sentence with its story inside ("I bought a clock for my husband but he has one, how would
            # I send it back"): its asking clause competes like an asking sentence.
            sentences = [c for c in _clauses(text) if len(c.split()) >= 3][:_MAX_SENTENCES] or sentences
        if len(sentences) < 2 or not whole:
            return whole
        # The preamble ("I'm about to place an order.") is context, not the question: only sentences that ask
        # compete, unless none does.
        asking = [s for s in sentences if _asks(s)] or sentences
        best = whole
        for sentence in asking:
            if sentence == text.strip():
                continue  # a long question's whole text is among its clauses: already searched
            hits = self._faq_search(sentence)
            if hits and hits[0].score > best[0].score:
                best = hits
        return best

    def _other_question(self, text: str, answered: FaqEntry, lang: Language) -> str:
        """For a second question in the message: its answer when clear, else a question back about it."""
        for sentence in (s for s in _sentences(text) if _asks(s)):
            # "I want a gift card. Do they expire?": a question about what was just asked about is answered by it.
            if _REFERS_BACK.search(sentence):
                continue
            hits = self._faq_search(sentence)
            if not hits or hits[0].entry is answered or hits[0].score < self.confidence:
                continue
            if not self._serves(hits[0].entry, named_topics(sentence)):
                continue
            # "How do I get back in?" after a story about a password leans on that story: only a sentence naming
            # its own topic (a word few entries use) is a second question answered outright.
            own_topic = any(
                t in self._terms[hits[0].entry.faq_id] and self._entries_with[t] <= 3
                for t in faq_terms(sentence)
            )
            if (
                own_topic
                and hits[0].score >= self.confidence + self.unfamiliar_margin
                and self._decisive(hits, sentence)
            ):
                return "\n\n" + self._entry_answer(hits[0].entry, lang)
            other = next((h.entry for h in hits if h.entry is not answered), hits[0].entry)
            return "\n\n" + self._say("also_asked", lang, a=other.questions[0].rstrip("?"))
        return ""

    def _entry_answer(self, entry: FaqEntry, lang: Language) -> str:
        """The entry's answer in the customer's language, or in English with a sentence saying so."""
        text = entry.answer_in(lang)
        if text is not None:
            return text
        return self._say("english_only", ENGLISH) + "\n\n" + entry.answer

    def _answered_entry(self, reply: str) -> FaqEntry | None:
        """The FAQ entry whose answer (in any language) ``reply`` gave, if one."""
        if not reply:
            return None
        ended = [
            e
            for e in self.knowledge.shop.faq
            if any(t[-60:] in reply for t in (e.answer, *e.answers.values()))
        ]
        # One answer's ending can close another's too ("enter the code at checkout"): the longest one found is
        # the answer given, the others are inside it.
        return max(ended, key=lambda e: len(e.answer), default=None)

    def _fold(self, text: str, lang: Language = ENGLISH) -> str:
        """``text`` with misspelt words replaced by the closest word the shop's texts use ("delivry")."""
        return _TOKEN.sub(lambda m: self._spelling(m.group(0), lang), text)

    def _spelling(self, word: str, lang: Language = ENGLISH) -> str:
        lower = word.lower()
        # German inflects ("Tassen", "sucht"): only long words with a dropped or swapped letter ("Rechnug") are slips.
        shortest = 7 if lang == GERMAN else 5
        if len(lower) < shortest or lower in self._known or self._real_words[lower] >= 2:
            return word
        if lower in self._typos:
            return self._typos[lower]
        if lang == GERMAN:
            return word
        # A letter typed twice or one too many: "shipp", "paypall".
        extra = [w for w in _slips(lower) if w in self._known]
        return extra[0] if extra else word

    def _unexplained(self, text: str, entry: FaqEntry) -> bool:
        """Whether the text has a word the shop's texts never use that means something other than ``entry``.

        "abroad" is closest to international shipping and "giftwrap" to gift wrapping: explained. "Manchester"
        (a shop to visit) or "euros" (a currency) is closest to no entry about them: a topic the FAQ lacks.
        """
        unknown = [
            w
            for w in dict.fromkeys(m.group(0).lower() for m in _TOKEN.finditer(text))
            if len(w) >= 4 and w not in self._known and w not in self._real_words
        ]
        faq = self.knowledge.faq
        return any(entry.faq_id not in faq.nearest_entries(w) for w in unknown[:3])

    def _answer_complaint(
        self, complaint: Complaint, query: str, topics: list[SupportTopic], lang: Language = ENGLISH
    ) -> str:
        """Acknowledge and apologise, answer the complaint's topic from the FAQ, and say how to reach a person.

        In another language the shop wrote the topic's answer in, that answer is the reply: its own opening
        apologises, and the sentences around it exist in English only.
        """
        shop = self.knowledge.shop
        topic = complaint.topic
        entry = self._complaint_topic_entry(topic, query, topics)
        if lang != ENGLISH:
            translated = entry.answer_in(lang) if entry is not None else None
            if translated is not None:
                return translated
        opening = _SORRY[topic] + (", and I understand how frustrating it is." if complaint.upset else ".")
        if complaint.unanswered and topic != "no_reply":
            opening += " I'm sorry too that you haven't had a reply from us — that shouldn't happen."
        parts = [opening]
        if entry is not None:
            parts.append(_OPENING_APOLOGY.sub("", entry.answer, count=1))
        contact = f"**{shop.support_email}**" if shop.support_email else "the shop's customer service"
        hours = f" ({shop.support_hours})" if shop.support_hours else ""
        parts.append(
            f"If you'd like a person to look into this, please write to {contact}{hours} with your order number, "
            "and a colleague will put it right."
        )
        return "\n\n".join(parts)

    def _complaint_topic_entry(
        self, topic: Topic | None, query: str, topics: list[SupportTopic]
    ) -> FaqEntry | None:
        """The shop's curated entry for the complaint's topic, or None when its FAQ has none (or the message
        names a support topic the entry does not explain)."""
        if topic is None:
            # Upset without a nameable problem: answer the question in it, if it clearly has one.
            hits = self._faq_search(query)
            decisive = len(hits) < 2 or hits[0].score - hits[1].score >= self.clarify_margin
            if hits and hits[0].score >= self.confidence and decisive and self._serves(hits[0].entry, topics):
                return hits[0].entry
            return None
        probe = FAQ_PROBES.get(topic)
        if probe is None:
            return None
        for hit in self.knowledge.faq.search(probe.question, n=3):
            if hit.score >= self.confidence and probe.evidence.search(" ".join(hit.entry.questions)):
                return hit.entry if self._serves(hit.entry, topics) else None
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
        yield Finished(finish_reason="stop", helpless=decision.text.startswith(_FALLBACK_OPENINGS))

    async def aclose(self) -> None:
        """Nothing to release."""

"""What a customer message is about (its intent), and so whether product cards answer it.

Two steps, cheapest first. Rules read the words: a negated ask for suggestions ("no recommendations, just track my
parcel") takes ``recommend`` off the table, and an unmistakable service request (track, cancel, refund, change
the address, payment, log-in, a person) wins over anything else in a mixed message — the customer's problem comes
before a sale. Whatever the rules leave open, a softmax regression on the message's sentence embedding decides,
trained at start-up on ``app/data/intents/train.tsv``. The embedding is the one routing already made: callers
pass the vector in (``decide``), so a message is embedded once.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Final, Literal, get_args

import numpy as np
import numpy.typing as npt

from app.llm.asks import asks_for_human
from app.shop.embedding import Encoder, encode_corpus

Intent = Literal[
    "recommend",
    "product_question",
    "order_status",
    "cancel_order",
    "return_refund",
    "change_address",
    "payment_problem",
    "account",
    "human",
    "complaint",
    "faq",
    "smalltalk",
    "out_of_scope",
]
INTENTS: Final[tuple[Intent, ...]] = get_args(Intent)
TRAIN_PATH: Final = Path(__file__).resolve().parents[1] / "data" / "intents" / "train.tsv"

# A learned guess at least this sure is "confident": a caller may act on it without asking the model.
CONFIDENT: Final = 0.8
# Cards are a sales pitch: the learned model must be at least this sure before a message gets them. Chosen on the
# tuning slice (bench/data/intents_tuning.tsv): the highest recall whose precision stays at or above 0.95.
RECOMMEND_THRESHOLD: Final = 0.4

_NEGATION = (
    r"(?:no|not|never|without|don'?t|dont|do not|didn'?t|did not|stop|skip|forget|spare me|enough|"
    r"kein\w*|nicht|ohne)"
)
_SUGGESTIONS = (
    r"(?:recommend\w*|recomend\w*|reccomend\w*|suggest\w*|ideas?|product cards?|products?|sales? pitch|"
    r"ads?|adverts?|empfehl\w*|vorschl\w*|tipps?)"
)
# "I don't want any recommendations", "no suggestions please", "keine Empfehlungen": within one clause.
_NEGATED_SUGGESTIONS: Final = re.compile(
    rf"\b{_NEGATION}\b[^.!?,;:]{{0,40}}?\b{_SUGGESTIONS}(?:[^.!?,;:]{{0,20}}?\b(?:please|bitte|thanks|thank you))?",
    re.IGNORECASE,
)

# Unambiguous asks for suggestions; they settle ``recommend`` unless a service request or negation is present.
_RECOMMEND_CUES: Final = re.compile(
    r"\b(recommend(ation)?s?( me)?|recomend\w*|reccomend\w*|suggest(ions?)?|sugest\w*|gift ideas?|"
    r"what should i (buy|get|order)|more like (this|these|that)|best ?sellers?|"
    r"something (similar|cheaper|different)|(show|find) me (some|more|other|different|similar|a few)|empfiehl\w*|empfehl\w*|vorschl\w*|geschenkideen?)\b",
    re.IGNORECASE,
)
# "Do you recommend tracked shipping?"-style questions are about service, not products.
_SERVICE_WORDS: Final = re.compile(
    r"\b(shipping|delivery|courier|postage|refund|return(s|ing)?|payment|pay|password|account|order number|"
    r"versand|lieferung|rückgabe|zahlung|passwort|konto)\b",
    re.IGNORECASE,
)

# Service requests the words alone identify; first match in this order wins when several are present.
_SERVICE_RULES: Final[tuple[tuple[Intent, re.Pattern[str]], ...]] = (
    (
        "cancel_order",
        re.compile(
            r"\bcancel+(l?ing|l?ed|ation)?\b[^.!?]{0,30}\b(order|purchase|parcel|it|that|everything)\b"
            r"|\b(stornier\w*|storno)\b|\b(bestellung|auftrag)\b[^.!?]{0,25}\b(stornieren|zurückziehen)\b",
            re.IGNORECASE,
        ),
    ),
    (
        "change_address",
        re.compile(
            r"\b(change|update|correct|fix|edit|amend|wrong)\b[^.!?]{0,30}\b(?<!e-mail )(?<!email )(address|postcode|post code|zip code|"
            r"house number|street)\b|\b(adresse|anschrift|lieferadresse|postleitzahl)\b[^.!?]{0,30}"
            r"\b(ändern|korrigieren|falsch|aktualisieren)\b|\b(ändern|korrigieren)\b[^.!?]{0,30}\b(adresse|anschrift)\b",
            re.IGNORECASE,
        ),
    ),
    (
        "return_refund",
        re.compile(
            r"\b(refund\w*|money back|send (it|them|this|these|that) back|return (it|them|this|these|that|the|a|an|my)\b|"
            r"returning|returns? (label|form|policy|window|address)|rückerstattung|erstattung|zurückschicken|zurücksenden|rücksendung|umtausch\w*|"
            r"geld zurück)\b",
            re.IGNORECASE,
        ),
    ),
    (
        "payment_problem",
        re.compile(
            r"\b(card|payment|paypal|transaction|checkout)\b[^.!?]{0,25}\b(declined|rejected|failed|fails|"
            r"failing|not (go(ing)? through|work\w*)|won'?t (go through|work)|didn'?t (go through|work)|error)\b"
            r"|\bcharged (me )?(twice|two times|double)\b|\bdouble[- ]charged\b|\bdoppelt (abgebucht|belastet)\b"
            r"|\bzahlung\b[^.!?]{0,25}\b(fehlgeschlagen|abgelehnt|funktioniert nicht)\b",
            re.IGNORECASE,
        ),
    ),
    (
        "order_status",
        re.compile(
            r"\b(track(ing)?|trace)\b[^.!?]{0,20}\b(order|parcel|package|delivery|shipment|number|link)\b"
            r"|\bwhere('?s| is| are)\b[^.!?]{0,15}\b(my|our) (order|parcel|package|delivery|stuff|things|items?)\b"
            r"|\bwhere (my|our) (order|parcel|package|delivery|stuff)\b"
            r"|\b(update|status|news)\b[^.!?]{0,12}\b(on|of|about|for) (my |our |the )?(order|parcel|package|delivery|"
            r"shipment|purchase)\b"
            r"|\b(order|parcel|package|delivery)\b[^.!?]{0,25}\b(not (yet )?(arrived|come|here)|hasn'?t (arrived|come|"
            r"shown up)|still not|late|delayed|stuck)\b|\bwo (ist|bleibt) (meine|mein) (bestellung|paket|lieferung)\b"
            r"|\bwo (meine|mein) (bestellung|paket|lieferung|sendung)\b|\bsendungsverfolgung\b|\bpaket\b[^.!?]{0,25}\bnoch nicht (da|angekommen)\b",
            re.IGNORECASE,
        ),
    ),
    (
        "account",
        re.compile(
            r"\b(password|passwort|log ?in|sign ?in|einloggen|anmelden)\b[^.!?]{0,25}\b(forgot|forgotten|reset|"
            r"can'?t|cannot|not work\w*|doesn'?t work|vergessen|geht nicht|funktioniert nicht|zurücksetzen)\b"
            r"|\b(forgot|forgotten|reset|vergessen)\b[^.!?]{0,15}\b(password|passwort)\b"
            r"|\b(change|update|edit)\b[^.!?]{0,15}\b(e-?mail|username|user name)\b"
            r"|\b(delete|close|remove)\b[^.!?]{0,10}\b(my )?account\b|\b(konto|account)\b[^.!?]{0,20}\blöschen\b",
            re.IGNORECASE,
        ),
    ),
)


@dataclass(frozen=True, slots=True)
class IntentGuess:
    """The intent of one message, how sure the classifier is, and whether rules alone decided it."""

    intent: Intent
    confidence: float
    by_rule: bool
    p_recommend: float
    negated_recommend: bool = False

    @property
    def confident(self) -> bool:
        """Rules decided, or the learned model is sure enough to act on without asking a chat model."""
        return self.by_rule or self.confidence >= CONFIDENT


def read_examples(path: Path = TRAIN_PATH) -> list[tuple[Intent, str]]:
    """Read ``intent<TAB>text`` lines; blank lines and ``#`` comments are skipped."""
    rows: list[tuple[Intent, str]] = []
    known = set(INTENTS)
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip() or line.startswith("#"):
            continue
        label, _, text = line.partition("\t")
        if label not in known or not text.strip():
            raise ValueError(
                f"{path}:{number}: expected '<intent><TAB>text' with an intent of {', '.join(INTENTS)}"
            )
        rows.append((_as_intent(label), text.strip()))
    return rows


def _as_intent(label: str) -> Intent:
    for intent in INTENTS:
        if intent == label:
            return intent
    raise ValueError(f"unknown intent {label!r}")


def negated_recommend(text: str) -> bool:
    """Whether the message says it wants no recommendations ("no suggestions, just …")."""
    return _NEGATED_SUGGESTIONS.search(text) is not None


def ruled(text: str) -> Intent | None:
    """The intent the words alone decide (a service request, or an explicit ask for suggestions), else None."""
    rest = _NEGATED_SUGGESTIONS.sub(" ", text)
    # One rule for "a person, please" everywhere: the server hands over on the same words (app.llm.asks).
    if asks_for_human(rest):
        return "human"
    for intent, pattern in _SERVICE_RULES:
        if pattern.search(rest):
            return intent
    if rest == text and _RECOMMEND_CUES.search(text) and not _SERVICE_WORDS.search(text):
        return "recommend"
    return None


def _train_softmax(
    x: npt.NDArray[np.float32],
    y: npt.NDArray[np.int64],
    classes: int,
    l2: float = 1e-4,
    steps: int = 250,
    lr: float = 2.0,
    momentum: float = 0.9,
) -> tuple[npt.NDArray[np.float32], npt.NDArray[np.float32]]:
    # Full-batch gradient descent with momentum and class weights (rare intents count as much as common ones):
    # a thousand examples × 512 dims train in a fraction of a second, deterministically.
    onehot = np.eye(classes, dtype=np.float32)[y]
    counts = np.bincount(y, minlength=classes).astype(np.float32)
    weights = (len(y) / (classes * np.maximum(counts, 1.0)))[y][:, None].astype(np.float32)
    w = np.zeros((x.shape[1], classes), dtype=np.float32)
    b = np.zeros(classes, dtype=np.float32)
    vw = np.zeros_like(w)
    vb = np.zeros_like(b)
    for _ in range(steps):
        z = x @ w + b
        z -= z.max(axis=1, keepdims=True)
        p = np.exp(z)
        p /= p.sum(axis=1, keepdims=True)
        grad = (p - onehot) * weights / np.float32(len(y))
        vw = momentum * vw - lr * (x.T @ grad + l2 * w)
        vb = momentum * vb - lr * grad.sum(axis=0)
        w += vw
        b += vb
    return w, b


class IntentClassifier:
    """Rules for negation and service requests, then softmax regression on sentence embeddings."""

    def __init__(
        self,
        encoder: Encoder,
        examples: Sequence[tuple[Intent, str]],
        recommend_threshold: float = RECOMMEND_THRESHOLD,
    ) -> None:
        present = {intent for intent, _ in examples}
        if "recommend" not in present or len(present) < 2:
            raise ValueError("intent training data needs recommend and at least one other intent")
        self._encoder = encoder
        self._classes: tuple[Intent, ...] = tuple(i for i in INTENTS if i in present)
        index = {intent: n for n, intent in enumerate(self._classes)}
        x = np.asarray(encode_corpus(encoder, [text for _, text in examples]), dtype=np.float32)
        y = np.array([index[intent] for intent, _ in examples], dtype=np.int64)
        self._w, self._b = _train_softmax(x, y, len(self._classes))
        self._recommend = index["recommend"]
        self._out_of_scope = index.get("out_of_scope")
        self.recommend_threshold = recommend_threshold

    @property
    def intents(self) -> tuple[Intent, ...]:
        """The intents this classifier was trained on, in its output order."""
        return self._classes

    def probabilities(self, vector: npt.NDArray[np.float32]) -> npt.NDArray[np.float64]:
        """The learned model's probability of each intent (``intents`` order) for one embedding."""
        z = (vector.astype(np.float32) @ self._w + self._b).astype(np.float64)
        z -= z.max()
        p = np.exp(z)
        out: npt.NDArray[np.float64] = p / p.sum()
        return out

    def classify(self, text: str) -> IntentGuess:
        """The intent of one message (blocking: embeds it here)."""
        return self.decide(text, self._encoder.encode([text])[0])

    def decide(self, text: str, vector: npt.NDArray[np.float32]) -> IntentGuess:
        """The intent of ``text`` whose embedding is ``vector`` (already computed by the caller)."""
        p = self.probabilities(vector)
        p_recommend = float(p[self._recommend])
        negated = negated_recommend(text)
        by_words = ruled(text)
        others = p.copy()
        others[self._recommend] = 0.0
        best = int(np.argmax(others))
        if (
            by_words == "recommend"
            and p[best] > p_recommend
            and (best == self._out_of_scope or p[best] >= 0.6)
        ):
            # "Recommend a good film", "any suggestions why my app crashes?": the words ask for suggestions, the
            # meaning is about something else (out of scope, or clearly another intent).
            return IntentGuess(self._classes[best], float(p[best]), False, p_recommend, negated)
        if by_words is not None:
            return IntentGuess(by_words, 1.0, True, p_recommend, negated)
        if not negated and p_recommend >= self.recommend_threshold:
            return IntentGuess("recommend", p_recommend, False, p_recommend, negated)
        confidence = float(p[best]) / max(1.0 - p_recommend, 1e-12) if negated else float(p[best])
        return IntentGuess(self._classes[best], confidence, False, p_recommend, negated)


@lru_cache(maxsize=4)
def _cached(encoder: Encoder, path: Path) -> IntentClassifier:
    return IntentClassifier(encoder, read_examples(path))


def default_classifier(encoder: Encoder, path: Path = TRAIN_PATH) -> IntentClassifier:
    """The classifier trained on the shipped examples; trained once per process."""
    return _cached(encoder, path)

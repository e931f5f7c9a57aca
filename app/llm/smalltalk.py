"""Greetings, thanks, goodbyes and "are you a bot?": which kind a message is, when it is nothing else.

A message is small talk when every word in it is a small-talk word ("thank you so much, that's helpful") and
at least one says which kind; one word about anything else ("hi, where is my order?") makes it a question.
"""

from __future__ import annotations

import re
from typing import Final, Literal

Kind = Literal["bot", "bye", "thanks", "how_are_you", "hello", "ok"]


def _set(words: str) -> frozenset[str]:
    return frozenset(words.split())


_WHAT: Final = r"(a |an |just a |actually a |really a )?(real |actual |live )?(bot|robot|human|person|ai|machine|computer|chatbot)"
_BOT: Final = re.compile(
    rf"^\W*((are|r) (you|u) ({_WHAT}( or {_WHAT})?|real)|(is|am) (this|that|it|i) (talking |speaking |chatting )?"
    rf"((to|with) )?{_WHAT}( or {_WHAT})?|am i (talking|speaking|chatting) (to|with) {_WHAT}( or {_WHAT})?"
    r"|who am i (talking|speaking|chatting) (to|with)|you'?re (a |an |just a )?(bot|robot|ai|machine)( aren'?t you)?"
    r"|who are you|what are you|bist du (ein )?(bot|mensch|roboter)|wer bist du|êtes-vous un robot)\W*$",
    re.IGNORECASE,
)
# Multi-word goodbyes and greetings, folded to one word before the words are read.
_PHRASES: Final = (
    (
        re.compile(
            r"\b(that'?s|thats) (all|it|everything)\b|\bnothing else\b|\bsee (you|ya)( later| soon)?\b"
        ),
        " bye ",
    ),
    (re.compile(r"\bhave a (nice|good|great|lovely) (day|evening|weekend|one|night)\b"), " bye "),
    (
        re.compile(r"\bgood ?night\b|\bcatch (you|ya) later\b|\btake care\b|\btalk (to you )?(later|soon)\b"),
        " bye ",
    ),
    (re.compile(r"\b(is )?(any ?one|any ?body|someone|somebody) (there|around|here|home)\b"), " hello "),
    (
        re.compile(
            r"\b(auf wiedersehen|bis (bald|später|dann)|schönen tag( noch)?|au revoir|bonne journée)\b"
        ),
        " bye ",
    ),
    (
        re.compile(r"\bhow are (you|u)\b|\bhow'?s it going\b|\bwie geht'?s( dir)?\b|\bça va\b"),
        " how_are_you ",
    ),
    (re.compile(r"\bthank (you|u)\b|\bvielen dank\b|\bdanke schön\b"), " thanks "),
    (re.compile(r"\bgood (morning|afternoon|evening|day)\b|\bguten (tag|morgen|abend)\b"), " hello "),
)
_KINDS: Final[dict[Kind, frozenset[str]]] = {
    "bye": _set("bye byebye goodbye cya later tschüss tschüs ciao adios adiós doei arrivederci"),
    "thanks": _set(
        "thanks thanx thx ty ta cheers danke dank merci gracias bedankt grazie thankyou tysm appreciated"
    ),
    "how_are_you": frozenset(["how_are_you"]),
    "hello": _set("hi hello hey heya hiya howdy greetings yo hallo moin servus bonjour salut hola hoi"),
    "ok": _set(
        "ok okay k yes yeah yep no nope sure fine cool alright great perfect lovely brilliant brill excellent awesome "
        "fab fantastic wonderful super nice"
    ),
}
_PRIORITY: Final[tuple[Kind, ...]] = ("bye", "thanks", "how_are_you", "hello", "ok")
# Words that may stand around a greeting or thanks without making it a question.
_FILLER: Final = _set(
    "a an the so very much lot lots many for your you u all again there mate guys folks team dear sir madam "
    "great perfect brilliant lovely excellent awesome amazing wonderful super nice good fab fantastic that's "
    "thats that it is was really sorted helpful help now for just and then ok okay oh ah well yes no too "
    "everyone bot assistant please pls schön sehr vielen dank beaucoup mille muchas und und auch gut super prima "
    "stuff one mate million kindly you've been you're have lieben du ihr leute zusammen again now then"
)
_WORD: Final = re.compile(r"how_are_you|[^\W\d_]+(?:'[^\W\d_]+)?")


def small_talk(text: str) -> Kind | None:
    """The kind of small talk ``text`` is, or None when it asks or says anything else."""
    if _BOT.match(text):
        return "bot"
    folded = text.lower()
    for pattern, word in _PHRASES:
        folded = pattern.sub(word, folded)
    words = _WORD.findall(folded)
    if not words or len(words) > 10:
        return None
    kinds = {kind for kind in _PRIORITY for word in words if word in _KINDS[kind]}
    if not kinds or any(w not in _FILLER and not any(w in _KINDS[k] for k in _KINDS) for w in words):
        return None
    return next(kind for kind in _PRIORITY if kind in kinds)

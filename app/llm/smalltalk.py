"""Greetings, thanks, goodbyes and "are you a bot?": which kind a message is, when it is nothing else.

A message is small talk when every word in it is a small-talk word ("thank you so much, that's helpful") and
at least one says which kind; one word about anything else ("hi, where is my order?") makes it a question.
"""

from __future__ import annotations

import re
from typing import Final, Literal

Kind = Literal["bot", "bye", "thanks", "how_are_you", "hello", "ok", "compliment", "insult"]


def _set(words: str) -> frozenset[str]:
    return frozenset(words.split())


_WHAT: Final = (
    r"(a |an |just a |actually a |really a )?(real |actual |live )?(bot|robot|human|person|ai|machine|computer|chatbot)"
    r"( being)?"
)
_BOT: Final = re.compile(
    rf"^\W*((are|r) (you|u) ({_WHAT}( or {_WHAT})?|real)|(is|am) (this|that|it|i) (talking |speaking |chatting )?"
    rf"((to|with) )?{_WHAT}( or {_WHAT})?|am i (talking|speaking|chatting) (to|with) {_WHAT}( or {_WHAT})?"
    r"|who am i (talking|speaking|chatting) (to|with)|you'?re (a |an |just a )?(bot|robot|ai|machine)( aren'?t you)?"
    r"|who are you|what are you|is (this|it) (automated|automatic|a recording)|(are|r) (you|u) human"
    r"|what('?s| is) (your|ur) name|what (can|do) (you|u) do( for me)?|what can (you|u) help( me)?( with)?"
    r"|how can (you|u) help( me)?|(can (you|u) )?help( me)?( please| pls)?|wie hei(ß|ss)t du|was kannst du( alles)?"
    r"|(kannst du mir )?helfen( bitte)?"
    r"|bist du (ein )?(echter |richtiger )?(bot|mensch|roboter|ki|computer)( oder (echt|ein mensch|ein bot|ein roboter))?"
    r"|bist du echt|(rede|schreibe|chatte|spreche) ich (mit|gerade mit) (einem |einer )?(echten |richtigen )?(bot|"
    r"menschen|roboter|maschine|ki|person)|ist das (ein )?(bot|mensch|roboter|ki|automatisch)|wer bist du"
    r"|êtes-vous un robot)\W*$",
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
        re.compile(
            r"\bhow are (you|u)\b|\bhow'?s it going\b|\bhow'?s (your|ur) day( going| been)?\b|\bwie geht'?s( dir)?\b"
            r"|\bwie geht es dir\b|\bça va\b"
        ),
        " how_are_you ",
    ),
    (re.compile(r"\bthank (you|u)\b|\bvielen dank\b|\bdanke schön\b"), " thanks "),
    (re.compile(r"\bgood (morning|afternoon|evening|day)\b|\bguten (tag|morgen|abend)\b"), " hello "),
    # Acknowledgements that say nothing else: "got it", "no worries", "sounds good", "alles klar".
    (
        re.compile(
            r"\b(got it|gotcha|no worries|no problem|sounds good|will do|fair enough|makes sense|oh i see|i see"
            r"|okie dokie|okey dokey|alles klar|passt schon|ach so|kein problem|verstanden)\b"
        ),
        " ok ",
    ),
    # Praise ("you've been a star", "good bot", "love this") and abuse ("worst bot ever"): said to the assistant.
    (
        re.compile(
            r"\b(you'?ve been|you are|you'?re|ur|u r) (a )?(star|legend|gem|life ?saver|hero|the best|a great help)\b"
            r"|\b(good|great|clever|smart|nice) (bot|job|work|assistant)\b|\blove (this|it|you|this chat)\b"
            r"|\b(you are|you'?re|u r|ur) (so |really |very |such )?(brilliant|great|amazing|awesome|fantastic|wonderful"
            r"|lovely|helpful|clever|smart|the best|a star)\b"
            r"|\bdu bist (super|toll|klasse|spitze|genial|der beste|die beste|ein schatz)\b|\bsehr hilfreich\b"
        ),
        " compliment ",
    ),
    (
        re.compile(
            r"\b(worst|useless|stupid|dumbest|dumb|rubbish|pointless|crap|crappy|terrible|pathetic|hopeless|"
            r"awful) (bot|chat ?bot|assistant|robot|ai|thing|service)( ever)?\b"
        ),
        " insult ",
    ),
)
_KINDS: Final[dict[Kind, frozenset[str]]] = {
    "bye": _set("bye byebye goodbye cya later tschüss tschüs ciao adios adiós doei arrivederci"),
    "thanks": _set(
        "thanks thanx thx ty ta cheers danke dank merci gracias bedankt grazie thankyou tysm appreciated"
    ),
    "how_are_you": frozenset(["how_are_you"]),
    "hello": _set("hi hello hey heya hiya howdy greetings yo hallo moin servus bonjour salut hola hoi"),
    "ok": _set(
        "ok okay k kk okie yes yeah yep no nope sure fine cool alright great perfect lovely brilliant brill excellent "
        "awesome fab fantastic wonderful super nice noted understood gotcha np haha hahaha hahah ha hehe hihi lol lmao "
        "rofl xd hmm hm mhm aha ah oh oops wow klar okidoki jo joa gut prima"
    ),
    "compliment": _set(
        "compliment helpful amazing genius clever smart legend star hilfreich toll klasse spitze"
    ),
    "insult": _set(
        "insult useless stupid dumb idiot idiotic rubbish pointless pathetic hopeless crap awful terrible nutzlos "
        "dumm blöd doof bescheuert unnütz sinnlos"
    ),
}
_PRIORITY: Final[tuple[Kind, ...]] = ("insult", "bye", "thanks", "compliment", "how_are_you", "hello", "ok")
# Words that may stand around a greeting or thanks without making it a question.
_FILLER: Final = _set(
    "a an the so very much lot lots many for your you u all again there mate guys folks team dear sir madam "
    "great perfect brilliant lovely excellent awesome amazing wonderful super nice good fab fantastic that's "
    "thats that it is was really sorted helpful help now for just and then ok okay oh ah well yes no too "
    "everyone bot assistant please pls schön sehr vielen dank beaucoup mille muchas und und auch gut super prima "
    "stuff one mate million kindly you've been you're have lieben du ihr leute zusammen again now then "
    "today doing this are be such what ever absolutely completely totally chat thing bist echt voll dieser der "
    "das ist so ein eine dir euch miteinander allerseits"
)
# Laughter in any length ("hahahaha", "hehehe"); emoji and emoticons alone are an acknowledgement, or a frown.
_LAUGH: Final = re.compile(r"^(h?(a|e|i)h(a|e|i))(h?(a|e|i))*h?$|^l+o+l+$|^lmf?a+o+$")
_ANGRY: Final = re.compile("[\U0001f620\U0001f621\U0001f92c\U0001f44e\U0001f4a9\U0001f595]|>:\\(|:-?\\(")
_EMOTICON: Final = re.compile(r"[:;=8]-?[()dDpP*]|<3|\^\^|[\u2600-\u27bf\U0001F000-\U0001FAFF]")
_WORD: Final = re.compile(r"how_are_you|[^\W\d_]+(?:'[^\W\d_]+)?")


def small_talk(text: str) -> Kind | None:
    """The kind of small talk ``text`` is, or None when it asks or says anything else."""
    if _BOT.match(text):
        return "bot"
    if _EMOTICON.search(text) and not any(c.isalnum() for c in text.replace("D", "").replace("P", "")):
        return "insult" if _ANGRY.search(text) else "ok"
    folded = text.lower()
    for pattern, word in _PHRASES:
        folded = pattern.sub(word, folded)
    words = ["ok" if _LAUGH.match(w) else w for w in _WORD.findall(folded)]
    if not words or len(words) > 10:
        return None
    kinds = {kind for kind in _PRIORITY for word in words if word in _KINDS[kind]}
    if not kinds or any(w not in _FILLER and not any(w in _KINDS[k] for k in _KINDS) for w in words):
        return None
    return next(kind for kind in _PRIORITY if kind in kinds)

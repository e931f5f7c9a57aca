"""Greetings, thanks, goodbyes and "are you a bot?": which kind a message is, when it is nothing else.

A message is small talk when every word in it is a small-talk word ("thank you so much, that's helpful") and
at least one says which kind; one word about anything else ("hi, where is my order?") makes it a question.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Final, Literal

Kind = Literal[
    "bot",
    "bye",
    "thanks",
    "how_are_you",
    "hello",
    "ok",
    "compliment",
    "insult",
    "wait",
    "never_mind",
    "chitchat",
    "browsing",
]


def _set(words: str) -> frozenset[str]:
    return frozenset(words.split())


_WHAT: Final = (
    r"(a |an |just a |actually a |really a )?(real |actual |live )?(bot|robot|human|person|ai|machine|computer|chatbot"
    r"|chat ?gpt|gpt)( typing)?"
    r"( being)?"
)
_BOT: Final = re.compile(
    r"^\W*((wait|so|hey|hi|hello|um+|uh+|ok|okay|and|btw|quick question|honestly|sorry|hang on|hold on|one sec)"
    r"\W+)*"
    rf"((are|r) (you|u) ({_WHAT}( or {_WHAT})?|real)|(is|am) (this|that|it|i) (talking |speaking |chatting )?"
    rf"((to|with) )?{_WHAT}( or {_WHAT})?|am i (talking|speaking|chatting) (to|with) {_WHAT}( or {_WHAT})?"
    r"|who am i (talking|speaking|chatting) (to|with)|you'?re (a |an |just a )?(bot|robot|ai|machine)( aren'?t you)?"
    r"|who are you|what are you|is (this|it) (automated|automatic|a recording)|(are|r) (you|u) human"
    r"|what('?s| is) (your|ur) name|what (can|do) (you|u) do( for me)?|what can (you|u) help( me)?( with)?"
    r"|how can (you|u) help( me)?|(can (you|u) )?help( me)?( please| pls)?"
    r"|is (any ?one|any ?body|a (real )?(person|human)) (actually |even )?(reading|seeing) (this|these|my messages)|wie hei(ß|ss)t du|was kannst du( alles)?"
    r"|(kannst du mir )?helfen( bitte)?"
    r"|bist du (ein )?(echter |richtiger )?(bot|mensch|roboter|ki|computer)( oder (echt|(ein )?(echter |richtiger )?"
    r"(mensch|bot|roboter|ki|computer)))?"
    r"|bist du echt|(rede|schreibe|chatte|spreche) ich (mit|gerade mit) (einem |einer )?(echten |richtigen )?(bot|"
    r"menschen|roboter|maschine|ki|person)|ist das (ein )?(bot|mensch|roboter|ki|automatisch)|wer bist du"
    r"|êtes-vous un robot|(have|got) (you|u) (got )?a name( or [^.!?]{0,30})?|do (you|u) have a name( or [^.!?]{0,30})?)"
    r"(\W+(rn|right now|lol|haha|then|or what|or not|actually|even|tho|though))*\W*$",
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
    (re.compile(r"^\W*(are |r )?(you|u|ya) (still )?there\b|\bhello\?+|\bbist du (noch )?da\b"), " hello "),
    # "I have a question", "can I ask something": the question is still to come.
    (
        re.compile(
            r"\b(i('?ve| have)( got)?|got) a (quick |small |little )?(question|query)\b|\bquick question\b"
            r"|\b(can|could|may) i ask (you )?(something|a (quick )?question)\b|\bi need (some )?help\b"
            r"|\bich habe (da )?(mal )?eine frage\b|\bkurze frage\b"
        ),
        " hello ",
    ),
    # "one sec", "hang on", "brb": the customer is coming back.
    (
        re.compile(
            r"\b(one|a|1|two|2|three|3|five|5|a few|a couple of|few) (sec|secs|second|seconds|moment|moments|min|mins|minute"
            r"|minutes)\b|\b(hang|hold) on\b|\bjust a (sec|second|moment|min"
            r"|minute)\b|\bgive me a (sec|second|moment|min|minute)\b|\bbrb\b|\bbe right back\b"
            r"|\b(einen|ein|1) (moment|augenblick|sekunde)\b|\bmoment mal\b|\bwarte kurz\b"
        ),
        " wait ",
    ),
    # "nvm", "forget it", "wrong chat", "sorry": nothing to answer.
    (
        re.compile(
            r"\bnever ?mind\b|\bforget (it|that)\b|\bignore (that|this|me|my last message)\b|\bmy bad\b"
            r"|\bwrong (chat|window|tab|person)\b|\bsent (that|this) by mistake\b|\bvergiss es\b|\bschon gut\b"
            r"|\bfalsches fenster\b"
        ),
        " never_mind ",
    ),
    # Closings, apologies, absences and chat about the chat that carry no question.
    (
        re.compile(
            r"^\W*still there\b|\b(i'?m |i am )?back now\b|\bhow'?s (your|ur) (shift|week|morning|afternoon|evening)"
            r"( going)?\b"
        ),
        " hello ",
    ),
    (
        re.compile(
            r"\b(that'?s|thats) me sorted\b|\bthanks for (being|your) (so )?(patient|patience|help|time)( with me)?\b"
            r"|\b(that was|that'?s|das ging) (ja |aber )?(quicker|faster|schneller) than (i )?expected\b"
        ),
        " thanks ",
    ),
    (
        re.compile(
            r"\ball the best\b|\b(ich wünsche (ihnen|dir|euch) )?(noch )?einen schönen (abend|tag|feierabend)\b"
        ),
        " bye ",
    ),
    (
        re.compile(
            r"\bsorry (for|about) (all )?(the|my|so many) (questions|messages|trouble|hassle|delay|wait)\b"
            r"|\b(i was|i'?ve been) (a bit |a little )?(short|rude|grumpy|snappy|sharp)( with you)?( earlier)?\b"
            r"|\b(cat|dog|kid|baby|toddler|son|daughter) (walked|sat|stepped|typed) on (my|the) keyboard\b"
            r"|\bi'?m (hopeless|useless|terrible|rubbish|no good) (with|at) (computers|technology|tech|these things|this)\b"
            r"|\b(sorry|entschuldigung|apologies) (for|für) (the|die|my|meine) (late|späte) (reply|antwort|response)\b"
            r"|\bapologi(es|se|ze)\b"
        ),
        " never_mind ",
    ),
    (
        re.compile(
            r"\bsomeone'?s at the door\b|\bdoor ?bell\b|\b(ich war|i was) (kurz|eben|just) (weg|away|afk)\b"
        ),
        " wait ",
    ),
    (
        re.compile(
            r"\b(do|does) (you|u)( bots)? ever get (fed up|bored|tired|annoyed)\b|\bbit (grim|grey|cold|wet|miserable) "
            r"(out|outside)( today)?\b"
        ),
        " chitchat ",
    ),
    (
        re.compile(
            r"\b(this|the) (chat ?bot|bot|chat|assistant) is (actually |really |so |very |pretty )*(handy|great|good|helpful"
            r"|brilliant|useful|clever)\b|\bwell done( whoever made (it|this))?\b|\b(krass, )?das ging (ja |aber )?schnell\b"
        ),
        " compliment ",
    ),
    (
        re.compile(
            r"\b(this|the|that) (chat ?bot|bot|chat|assistant) is (so |really |absolutely |just )?(rubbish|useless|terrible"
            r"|awful|crap|pants|pointless|hopeless)\b|\bna (toll|super|prima|klasse)\b"
        ),
        " insult ",
    ),
    # Good news said with thanks ("thanks, the refund came through!", "parcel arrived, all good, cheers"): nothing
    # to answer. Only the thanks make it small talk; "my parcel arrived broken" stays a complaint.
    (
        re.compile(
            r"\b((the|my|our|your) )?(refund|parcel|package|order|items?|money|delivery|code|stuff|paket|bestellung"
            r"|geld|it|they|everything)? ?((has|have|just|finally|now|already|ist|sind|hat) )*(came through|come "
            r"through|arrived|turned up|(is|are|all) sorted|all good|all fine|all ok|worked|works now|angekommen"
            r"|geklappt|alles gut)\b"
        ),
        " settled ",
    ),
    (
        re.compile(
            r"\bjust (browsing|looking|having a (look|browse|nosey?))\b|\bnur (am )?(stöbern|schauen|gucken)\b"
        ),
        " browsing ",
    ),
    # Chat that is not about the shop ("tell me a joke", "what's the weather like"): said what the assistant does.
    (
        re.compile(
            r"\b(tell|know) (me )?(a |any )?(joke|jokes|story)\b|\bwhat'?s the weather\b|\bhow'?s the weather\b"
            r"|\bthe weather (like|today)\b|\bmeaning of life\b|\b(do|can) (you|u) (sing|dance|dream|sleep|eat"
            r"|feel)\b|\bhow old are (you|u)\b|\bwhere (are|r) (you|u) (from|based)\b|\b(are|r) (you|u) "
            r"(married|single|happy|bored|tired|sad|alive)\b|\bwhat'?s (your|ur) fav(ou?rite)?\b|\bdo (you|u) like "
            r"(me|music|football|cats|dogs)\b|\berzähl (mir )?(einen )?witz\b|\bwie ist das wetter\b"
            r"|\b(tell|say) (me )?something (funny|interesting)\b|\b(do|can) (you|u) ever (sleep|eat|rest|get tired)\b"
        ),
        " chitchat ",
    ),
    (
        re.compile(
            r"\b(auf wiedersehen|bis (bald|später|dann)|schönen tag( noch)?|au revoir|bonne journée)\b"
        ),
        " bye ",
    ),
    (
        re.compile(
            r"\bhow are (you|u)\b|\bhow'?s it going\b|\bhow'?s (your|ur) day( going| been)?( so far)?\b"
            r"|\bwie geht'?s( dir| euch)?\b|\b(i )?hope (you|your|u|ur|all|everything|things)\b[^.!?]{0,30}\b(well|ok"
            r"|good|great|fine|treating you)( so far)?\b"
            r"|\bwie geht es dir\b|\bça va\b"
        ),
        " how_are_you ",
    ),
    (re.compile(r"\bthank (you|u)\b|\bvielen dank\b|\bdanke schön\b"), " thanks "),
    (
        re.compile(
            r"\bgood (morning|afternoon|evening|day)\b|\bguten (tag|morgen|abend)\b|\bgrü(ß|ss) gott\b"
            r"|\b(merry|happy) (christmas|xmas|new year|easter|holidays|friday|monday|weekend)\b|\bseason'?s greetings\b"
            r"|\bfrohe (weihnachten|ostern|feiertage)\b|\bschöne feiertage\b|\bguten rutsch\b|\b(i'?m )?back again\b"
            r"|\b(lovely|nice|horrible|awful|terrible|beautiful|glorious|miserable) (weather|day|morning)( today| out)?\b"
        ),
        " hello ",
    ),
    (re.compile(r"\bnight night\b|\bnighty night\b"), " bye "),
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
            r"\b(love|like|adore) (this|the|your) (shop|store|site|website|web ?shop|products|stuff)\b"
            r"|\b(great|lovely|nice|fab|brilliant|amazing) (shop|store|site|website|products)\b"
            r"|\b(that was|you'?re|you are|that'?s|wow) (so |very |super |really )?(quick|fast|speedy)\b"
            r"|\b(you'?ve been|you are|you'?re|ur|u r) (a )?(star|legend|gem|life ?saver|hero|the best|a great help)\b"
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
    (
        re.compile(
            r"\b(you'?ve been|you are|you'?re|ur|u r|this is|that'?s|that was|this was) (no|not (any|much|a lot of)|"
            r"zero) help\b|\b((you'?re|you are|that'?s|that was|this is) not|(you|that|this) (are|is|was)n'?t|not) (very |at all )?"
            r"helpful\b|\bunhelpful\b"
            r"|\b(waste|wasting) (of )?(my |your )?time\b|\bdoesn'?t help\b|\bnot helping\b|\bhilft (mir )?nicht\b"
            r"|\bwhat an? (rubbish|useless|terrible|awful|crap|shocking|joke of an?) (website|site|shop|store|chat|bot"
            r"|service)\b|\b(this|that|it|you)('s| is| are|'re) (a|an absolute|a complete|a total) joke\b"
            r"|\b(ihr seid|du bist) (echt |so |total |völlig )?(unfähig|nutzlos|dumm|blöd|doof)\b"
            r"|\bas useful as\b|\b(so|really|very|pretty|bloody) (frustrating|annoying|infuriating)\b"
        ),
        " insult ",
    ),
)
_KINDS: Final[dict[Kind, frozenset[str]]] = {
    "bye": _set("bye byebye goodbye cya later tschüss tschüs ciao adios adiós doei arrivederci"),
    "thanks": _set(
        "thanks thanx thx ty ta cheers danke dank merci gracias bedankt grazie thankyou tysm appreciated appreciate "
        "obliged dankeschön"
    ),
    "how_are_you": frozenset(["how_are_you"]),
    "hello": _set(
        "hi hello hey heya hiya howdy greetings yo hallo hallöchen moin servus bonjour salut hola hoi morning g'day gday "
        "afternoon evening test testing"
    ),
    "ok": _set(
        "ok okay k kk okie yes yeah yep no nope sure fine cool alright great perfect lovely brilliant brill excellent "
        "awesome fab fantastic wonderful super nice noted understood gotcha np haha hahaha hahah ha hehe hihi lol lmao "
        "rofl xd hmm hm mhm aha ah oh wow klar okidoki jo joa gut prima passt sound"
    ),
    "compliment": _set(
        "compliment helpful amazing genius clever smart legend star hilfreich toll klasse spitze"
    ),
    "insult": _set(
        "insult useless stupid dumb idiot idiotic rubbish pointless pathetic hopeless crap awful terrible nutzlos "
        "dumm blöd doof bescheuert unnütz sinnlos ugh argh urgh ffs grr grrr frustrating annoying infuriating"
    ),
    "wait": _set("wait moment sec secs mo warte"),
    "never_mind": _set("never_mind nvm sorry soz sry oops entschuldigung egal"),
    "chitchat": frozenset(["chitchat"]),
    "browsing": frozenset(["browsing"]),
}
_PRIORITY: Final[tuple[Kind, ...]] = (
    "insult",
    "bye",
    "thanks",
    "compliment",
    "how_are_you",
    "chitchat",
    "browsing",
    "wait",
    "never_mind",
    "hello",
    "ok",
)
# Words that may stand around a greeting or thanks without making it a question.
_FILLER: Final = _set(
    "a an the so very much lot lots many for your you u all again there mate guys folks team dear sir madam "
    "great perfect brilliant lovely excellent awesome amazing wonderful super nice good fab fantastic that's "
    "thats that it is was really sorted helpful help now for just and then ok okay oh ah well yes no too "
    "everyone bot assistant please pls schön sehr vielen dank beaucoup mille muchas und und auch gut super prima "
    "stuff one mate million kindly you've been you're have lieben du ihr leute zusammen again now then "
    "today doing this are be such what ever absolutely completely totally chat thing bist echt voll dieser der "
    "das ist so ein eine dir euch miteinander allerseits helps helped it me that i at like für die hilfe deine ihre "
    "x xx xxx omg oh my god gosh go on then settled give me to honestly ihnen allen whole an ganze ganzen needed busy herzlichen freundliche ihre whoever made wochenende schönes schöne schönen bitte heute answers answered now all"
)
# Laughter in any length ("hahahaha", "hehehe"); emoji and emoticons alone are an acknowledgement, or a frown.
_LAUGH: Final = re.compile(
    r"^(h?(a|e|i)h(a|e|i))(h?(a|e|i))*h?$|^l+o+l+$|^lmf?a+o+$"
    # A cat on the keyboard ("asdfghjk", "qwertz"): noise, like laughter.
    r"|^(asdf|qwer|jkl|sdfg|dfgh|fghj|ghjk|hjkl)\w*$"
)
_ANGRY: Final = re.compile("[\U0001f620\U0001f621\U0001f92c\U0001f44e\U0001f4a9\U0001f595]|>:\\(|:-?\\(")
_EMOTICON: Final = re.compile(r"[:;=8]-?[()dDpP*]|<3|\^\^|[\u2600-\u27bf\U0001F000-\U0001FAFF]")
_WORD: Final = re.compile(r"how_are_you|never_mind|[^\W\d_]+(?:'[^\W\d_]+)?")


_VOCABULARY: Final = _FILLER.union(*_KINDS.values())


def _known(word: str) -> bool:
    return word in _VOCABULARY


@lru_cache(maxsize=4096)
def _unstretched(word: str) -> str:
    """``word`` with letters typed over and over cut back ("hiyaaa", "heyy", "thxxx"), when that makes a word."""
    if _known(word):
        return word
    for cut in (re.sub(r"(.)\1{2,}", r"\1", word), re.sub(r"(.)\1+", r"\1", word)):
        if _known(cut):
            return cut
    return word


def _words(text: str) -> list[str]:
    """The message's words with its phrases folded to one word each, laughter and stretched letters read."""
    folded = text.lower()
    for pattern, word in _PHRASES:
        folded = pattern.sub(word, folded)
    return ["ok" if _LAUGH.match(w) else _unstretched(w) for w in _WORD.findall(folded)]


def _first_kind(words: list[str]) -> Kind | None:
    kinds = {kind for kind in _PRIORITY for word in words if word in _KINDS[kind]}
    return next((kind for kind in _PRIORITY if kind in kinds), None)


def small_talk(text: str) -> Kind | None:
    """The kind of small talk ``text`` is, or None when it asks or says anything else."""
    if _BOT.match(text):
        return "bot"
    if _EMOTICON.search(text) and not any(c.isalnum() for c in text.replace("D", "").replace("P", "")):
        return "insult" if _ANGRY.search(text) else "ok"
    words = _words(text)
    if not words or len(words) > 10 or not all(_known(w) for w in words):
        return None
    return _first_kind(words)


def kind_of(text: str) -> Kind | None:
    """The small-talk kind a message's words point to, though not every word is small talk ("sweet, cheers
    loads" is thanks): for a message already known to be small talk."""
    return _first_kind(_words(text))

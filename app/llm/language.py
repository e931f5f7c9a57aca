"""Which language a customer writes in, by its common words: cheap enough to run on every message.

Knows English, German, French, Spanish, Dutch and Italian. Short or mixed messages default to English: the
answer then is the shop's own text, which is never wrong, only perhaps not in the customer's language.
"""

from __future__ import annotations

import re
from typing import Final


def _set(words: str) -> frozenset[str]:
    return frozenset(words.split())


Language = str  # an ISO 639-1 code: "en", "de", "fr", "es", "nl", "it"

ENGLISH: Final = "en"
GERMAN: Final = "de"
_WORDS: Final[dict[Language, frozenset[str]]] = {
    "en": _set(
        "the is are my i i'm you your do does can could how what where when why which a an to of for with it "
        "and not please thanks thank hi hello hey bye order delivery have has was this that there will would "
        "should me we our any get got did don't can't isn't want need much many"
    ),
    "de": _set(
        "ich ist sind mein meine meinen meiner du ihr euch wie was wo wann warum welche welcher kann können "
        "könnt habe hat haben gibt es ein eine einen und nicht der die das dem den des mit nach zu für bitte "
        "danke hallo tschüss bestellung lieferung versand noch auch schon wird wurde mir mich uns kein keine "
        "ja nein guten tag vielen dank wiedersehen möchte würde bei vom zum zur über"
    ),
    "fr": _set(
        "je j'ai est sont mon ma mes vous votre vos comment où quand pourquoi quel quelle puis pouvez peut "
        "un une des et pas le la les du au aux avec pour merci bonjour bonsoir revoir commande livraison "
        "ai avez il elle ce cette qui que ne oui non combien s'il plaît livrez acceptez"
    ),
    "es": _set(
        "yo es son mi mis usted su cómo como dónde donde cuándo cuando por qué puedo puede un una unos y no "
        "el la los las del al con para gracias hola adiós pedido envío entrega tengo tiene hay sí cuánto"
    ),
    "nl": _set(
        "ik is zijn mijn jij je jullie hoe wat waar wanneer waarom kan kunnen een en niet het de van met voor "
        "bedankt dank hallo doei bestelling levering verzending heb heeft er ook al wordt mij ons geen ja "
        "nee"
    ),
    "it": _set(
        "io è sono mio mia miei tu voi come dove quando perché posso può un una e non il lo la gli le del "
        "della con per grazie ciao arrivederci ordine consegna spedizione ho ha ci anche già mi sì quanto"
    ),
}
_LETTERS: Final[dict[Language, re.Pattern[str]]] = {
    "de": re.compile(r"[äöüß]"),
    "fr": re.compile(r"[éèêçàù]"),
    "es": re.compile(r"[ñ¿¡áíóú]"),
}
_WORD: Final = re.compile(r"[^\W\d_]+(?:'[^\W\d_]+)?")


def detect_language(text: str) -> Language:
    """The language ``text`` is most likely in; English when nothing points elsewhere."""
    words = _WORD.findall(text.lower())
    scores = dict.fromkeys(_WORDS, 0.0)
    for word in words:
        owners = [lang for lang, vocabulary in _WORDS.items() if word in vocabulary]
        for lang in owners:
            # A word several languages share ("die", "la", "de") says less than one only this language has.
            scores[lang] += 1.0 / len(owners)
    for lang, pattern in _LETTERS.items():
        scores[lang] += 0.5 * len(pattern.findall(text.lower()))
    best = max(scores, key=lambda lang: scores[lang])
    return best if scores[best] > scores[ENGLISH] else ENGLISH

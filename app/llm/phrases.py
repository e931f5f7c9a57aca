"""The built-in responder's own sentences (not the shop's curated answers), in the languages it speaks.

English is complete; other languages fall back to it sentence by sentence. Placeholders: ``{shop}``,
``{hours}``, ``{email}``, ``{a}``, ``{b}``.
"""

from __future__ import annotations

from typing import Final

from app.llm.language import ENGLISH, Language

PHRASES: Final[dict[Language, dict[str, str]]] = {
    "en": {
        "hello": "Hello! I'm the {shop} assistant. I can help with orders, delivery, returns and payments, or "
        "suggest products — what can I do for you?",
        "bot": "I'm the {shop} virtual assistant — an automated helper, not a person. I can answer questions about "
        "orders, delivery, returns and payments, and suggest products. A human colleague is available {hours} "
        "whenever you'd like one.",
        "thanks": "You're welcome! Is there anything else I can help you with?",
        "bye": "Thanks for visiting {shop} — have a lovely day!",
        "how_are_you": "I'm very well, thank you! How can I help you today?",
        "ok": "Alright! What else can I help you with?",
        "compliment": "Thank you, that's kind of you! Is there anything else I can help you with?",
        "insult": "I'm sorry I haven't been more help. Tell me in a few words what you need, or I can pass you to "
        "a colleague ({hours}, {email}). Would you like me to do that?",
        "wait": "No rush — I'll be here when you're ready.",
        "browsing": "Have a good look around! If you'd like suggestions or have a question, just ask.",
        "never_mind": "No problem! If there's anything else, just ask.",
        "chitchat": "I'm only really good at {shop} things, I'm afraid — orders, delivery, returns, payments and "
        "product suggestions. What can I do for you?",
        "fallback": "I'm sorry, I can't answer that one reliably. I can help with **orders, delivery, returns, "
        "payments** and **product suggestions** — or pass you to a colleague ({hours}, {email}). Would you like "
        "me to do that?",
        "clarify_one": "Just to make sure I understand: is your question *{a}*",
        "clarify_two": "I want to get this right — do you mean *{a}*, or *{b}*? If it's something else, a "
        "colleague can help too.",
        "handoff": "Of course — a colleague will take it from here. Our team is available {hours} at **{email}** "
        "and replies within one working day. Tell me briefly what it's about, so they have it when they pick "
        "this conversation up.",
        "payment_problem": "I'm sorry your payment didn't go through. I can't see payments or card details myself, "
        "so please don't send them here — a colleague can check what happened ({hours}, {email}). Would you like "
        "me to pass you on?",
        "also_asked": "You asked something else too — do you mean *{a}*?",
        "english_only": "I'm sorry, I only have this answer in English:",
    },
    "de": {
        "hello": "Hallo! Ich bin der Assistent von {shop}. Ich helfe bei Bestellungen, Lieferung, Rückgaben und "
        "Zahlungen oder schlage dir Produkte vor — was kann ich für dich tun?",
        "bot": "Ich bin der virtuelle Assistent von {shop} — ein automatischer Helfer, kein Mensch. Ich beantworte "
        "Fragen zu Bestellungen, Lieferung, Rückgaben und Zahlungen und schlage Produkte vor. Eine Kollegin oder "
        "ein Kollege ist {hours} für dich da, wann immer du möchtest.",
        "thanks": "Gern geschehen! Kann ich dir sonst noch helfen?",
        "bye": "Danke für deinen Besuch bei {shop} — einen schönen Tag noch!",
        "how_are_you": "Mir geht es gut, danke! Wie kann ich dir helfen?",
        "ok": "Alles klar! Wobei kann ich dir sonst noch helfen?",
        "compliment": "Danke, das ist nett von dir! Kann ich dir sonst noch helfen?",
        "insult": "Das tut mir leid, dass ich dir nicht besser helfen konnte. Sag mir in wenigen Worten, was du "
        "brauchst, oder ich leite dich an eine Kollegin oder einen Kollegen weiter ({hours}, {email}). Möchtest du "
        "das?",
        "wait": "Kein Problem — ich bin da, wenn du so weit bist.",
        "browsing": "Schau dich in Ruhe um! Wenn du Vorschläge möchtest oder eine Frage hast, frag einfach.",
        "never_mind": "Kein Problem! Wenn noch etwas ist, frag einfach.",
        "chitchat": "Da bin ich leider nicht der Richtige — ich kenne mich mit {shop} aus: Bestellungen, Lieferung, "
        "Rückgaben, Zahlungen und Produktvorschläge. Was kann ich für dich tun?",
        "fallback": "Das kann ich leider nicht zuverlässig beantworten. Ich helfe bei **Bestellungen, Lieferung, "
        "Rückgaben, Zahlungen** und **Produktvorschlägen** — oder ich leite dich an eine Kollegin oder einen "
        "Kollegen weiter ({hours}, {email}). Möchtest du das?",
        "clarify_one": "Damit ich dich richtig verstehe: Meinst du *{a}*",
        "clarify_two": "Ich möchte das richtig beantworten — meinst du *{a}* oder *{b}*? Wenn es um etwas anderes "
        "geht, hilft dir auch gern eine Kollegin oder ein Kollege.",
        "handoff": "Natürlich — eine Kollegin oder ein Kollege übernimmt. Unser Team ist {hours} unter **{email}** "
        "erreichbar und antwortet innerhalb eines Werktags. Sag mir kurz, worum es geht, damit sie es gleich "
        "sehen.",
        "also_asked": "Du hast noch etwas gefragt — meinst du *{a}*?",
        "payment_problem": "Das tut mir leid, dass deine Zahlung nicht geklappt hat. Zahlungen und Kartendaten "
        "kann ich selbst nicht sehen — schick sie bitte nicht hier. Eine Kollegin oder ein Kollege kann "
        "nachsehen, was passiert ist ({hours}, {email}). Soll ich dich weiterleiten?",
    },
}

# The last sentence of each offer to pass the customer on: a "yes" right after one of them accepts it.
OFFERS: Final = tuple(
    PHRASES[lang][key].rsplit(". ", 1)[-1]
    for lang in PHRASES
    for key in ("fallback", "payment_problem", "insult")
)


def phrase(key: str, lang: Language, **values: str) -> str:
    """The sentence ``key`` in ``lang`` (English when that language has none), placeholders filled."""
    text = PHRASES.get(lang, {}).get(key) or PHRASES[ENGLISH][key]
    return text.format(**values)


def speaks(lang: Language) -> bool:
    """Whether the responder's own sentences exist in ``lang``."""
    return lang in PHRASES

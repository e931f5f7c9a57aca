"""Whether a customer message asks for a person, in English or German; decided in code, never by the model.

A request names a person ("a human", "a real person", "an agent", "Mitarbeiter", "Mensch") together with
wanting to reach them ("speak to", "talk with", "connect me", "sprechen", "ich möchte"), or is little more than
the person alone ("human please", "agent!"). A negation before it ("I don't want a human", "kein Mensch",
"nicht mit einem Mitarbeiter") is not a request.
"""

from __future__ import annotations

import re

_PERSON = (
    r"(?:human(?:\s+being)?|(?:real|actual|live)\s+(?:person|human|agent)|person|agent|operator|representative"
    r"|someone(?:\s+real)?|somebody|(?:customer\s+service|support)\s+(?:agent|rep|person|team)"
    r"|colleague|staff|mitarbeiter(?:in)?|mensch(?:en)?|echte[nr]?\s+person|berater(?:in)?|kundendienst"
    r"|jemand(?:em|en)?)"
)
_WANT = (
    r"(?:speak|talk|chat|write|connect|transfer|put\s+me\s+through|get|reach|need|want|like|prefer|give"
    r"|hand\s+me|pass\s+me|escalate|sprechen|reden|schreiben|verbinden|möchte|moechte|will|brauche|hätte"
    r"|haette|bitte|weiterleiten)"
)
# German puts the verb last ("mit einem Mitarbeiter sprechen"); only a few words may sit between the two.
_AFTER = r"(?:sprechen|reden|schreiben|verbinden|weiterleiten|please|bitte)"
_REQUEST = re.compile(
    rf"\b{_WANT}\b.{{0,40}}\b{_PERSON}\b|\b{_PERSON}\b.{{0,25}}\b{_AFTER}\b", re.IGNORECASE | re.DOTALL
)
# The whole message is (nearly) just the person: "human", "Agent please!", "Mitarbeiter bitte".
_BARE = re.compile(
    rf"^\W*(?:an?\s+|einen?\s+)?{_PERSON}\W*(?:please|pls|now|bitte|jetzt)?\W*$", re.IGNORECASE
)
_NEGATION = re.compile(
    r"\b(?:don'?t|do\s+not|doesn'?t|no\s+need|not|never|without|nicht|kein(?:e[nm]?)?|keine[nr]?|ohne"
    r"|niemand(?:en)?)\b",
    re.IGNORECASE,
)
_CLAUSE = re.compile(r"[.!?;\n]+")


def asks_for_human(text: str) -> bool:
    """Whether ``text`` asks to be passed to a person (a negated mention does not count)."""
    for clause in _CLAUSE.split(text):
        if _BARE.match(clause):
            return True
        found = _REQUEST.search(clause)
        if found is None:
            continue
        person = re.search(rf"\b{_PERSON}\b", clause, re.IGNORECASE)
        assert person is not None
        if _NEGATION.search(clause[: person.start()]):
            continue
        return True
    return False

"""Whether a customer message asks for a person, in English or German; decided in code, never by the model.

A request names a person ("a human", "a real person", "an agent", "Mitarbeiter", "Mensch") together with
reaching them ("speak to", "talk with", "connect me", "sprechen") or wanting them ("I want an agent", "ich
brauche einen Mitarbeiter"), or is little more than the person alone ("human please", "agent!"). A negation
before it ("I don't want a human", "kein Mensch", "nicht mit einem Mitarbeiter") is not a request, nor is someone
the customer buys for ("I want a gift for someone special", "ein Geschenk für einen Kollegen").
"""

from __future__ import annotations

import re

_PERSON = (
    r"(?:human(?:\s+being)?|(?:real|actual|live)\s+(?:person|human|agent)|person|agent|operator|representative"
    r"|someone(?:\s+real)?|somebody|(?:customer\s+(?:service|support|care)|support)(?:\s+(?:agent|rep|person|team))?"
    r"|manager|supervisor"
    r"|colleague|staff|mitarbeiter(?:in)?|mensch(?:en)?|echte[nr]?\s+person|berater(?:in)?|kundendienst"
    r"|jemand(?:em|en)?)"
)
# Reaching someone: the person may come a few words later ("speak to someone from customer service").
_CONTACT = (
    r"(?:speak|talk|chat|connect|transfer|put\s+me\s+through|reach|escalate|hand\s+me|pass\s+me|sprechen|reden"
    r"|verbinden|weiterleiten)"
)
# Wanting someone: only with the person right after it ("I want an agent", "ich brauche einen Mitarbeiter"), so
# "I want a gift for someone special" is no request.
_WANT = r"(?:(?:can|could|may) i (?:have|get)|get|need|want|like|prefer|give|möchte|moechte|will|brauche|hätte|haette)"
_WANT_FILLER = (
    r"(?:me|to|a|an|the|one|some|with|mit|einen?|einem|einer|echten?|real|actual|live|bitte|please)"
)
# German puts the verb last ("mit einem Mitarbeiter sprechen"); only a few words may sit between the two.
_AFTER = r"(?:sprechen|reden|schreiben|verbinden|weiterleiten|please|bitte)"
_REQUEST = re.compile(
    rf"\b{_CONTACT}\b.{{0,40}}\b{_PERSON}\b|\b{_WANT}(?:\s+{_WANT_FILLER}){{0,3}}\s+{_PERSON}\b"
    rf"|\b{_PERSON}\b.{{0,25}}\b{_AFTER}\b",
    re.IGNORECASE | re.DOTALL,
)
# Someone the customer buys for or writes about is not someone to talk to: "a gift for my colleague".
_FOR = re.compile(r"\b(?:for|für|fuer)\s+(?:\w+\s+){0,2}$", re.IGNORECASE)
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
        if _NEGATION.search(clause[: person.start()]) or _FOR.search(clause[: person.start()]):
            continue
        return True
    return False

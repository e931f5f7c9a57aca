"""The built-in responder's dialogue policy for order requests, in English and German.

The built-in responder keeps no state: each request is read afresh. What the customer wants (order status,
cancel, return, change of address, a list of their orders) and the slots it needs (order number, proof of
ownership, items, address) come from the conversation's texts: the latest message and, while the previous
answers were this policy's own questions ("Which order is it about?"), the messages that answered them. What
this answer already did comes from its tail of tool calls and results. ``decide`` then gives the next tool
calls, or the text to write, or None when the message is not an order request. Deterministic and pure.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Final, Literal

from app.llm.model import ChatRequest, ToolCall

Lang = Literal["en", "de"]
Intent = Literal["status", "items", "cancel", "return", "address", "list"]
Asked = Literal["order", "verify", "item", "address", "confirm"]

FIND = "find_customer_orders"
DETAILS = "get_order_details"
CANCEL = "cancel_pending_order"
RETURN = "return_delivered_order_items"
ADDRESS = "modify_pending_order_address"
VERIFY = "verify_customer"
WRITES: Final = frozenset({CANCEL, RETURN, ADDRESS})
_ORDER_TOOLS: Final = frozenset({FIND, DETAILS, *WRITES})
DEFAULT_REASON = "Customer request"
# One answer's rounds the policy takes before it stops and says so (the server's own limit is higher).
MAX_ROUNDS = 6


@dataclass(frozen=True, slots=True)
class Contact:
    """How a customer reaches a person, for answers that cannot help."""

    email: str
    hours: str


@dataclass(frozen=True, slots=True)
class Say:
    """Write this text and finish."""

    text: str


@dataclass(frozen=True, slots=True)
class Act:
    """Call these tools and finish with ``tool_calls``."""

    calls: tuple[ToolCall, ...]


Decision = Say | Act


# --- reading texts -------------------------------------------------------------------------------------------

_FLAGS = re.IGNORECASE
_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+", _FLAGS)
_UK_POSTCODE = re.compile(r"\b[A-Z]{1,2}\d[A-Z\d]?\s*\d[A-Z]{2}\b", _FLAGS)
_POSTCODE_LABEL = re.compile(
    r"\b(?:post\s?code|postal code|zip(?: code)?|plz|postleitzahl)\b\s*(?:is|ist|:)?\s*([A-Z0-9][A-Z0-9 ]{1,9}[A-Z0-9])",
    _FLAGS,
)
_ORDER_LABEL = re.compile(
    r"(?:\border(?:\s+(?:no\.?|nr\.?|number|num\.?|id))?|\bbestell(?:ung|nummer)(?:\s+(?:nr\.?|nummer))?"
    r"|\bauftrag(?:snummer)?|#)\s*(?:is|ist|:|#)?\s*#?(\d{5,10})\b",
    _FLAGS,
)
# "for order 1234705" at the end of an address.
_ORDER_REFERENCE = re.compile(
    r"\s*\b(?:for|of|für|der|von)?\s*(?:my |meine[rm]? |the |die |der )?(?:order|bestellung)\s*(?:no\.?|nr\.?|number)?\s*#?\d{5,10}\b",
    _FLAGS,
)
# A number of five to ten digits, not part of a price, a decimal, a quantity or a longer token.
_NUMBER = re.compile(
    r"(?<![\w.,£$€])(\d{5,10})(?![\w]|[.,]\d|\s*(?:€|£|\$|eur\b|euros?\b|gbp\b|pounds?\b|usd\b|dollars?\b"
    r"|pcs\b|pieces?\b|stück\b|x\b|items?\b|artikel\b))",
    _FLAGS,
)
_SHORT_NUMBER = re.compile(r"(?<![\w.,£$€])(\d{4,5})(?![\w]|[.,]\d)")
_WORD = re.compile(r"[a-zäöüß]+", _FLAGS)

_NEGATION = r"\b(?:don'?t|do not|doesn'?t|does not|didn'?t|did not|not|never|no need to|nicht|kein\w*|nie)(?:\s+[\w']+){0,2}\s+"
# Present forms only: "my cancelled order", "I returned it" describe what happened, they do not ask for it.
_CANCEL_VERB = r"(?:cancel(?:l?ing|lation)?|stornier(?:en|e|ung)|storno|abbestellen)\b"
_RETURN_VERB = (
    r"(?:(?:return(?:ing)?|send(?:ing)? (?:\w+ ){0,3}back)\b|zurück\s?(?:geben|senden|schicken)|zurueck\s?(?:geben|senden|schicken)"
    r"|retournieren|retour|rücksendung|ruecksendung)"
)
_CHANGE_ADDRESS = re.compile(
    r"\b(?:change|update|modify|correct|edit|fix|new|wrong|different)\b[^.?!]{0,40}\baddress\b"
    r"|\baddress\b[^.?!]{0,40}\b(?:change|update|modify|correct|wrong)"
    r"|\b(?:lieferadresse|adresse|anschrift)\b[^.?!]{0,60}(?:ändern|aendern|korrigieren|änderung|aktualisieren)"
    r"|(?:änder|aender|korrigier|neue|falsche)\w*\s+(?:\w+\s+){0,2}(?:lieferadresse|adresse|anschrift)",
    _FLAGS,
)
_STATUS = re.compile(
    r"\bwhere\b(?! (?:do|can|should|may) (?:i|we)\b)|\btrack(?:ing)?\b|\bstatus\b"
    r"|\bhas\b[^.?!]{0,30}\b(?:shipped|arrived|been sent|been dispatched)|\bon (?:its|the) way\b"
    r"|\b(?:shipped|dispatched|sent|arrived|delivered) yet\b|\b(?:arrived?|shipped|dispatched|delivered) already\b"
    r"|\bdid\b[^.?!]{0,30}\b(?:arrive|ship|get (?:shipped|delivered|sent)|come)\b"
    r"|\bwhen (?:will|does|do|is)\b[^.?!]{0,40}\b(?:arrive|come|coming|delivered|ship)"
    r"|\bwo (?:ist|bleibt|sind)\b|\bsendungsverfolgung\b|\bverfolg\w*|\blieferstatus\b|\bwann (?:kommt|wird|kommen)\b"
    r"|\b(?:angekommen|versandt|verschickt|unterwegs)\b",
    _FLAGS,
)
_LIST = re.compile(
    r"\b(?:my|all my|list|show)\b[^.?!]{0,20}\borders\b|\border history\b|\bwhat (?:have|did) i (?:order|buy|bought)"
    r"|\b(?:meine|alle)\s+bestellungen\b|\bbestellhistorie\b|\bwas habe ich bestellt\b",
    _FLAGS,
)
# What an order holds: "what was in my order 1238305?", "what did I buy in order …", "items of my last order".
_ITEMS = re.compile(
    r"\bwhat(?:'s|s| is| was| were| came| comes)? in (?:my |the |this |that |our )?(?:\w+ ){0,2}"
    r"(?:order|parcel|package|delivery|box)\b"
    r"|\bwhat (?:did|have|do) (?:i|we) (?:buy|order|get|purchase|bought|ordered|got|purchased)\b[^.?!]{0,12}\b(?:in|with|on)\b"
    r"|\b(?:items?|products?|contents?|things|articles?)\b[^.?!]{0,15}\b(?:in|of|from|on)\s+(?:my |the |this |that |our )?"
    r"(?:\w+ ){0,2}(?:order|parcel|package|delivery)\b"
    r"|\bwas (?:war|ist|sind|waren|habe ich|hatte ich)\b[^.?!]{0,30}\b(?:in|bestellt|gekauft)\b"
    r"|\bwelche (?:artikel|produkte|sachen)\b|\binhalt\b",
    _FLAGS,
)
# A new destination for an order, said without the word "address": "send order 1237004 to 3 Queen Street, …",
# "bitte liefern Sie die Bestellung an Hauptstraße 5, 10115 Berlin".
_DELIVER_TO = re.compile(
    r"\b(?:send|deliver|ship|redirect|forward|post|go|be (?:sent|delivered|shipped|redirected))\b[^.?!]{0,40}?"
    r"\bto\s+(?:flat |apartment |apt\.? |unit )?\d"
    r"|\b(?:schick|liefer|send|versend)\w*\b[^.?!]{0,60}?\ban\s+[^.?!]{0,40}?\d{4,5}",
    _FLAGS,
)
# The customer's own order: an order word with a possessive or a demonstrative, or "I ordered".
_OWN_ORDER = re.compile(
    r"\b(?:my|mine|this|that|the|our)\s+(?:\w+\s+){0,2}(?:order|parcel|package|purchase|delivery)\b"
    r"|\bi (?:just |recently )?(?:ordered|bought)\b"
    r"|\b(?:mein(?:e[mnrs]?)?|dies(?:e[mnrs]?)?|die|der|den|unser(?:e[mnrs]?)?)\s+(?:\w+\s+){0,2}(?:bestellung|sendung|paket|lieferung)\b"
    r"|\bich\b[^.?!]{0,40}\b(?:bestellt|gekauft)\b",
    _FLAGS,
)
_LAST_ORDER = re.compile(
    r"\b(?:last|latest|most recent|recent|newest)\s+(?:order|purchase|parcel|delivery)\b"
    r"|\b(?:letzte[mnrs]?|neueste[mnrs]?|jüngste[mnrs]?|aktuelle[mnrs]?)\s+(?:bestellung|sendung|lieferung)\b",
    _FLAGS,
)
_WANT = re.compile(
    r"\b(?:i want|i'd like|i would like|i need|i wish|please|pls|can you|could you|i have to|i must)\b"
    r"|\b(?:ich möchte|ich moechte|ich will|ich würde|ich wuerde|bitte|können sie|koennen sie|ich muss)\b",
    _FLAGS,
)
# A question about the shop's rules, for the FAQ: "what is your return policy?"
_RULES = re.compile(
    r"\breturns? (?:policy|window|period|label|address|form|costs?)\b|\brückgabe(?:recht|frist|bedingungen)\b",
    _FLAGS,
)
_REASON = re.compile(
    r"\b(?:because|since|due to|reason(?: is)?:?|weil|denn|grund(?: ist)?:?)\s+([^\n]{3,300})", _FLAGS
)
_ALL = re.compile(
    r"\b(?:all|both|everything|whole order|entire order|all of (?:it|them)|alles|alle|beide|gesamte|komplette)\b",
    _FLAGS,
)
_YES = re.compile(
    r"^\W*(?:yes|yeah|yep|sure|ok(?:ay)?|go ahead|please do|ja|jawohl|gerne|genau|mach das)\b", _FLAGS
)
_NO = re.compile(r"^\W*(?:no|nope|don'?t|cancel that|nein|lieber nicht|doch nicht)\b", _FLAGS)
# Where the new address starts: "… address of 1234703 to Jane Doe, 12 High St, …".
_ADDRESS_START = re.compile(r"\b(?:to|zu|nach|an|auf|in|into|is|lautet|ist)\s*:?\s+|:\s*", _FLAGS)
# How an answer to "what's the new address?" may begin before the address itself.
_ADDRESS_LEAD = re.compile(
    r"^\W*(?:(?:it'?s|it is|please (?:send|deliver) (?:it )?)\s+)?(?:to|zu|nach|an)?\s*"
    r"(?:(?:the |die |meine )?(?:new |neue )?(?:delivery |liefer)?(?:address|adresse)(?: is| ist| lautet)?\s*:?\s*)?",
    _FLAGS,
)
_LINE2 = re.compile(
    r"^(?:flat|apartment|apt\.?|unit|suite|floor|building|c/o|wohnung|etage|stock|whg\.?)\b", _FLAGS
)
_NUMERIC_POSTCODE = re.compile(r"^(?:[A-Z]{1,2}-)?(\d{4,5})(?:\s+(.+))?$", _FLAGS)
_POSTCODE_CITY = re.compile(r"^(.+?)\s+(\d{4,5})$")
_COUNTRIES: Final = {
    "uk": "United Kingdom",
    "u.k.": "United Kingdom",
    "united kingdom": "United Kingdom",
    "great britain": "United Kingdom",
    "england": "United Kingdom",
    "scotland": "United Kingdom",
    "wales": "United Kingdom",
    "northern ireland": "United Kingdom",
    "germany": "Germany",
    "deutschland": "Germany",
    "austria": "Austria",
    "österreich": "Austria",
    "switzerland": "Switzerland",
    "schweiz": "Switzerland",
    "france": "France",
    "frankreich": "France",
    "ireland": "Ireland",
    "irland": "Ireland",
    "netherlands": "Netherlands",
    "niederlande": "Netherlands",
    "belgium": "Belgium",
    "belgien": "Belgium",
    "spain": "Spain",
    "spanien": "Spain",
    "italy": "Italy",
    "italien": "Italy",
    "usa": "United States",
    "united states": "United States",
}


def _wordset(words: str) -> frozenset[str]:
    return frozenset(words.split())


_GERMAN_WORDS: Final = _wordset(
    "ich meine mein meiner meinen meinem bestellung bestellnummer wo ist die der das und nicht bitte möchte "
    "moechte stornieren zurückgeben zurueckgeben ändern aendern lieferadresse ja nein danke von zu aus letzten "
    "letzte wann kommt paket sendung sie mir zurück hallo guten mit für ein eine einen habe haben will würde "
    "gerne noch schon nach bei adresse tasse wie lautet"
)
_ENGLISH_WORDS: Final = _wordset(
    "i my me where is the and not please want would like cancel return change address yes no order thanks "
    "from to of last when will it can you your what which go ahead do don't are has have hi hello delivery"
)
# Item words German customers use for the (English) catalogue's product names.
_GERMAN_ITEMS: Final = {
    "krug": "jug",
    "kanne": "jug",
    "teekanne": "teapot",
    "löffel": "spoon",
    "beutel": "bag",
    "decke": "blanket",
    "schale": "bowl",
    "schüssel": "bowl",
    "halter": "holder",
    "spiel": "game",
    "glocke": "bell",
    "klingel": "bell",
    "geldbörse": "purse",
    "handschuh": "glove",
    "tuch": "towel",
    "schwamm": "sponge",
    "aufkleber": "stickers",
    "notizbuch": "notebook",
    "stift": "pen",
    "schere": "scissor",
    "milch": "milk",
    "tee": "tea",
    "tasse": "mug",
    "tassen": "mug",
    "becher": "mug",
    "kerze": "candle",
    "kerzen": "candle",
    "kerzenhalter": "holder",
    "teller": "plate",
    "tasche": "bag",
    "taschen": "bag",
    "lampe": "light",
    "licht": "light",
    "lichterkette": "lights",
    "uhr": "clock",
    "wecker": "clock",
    "schild": "sign",
    "kissen": "cushion",
    "flasche": "bottle",
    "dose": "tin",
    "schachtel": "box",
    "box": "box",
    "herz": "heart",
    "glas": "glass",
    "vase": "vase",
    "spiegel": "mirror",
    "karte": "card",
    "karten": "card",
    "geschenkpapier": "wrap",
    "servietten": "napkins",
    "schürze": "apron",
    "korb": "basket",
    "rahmen": "frame",
    "bilderrahmen": "frame",
    "weiß": "white",
    "weiss": "white",
    "rot": "red",
    "rote": "red",
    "roten": "red",
    "blau": "blue",
    "blaue": "blue",
    "grün": "green",
    "rosa": "pink",
}
_NOT_ITEM_WORDS: Final = _wordset(
    "the and for from with my our your this that these those last latest recent order orders want would like "
    "need please return returns returning send back can could you item items one them it thing things just "
    "also about have has had get got bought ordered purchase parcel package delivery because since which "
    "wie die der das den dem des ein eine einen und aus von meiner meine meinem meinen letzten letzte bitte "
    "ich möchte moechte will zurückgeben zurueckgeben zurücksenden zurückschicken bestellung artikel mit "
    "number nummer"
)


def _words(text: str) -> list[str]:
    return [w.lower() for w in _WORD.findall(text)]


def _german_head(word: str) -> str:
    """A German compound by its last part, which names the thing ("Milchkrug" is a "Krug", a jug)."""
    if word in _GERMAN_ITEMS:
        return word
    heads = [
        key for key in _GERMAN_ITEMS if len(key) >= 4 and word.endswith(key) and len(word) > len(key) + 2
    ]
    return max(heads, key=len) if heads else word


def _stem(word: str) -> str:
    word = _GERMAN_ITEMS.get(word, word)
    if len(word) > 4 and word.endswith("es") and word[-3] in "sxz":
        return word[:-2]
    if len(word) > 3 and word.endswith("s") and not word.endswith("ss"):
        return word[:-1]
    return word


def language_of(text: str) -> Lang | None:
    """English or German by the words of ``text``; None when it does not tell (a bare number, an email)."""
    words = _words(text)
    german = sum(w in _GERMAN_WORDS for w in words) + sum(ch in "äöüß" for ch in text.lower())
    english = sum(w in _ENGLISH_WORDS for w in words)
    if german > english:
        return "de"
    if english > german:
        return "en"
    return None


def _negated(text: str, verb: str) -> bool:
    return re.search(_NEGATION + verb, text, _FLAGS) is not None


_BARE_ORDER_WORDS: Final = _wordset(
    "order no nr number id my the is it s please status bestellung bestellnummer auftrag auftragsnummer meine "
    "ist bitte"
)


def intent_of(text: str) -> Intent | None:
    """What the message asks to do with an order, if it asks one of the order actions."""
    numbered = bool(order_numbers(text))
    own = numbered or _OWN_ORDER.search(text) is not None
    wants = _WANT.search(text) is not None
    if re.search(r"\b" + _CANCEL_VERB, text, _FLAGS) and not _negated(text, _CANCEL_VERB) and (own or wants):
        return "cancel"
    if (
        re.search(r"\b" + _RETURN_VERB, text, _FLAGS)
        and not _negated(text, _RETURN_VERB)
        and not _RULES.search(text)
        and (own or wants)
    ):
        return "return"
    if _CHANGE_ADDRESS.search(text) and not _negated(text, r"(?:change|update|modify|ändern|aendern)"):
        return "address"
    if (
        own
        and _DELIVER_TO.search(text)
        and parse_address(_address_part(text)[1]).get("postcode")
        and not _negated(text, r"(?:send|deliver|ship|schick\w*|liefer\w*)")
    ):
        return "address"
    if own and _ITEMS.search(text):
        return "items"
    if _LIST.search(text) and not numbered:
        return "list"
    if _STATUS.search(text) and own:
        return "status"
    if numbered and _ORDER_LABEL.search(text) and not set(_words(text)) - _BARE_ORDER_WORDS:
        return "status"  # just "order 1234703?"
    return None


def order_numbers(text: str) -> list[str]:
    """Order numbers in ``text``: labelled ones ("order no. 1234703", "#1234703") first, then bare 5–10 digits."""
    text = _UK_POSTCODE.sub(" ", _EMAIL.sub(" ", text))
    labelled = [m.group(1) for m in _ORDER_LABEL.finditer(text)]
    bare = [m.group(1) for m in _NUMBER.finditer(text)]
    return list(dict.fromkeys(labelled + bare))


def _proof(text: str, *, order_known: bool) -> str | None:
    """An email address or a postcode in a message that answers the question for one."""
    email = _EMAIL.search(text)
    if email:
        return email.group(0)
    labelled = _POSTCODE_LABEL.search(text)
    if labelled:
        return labelled.group(1).strip()
    uk = _UK_POSTCODE.search(text)
    if uk:
        return uk.group(0).upper()
    short = [m.group(1) for m in _SHORT_NUMBER.finditer(_ORDER_LABEL.sub(" ", text))]
    if short and (order_known or len(order_numbers(text)) > 1):
        return short[-1]
    return None


_ASIDE = re.compile(
    r"^\W*(?:hi|hello|hey|thanks|thank you|cheers|please|hallo|guten \w+|danke|vielen dank|bitte)\b", _FLAGS
)
_ACTION_WORDS = re.compile(
    r"\b(?:" + _CANCEL_VERB + "|" + _RETURN_VERB + r"|address|adresse|order|bestellung)", _FLAGS
)


def _reason(text: str) -> str | None:
    """Why, in the customer's words: after "because"/"weil", else a sentence of theirs beside the request."""
    found = _REASON.search(text)
    if found:
        return found.group(1).strip().rstrip(".!").strip()[:500] or None
    asides = [
        sentence.strip().rstrip(".!")
        for sentence in re.split(r"(?<=[.!?])\s+|\n+", text)
        if 2 <= len(_words(sentence)) <= 30
        and not _ACTION_WORDS.search(sentence)
        and not _ASIDE.search(sentence)
        and not sentence.strip().endswith("?")
    ]
    return " ".join(asides)[:500] or None


def parse_address(text: str) -> dict[str, str]:
    """Address parts of "NAME?, LINE1, [LINE2,] CITY, POSTCODE[, COUNTRY]" (any order; postcode and city may
    share a part: "10115 Berlin", "Leeds LS1 4AB")."""
    pieces = [p.strip(" .") for p in re.split(r"[,;\n]+", text) if p.strip(" .")]
    found: dict[str, str] = {}
    rest: list[str] = []
    for piece in pieces:
        country = _COUNTRIES.get(piece.lower())
        if country and "country" not in found:
            found["country"] = country
            continue
        uk = _UK_POSTCODE.search(piece)
        if uk and "postcode" not in found:
            found["postcode"] = uk.group(0).upper()
            left = (piece[: uk.start()] + piece[uk.end() :]).strip()
            if left:
                rest.append(left)
            continue
        numeric = _NUMERIC_POSTCODE.match(piece) or _POSTCODE_CITY.match(piece)
        if numeric and "postcode" not in found:
            if numeric.re is _NUMERIC_POSTCODE:
                found["postcode"] = numeric.group(1)
                if numeric.group(2):
                    rest.append(numeric.group(2).strip())
            else:
                found["postcode"] = numeric.group(2)
                rest.append(numeric.group(1).strip())
            continue
        rest.append(piece)
    for piece in rest:
        if _LINE2.match(piece) and "line1" in found and "line2" not in found:
            found["line2"] = piece
        elif re.search(r"\d", piece) and "line1" not in found:
            found["line1"] = piece
        elif "line1" not in found and "name" not in found:
            found["name"] = piece
        elif "line1" in found and "city" not in found and not re.search(r"\d", piece):
            found["city"] = piece
        elif "line1" in found and "line2" not in found:
            found["line2"] = piece
    return found


# Words after an address that are not part of it: "…, CF10 2AB instead?", "…, YO1 9RN please, thanks".
_AFTER_ADDRESS = re.compile(
    r"(?:[\s,]+(?:instead|please|pls|thanks|thank you|thx|cheers|bitte|danke|stattdessen))+\W*$", _FLAGS
)


def _address_part(text: str) -> tuple[str, str]:
    """The message before its new address, and the address ("" when it gives none).

    The address starts after the last "to"/"zu"/"is" … before its first comma: "change the address in my order
    1234705 to Jane Doe, 4 Park Avenue, …". An order reference inside it ("…, YO1 7HH for order 1234705") is
    the message's, not the address's.
    """
    anchor = re.search(r"address|adresse|anschrift", text, _FLAGS)
    start = anchor.end() if anchor else 0
    comma = re.search(r"[,\n]", text[start:])
    if comma is None:
        return text, ""
    starts = [m for m in _ADDRESS_START.finditer(text, start) if m.start() < start + comma.start()]
    if not starts or not re.search(r"\d", text[starts[-1].end() :]):
        return text, ""
    address = _AFTER_ADDRESS.sub("", text[starts[-1].end() :])
    references = " ".join(m.group(0) for m in _ORDER_REFERENCE.finditer(address))
    return text[: starts[-1].start()] + " " + references, _ORDER_REFERENCE.sub(" ", address)


# --- the conversation, as the policy reads it ----------------------------------------------------------------

_ASKED_CUES: Final[tuple[tuple[Asked, re.Pattern[str]], ...]] = (
    (
        "verify",
        re.compile(
            r"email address or (?:the )?delivery postcode|e-mail-adresse oder (?:die )?postleitzahl", _FLAGS
        ),
    ),
    (
        "item",
        re.compile(
            r"would you like to return\?|möchten sie zurückgeben\?|möchten sie zurücksenden\?", _FLAGS
        ),
    ),
    ("address", re.compile(r"new delivery address|neue lieferadresse", _FLAGS)),
    ("confirm", re.compile(r"reply yes or no|mit ja oder nein", _FLAGS)),
    (
        "order",
        re.compile(
            r"tell me the order number|nennen sie mir (?:einfach |noch einmal )?die bestellnummer", _FLAGS
        ),
    ),
)


# Our answer that an order was not found: its number is no answer any more.
_NOT_FOUND = re.compile(r"(?:couldn't find order|konnte die Bestellung) (\d+)", _FLAGS)


def asked_by(text: str) -> Asked | None:
    """Which of this policy's questions an earlier answer asked, if it was one."""
    for kind, cue in _ASKED_CUES:
        if cue.search(text):
            return kind
    return None


@dataclass(frozen=True, slots=True)
class Round:
    """One call of this answer and its result (a JSON object; ``{"error": "unreadable"}`` if it was not one)."""

    name: str
    arguments: Mapping[str, Any]
    result: Mapping[str, Any]

    @property
    def error(self) -> str | None:
        """The result's error code, if it is a failure."""
        error = self.result.get("error")
        if error is None and self.result.get("ok") is False:
            return "failed"
        return str(error) if error is not None else None


def _json_object(text: str) -> dict[str, Any] | None:
    try:
        value = json.loads(text)
    except (ValueError, TypeError):
        return None
    return value if isinstance(value, dict) else None


def rounds_of(tail: Sequence[Mapping[str, Any]]) -> list[Round]:
    """This answer's calls with their results, in order."""
    results = {m.get("tool_call_id"): m.get("content", "") for m in tail if m.get("role") == "tool"}
    found: list[Round] = []
    for message in tail:
        for call in message.get("tool_calls", ()) or ():
            function = call.get("function", {})
            arguments = _json_object(function.get("arguments", "")) or {}
            content = results.get(call.get("id"))
            result = _json_object(content) if isinstance(content, str) else None
            found.append(Round(function.get("name", ""), arguments, result or {"error": "unreadable"}))
    return found


@dataclass(frozen=True, slots=True)
class Said:
    """One customer message of the current request, and the question of ours it answered (if any)."""

    text: str
    answered: Asked | None


@dataclass(slots=True)
class Dialogue:
    """The current request: its messages (newest first), intent, language, slots and this answer's rounds."""

    said: list[Said]
    asked: Asked | None
    lang: Lang
    intent: Intent | None
    rounds: list[Round]
    offered: frozenset[str]
    contact: Contact
    tools_allowed: bool
    order_id: str | None = None
    verify_order_id: str | None = None
    last_order: bool = False
    proof: str | None = None
    reason: str | None = None
    address: dict[str, str] = field(default_factory=dict)

    def say(self, key: str, **values: Any) -> Say:
        """The text ``key`` in the customer's language."""
        return Say(_TEXTS[key][self.lang].format(**values))


def read_dialogue(request: ChatRequest, contact: Contact) -> Dialogue:
    """The request as this policy reads it."""
    messages = list(request.messages)
    latest_at = max((i for i, m in enumerate(messages) if m["role"] == "user"), default=None)
    if latest_at is None:
        history: list[tuple[str, str]] = []
        latest, tail = request.query, []
    else:
        history = [
            (m["role"], m["content"]) for m in messages[:latest_at] if m["role"] in ("user", "assistant")
        ]
        latest, tail = messages[latest_at]["content"], messages[latest_at + 1 :]
    # Walk back while the answers were our questions: the messages between belong to one request.
    said: list[Said] = []
    text, index = latest, len(history) - 1
    asked = asked_by(history[index][1]) if index >= 0 and history[index][0] == "assistant" else None
    asked_lang = language_of(history[index][1]) if asked else None
    rejected: set[str] = set()
    while True:
        answered = asked_by(history[index][1]) if index >= 0 and history[index][0] == "assistant" else None
        said.append(Said(text, answered))
        if answered is not None:
            rejected.update(_NOT_FOUND.findall(history[index][1]))
        if answered is None or index < 1 or history[index - 1][0] != "user":
            break
        text, index = history[index - 1][1], index - 2
    # "It's order 1237902" answering our "Which order?" reads as a status question on its own; it gives way to
    # the request it answers ("I want to cancel my order").
    intents = [(intent_of(s.text), s.answered) for s in said]
    intent = next((i for i, by in intents if i is not None and not (by == "order" and i == "status")), None)
    intent = intent or next((i for i, _ in intents if i is not None), None)
    lang = _language(said, asked_lang, [t for role, t in history if role == "user"])
    dialogue = Dialogue(
        said=said,
        asked=asked,
        lang=lang,
        intent=intent,
        rounds=rounds_of(tail),
        offered=frozenset(spec.name for spec in request.tools),
        contact=contact,
        tools_allowed=request.tool_choice != "none",
    )
    _fill(dialogue, _mentioned([t for role, t in history if role == "assistant"]), rejected)
    return dialogue


def _mentioned(answers: list[str]) -> str | None:
    """The one order the latest answers spoke of ("cancel it" after "Your order 1234706 is pending")."""
    for text in answers[::-1][:3]:
        if asked_by(text) == "order":
            return None  # we asked for one: the number there was not found, or there were several
        numbers = order_numbers(text.replace("*", ""))
        if numbers:
            return numbers[0] if len(numbers) == 1 else None
    return None


def _language(said: list[Said], asked_lang: Lang | None, earlier: list[str]) -> Lang:
    latest = said[0].text
    # A yes or no keeps the language we asked in: the confirmation buttons send English words.
    if asked_lang is not None and (_YES.search(latest) or _NO.search(latest)):
        return asked_lang
    own = language_of(latest)
    if own is not None and (len(_words(latest)) >= 3 or asked_lang is None):
        return own
    if asked_lang is not None:
        return asked_lang
    for text in [s.text for s in said[1:]] + earlier[::-1]:
        found = language_of(text)
        if found is not None:
            return found
    return "en"


def _fill(d: Dialogue, mentioned: str | None, rejected: set[str]) -> None:
    """The slots, newest message first: what the customer said last wins; ``mentioned`` is "it"; ``rejected``
    are order numbers we could not find."""
    for s in d.said:
        head, address_text = (
            ("", _ADDRESS_LEAD.sub("", s.text)) if s.answered == "address" else _address_part(s.text) if intent_of(s.text) == "address"
            else (s.text, "")
        )  # fmt: skip
        numbers = [n for n in order_numbers(head) if n not in rejected]
        if s.answered == "verify":
            proof = _proof(
                head, order_known=bool(numbers) or d.order_id is not None or d.verify_order_id is not None
            )
            if proof is not None:
                numbers = [n for n in numbers if n != proof]
            if numbers and d.verify_order_id is None:
                d.verify_order_id = numbers[0]
            if proof is not None and d.proof is None:
                d.proof = proof
        else:
            if numbers and d.order_id is None:
                d.order_id = numbers[0]
            email = _EMAIL.search(head)
            if email is not None and d.proof is None:
                d.proof = email.group(0)
        if s.answered != "verify" and _LAST_ORDER.search(head) and d.order_id is None:
            d.last_order = True
        if d.reason is None and intent_of(s.text) is not None:
            d.reason = _reason(head)
        for key, value in parse_address(address_text).items() if address_text else ():
            d.address.setdefault(key, value)
    if d.order_id is None and not d.last_order:
        d.order_id = mentioned
    if d.verify_order_id is None:
        d.verify_order_id = d.order_id


# --- deciding ------------------------------------------------------------------------------------------------


def decide(request: ChatRequest, contact: Contact) -> Decision | None:
    """The next step of an order request: tool calls, or the text to write; None when it is not one."""
    d = read_dialogue(request, contact)
    if d.intent is None and not d.rounds:
        return None
    latest = d.said[0]
    if not d.rounds and intent_of(latest.text) is None and not _answers(d, latest.text):
        return None  # something else than what we asked: answered as any message is
    if not d.offered & _ORDER_TOOLS:
        # Without order tools only a specific order (a number) is an order request; the rest is for the FAQ.
        if d.order_id is None and d.asked is None:
            return None
        return d.say("unavailable", email=d.contact.email, hours=d.contact.hours)
    decision = _after_last(d) if d.rounds else None
    if decision is None:
        decision = _next_step(d)
    if isinstance(decision, Act):
        if not d.tools_allowed or len(d.rounds) >= MAX_ROUNDS:
            return d.say("too_many", email=d.contact.email)
        if any(call.name not in d.offered for call in decision.calls):
            return d.say("unavailable", email=d.contact.email, hours=d.contact.hours)
    return decision


def _answers(d: Dialogue, text: str) -> bool:
    """Whether the latest message answers the question we asked."""
    if d.asked is None:
        return False
    if d.asked == "order":
        return bool(order_numbers(text)) or _LAST_ORDER.search(text) is not None
    if d.asked == "verify":
        return d.proof is not None or bool(order_numbers(text))
    if d.asked == "item":
        return bool(_words(text)) or re.search(r"\d", text) is not None
    if d.asked == "address":
        return bool(parse_address(text))
    return _YES.search(text) is not None or _NO.search(text) is not None


def _call(d: Dialogue, name: str, **arguments: Any) -> Act:
    number = len(d.rounds) + 1
    return Act(
        (ToolCall(f"local-{number}", name, json.dumps(arguments, ensure_ascii=False, separators=(",", ":"))),)
    )


def _after_last(d: Dialogue) -> Decision | None:
    """What the last result of this answer means: text to write, or None to go on."""
    last = d.rounds[-1]
    error = last.error
    if last.name in WRITES:
        if last.result.get("status") == "awaiting_confirmation":
            return _confirm(d, last)
        if error == "verification_required":
            return None
        if error == "declined":
            return d.say("declined", order=last.arguments.get("order_id", ""))
        if error == "confirmation_expired":
            return d.say("expired", order=last.arguments.get("order_id", ""))
        if error is not None:
            # A refusal of the shop's rules says why; a tool that failed (timed out, broke) has no message.
            return _refused(d, last) if last.result.get("message") else d.say("failed", email=d.contact.email)
        return _done(d, last)
    if last.name == VERIFY:
        if last.result.get("verified") is True:
            return None
        if error == "not_verified":
            left = last.result.get("attempts_left")
            return d.say(
                "not_verified",
                order=last.arguments.get("order_id", ""),
                left=_TEXTS["left"][d.lang].format(n=left) if isinstance(left, int) else "",
            )
        if error == "too_many_attempts":
            return d.say("locked", email=d.contact.email, hours=d.contact.hours)
        return d.say("failed", email=d.contact.email)
    if error == "verification_required":
        return None
    if error == "not_found":
        return d.say("not_found", order=last.arguments.get("order_id", ""))
    if error is not None:
        return d.say("failed", email=d.contact.email)
    return None


def _details(d: Dialogue, order_id: str) -> Mapping[str, Any] | None:
    for r in reversed(d.rounds):
        if r.name == DETAILS and r.error is None and str(r.result.get("order_id")) == order_id:
            return r.result
    return None


def _orders(d: Dialogue) -> list[Mapping[str, Any]] | None:
    for r in reversed(d.rounds):
        if r.name == FIND and r.error is None and isinstance(r.result.get("orders"), list):
            return [o for o in r.result["orders"] if isinstance(o, Mapping)]
    return None


def _needs_verification(d: Dialogue) -> bool:
    """Whether an order tool said the customer must prove the order is theirs, with no success since."""
    for r in reversed(d.rounds):
        if r.name == VERIFY:
            return r.result.get("verified") is not True
        if r.error == "verification_required":
            return True
    return False


def _next_step(d: Dialogue) -> Decision:
    if d.asked == "confirm" and not d.rounds and _NO.search(d.said[0].text):
        return d.say("declined", order=d.order_id or d.verify_order_id or "")
    verify_first = d.asked == "verify" and not d.rounds
    if _needs_verification(d) or (verify_first and d.proof is not None):
        order = d.verify_order_id
        tried = {
            (r.arguments.get("order_id"), r.arguments.get("email_or_postcode"))
            for r in d.rounds
            if r.name == VERIFY
        }
        if order is not None and d.proof is not None and (order, d.proof) not in tried:
            return _call(d, VERIFY, order_id=order, email_or_postcode=d.proof)
        if VERIFY not in d.offered:
            return d.say("unavailable", email=d.contact.email, hours=d.contact.hours)
        return d.say("verify_order", order=order) if order else d.say("verify")
    intent = d.intent or ("status" if d.order_id else "list")
    if intent == "list":
        orders = _orders(d)
        return _call(d, FIND) if orders is None else _list(d, orders)
    order_id = d.order_id
    if order_id is None and d.last_order:
        orders = _orders(d)
        if orders is None:
            return _call(d, FIND)
        if not orders:
            return d.say("no_orders")
        order_id = str(max(orders, key=lambda o: str(o.get("placed_at", ""))).get("order_id", ""))
    if order_id is None:
        order_id = d.verify_order_id
    if order_id is None:
        return d.say("ask_order")
    reason = d.reason or DEFAULT_REASON
    if intent == "cancel":
        # The server checks a change before it asks the customer: no look-up needed first.
        return _call(d, CANCEL, order_id=order_id, reason=reason)
    details = _details(d, order_id)
    if details is None:
        return _call(d, DETAILS, order_id=order_id)
    if intent in ("status", "items"):
        return Say(_status(d, details, with_items=intent == "items"))
    if intent == "return":
        if details.get("status") not in ("delivered", "return_requested"):
            return Say(_cannot(d, "return", details))
        return _return(d, order_id, details, reason)
    if details.get("status") != "pending":
        return Say(_cannot(d, "address", details))
    return _change_address(d, order_id, details)


def _int(value: object, default: int) -> int:
    """A count from a tool result, ``default`` when it is not one."""
    return value if isinstance(value, int) and not isinstance(value, bool) else default


def _items(details: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    """The order's lines that can still be returned."""
    items = details.get("items")
    if not isinstance(items, list):
        return []
    return [
        i
        for i in items
        if isinstance(i, Mapping) and _int(i.get("returned_quantity"), 0) < _int(i.get("quantity"), 1)
    ]


def _pick(text: str, items: list[Mapping[str, Any]], *, numbered: bool) -> tuple[list[int], list[int]]:
    """The positions of the items ``text`` names for sure, and of those it may mean.

    List numbers (in an answer to our list), or words: a word of one item's name names it; a word several names
    share ("mug" for two mugs) only narrows the choice, unless the customer says "all".
    """
    if numbered:
        picks = [int(n) for n in re.findall(r"(?<![\d.,])\d{1,2}(?![\d.,])", text)]
        chosen = [n - 1 for n in dict.fromkeys(picks) if 1 <= n <= len(items)]
        if chosen:
            return chosen, []
    wanted = {_stem(_german_head(w)) for w in _words(text) if len(w) >= 3 and w not in _NOT_ITEM_WORDS}
    names = [{_stem(w) for w in _words(str(item.get("name", "")))} for item in items]
    sure: set[int] = set()
    maybe: set[int] = set()
    for word in wanted:
        matching = [n for n, name in enumerate(names) if word in name]
        (sure if len(matching) == 1 else maybe).update(matching)
    # An item named in full is named for sure, even when each of its words is shared ("Spaceboy Mini Backpack"
    # beside "Dolly Girl Mini Backpack" and "Spaceboy Lunch Box").
    said = {_stem(_german_head(w)) for w in _words(text)} | {_stem(w) for w in _words(text)}
    sure.update(n for n, name in enumerate(names) if name and name <= said)
    if _ALL.search(text):
        # "all the mugs" is every mug; "everything" every item.
        return sorted(sure | maybe) if sure or maybe else list(range(len(items))), []
    return sorted(sure), sorted(maybe - sure)


def _return(d: Dialogue, order_id: str, details: Mapping[str, Any], reason: str) -> Decision:
    items = _items(details)
    if not items:
        return d.say("all_returned", order=order_id)
    chosen: list[int] = []
    maybe: list[int] = []
    for s in d.said:
        returned = [] if s.answered == "item" else _returned_named(s.text, details)
        if returned:
            return d.say(
                "already_returned",
                order=order_id,
                items=_join(returned, d.lang),
                has="has" if len(returned) == 1 else "have",
            )
        chosen, maybe = _pick(s.text, items, numbered=s.answered == "item")
        if chosen or maybe:
            break
    if not chosen and len(maybe) == 1:
        chosen = maybe
    if not chosen and len(items) == 1:
        chosen = [0]
    if not chosen:
        # Numbered as in the whole order, so the number answered means the same item next time.
        lines = "\n".join(f"{n + 1}. {items[n].get('name', '')}" for n in maybe or range(len(items)))
        return d.say("ask_item", order=order_id, items=lines)
    ids = [str(items[n].get("item_id")) for n in chosen]
    return _call(d, RETURN, order_id=order_id, item_ids=ids, reason=reason)


def _returned_named(text: str, details: Mapping[str, Any]) -> list[str]:
    """Names of lines ``text`` names for sure that are already returned in full (none when it names others)."""
    lines = [i for i in details.get("items") or () if isinstance(i, Mapping)]
    sure, _ = _pick(text, lines, numbered=False)
    if not sure or _ALL.search(text):
        return []
    if any(_int(lines[n].get("returned_quantity"), 0) < _int(lines[n].get("quantity"), 1) for n in sure):
        return []
    return [str(lines[n].get("name", "")) for n in sure]


_REQUIRED_ADDRESS: Final = ("name", "line1", "city", "postcode", "country")


def _postcode_kind(postcode: str) -> str:
    if not postcode or _UK_POSTCODE.fullmatch(postcode.strip()):
        return "uk" if postcode else ""
    return "numeric" if postcode.strip().isdigit() else "other"


def _change_address(d: Dialogue, order_id: str, details: Mapping[str, Any]) -> Decision:
    old = details.get("address")
    old = old if isinstance(old, Mapping) else {}
    new = dict(d.address)
    # Who receives it and the country rarely change: the order's own, unless the customer gave new ones.
    for key in ("name", "country"):
        if key not in new and old.get(key):
            new[key] = str(old[key])
    if (
        "country" not in d.address
        and new.get("postcode")
        and _postcode_kind(new.get("postcode", "")) != _postcode_kind(str(old.get("postcode", "")))
    ):
        new.pop("country", None)  # a postcode of another country's form: the old country is a guess
    missing = [key for key in _REQUIRED_ADDRESS if not new.get(key)]
    if missing:
        parts = _join([_TEXTS["part_" + key][d.lang] for key in missing], d.lang)
        return d.say("ask_address", order=order_id, parts=parts)
    address = {key: new[key] for key in (*_REQUIRED_ADDRESS, "line2") if new.get(key)}
    return _call(d, ADDRESS, order_id=order_id, address=address)


# --- phrasing ------------------------------------------------------------------------------------------------

_TEXTS: Final[dict[str, dict[Lang, str]]] = {
    "ask_order": {
        "en": "Which order is it about? Please tell me the order number (it's in your order confirmation email).",
        "de": "Um welche Bestellung geht es? Bitte nennen Sie mir die Bestellnummer (sie steht in Ihrer "
        "Bestellbestätigung).",
    },
    "verify": {
        "en": "Before I can look at your orders I need to check they're yours: please tell me the order number "
        "and the email address or delivery postcode on the order.",
        "de": "Bevor ich Ihre Bestellungen ansehen kann, muss ich prüfen, dass es Ihre sind: Bitte nennen Sie "
        "mir die Bestellnummer und die E-Mail-Adresse oder die Postleitzahl der Lieferadresse der Bestellung.",
    },
    "verify_order": {
        "en": "Before I can look at order {order} I need to check it's yours: please tell me the email address "
        "or delivery postcode on the order.",
        "de": "Bevor ich die Bestellung {order} ansehen kann, muss ich prüfen, dass es Ihre ist: Bitte nennen "
        "Sie mir die E-Mail-Adresse oder die Postleitzahl der Lieferadresse der Bestellung.",
    },
    "not_verified": {
        "en": "Sorry, the order number {order} and that email address or delivery postcode don't match. "
        "Please check both and send them again{left}.",
        "de": "Die Bestellnummer {order} und diese E-Mail-Adresse oder Postleitzahl passen leider nicht "
        "zusammen. Bitte prüfen Sie beides und senden Sie es noch einmal{left}.",
    },
    "left": {"en": " ({n} attempts left)", "de": " (noch {n} Versuche)"},
    "locked": {
        "en": "I'm sorry, that didn't match too many times, so I can't look at this order here. A colleague can "
        "help: please write to {email} ({hours}).",
        "de": "Das hat leider zu oft nicht gepasst, deshalb kann ich diese Bestellung hier nicht ansehen. Ein "
        "Kollege hilft Ihnen gern: Bitte schreiben Sie an {email} ({hours}).",
    },
    "not_found": {
        "en": "I couldn't find order {order} for you. Could you check it and tell me the order number again?",
        "de": "Ich konnte die Bestellung {order} für Sie nicht finden. Bitte prüfen Sie sie und nennen Sie mir "
        "noch einmal die Bestellnummer.",
    },
    "no_orders": {
        "en": "I couldn't find any orders for you.",
        "de": "Ich konnte keine Bestellungen für Sie finden.",
    },
    "unavailable": {
        "en": "I'm sorry, I can't look up or change orders here. A colleague can help: please write to {email} "
        "({hours}) with your order number.",
        "de": "Leider kann ich Bestellungen hier nicht ansehen oder ändern. Ein Kollege hilft Ihnen gern: Bitte "
        "schreiben Sie mit Ihrer Bestellnummer an {email} ({hours}).",
    },
    "failed": {
        "en": "Sorry, I couldn't do that just now. Please try again in a moment, or write to {email}.",
        "de": "Das hat leider gerade nicht geklappt. Bitte versuchen Sie es gleich noch einmal oder schreiben "
        "Sie an {email}.",
    },
    "too_many": {
        "en": "Sorry, that took more steps than I can take at once. Please ask me again, or write to {email}.",
        "de": "Das waren leider mehr Schritte, als ich auf einmal erledigen kann. Bitte fragen Sie noch einmal "
        "oder schreiben Sie an {email}.",
    },
    "ask_item": {
        "en": "Which item of order {order} would you like to return?\n\n{items}\n\nPlease reply with its name "
        "or number, or “all”.",
        "de": "Welchen Artikel der Bestellung {order} möchten Sie zurückgeben?\n\n{items}\n\nBitte antworten "
        "Sie mit dem Namen oder der Nummer, oder mit „alle“.",
    },
    "already_returned": {
        "en": "The {items} from order {order} {has} already been returned, so there is nothing more to send "
        "back.",
        "de": "Aus der Bestellung {order} wurde bereits zurückgegeben: {items}. Dafür ist nichts mehr zu tun.",
    },
    "all_returned": {
        "en": "Everything in order {order} is already being returned.",
        "de": "Alle Artikel der Bestellung {order} werden bereits zurückgegeben.",
    },
    "ask_address": {
        "en": "What's the new delivery address for order {order}? I still need the {parts}.",
        "de": "Wie lautet die neue Lieferadresse für die Bestellung {order}? Mir fehlen noch: {parts}.",
    },
    "part_name": {"en": "name of the recipient", "de": "Name des Empfängers"},
    "part_line1": {"en": "street and house number", "de": "Straße und Hausnummer"},
    "part_city": {"en": "town or city", "de": "Ort"},
    "part_postcode": {"en": "postcode", "de": "Postleitzahl"},
    "part_country": {"en": "country", "de": "Land"},
    "confirm": {
        "en": "Just to be sure: shall I {action}? Please confirm with the buttons below, or reply yes or no.",
        "de": "Zur Sicherheit: Soll ich {action}? Bitte bestätigen Sie mit den Schaltflächen unten oder "
        "antworten Sie mit Ja oder Nein.",
    },
    "declined": {
        "en": "Alright, I haven't changed anything: order {order} stays as it is.",
        "de": "In Ordnung, ich habe nichts geändert: Die Bestellung {order} bleibt, wie sie ist.",
    },
    "expired": {
        "en": "The confirmation has expired, so nothing was changed on order {order}. If you still want this, "
        "just ask me again.",
        "de": "Die Bestätigung ist abgelaufen, deshalb wurde an der Bestellung {order} nichts geändert. Wenn "
        "Sie es noch möchten, fragen Sie mich einfach noch einmal.",
    },
    "cancelled": {
        "en": "Done: order {order} is cancelled.",
        "de": "Erledigt: Die Bestellung {order} ist storniert.",
    },
    "returned": {
        "en": "Done: I've requested the return of {items} from order {order}.",
        "de": "Erledigt: Die Rücksendung von {items} aus der Bestellung {order} ist angemeldet.",
    },
    "readdressed": {
        "en": "Done: order {order} will now be delivered to {address}.",
        "de": "Erledigt: Die Bestellung {order} wird jetzt an {address} geliefert.",
    },
    "refused": {
        "en": "I'm sorry, I couldn't {action}: {why}",
        "de": "Die {action} war leider nicht möglich: {why}",
    },
    "cannot_return": {
        "en": "I'm sorry, I can't request a return for order {order}: it {status}. Only delivered orders can be "
        "returned.",
        "de": "Für die Bestellung {order} kann ich leider keine Rücksendung anmelden: Sie {status}. Zurückgeben "
        "lassen sich nur gelieferte Bestellungen.",
    },
    "cannot_address": {
        "en": "I'm sorry, I can't change the address of order {order}: it {status}. The address can only be "
        "changed while the order is pending.",
        "de": "Die Lieferadresse der Bestellung {order} kann ich leider nicht mehr ändern: Sie {status}. Die "
        "Adresse lässt sich nur ändern, solange die Bestellung noch offen ist.",
    },
}
_ACTIONS: Final[dict[str, dict[Lang, str]]] = {
    "cancel": {"en": "cancel order {order}", "de": "die Bestellung {order} stornieren"},
    "return": {
        "en": "request the return of {items} from order {order}",
        "de": "die Rücksendung von {items} aus der Bestellung {order} anmelden",
    },
    "address": {
        "en": "change the delivery address of order {order} to {address}",
        "de": "die Lieferadresse der Bestellung {order} auf {address} ändern",
    },
}
_SHORT_ACTIONS: Final[dict[str, dict[Lang, str]]] = {
    "cancel": {"en": "cancel order {order}", "de": "Stornierung der Bestellung {order}"},
    "return": {"en": "request that return", "de": "Rücksendung"},
    "address": {"en": "change the address of order {order}", "de": "Adressänderung der Bestellung {order}"},
}
_REFUSALS: Final[dict[str, str]] = {
    "not_pending": "Die Bestellung ist nicht mehr offen, deshalb lässt sie sich nicht mehr ändern oder stornieren.",
    "not_delivered": "Die Bestellung ist noch nicht geliefert; zurückgeben lassen sich nur gelieferte Artikel.",
    "outside_return_window": "Die Rückgabefrist für diese Bestellung ist abgelaufen.",
    "unknown_items": "Diese Artikel gehören nicht zu der Bestellung.",
    "already_returned": "Dieser Artikel wird bereits zurückgegeben.",
    "not_found": "Die Bestellung wurde nicht gefunden.",
    "changed": "Die Bestellung hat sich inzwischen geändert; bitte fragen Sie noch einmal.",
}
_STATUS_TEXT: Final[dict[str, dict[Lang, str]]] = {
    "pending": {
        "en": "is pending: it hasn't been prepared yet",
        "de": "ist eingegangen und wird bald vorbereitet",
    },
    "processing": {"en": "is being prepared for dispatch", "de": "wird gerade für den Versand vorbereitet"},
    "shipped": {"en": "is on its way", "de": "ist unterwegs"},
    "delivered": {"en": "was delivered", "de": "wurde geliefert"},
    "cancelled": {"en": "is cancelled", "de": "ist storniert"},
    "return_requested": {"en": "has a return requested", "de": "wird zurückgegeben"},
}
_STATUS_LABEL: Final[dict[str, dict[Lang, str]]] = {
    "pending": {"en": "pending", "de": "offen"},
    "processing": {"en": "being prepared", "de": "in Vorbereitung"},
    "shipped": {"en": "on its way", "de": "unterwegs"},
    "delivered": {"en": "delivered", "de": "geliefert"},
    "cancelled": {"en": "cancelled", "de": "storniert"},
    "return_requested": {"en": "return requested", "de": "Rücksendung angemeldet"},
}
_MONTHS_DE: Final = (
    "Januar",
    "Februar",
    "März",
    "April",
    "Mai",
    "Juni",
    "Juli",
    "August",
    "September",
    "Oktober",
    "November",
    "Dezember",
)
_SYMBOLS: Final = {"GBP": "£", "EUR": "€", "USD": "$"}


def _join(parts: Sequence[str], lang: Lang) -> str:
    if len(parts) <= 1:
        return "".join(parts)
    return ", ".join(parts[:-1]) + (" and " if lang == "en" else " und ") + parts[-1]


def _date(value: object, lang: Lang) -> str:
    try:
        moment = datetime.fromisoformat(str(value))
    except ValueError:
        return ""
    if lang == "de":
        return f"{moment.day}. {_MONTHS_DE[moment.month - 1]} {moment.year}"
    return f"{moment.day} {moment:%B} {moment.year}"


def _money(amount: object, currency: object, lang: Lang) -> str:
    if not isinstance(amount, int | float) or isinstance(amount, bool):
        return ""
    symbol = _SYMBOLS.get(str(currency), str(currency) + " ")
    if lang == "de":
        return f"{amount:,.2f}".replace(",", "X").replace(".", ",").replace("X", ".") + f" {symbol.strip()}"
    return f"{symbol}{amount:,.2f}"


def _address_text(address: object) -> str:
    if not isinstance(address, Mapping):
        return ""
    keys = ("name", "line1", "line2", "city", "postcode", "country")
    return ", ".join(str(address[k]) for k in keys if address.get(k))


def _item_names(names: Sequence[str], lang: Lang) -> str:
    return _join([f"**{n}**" for n in names], lang)


def _status(d: Dialogue, order: Mapping[str, Any], *, with_items: bool = False) -> str:
    """The order's state; with ``with_items``, each line of it too ("what was in my order?")."""
    lang = d.lang
    status = str(order.get("status", ""))
    order_id = order.get("order_id", "")
    state = _STATUS_TEXT.get(status, {"en": f"is {status}", "de": f"hat den Status {status}"})[lang]
    placed = _date(order.get("placed_at"), lang)
    delivered = _date(order.get("delivered_at"), lang) if order.get("delivered_at") else ""
    if lang == "de":
        if status == "delivered" and delivered:
            state = f"wurde am {delivered} geliefert"
        text = f"Ihre Bestellung **{order_id}** vom {placed} {state}."
    else:
        if status == "delivered" and delivered:
            state += f" on {delivered}"
        text = f"Your order **{order_id}**, placed on {placed}, {state}."
    if status == "shipped" and order.get("carrier"):
        if lang == "de":
            text += f" Sie wird von {order['carrier']} zugestellt, Sendungsnummer **{order.get('tracking_number', '')}**."
        else:
            text += f" It's with {order['carrier']}, tracking number **{order.get('tracking_number', '')}**."
    items = order.get("items")
    count = len(items) if isinstance(items, list) else 0
    total = _money(order.get("total"), order.get("currency"), lang)
    if count and total:
        text += (
            f" Sie enthält {count} Artikel, zusammen {total}."
            if lang == "de"
            else f" It has {count} item{'s' if count != 1 else ''}, {total} in total."
        )
    if with_items and isinstance(items, list) and items:
        text += "\n\n" + _lines(items, lang)
    return text


_MAX_LINES = 20


def _lines(items: Sequence[object], lang: Lang) -> str:
    """An order's lines as a list: "- 2 × Retro Coffee Mugs (1 returned)"; the first ``_MAX_LINES`` only."""
    lines = []
    for item in items[:_MAX_LINES]:
        if not isinstance(item, Mapping):
            continue
        line = f"- {_int(item.get('quantity'), 1)} × {item.get('name', '')}"
        returned = _int(item.get("returned_quantity"), 0)
        if returned:
            line += f" ({returned} zurückgegeben)" if lang == "de" else f" ({returned} returned)"
        lines.append(line)
    if len(items) > _MAX_LINES:
        more = len(items) - _MAX_LINES
        lines.append(f"- … und {more} weitere" if lang == "de" else f"- … and {more} more")
    return "\n".join(lines)


def _list(d: Dialogue, orders: list[Mapping[str, Any]]) -> Decision:
    if not orders:
        return d.say("no_orders")
    lang = d.lang
    lines = []
    for o in orders:
        status = _STATUS_LABEL.get(
            str(o.get("status")), {"en": str(o.get("status")), "de": str(o.get("status"))}
        )[lang]
        lines.append(
            f"- **{o.get('order_id')}** ({_date(o.get('placed_at'), lang)}, {_money(o.get('total'), o.get('currency'), lang)}): {status}"
        )
    head = "Ihre Bestellungen:" if lang == "de" else "Here are your orders:"
    tail = (
        "Bei welcher Bestellung kann ich helfen? Nennen Sie mir einfach die Bestellnummer."
        if lang == "de"
        else "Which one can I help you with? Just tell me the order number."
    )
    return Say(head + "\n\n" + "\n".join(lines) + "\n\n" + tail)


def _names_of(ids: Sequence[Any], order: Mapping[str, Any] | None) -> list[str]:
    items = order.get("items") if order is not None else None
    names = (
        {str(i.get("item_id")): str(i.get("name")) for i in items if isinstance(i, Mapping)}
        if isinstance(items, list)
        else {}
    )
    return [names.get(str(i), str(i)) for i in ids]


def _action(d: Dialogue, r: Round, table: Mapping[str, Mapping[Lang, str]]) -> str:
    kind = {CANCEL: "cancel", RETURN: "return", ADDRESS: "address"}[r.name]
    order_id = str(r.arguments.get("order_id", ""))
    ids = r.arguments.get("item_ids")
    items = _item_names(_names_of(ids if isinstance(ids, list) else [], _details(d, order_id)), d.lang)
    address = r.arguments.get("address")
    where = _address_text(address) if isinstance(address, Mapping) else ""
    return table[kind][d.lang].format(order=order_id, items=items, address=where)


def _confirm(d: Dialogue, r: Round) -> Say:
    return d.say("confirm", action=_action(d, r, _ACTIONS))


def _done(d: Dialogue, r: Round) -> Say:
    order_id = str(r.arguments.get("order_id", r.result.get("order_id", "")))
    if r.name == CANCEL:
        return d.say("cancelled", order=order_id)
    if r.name == RETURN:
        ids = r.arguments.get("item_ids")
        names = _names_of(ids if isinstance(ids, list) else [], r.result)
        return d.say("returned", order=order_id, items=_item_names(names, d.lang))
    address = r.result.get("address")
    if not isinstance(address, Mapping):
        address = r.arguments.get("address")
    return d.say("readdressed", order=order_id, address=_address_text(address))


def _refused(d: Dialogue, r: Round) -> Say:
    code = r.error or ""
    if d.lang == "de":
        why = _REFUSALS.get(code, "Das ist bei dieser Bestellung nicht möglich.")
    else:
        message = r.result.get("message")
        why = str(message) if isinstance(message, str) and message else "that isn't possible for this order."
    return d.say("refused", action=_action(d, r, _SHORT_ACTIONS), why=why)


def _cannot(d: Dialogue, kind: str, order: Mapping[str, Any]) -> str:
    status = str(order.get("status", ""))
    state = _STATUS_TEXT.get(status, {"en": f"is {status}", "de": f"hat den Status {status}"})[d.lang]
    return _TEXTS["cannot_" + kind][d.lang].format(order=order.get("order_id", ""), status=state)

"""Prices as shop owners write them ("9.50", "9,50", "£9.50", "9,50 EUR", "1.234,50 €"), read into numbers.

Accepted: a decimal point or a decimal comma; thousands separators (",", ".", a space or "'") when the other
mark is the decimal one or the groups leave no doubt ("1,234,567"); the shop's own currency symbol or code
before or after the number. Rejected with a reason: another currency (nothing is converted), "1,234" (a
thousands separator or a decimal comma? write 1234 or 1,23), negative numbers, anything else around the number.
"""

from __future__ import annotations

import math
import re
from typing import Final

# Marks that name a currency; a price carrying one that is not the shop's is refused rather than misread.
CURRENCY_SYMBOLS: Final = {"£": "GBP", "€": "EUR", "$": "USD", "¥": "JPY", "₹": "INR", "₽": "RUB", "₩": "KRW"}
DEFAULT_SYMBOLS: Final = {"GBP": "£", "EUR": "€", "USD": "$", "JPY": "¥", "INR": "₹", "KRW": "₩"}
_CODES: Final = frozenset(
    [
        "GBP",
        "EUR",
        "USD",
        "CHF",
        "JPY",
        "CAD",
        "AUD",
        "NZD",
        "SEK",
        "NOK",
        "DKK",
        "PLN",
        "CZK",
        "HUF",
        "INR",
        "CNY",
        "RUB",
        "KRW",
        "BRL",
        "MXN",
        "ZAR",
    ]
)

_PARTS: Final = re.compile(r"(?P<before>\D*?)(?P<number>[-+]?[\d.,' ]*\d)(?P<after>\D*)")
_GROUPED: Final = re.compile(r"\d{1,3}(?:(?P<sep>[,. '])\d{3})(?:(?P=sep)\d{3})*")


class PriceError(ValueError):
    """A price that cannot be read; ``fix`` says how to write it."""

    def __init__(self, what: str, fix: str) -> None:
        super().__init__(what)
        self.what = what
        self.fix = fix


_HOW: Final = 'write it as a plain number such as 9.50 (a decimal comma, "9,50", works too)'


def _number(text: str) -> float:
    if " " in text or "'" in text:
        text = _without_spaced_thousands(text)
    dot, comma = text.rfind("."), text.rfind(",")
    if dot >= 0 and comma >= 0:
        # Both marks: the last one is the decimal mark and the other separates thousands.
        decimal, thousands = (".", ",") if dot > comma else (",", ".")
        whole, _, fraction = text.rpartition(decimal)
        if not fraction or thousands not in whole or not _GROUPED.fullmatch(whole):
            raise PriceError(f"{text!r} mixes '.' and ',' in a way that is not a price", _HOW)
        return float(whole.replace(thousands, "") + "." + fraction)
    if comma >= 0 and text.count(",") == 1:
        whole, _, fraction = text.partition(",")
        if len(fraction) == 3:
            raise PriceError(
                f"{text!r} is ambiguous (a thousands separator or a decimal comma?)",
                f"write {whole}{fraction} or {whole}.{fraction} — no separator for thousands",
            )
        return float(f"{whole or '0'}.{fraction}")
    if comma >= 0 or text.count(".") > 1:
        # Several of one mark can only separate thousands: "1,234,567", "1.234.567".
        if not _GROUPED.fullmatch(text):
            raise PriceError(f"{text!r} is not a price", _HOW)
        return float(text.replace(",", "").replace(".", ""))
    return float(text)


def _without_spaced_thousands(text: str) -> str:
    """``text`` without the spaces or apostrophes that separate its thousands ("1 234,50" → "1234,50")."""
    cut = max(text.rfind("."), text.rfind(","))
    head, tail = (text[:cut], text[cut:]) if cut >= 0 else (text, "")
    if " " in tail or "'" in tail or not _GROUPED.fullmatch(head):
        raise PriceError(f"{text!r} is not a price", _HOW)
    return head.replace(" ", "").replace("'", "") + tail


def currency_of(mark: str) -> str | None:
    """The currency code a symbol or code stands for, or None if it is not one."""
    upper = mark.upper()
    if upper in _CODES:
        return upper
    return CURRENCY_SYMBOLS.get(mark)


def parse_price(raw: str, currency: str = "GBP", symbol: str = "£") -> float:
    """The price ``raw`` states, in the shop's currency; raises ``PriceError`` saying what is wrong and the fix."""
    text = " ".join(raw.replace("\u00a0", " ").replace("\u202f", " ").split())
    if not text:
        raise PriceError("the price is empty", _HOW)
    parts = _PARTS.fullmatch(text)
    if parts is None:
        raise PriceError(f"{raw.strip()!r} is not a price", _HOW)
    marks = [m for m in (parts["before"].strip(), parts["after"].strip()) if m]
    number = parts["number"].strip()
    sign = ""
    if number[0] in "+-":
        sign, number = number[0], number[1:].strip()
    if len(marks) > 1 or any(" " in m for m in marks):
        raise PriceError(f"{raw.strip()!r} is not a price", _HOW)
    for mark in marks:
        if mark == symbol or mark.upper() == currency.upper():
            continue
        named = currency_of(mark)
        if named is None:
            raise PriceError(f"{raw.strip()!r} is not a price ({mark!r} around the number)", _HOW)
        raise PriceError(
            f"{raw.strip()!r} is in {named}, but the shop's currency is {currency}",
            f'write prices in {currency} (nothing is converted), or set currency = "{named}" in shop.toml',
        )
    value = _number(number)
    if sign == "-" and value != 0:
        raise PriceError(f"{raw.strip()!r} is negative", "a price is 0 or more")
    if not math.isfinite(value):
        raise PriceError(f"{raw.strip()!r} is not a price", _HOW)
    return value

"""``shop.toml``: the shop's name, currency, support contacts, policies and curated FAQ, read with problems noted."""

from __future__ import annotations

import difflib
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final
from urllib.parse import urlsplit

from app.shop.price import DEFAULT_SYMBOLS
from app.shop.problems import Problems

SHOP_TOML: Final = "shop.toml"
SHOP_KEYS: Final = (
    "name",
    "currency",
    "currency_symbol",
    "description",
    "support_hours",
    "support_email",
    "website",
)
WIDGET_KEYS: Final = ("greeting", "suggestions", "link_domains")
ORDERS_KEYS: Final = ("return_window_days",)
FAQ_KEYS: Final = ("id", "topic", "questions", "answer")
# ``answer_de = """…"""``: the same answer in another language (ISO 639-1 code), for customers who write in it.
FAQ_ANSWER_IN: Final = re.compile(r"answer_([a-z]{2})")
# [support] (structured hours for the operators' inbox) is read by app/shop/hours.py.
TABLES: Final = ("shop", "policies", "faq", "widget", "orders", "support")
DEFAULT_NAME: Final = "Our shop"
DEFAULT_CURRENCY: Final = "GBP"
DEFAULT_RETURN_WINDOW_DAYS: Final = 30

_HEADER: Final = re.compile(r"^\s*(\[\[?)\s*([A-Za-z0-9_.-]+)\s*\]\]?")
_KEY: Final = re.compile(r"^\s*([A-Za-z0-9_-]+|\"[^\"]*\")\s*=")
_TOML_LINE: Final = re.compile(r"at line (\d+)")
_CURRENCY_CODE: Final = re.compile(r"[A-Z]{3}")
_DOMAIN: Final = re.compile(r"^[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*$")


@dataclass(frozen=True, slots=True)
class FaqEntry:
    """A curated answer and the ways customers ask for it."""

    faq_id: str
    questions: tuple[str, ...]
    answer: str
    topic: str = ""
    # The answer in other languages, by ISO 639-1 code ("de"); English (or the shop's own language) is ``answer``.
    answers: Mapping[str, str] = field(default_factory=dict, compare=False)

    def answer_in(self, lang: str) -> str | None:
        """The answer in ``lang`` when the shop wrote one (``answer`` itself for English), else None."""
        return self.answer if lang == "en" else self.answers.get(lang)


@dataclass(slots=True)
class Profile:
    """What ``shop.toml`` says; defaults fill what it leaves out."""

    name: str = DEFAULT_NAME
    currency: str = DEFAULT_CURRENCY
    currency_symbol: str = "£"
    description: str = ""
    support_hours: str = ""
    support_email: str = ""
    website: str = ""
    policies: dict[str, str] = field(default_factory=dict)
    faq: list[FaqEntry] = field(default_factory=list)
    greeting: str = ""
    suggestions: tuple[str, ...] = ()
    link_domains: tuple[str, ...] = ()
    return_window_days: int = DEFAULT_RETURN_WINDOW_DAYS


class _Lines:
    """Where tables and keys start in a TOML text, for messages; tomllib does not say."""

    def __init__(self, text: str) -> None:
        self.tables: dict[tuple[str, int], int] = {}
        self.keys: dict[tuple[str, int, str], int] = {}
        counts: dict[str, int] = {}
        table, index = "", 0
        in_string: str | None = None
        for number, line in enumerate(text.splitlines(), start=1):
            if in_string is None:
                header = _HEADER.match(line)
                if header:
                    table = header.group(2)
                    index = counts.get(table, 0) if header.group(1) == "[[" else 0
                    counts[table] = index + 1
                    self.tables.setdefault((table, index), number)
                else:
                    key = _KEY.match(line)
                    if key:
                        self.keys.setdefault((table, index, key.group(1).strip('"')), number)
            # Keys inside a multi-line string are text, not keys.
            for quote in ('"""', "'''"):
                if line.count(quote) % 2 and in_string in (None, quote):
                    in_string = None if in_string == quote else quote

    def of(self, table: str, index: int = 0, key: str | None = None) -> int | None:
        """The line of ``key`` in the table (the table's header if the key is not written there)."""
        if key is not None and (table, index, key) in self.keys:
            return self.keys[(table, index, key)]
        return self.tables.get((table, index))


def _suggest(word: str, choices: tuple[str, ...]) -> str:
    close = difflib.get_close_matches(word, choices, n=1)
    return f"did you mean {close[0]!r}? " if close else ""


def _text(value: object) -> str | None:
    return value.strip() if isinstance(value, str) else None


def read_profile(directory: Path, problems: Problems) -> Profile:
    """Read ``shop.toml`` from ``directory``; every problem goes to ``problems`` (the profile is still returned)."""
    path = directory / SHOP_TOML
    profile = Profile()
    try:
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        problems.error(
            SHOP_TOML,
            None,
            "the shop folder has no shop.toml",
            "create one with a [shop] table (name, currency, support_email …); see docs/shop.md",
            "missing_file",
        )
        return profile
    except UnicodeDecodeError as exc:
        problems.error(SHOP_TOML, None, f"not UTF-8 text ({exc.reason})", "save it as UTF-8", "encoding")
        return profile
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        at = _TOML_LINE.search(str(exc))
        problems.error(
            SHOP_TOML,
            int(at.group(1)) if at else None,
            f"not valid TOML: {exc}",
            "fix the syntax (strings in quotes, one key = value per line, [[faq]] before each entry)",
            "syntax",
        )
        return profile
    lines = _Lines(text)
    for table in data:
        if table not in TABLES:
            problems.warning(
                SHOP_TOML,
                lines.of(table),
                f"unknown table or key {table!r} is ignored",
                f"{_suggest(table, TABLES)}the file knows [shop], [policies], [[faq]], [widget], [orders] and [support]",
                "unknown_key",
            )
    _read_shop_table(data.get("shop"), lines, problems, profile)
    _read_policies(data.get("policies"), lines, problems, profile)
    _read_faq(data.get("faq"), lines, problems, profile)
    _read_widget(data.get("widget"), lines, problems, profile)
    _read_orders(data.get("orders"), lines, problems, profile)
    return profile


def _read_shop_table(table: object, lines: _Lines, problems: Problems, profile: Profile) -> None:
    if table is None:
        problems.warning(
            SHOP_TOML,
            None,
            f"no [shop] table: the assistant calls the shop {DEFAULT_NAME!r}, prices are in {DEFAULT_CURRENCY}"
            " and it has no support contact to offer",
            "add [shop] with name, currency, description, support_hours and support_email",
            "missing_table",
        )
        return
    if not isinstance(table, dict):
        problems.error(
            SHOP_TOML, lines.of("shop"), "'shop' must be a table", "write it as a [shop] section", "bad_value"
        )
        return
    values: dict[str, str] = {}
    for key, value in table.items():
        if key not in SHOP_KEYS:
            problems.warning(
                SHOP_TOML,
                lines.of("shop", 0, key),
                f"unknown key {key!r} in [shop] is ignored",
                f"{_suggest(key, SHOP_KEYS)}[shop] knows {', '.join(SHOP_KEYS)}",
                "unknown_key",
            )
            continue
        text = _text(value)
        if text is None:
            problems.error(
                SHOP_TOML,
                lines.of("shop", 0, key),
                f"[shop] {key} must be text, not {type(value).__name__}",
                f'write it in quotes: {key} = "…"',
                "bad_value",
            )
            continue
        values[key] = text
    profile.name = values.get("name") or DEFAULT_NAME
    currency = values.get("currency", "").upper()
    if not currency:
        problems.warning(
            SHOP_TOML,
            lines.of("shop"),
            f"[shop] has no currency: prices are taken to be in {DEFAULT_CURRENCY}",
            'add currency = "GBP" (or your currency\'s three-letter code)',
            "missing_key",
        )
        currency = DEFAULT_CURRENCY
    elif not _CURRENCY_CODE.fullmatch(currency):
        problems.warning(
            SHOP_TOML,
            lines.of("shop", 0, "currency"),
            f"currency {values['currency']!r} is not a three-letter code",
            'write the ISO 4217 code, such as "GBP", "EUR" or "USD"',
            "bad_value",
        )
    profile.currency = currency
    profile.currency_symbol = values.get("currency_symbol") or DEFAULT_SYMBOLS.get(currency, f"{currency} ")
    profile.description = values.get("description", "")
    profile.support_hours = values.get("support_hours", "")
    profile.support_email = values.get("support_email", "")
    website = values.get("website", "")
    if website and (urlsplit(website).scheme not in ("http", "https") or not urlsplit(website).hostname):
        problems.error(
            SHOP_TOML,
            lines.of("shop", 0, "website"),
            f"[shop] website {website!r} is not an http(s) address",
            'write the full address, such as website = "https://www.your-shop.example"',
            "bad_value",
        )
    else:
        profile.website = website
    missing = {
        "name": f"the assistant calls the shop {DEFAULT_NAME!r}",
        "description": "the model knows nothing about what the shop sells",
        "support_email": "the assistant cannot tell customers how to reach a person",
        "support_hours": "the assistant cannot say when a person is available",
    }
    for key, effect in missing.items():
        if not values.get(key):
            problems.warning(
                SHOP_TOML,
                lines.of("shop"),
                f"[shop] has no {key}: {effect}",
                f'add {key} = "…" to [shop]',
                "missing_key",
            )


def _read_policies(table: object, lines: _Lines, problems: Problems, profile: Profile) -> None:
    if table is None or table == {}:
        problems.warning(
            SHOP_TOML,
            lines.of("policies"),
            "no [policies]: the model knows none of the shop's rules (returns, delivery, payment …)",
            'add a [policies] table, e.g. returns = "Unused items can be returned within 30 days …"',
            "missing_table",
        )
        return
    if not isinstance(table, dict):
        problems.error(
            SHOP_TOML,
            lines.of("policies"),
            "'policies' must be a table",
            'write it as a [policies] section of name = "text" lines',
            "bad_value",
        )
        return
    for key, value in table.items():
        text = _text(value)
        if not text:
            problems.error(
                SHOP_TOML,
                lines.of("policies", 0, key),
                f"policy {key!r} must be non-empty text",
                f'write it in quotes: {key} = "…"',
                "bad_value",
            )
            continue
        profile.policies[str(key)] = text


def _read_faq(entries: object, lines: _Lines, problems: Problems, profile: Profile) -> None:
    if entries is None or entries == []:
        problems.warning(
            SHOP_TOML,
            None,
            "no [[faq]] entries: the built-in responder can only describe products and offer a colleague",
            "add [[faq]] entries with id, questions and answer (see docs/shop.md)",
            "empty_faq",
        )
        return
    if not isinstance(entries, list) or not all(isinstance(e, dict) for e in entries):
        problems.error(
            SHOP_TOML,
            lines.of("faq"),
            "'faq' must be a list of entries",
            "start each entry with its own [[faq]] line (two brackets)",
            "bad_value",
        )
        return
    seen: dict[str, int] = {}
    for index, item in enumerate(entries):
        entry = _faq_entry(index, item, lines, problems)
        if entry is None:
            continue
        line = lines.of("faq", index)
        if entry.faq_id in seen:
            problems.error(
                SHOP_TOML,
                line,
                f"FAQ id {entry.faq_id!r} is used twice (also by entry {seen[entry.faq_id] + 1})",
                "give every [[faq]] entry its own id",
                "duplicate_id",
            )
            continue
        seen[entry.faq_id] = index
        profile.faq.append(entry)


def _faq_entry(index: int, item: dict[str, Any], lines: _Lines, problems: Problems) -> FaqEntry | None:
    line = lines.of("faq", index)
    raw_id = item.get("id")
    name = f"FAQ entry {index + 1}" + (f" ({raw_id!r})" if isinstance(raw_id, str | int) else "")
    ok = True
    answers: dict[str, str] = {}
    for key in item:
        translated = FAQ_ANSWER_IN.fullmatch(key)
        if translated is not None:
            text = _text(item[key])
            if text:
                answers[translated.group(1)] = text
            else:
                problems.error(
                    SHOP_TOML,
                    lines.of("faq", index, key),
                    f"{name}: {key} must be non-empty text",
                    f'write {key} = """…""" with the answer in that language, or leave it out',
                    "bad_value",
                )
                ok = False
        elif key not in FAQ_KEYS:
            problems.warning(
                SHOP_TOML,
                lines.of("faq", index, key),
                f"{name}: unknown key {key!r} is ignored",
                f"{_suggest(key, FAQ_KEYS)}an entry has id, topic, questions, answer and answer_<language> "
                "(e.g. answer_de)",
                "unknown_key",
            )
    if isinstance(raw_id, bool) or not isinstance(raw_id, str | int) or not str(raw_id).strip():
        problems.error(
            SHOP_TOML,
            line,
            f"{name} has no id",
            'add id = "…", a short unique name such as "returns"',
            "missing_key",
        )
        ok = False
    questions = item.get("questions")
    if isinstance(questions, str):
        questions = [questions]
    if not isinstance(questions, list) or not questions:
        problems.error(
            SHOP_TOML,
            lines.of("faq", index, "questions"),
            f"{name} has no questions",
            'add questions = ["How do I …?", "Can I …?"]: the ways customers ask for this answer',
            "missing_key",
        )
        ok = False
    elif not all(isinstance(q, str) and q.strip() for q in questions):
        problems.error(
            SHOP_TOML,
            lines.of("faq", index, "questions"),
            f"{name}: every question must be non-empty text",
            'write questions = ["…", "…"] with each question in quotes',
            "bad_value",
        )
        ok = False
    answer = _text(item.get("answer"))
    if not answer:
        problems.error(
            SHOP_TOML,
            lines.of("faq", index, "answer"),
            f"{name} has no answer",
            'add answer = """…""" with the text the assistant should reply',
            "missing_key",
        )
        ok = False
    topic = item.get("topic", "")
    if not isinstance(topic, str):
        problems.error(
            SHOP_TOML,
            lines.of("faq", index, "topic"),
            f"{name}: topic must be text",
            'write it in quotes: topic = "delivery"',
            "bad_value",
        )
        ok = False
    if not ok or answer is None or not isinstance(questions, list):
        return None
    return FaqEntry(
        faq_id=str(raw_id).strip(),
        questions=tuple(q.strip() for q in questions),
        answer=answer,
        topic=topic.strip(),
        answers=answers,
    )


def _read_widget(table: object, lines: _Lines, problems: Problems, profile: Profile) -> None:
    """``[widget]``: the greeting, its suggestion chips and the domains whose links the widget makes clickable."""
    if table is None:
        return
    if not isinstance(table, dict):
        problems.error(
            SHOP_TOML,
            lines.of("widget"),
            "'widget' must be a table",
            "write it as a [widget] section",
            "bad_value",
        )
        return
    for key in table:
        if key not in WIDGET_KEYS:
            problems.warning(
                SHOP_TOML,
                lines.of("widget", 0, key),
                f"unknown key {key!r} in [widget] is ignored",
                f"{_suggest(key, WIDGET_KEYS)}[widget] knows {', '.join(WIDGET_KEYS)}",
                "unknown_key",
            )
    greeting = table.get("greeting", "")
    if isinstance(greeting, str):
        profile.greeting = greeting.strip()
    else:
        problems.error(
            SHOP_TOML,
            lines.of("widget", 0, "greeting"),
            f"[widget] greeting must be text, not {type(greeting).__name__}",
            'write it in quotes: greeting = "Hi! How can I help?"',
            "bad_value",
        )
    lists: dict[str, tuple[str, ...]] = {}
    for key in ("suggestions", "link_domains"):
        value = table.get(key, [])
        if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
            problems.error(
                SHOP_TOML,
                lines.of("widget", 0, key),
                f"[widget] {key} must be a list of non-empty strings",
                f'write it as {key} = ["…", "…"]',
                "bad_value",
            )
            continue
        lists[key] = tuple(v.strip() for v in value)
    profile.suggestions = lists.get("suggestions", ())
    domains: list[str] = []
    for domain in lists.get("link_domains", ()):
        host = (urlsplit(domain).hostname or "") if "://" in domain else domain.lower().strip(".")
        if not _DOMAIN.match(host):
            problems.error(
                SHOP_TOML,
                lines.of("widget", 0, "link_domains"),
                f"[widget] link_domains: {domain!r} is not a domain name",
                'write the bare domain, such as "your-shop.example"',
                "bad_value",
            )
            continue
        domains.append(host)
    profile.link_domains = tuple(domains)


def _read_orders(table: object, lines: _Lines, problems: Problems, profile: Profile) -> None:
    """``[orders]``: the rules the order tools enforce (the return window, in days after delivery)."""
    if table is None:
        return
    if not isinstance(table, dict):
        problems.error(
            SHOP_TOML,
            lines.of("orders"),
            "'orders' must be a table",
            "write it as an [orders] section",
            "bad_value",
        )
        return
    for key in table:
        if key not in ORDERS_KEYS:
            problems.warning(
                SHOP_TOML,
                lines.of("orders", 0, key),
                f"unknown key {key!r} in [orders] is ignored",
                f"{_suggest(key, ORDERS_KEYS)}[orders] knows {', '.join(ORDERS_KEYS)}",
                "unknown_key",
            )
    days = table.get("return_window_days", DEFAULT_RETURN_WINDOW_DAYS)
    # bool is an int in Python; ``true`` is not a number of days.
    if isinstance(days, bool) or not isinstance(days, int) or not 0 <= days <= 3650:
        problems.error(
            SHOP_TOML,
            lines.of("orders", 0, "return_window_days"),
            f"[orders] return_window_days must be a whole number of days from 0 to 3650, not {days!r}",
            "write it without quotes, such as return_window_days = 30",
            "bad_value",
        )
        return
    profile.return_window_days = days

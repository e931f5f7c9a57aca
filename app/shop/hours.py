"""The shop's support hours from ``shop.toml``'s ``[support]`` table: when a person can join a chat.

::

    [support]
    hours = { mon = "09:00-17:30", tue = "09:00-17:30", sat = "10:00-13:00, 14:00-16:00" }
    timezone = "Europe/London"

Days not listed are closed. Without ``hours`` the shop has no stated hours: people may join at any time
(whether one is online decides). ``[shop] support_hours`` stays the words the assistant tells customers.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field
from datetime import datetime, time
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from app.errors import ConfigError

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_SPAN = re.compile(r"^\s*(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})\s*$")


@dataclass(frozen=True, slots=True)
class SupportHours:
    """Opening spans per weekday (0 = Monday) in ``timezone``; ``always`` when the shop states none."""

    spans: dict[int, tuple[tuple[time, time], ...]] = field(default_factory=dict)
    timezone: str = "UTC"
    always: bool = True

    def open_at(self, when: datetime) -> bool:
        """Whether ``when`` (timezone-aware) falls in the hours."""
        if self.always:
            return True
        local = when.astimezone(ZoneInfo(self.timezone))
        now = local.time()
        return any(start <= now < end for start, end in self.spans.get(local.weekday(), ()))


def _span(day: str, text: str) -> tuple[time, time]:
    found = _SPAN.match(text)
    if found is None:
        raise ConfigError(f'[support] hours.{day}: {text!r} is not like "09:00-17:30"')
    h1, m1, h2, m2 = (int(g) for g in found.groups())
    if h2 == 24 and m2 == 0:
        h2, m2 = 23, 59
    try:
        start, end = time(h1, m1), time(h2, m2)
    except ValueError:
        raise ConfigError(f"[support] hours.{day}: {text!r} is not a time of day") from None
    if end <= start:
        raise ConfigError(f"[support] hours.{day}: {text!r} ends before it starts")
    return start, end


def parse_support(table: dict[str, Any]) -> SupportHours:
    """``SupportHours`` from a ``[support]`` table; a clear ``ConfigError`` for anything malformed."""
    zone = table.get("timezone", "UTC")
    if not isinstance(zone, str):
        raise ConfigError('[support] timezone must be a name such as "Europe/London"')
    try:
        ZoneInfo(zone)
    except (ZoneInfoNotFoundError, ValueError):
        raise ConfigError(f"[support] timezone: unknown time zone {zone!r}") from None
    hours = table.get("hours")
    if hours is None:
        return SupportHours(timezone=zone)
    if not isinstance(hours, dict):
        raise ConfigError('[support] hours must be a table such as { mon = "09:00-17:00" }')
    spans: dict[int, tuple[tuple[time, time], ...]] = {}
    for day, value in hours.items():
        if day not in DAYS:
            raise ConfigError(f"[support] hours: unknown day {day!r} (use {', '.join(DAYS)})")
        if not isinstance(value, str):
            raise ConfigError(f'[support] hours.{day} must be a string such as "09:00-17:00"')
        spans[DAYS.index(day)] = tuple(_span(day, part) for part in value.split(",") if part.strip())
    return SupportHours(spans=spans, timezone=zone, always=False)


def load_support_hours(shop_dir: Path) -> SupportHours:
    """The hours in ``shop_dir/shop.toml`` (always open when it has no ``[support]`` table)."""
    path = shop_dir / "shop.toml"
    if not path.is_file():
        return SupportHours()
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read it: {exc}") from exc
    table = data.get("support")
    if table is None:
        return SupportHours()
    if not isinstance(table, dict):
        raise ConfigError(f"{path}: [support] must be a table")
    return parse_support(table)

"""Structured support hours from shop.toml's [support] table."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from app.errors import ConfigError
from app.shop.hours import SupportHours, load_support_hours, parse_support

# Monday 7 December 2026; London is on UTC in winter.
MONDAY_10 = datetime(2026, 12, 7, 10, 0, tzinfo=UTC)
MONDAY_18 = datetime(2026, 12, 7, 18, 0, tzinfo=UTC)
SUNDAY_10 = datetime(2026, 12, 6, 10, 0, tzinfo=UTC)


def test_hours_are_open_within_a_days_span_only() -> None:
    hours = parse_support({"hours": {"mon": "09:00-17:30"}, "timezone": "Europe/London"})
    assert [hours.open_at(t) for t in (MONDAY_10, MONDAY_18, SUNDAY_10)] == [True, False, False]


def test_hours_are_read_in_the_shops_time_zone() -> None:
    hours = parse_support({"hours": {"mon": "09:00-17:00"}, "timezone": "America/New_York"})
    assert not hours.open_at(MONDAY_10)  # 05:00 in New York
    assert hours.open_at(MONDAY_18)  # 13:00 in New York


def test_a_day_may_have_several_spans() -> None:
    hours = parse_support({"hours": {"mon": "08:00-09:00, 17:00-19:00"}})
    assert [hours.open_at(t) for t in (MONDAY_10, MONDAY_18)] == [False, True]


def test_no_stated_hours_means_always_open() -> None:
    assert parse_support({}).open_at(SUNDAY_10)
    assert SupportHours().open_at(MONDAY_18)


@pytest.mark.parametrize(
    ("table", "says"),
    [
        ({"hours": {"monday": "09:00-17:00"}}, "unknown day 'monday'"),
        ({"hours": {"mon": "9 to 5"}}, "is not like"),
        ({"hours": {"mon": "17:00-09:00"}}, "ends before it starts"),
        ({"hours": {"mon": "25:00-26:00"}}, "not a time of day"),
        ({"timezone": "Mars/Olympus"}, "unknown time zone"),
        ({"hours": "9-5"}, "must be a table"),
    ],
)
def test_malformed_hours_are_refused_with_what_is_wrong(table: dict[str, object], says: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_support(table)
    assert says in caught.value.message


def test_hours_are_loaded_from_the_shop_folder(tmp_path: Path) -> None:
    (tmp_path / "shop.toml").write_text(
        '[shop]\nname = "X"\n[support]\nhours = { sun = "09:00-12:00" }\ntimezone = "UTC"\n', encoding="utf-8"
    )
    assert load_support_hours(tmp_path).open_at(SUNDAY_10)
    assert not load_support_hours(tmp_path).open_at(MONDAY_10)

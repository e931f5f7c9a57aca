"""Prices as shop owners write them: accepted forms and clear refusals."""

from __future__ import annotations

import pytest

from app.shop.price import PriceError, parse_price


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("9.50", 9.5),
        ("9,50", 9.5),
        ("9", 9.0),
        ("£9.50", 9.5),
        ("9.50 £", 9.5),
        ("£ 9.50", 9.5),
        ("9.50 GBP", 9.5),
        ("gbp 9.50", 9.5),
        ("1,234.50", 1234.5),
        ("1.234,50", 1234.5),
        ("1 234,50", 1234.5),
        ("1'234.50", 1234.5),
        ("1,234,567", 1234567.0),
        ("0.001", 0.001),
        ("0", 0.0),
    ],
)
def test_common_forms_are_read(text: str, value: float) -> None:
    assert parse_price(text, "GBP", "£") == pytest.approx(value)


def test_the_shops_own_currency_code_and_symbol_are_accepted() -> None:
    assert parse_price("9,50 EUR", "EUR", "€") == pytest.approx(9.5)
    assert parse_price("€9,50", "EUR", "€") == pytest.approx(9.5)


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("9,50 EUR", "is in EUR, but the shop's currency is GBP"),
        ("$9.50", "is in USD"),
        ("1,234", "ambiguous"),
        ("-2.50", "negative"),
        ("", "empty"),
        ("nine fifty", "not a price"),
        ("9.50 each", "not a price"),
        ("9.50 10.00", "not a price"),
        ("nan", "not a price"),
    ],
)
def test_other_forms_are_refused_with_a_reason(text: str, says: str) -> None:
    with pytest.raises(PriceError) as caught:
        parse_price(text, "GBP", "£")
    assert says in caught.value.what
    assert caught.value.fix

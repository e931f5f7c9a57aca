"""PII redaction: true positives with typed, consistent placeholders, and what must stay untouched."""

from __future__ import annotations

from typing import Any

import pytest

from finetune.pii import Redaction, Redactor, default_detectors, iban_valid, luhn_valid


def redact(text: str) -> str:
    return Redactor().redact(text, Redaction())


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("write to jane.doe@example.co.uk today", "write to [EMAIL_1] today"),
        ("call +44 20 7946 0958 now", "call [PHONE_1] now"),
        ("call 020 7946 0958", "call [PHONE_1]"),
        ("call (555) 123-4567", "call [PHONE_1]"),
        ("mobile 07700900123", "mobile [PHONE_1]"),
        ("card 4111 1111 1111 1111 expires", "card [CARD_1] expires"),
        ("pay to GB82 WEST 1234 5698 7654 32 please", "pay to [IBAN_1] please"),
        ("send it to 221B Baker Street, London NW1 6XE", "send it to [ADDRESS_1]"),
        ("cancel purchase 113542617735902?", "cancel purchase [ORDER_1]?"),
        ("my order number is 12345", "my order number is [ORDER_1]"),
        ("the order with the number 00004587345", "the order with the number [ORDER_1]"),
        ("account number 4827364", "account number [ACCOUNT_1]"),
        ("help to remove an item from order113542617735902", "help to remove an item from order[ORDER_1]"),
    ],
)
def test_redacts_pii_with_typed_placeholders(text: str, expected: str) -> None:
    assert redact(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "Do you still sell 85123A and 22423?",
        "The REGENCY CAKESTAND costs £12.75, two cost £25.50",
        "Total: $1,299.00 or €1.234,56",
        "Delivered on 2011-12-09, 09/12/2011 or 9 December 2011 at 10:30",
        "I'd like to order 22423 x 12 and 48 of 84879",
        "We need 10 000 units by 12.03.2024",
        "The card 4111 1111 1111 1112 fails Luhn",
        "GB00 WEST 1234 5698 7654 32 fails the IBAN checksum",
        "Reference {{Order Number}} stays a template slot",
        "Order 2 boxes of 24 each",
    ],
)
def test_leaves_product_codes_prices_dates_and_quantities(text: str) -> None:
    assert redact(text) == text


def test_same_value_gets_same_placeholder_across_a_conversation() -> None:
    messages: list[Any] = [
        {"role": "user", "content": "I'm JANE@example.com, order 55501234 is late"},
        {
            "role": "assistant",
            "content": "Thanks jane@example.com, 55501234 ships today. Other: bob@example.com",
        },
    ]
    state = Redactor().redact_messages(messages)
    assert messages[0]["content"] == "I'm [EMAIL_1], order [ORDER_1] is late"
    assert messages[1]["content"] == "Thanks [EMAIL_1], [ORDER_1] ships today. Other: [EMAIL_2]"
    assert state.per_kind == {"EMAIL": 2, "ORDER": 1}


def test_numbering_restarts_per_conversation() -> None:
    redactor = Redactor()
    first: list[Any] = [{"role": "user", "content": "a@example.com"}]
    second: list[Any] = [{"role": "user", "content": "b@example.com"}]
    redactor.redact_messages(first)
    redactor.redact_messages(second)
    assert first[0]["content"] == second[0]["content"] == "[EMAIL_1]"


def test_custom_id_pattern_replaces_defaults() -> None:
    redactor = Redactor(default_detectors((("TICKET", r"TCK-(?P<value>\d{4})"),)))
    assert (
        redactor.redact("see TCK-1234 and order number 99887766", Redaction())
        == "see TCK-[TICKET_1] and order number 99887766"
    )


def test_luhn_and_iban_checksums() -> None:
    assert luhn_valid("4111111111111111")
    assert not luhn_valid("4111111111111112")
    assert iban_valid("DE89 3704 0044 0532 0130 00")
    assert not iban_valid("DE88 3704 0044 0532 0130 00")


@pytest.mark.parametrize(
    "number",
    [
        # UK
        "07700 900123",
        "07700 900 123",
        "07700-900123",
        "07700.900.123",
        "020 7946 0958",
        "(020) 7946 0958",
        "+44 7700 900123",
        "+44 (0)7700 900123",
        "+44-7700-900123",
        "+44.7700.900123",
        # US
        "555 123 4567",
        "555-123-4567",
        "555.123.4567",
        "(555) 123-4567",
        "(555)123-4567",
        "1-555-123-4567",
        "+1 555 123 4567",
        "+1 (555) 123-4567",
        # Germany
        "030 12345678",
        "030-12345678",
        "0171 1234567",
        "(0171) 1234567",
        "+49 30 12345678",
        "+49 (0)30 12345678",
        "0049 30 12345678",
        # elsewhere
        "+33 1 23 45 67 89",
        "+353 87 123 4567",
        "+91 98765 43210",
        "+86 138 0013 8000",
    ],
)
def test_phone_numbers_in_every_common_grouping_are_redacted(number: str) -> None:
    assert redact(f"call me on {number} please") == "call me on [PHONE_1] please"


@pytest.mark.parametrize(
    "text",
    [
        "Delivered on 01.02.2023 10:30",
        "Shipped 2023-01-15 10:30, arrives 2023-01-17 1030",
        "Posted on 12/01/2023 at 09:15",
        "Order placed 15.01.2024 14 items",
        "Prices: £1,234.56, 0.99 0.99 0.99 or 1 234,50 EUR",
        "We need 10 000 units and 20 000 more",
        "tracking 1Z999AA10123456784 and version 10.0.19045.2965",
    ],
)
def test_dates_prices_and_codes_with_phone_like_digits_stay(text: str) -> None:
    assert redact(text) == text


def test_an_order_number_is_an_order_not_a_phone() -> None:
    assert redact("my order number is 0770090012") == "my order number is [ORDER_1]"

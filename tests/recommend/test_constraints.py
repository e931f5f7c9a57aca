"""Price caps, keywords and referred-to products parsed from customers' messages."""

from __future__ import annotations

import pytest

from app.shop.recommend.constraints import Constraints, parse_constraints

VOCABULARY = {"mug", "christmas", "candle", "red", "gift", "bag", "lunch", "tea"}


@pytest.mark.parametrize(
    ("message", "cap"),
    [
        ("a gift under £10?", 10.0),
        ("something less than 5 pounds", 5.0),
        ("anything below £7.50", 7.5),
        ("cheaper than £3 please", 3.0),
        ("£12 or less", 12.0),
        ("stocking fillers under 50p", 0.5),
        ("up to 4.99", 4.99),
    ],
)
def test_price_caps(message: str, cap: float) -> None:
    assert parse_constraints(message).max_price == pytest.approx(cap)


def test_price_range_between() -> None:
    parsed = parse_constraints("a present between £5 and £15")
    assert (parsed.min_price, parsed.max_price) == (5.0, 15.0)


def test_price_floor() -> None:
    assert parse_constraints("something over £20").min_price == 20.0


def test_no_price_means_no_bounds() -> None:
    parsed = parse_constraints("recommend me something")
    assert (parsed.min_price, parsed.max_price) == (None, None)


def test_keywords_are_singular_catalogue_words() -> None:
    assert parse_constraints("any Christmas candles?", VOCABULARY).keywords == ("christmas", "candle")


def test_gift_is_not_a_keyword() -> None:
    assert parse_constraints("recommend a gift under £5", VOCABULARY).keywords == ()


def test_words_outside_the_vocabulary_are_ignored() -> None:
    assert parse_constraints("a red spaceship mug", VOCABULARY).keywords == ("red", "mug")


def test_goes_with_names_an_anchor_not_a_filter() -> None:
    parsed = parse_constraints("what goes with the mug I bought?", VOCABULARY)
    assert (parsed.anchors, parsed.keywords) == (("mug",), ())


def test_allows_price_is_inclusive() -> None:
    bounds = Constraints(max_price=5.0, min_price=1.0)
    assert [bounds.allows_price(p) for p in (0.99, 1.0, 5.0, 5.01)] == [False, True, True, False]


@pytest.mark.parametrize(
    "message",
    ["what should I buy next?", "what's popular right now?", "pick something for me", "your favourite item?"],
)
def test_request_words_are_not_product_keywords(message: str) -> None:
    # "next", "top", "favourite" … are words of product names too ("Next Day Carriage").
    vocabulary = VOCABULARY | {"next", "day", "popular", "pick", "favourite", "item", "top"}
    assert parse_constraints(message, vocabulary).keywords == ()


@pytest.mark.parametrize(
    "message",
    ["I sent you a message, what should I get?", "can you help me, I have a question", "email me some ideas"],
)
def test_chat_words_are_not_product_keywords(message: str) -> None:
    # "12 Message Cards with Envelopes" is for sale; a customer's message about messages is not asking for it.
    vocabulary = VOCABULARY | {"message", "help", "question", "email", "idea"}
    assert parse_constraints(message, vocabulary).keywords == ()


@pytest.mark.parametrize(
    ("message", "cheaper", "dearer", "fresh"),
    [
        ("Can you recommend something cheaper?", True, False, False),
        ("those are too expensive", True, False, False),
        ("something more expensive", False, True, False),
        ("something different", False, False, True),
        ("show me more", False, False, True),
        ("anything else?", False, False, True),
        ("more than £5", False, False, False),
        ("recommend me something", False, False, False),
        ("Kannst du mir etwas Günstigeres empfehlen?", True, False, False),
        ("das ist mir zu teuer", True, False, False),
        ("etwas Teureres bitte", False, True, False),
    ],
)
def test_follow_up_words(message: str, cheaper: bool, dearer: bool, fresh: bool) -> None:
    parsed = parse_constraints(message)
    assert (parsed.cheaper, parsed.dearer, parsed.fresh) == (cheaper, dearer, fresh)


def test_cheaper_is_below_the_cheapest_price_shown() -> None:
    bounds = parse_constraints("something cheaper").after((1.69, 12.75, 4.95))
    assert bounds.max_price is not None
    assert not bounds.allows_price(1.69)
    assert bounds.allows_price(1.68)


def test_cheaper_with_nothing_shown_has_no_bound() -> None:
    assert parse_constraints("something cheaper").after(()).max_price is None


def test_a_named_cap_wins_over_cheaper() -> None:
    assert parse_constraints("cheaper than £3").after((1.0, 2.0)).max_price == 3.0

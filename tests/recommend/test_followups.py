"""Recommendation slips on the demo shop: "buy next", non-products, "cheaper", "something different"."""

from __future__ import annotations

import pytest

from app.shop.catalog import Shop
from app.shop.recommend.service import DEFAULT_MODEL_PATH, ShopRecommender
from app.shop.recommender import PopularityRecommender, Recommendation, Recommender, Shown

CUSTOMERS = [None, "12347", "12748"]


@pytest.fixture(scope="module")
def service(shop: Shop) -> ShopRecommender:
    return ShopRecommender(shop, DEFAULT_MODEL_PATH)


def shown_by(cards: list[Recommendation], before: Shown | None = None) -> Shown:
    earlier = before.product_ids if before else frozenset()
    return Shown(earlier | {c.product_id for c in cards}, tuple(c.price for c in cards))


def test_buy_next_as_a_known_customer_gets_personal_goods(service: ShopRecommender) -> None:
    cards = service.recommend("12748", "what should I buy next?", n=4)
    assert len(cards) == 4
    assert all(c.reason.startswith("Customers who bought ") for c in cards)
    assert "Next Day Carriage" not in {c.name for c in cards}


@pytest.mark.parametrize("customer", CUSTOMERS)
@pytest.mark.parametrize(
    "query", ["next day carriage", "what about postage?", "packing charge", "a high resolution image"]
)
def test_postage_and_fees_never_become_cards(
    service: ShopRecommender, shop: Shop, customer: str | None, query: str
) -> None:
    cards = service.recommend(customer, query, n=10)
    assert all(shop.products[c.product_id].is_product for c in cards)


def test_reasons_never_name_a_charge(service: ShopRecommender, shop: Shop) -> None:
    # 12748 bought Next Day Carriage; it must not be the purchase a suggestion is explained by.
    charges = {p.name for p in shop.products.values() if not p.is_product}
    cards = service.recommend("12748", "recommend me something", n=20)
    assert not any(name in c.reason for c in cards for name in charges)


def test_best_sellers_without_purchases_skip_charges(shop: Shop) -> None:
    cards = PopularityRecommender(shop).recommend(None, "recommend me something", n=50)
    assert len(cards) == 50
    assert all(shop.products[c.product_id].is_product for c in cards)


@pytest.mark.parametrize("customer", CUSTOMERS)
def test_cheaper_is_cheaper_than_every_card_just_shown(
    service: ShopRecommender, customer: str | None
) -> None:
    first = service.recommend(customer, "recommend me something", n=4)
    cheaper = service.recommend(customer, "Can you recommend something cheaper?", n=4, shown=shown_by(first))
    assert len(cheaper) == 4
    assert max(c.price for c in cheaper) < min(c.price for c in first)


def test_the_german_cheaper_quick_reply_is_cheaper_than_the_cards_just_shown(
    service: ShopRecommender,
) -> None:
    first = service.recommend(None, "recommend me something", n=4)
    cheaper = service.recommend(
        None, "Kannst du mir etwas Günstigeres empfehlen?", n=4, shown=shown_by(first)
    )
    assert cheaper
    assert max(c.price for c in cheaper) < min(c.price for c in first)


def test_more_expensive_is_dearer_than_every_card_just_shown(service: ShopRecommender) -> None:
    first = service.recommend("12347", "recommend me something", n=4)
    dearer = service.recommend("12347", "something more expensive", n=4, shown=shown_by(first))
    assert dearer
    assert min(c.price for c in dearer) > max(c.price for c in first)


def test_a_named_price_wins_over_the_cards(service: ShopRecommender) -> None:
    first = service.recommend(None, "recommend me something", n=4)  # £1.69-£12.75
    cards = service.recommend(None, "anything cheaper than £3?", n=4, shown=shown_by(first))
    assert cards
    assert all(c.price <= 3 for c in cards)
    assert any(c.price > min(x.price for x in first) for c in cards)


@pytest.mark.parametrize("customer", CUSTOMERS)
@pytest.mark.parametrize("query", ["something different", "show me more", "anything else?", "other ideas?"])
def test_different_or_more_repeats_nothing_shown(
    service: ShopRecommender, customer: str | None, query: str
) -> None:
    first = service.recommend(customer, "recommend me something", n=4)
    second = service.recommend(customer, query, n=4, shown=shown_by(first))
    third = service.recommend(customer, query, n=4, shown=shown_by(second, shown_by(first)))
    ids = [c.product_id for c in first + second + third]
    assert len(second) == len(third) == 4
    assert len(set(ids)) == len(ids)


def test_without_a_follow_up_word_the_same_request_gives_the_same_cards(service: ShopRecommender) -> None:
    first = service.recommend("12347", "recommend me something", n=4)
    again = service.recommend("12347", "recommend me something", n=4, shown=shown_by(first))
    assert [c.product_id for c in again] == [c.product_id for c in first]


def test_popularity_recommender_follows_the_same_rules(shop: Shop) -> None:
    recommender: Recommender = PopularityRecommender(shop)
    first = recommender.recommend(None, "recommend me something", n=4)
    cheaper = recommender.recommend(None, "something cheaper", n=4, shown=shown_by(first))
    different = recommender.recommend(None, "something different", n=4, shown=shown_by(first))
    assert cheaper
    assert max(c.price for c in cheaper) < min(c.price for c in first)
    assert different
    assert not {c.product_id for c in different} & {c.product_id for c in first}

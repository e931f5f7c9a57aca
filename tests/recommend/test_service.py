"""ShopRecommender on the shipped demo shop and model."""

from __future__ import annotations

import pytest

from app.shop.catalog import Shop
from app.shop.recommend.service import DEFAULT_MODEL_PATH, ShopRecommender
from app.shop.recommender import Recommender


@pytest.fixture(scope="module")
def service(shop: Shop) -> ShopRecommender:
    return ShopRecommender(shop, DEFAULT_MODEL_PATH)


def test_is_a_recommender(service: ShopRecommender) -> None:
    recommender: Recommender = service
    assert recommender.recommend(None, "hello", 1)


def test_known_customer_gets_unbought_items_with_reasons(service: ShopRecommender, shop: Shop) -> None:
    bought = {p.product_id for p in shop.customer_purchases("12347")}
    suggestions = service.recommend("12347", "recommend me something", n=5)
    assert len(suggestions) == 5
    assert all(s.product_id not in bought for s in suggestions)
    assert all(s.reason.startswith("Customers who bought ") for s in suggestions)


def test_price_cap_is_honoured(service: ShopRecommender) -> None:
    suggestions = service.recommend("12347", "recommend a gift under £5", n=5)
    assert len(suggestions) == 5
    assert all(s.price <= 5 for s in suggestions)


def test_keyword_restricts_to_matching_names(service: ShopRecommender) -> None:
    suggestions = service.recommend(None, "any christmas candles?", n=3)
    assert suggestions
    assert all("christmas" in s.name.lower() and "candle" in s.name.lower() for s in suggestions)


def test_goes_with_suggests_co_purchases_of_the_named_product(service: ShopRecommender) -> None:
    suggestions = service.recommend(None, "what goes with the mug I bought?", n=5)
    assert len(suggestions) == 5
    assert all(s.reason.startswith("Customers who bought ") and "Mug" in s.reason for s in suggestions)


def test_anonymous_visitor_gets_best_sellers(service: ShopRecommender, shop: Shop) -> None:
    suggestions = service.recommend(None, "recommend me something", n=3)
    top = sorted(shop.products.values(), key=lambda p: -p.n_customers)[0]
    assert suggestions[0].product_id == top.product_id
    assert suggestions[0].reason.startswith("A best seller")


def test_impossible_constraints_give_nothing(service: ShopRecommender) -> None:
    assert service.recommend("12347", "a mug under 1p", n=5) == []

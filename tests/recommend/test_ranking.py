"""top_n, co-purchase suggestions, popularity fallback and explanations."""

from __future__ import annotations

from app.shop.recommend import KNNRecommender

# Everybody who bought tea also bought a pot; cups are the best seller but unrelated to tea.
BASKETS = {
    "u1": ["tea", "pot", "cup"],
    "u2": ["tea", "pot"],
    "u3": ["tea", "pot", "cup"],
    "u4": ["cup", "plate"],
    "u5": ["cup", "plate"],
    "u6": ["cup", "spoon"],
    "u7": ["tea"],
}


def model() -> KNNRecommender:
    users = [u for u, items in BASKETS.items() for _ in items]
    items = [i for basket in BASKETS.values() for i in basket]
    return KNNRecommender(kind="item").fit(users, items, [1.0] * len(items))


def test_top_n_excludes_items_the_user_already_has() -> None:
    ranked = [item for item, _ in model().top_n("u1", n=10)]
    assert set(ranked).isdisjoint({"tea", "pot", "cup"})


def test_top_n_ranks_co_purchased_items_first() -> None:
    assert model().top_n("u7", n=1)[0][0] == "pot"


def test_top_n_respects_candidates() -> None:
    ranked = [item for item, _ in model().top_n("u7", n=5, candidates=["plate", "spoon", "unknown"])]
    assert set(ranked) <= {"plate", "spoon"}
    assert ranked


def test_top_n_can_include_seen_items() -> None:
    ranked = [item for item, _ in model().top_n("u2", n=10, exclude_seen=False)]
    assert "tea" in ranked


def test_unknown_user_gets_popular_items() -> None:
    assert [item for item, _ in model().top_n("stranger", n=2)] == ["cup", "tea"]


def test_basket_of_a_new_customer_gets_co_purchases() -> None:
    ranked = model().top_n_for_items(["pot"], n=1)
    assert ranked[0][0] == "tea"


def test_unknown_basket_falls_back_to_popularity() -> None:
    assert model().top_n_for_items(["nothing-known"], n=1)[0][0] == "cup"


def test_explain_names_the_users_items_behind_a_suggestion() -> None:
    because = model().explain("pot", user="u7")
    assert [item for item, _ in because] == ["tea"]


def test_popular_counts_buyers() -> None:
    assert model().popular(1) == [("cup", 5.0)]

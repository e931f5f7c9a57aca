"""KNNRecommender on hand-computed cases: the formula, each similarity, cold start and the knobs."""

from __future__ import annotations

import math

import numpy as np
import pytest

from app.shop.recommend import KNNRecommender

Triples = tuple[list[str], list[str], list[float]]


def fit(triples: Triples, **options: object) -> KNNRecommender:
    return KNNRecommender(**options).fit(*triples)  # type: ignore[arg-type]


def test_user_cosine_with_means_matches_hand_computation(hand_triples: Triples) -> None:
    # sim(A,B) = 21/sqrt(442), sim(A,D) = 9/sqrt(442); means A=3, B=7/3, D=10/3:
    # 3 + (21(2 - 7/3) + 9(5 - 10/3)) / 30 = 49/15; for C: 7/3 + (9(2 - 7/3) + 21(5 - 10/3)) / 30 = 3.4.
    model = fit(hand_triples, kind="user", similarity="cosine")
    assert model.predict(["A", "C"], ["3", "3"]) == pytest.approx([49 / 15, 3.4], abs=1e-12)


def test_k_limits_the_neighbourhood_to_the_most_similar(hand_triples: Triples) -> None:
    # With k=1 only B (the most similar rater of item 3) counts: 3 + (2 - 7/3).
    model = fit(hand_triples, kind="user", similarity="cosine", k=1)
    assert model.predict(["A"], ["3"])[0] == pytest.approx(3 + 2 - 7 / 3)


def test_basic_drops_the_means(hand_triples: Triples) -> None:
    model = fit(hand_triples, kind="user", similarity="cosine", with_means=False)
    assert model.predict(["A"], ["3"])[0] == pytest.approx((21 * 2 + 9 * 5) / 30)


def test_cosine_similarity_over_common_items(hand_triples: Triples) -> None:
    model = fit(hand_triples, kind="user", similarity="cosine")
    a, b = model._users.index_of("A"), model._users.index_of("B")
    assert model.sim[a, b] == pytest.approx(21 / math.sqrt(442))


def test_pearson_similarity_over_common_items() -> None:
    # u = (1, 2, 3), v = (2, 2, 4): centred (-1, 0, 1) and (-2/3, -2/3, 4/3) -> sqrt(3)/2.
    model = KNNRecommender(similarity="pearson").fit(["u"] * 3 + ["v"] * 3, [1, 2, 3] * 2, [1, 2, 3, 2, 2, 4])
    assert model.sim[0, 1] == pytest.approx(math.sqrt(3) / 2)


def test_msd_similarity_is_inverse_of_mean_squared_difference_plus_one() -> None:
    # differences (1, 0, 1): msd = 2/3, similarity 1 / (2/3 + 1) = 0.6.
    model = KNNRecommender(similarity="msd").fit(["u"] * 3 + ["v"] * 3, [1, 2, 3] * 2, [1, 2, 3, 2, 2, 4])
    assert model.sim[0, 1] == pytest.approx(0.6)


def test_pearson_with_one_common_item_is_zero() -> None:
    model = KNNRecommender(similarity="pearson").fit(["u", "u", "v", "v"], [1, 2, 1, 3], [5, 1, 4, 2])
    assert model.sim[0, 1] == 0.0


def test_min_support_zeroes_pairs_with_too_few_common_items(hand_triples: Triples) -> None:
    # Every pair of users shares at most 3 items, so with min_support=4 nobody is a neighbour.
    model = fit(hand_triples, kind="user", similarity="cosine", min_support=4)
    assert model.predict(["A"], ["3"])[0] == pytest.approx(3.0)


def test_min_k_falls_back_to_the_mean_with_means(hand_triples: Triples) -> None:
    model = fit(hand_triples, kind="user", similarity="cosine", min_k=3)
    assert model.predict(["A"], ["3"])[0] == pytest.approx(3.0)


def test_min_k_makes_basic_impossible_and_global_mean(hand_triples: Triples) -> None:
    model = fit(hand_triples, kind="user", similarity="cosine", min_k=3, with_means=False)
    details = model.estimates(["A"], ["3"])
    assert details.was_impossible.tolist() == [True]
    assert details.value[0] == pytest.approx(np.mean([r for *_, r in zip(*hand_triples, strict=True)]))


def test_unknown_user_or_item_gets_the_global_mean(hand_triples: Triples) -> None:
    model = fit(hand_triples)
    global_mean = sum(hand_triples[2]) / len(hand_triples[2])
    assert model.predict(["nobody", "A"], ["1", "no-such-item"]) == pytest.approx([global_mean, global_mean])


def test_item_based_uses_item_similarities() -> None:
    # Item-based on the transposed data equals user-based on the original.
    users, items, ratings = ["a", "a", "b", "b", "c"], ["x", "y", "x", "z", "y"], [4.0, 2.0, 5.0, 1.0, 3.0]
    by_user = KNNRecommender(kind="user").fit(users, items, ratings).predict(["c"], ["x"])
    by_item = KNNRecommender(kind="item").fit(items, users, ratings).predict(["x"], ["c"])
    assert by_item == pytest.approx(by_user)


def test_negative_neighbours_only_count_without_positive_only() -> None:
    # p and q disagree perfectly (pearson -1) and q rated item t; only the textbook formula uses q.
    users = ["p", "p", "p", "q", "q", "q", "q"]
    items = ["i1", "i2", "i3", "i1", "i2", "i3", "t"]
    ratings = [1.0, 3.0, 5.0, 5.0, 3.0, 1.0, 5.0]
    surprise_like = KNNRecommender(similarity="pearson").fit(users, items, ratings)
    textbook = KNNRecommender(similarity="pearson", positive_only=False).fit(users, items, ratings)
    assert surprise_like.predict(["p"], ["t"])[0] == pytest.approx(3.0)
    # 3 + (-1)(5 - 3.5) / |-1| = 1.5
    assert textbook.predict(["p"], ["t"])[0] == pytest.approx(1.5)


def test_shrinkage_pulls_similarities_towards_zero(hand_triples: Triples) -> None:
    plain = fit(hand_triples, similarity="cosine").sim
    shrunk = fit(hand_triples, similarity="cosine", shrinkage=2.0).sim
    # A and B share 2 items: factor 2 / (2 + 2).
    assert shrunk[0, 1] == pytest.approx(plain[0, 1] / 2)


def test_predictions_are_clipped_to_the_rating_scale() -> None:
    users = ["a", "a", "b", "b", "c", "c"]
    items = ["x", "y", "x", "y", "x", "z"]
    model = KNNRecommender().fit(users, items, [5.0, 1.0, 5.0, 1.0, 1.0, 1.0], rating_scale=(1, 5))
    raw = model.estimates(["c"], ["y"]).value[0]
    clipped = model.predict(["c"], ["y"])[0]
    assert raw < 1.0
    assert clipped == 1.0


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"kind": "both"}, "unknown kind"),
        ({"similarity": "jaccard"}, "unknown similarity"),
        ({"k": 0}, "k must be"),
    ],
)
def test_bad_options_raise_value_error(options: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        KNNRecommender(**options)  # type: ignore[arg-type]


def test_mismatched_lengths_raise_value_error() -> None:
    with pytest.raises(ValueError, match="equal lengths"):
        KNNRecommender().fit(["a", "b"], ["x"], [1.0, 2.0])


def test_empty_data_raises_value_error() -> None:
    with pytest.raises(ValueError, match="empty"):
        KNNRecommender().fit([], [], [])


def test_duplicate_pairs_raise_value_error() -> None:
    with pytest.raises(ValueError, match="only once"):
        KNNRecommender().fit(["a", "a"], ["x", "x"], [1.0, 2.0])


def test_int_and_string_ids_are_interchangeable_in_queries() -> None:
    model = KNNRecommender().fit([1, 1, 2, 2], [10, 20, 10, 30], [5.0, 3.0, 4.0, 2.0])
    assert model.predict(["1"], ["30"])[0] == pytest.approx(model.predict([1], [30])[0])
    assert model.knows_user("2")

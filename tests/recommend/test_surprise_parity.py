"""Predictions equal scikit-surprise's KNNWithMeans/KNNBasic for all 12 settings on a generated data set."""

from __future__ import annotations

import numpy as np
import pytest

from app.shop.recommend import KNNRecommender

surprise = pytest.importorskip("surprise", reason="scikit-surprise (the bench extra) is not installed")


def generated() -> tuple[list[tuple[str, str, float]], list[tuple[str, str]]]:
    """60 users x 40 items, 35% rated 1-5; test pairs are the unrated cells plus unknown ids."""
    rng = np.random.default_rng(7)
    taste = rng.normal(size=(60, 3)) @ rng.normal(size=(3, 40))
    rated = rng.random((60, 40)) < 0.35
    ratings = np.clip(np.round(3 + taste + rng.normal(scale=0.7, size=taste.shape)), 1, 5)
    cells = np.argwhere(rated)
    rng.shuffle(cells)
    train = [(f"u{u}", f"i{i}", float(ratings[u, i])) for u, i in cells]
    test = [(f"u{u}", f"i{i}") for u, i in np.argwhere(~rated)] + [("u-new", "i0"), ("u0", "i-new")]
    return train, test


@pytest.mark.parametrize("kind", ["user", "item"])
@pytest.mark.parametrize("similarity", ["cosine", "pearson", "msd"])
@pytest.mark.parametrize("with_means", [True, False])
def test_predictions_equal_surprise(kind: str, similarity: str, with_means: bool) -> None:
    train, test = generated()
    reader = surprise.Reader(rating_scale=(1, 5))
    trainset = surprise.Dataset(reader).construct_trainset([(u, i, r, None) for u, i, r in train])
    algo_class = surprise.KNNWithMeans if with_means else surprise.KNNBasic
    options = {"name": similarity, "user_based": kind == "user", "min_support": 2}
    algo = algo_class(k=10, min_k=2, sim_options=options, verbose=False).fit(trainset)
    expected = np.array([algo.predict(u, i).est for u, i in test])
    users, items, ratings = zip(*train, strict=True)
    model = KNNRecommender(
        kind=kind, similarity=similarity, k=10, min_k=2, min_support=2, with_means=with_means
    )
    model.fit(users, items, ratings, rating_scale=(1, 5))
    got = model.predict([u for u, _ in test], [i for _, i in test])
    np.testing.assert_allclose(got, expected, rtol=0, atol=1e-9)

"""save/load round trips: same predictions, same rankings, no pickle."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from app.shop.recommend import KNNRecommender


def fitted() -> KNNRecommender:
    rng = np.random.default_rng(3)
    cells = np.argwhere(rng.random((30, 25)) < 0.4)
    ratings = rng.integers(1, 6, size=len(cells)).astype(float)
    return KNNRecommender(kind="item", similarity="pearson", k=5).fit(
        [f"c{u}" for u in cells[:, 0]], cells[:, 1], ratings
    )


def test_round_trip_gives_identical_predictions(tmp_path: Path) -> None:
    model = fitted()
    path = tmp_path / "model.npz"
    model.save(path)
    loaded = KNNRecommender.load(path)
    users = [f"c{u}" for u in range(30)] * 25
    items = np.repeat(np.arange(25), 30)
    np.testing.assert_array_equal(loaded.predict(users, items), model.predict(users, items))


def test_round_trip_gives_identical_rankings(tmp_path: Path) -> None:
    model = fitted()
    path = tmp_path / "model.npz"
    model.save(path)
    loaded = KNNRecommender.load(path)
    assert [loaded.top_n(f"c{u}", 5) for u in range(30)] == [model.top_n(f"c{u}", 5) for u in range(30)]


def test_round_trip_keeps_the_settings(tmp_path: Path) -> None:
    path = tmp_path / "model.npz"
    fitted().save(path)
    loaded = KNNRecommender.load(path)
    assert (loaded.kind, loaded.similarity, loaded.k) == ("item", "pearson", 5)


def test_model_file_loads_without_pickle(tmp_path: Path) -> None:
    path = tmp_path / "model.npz"
    fitted().save(path)
    with np.load(path, allow_pickle=False) as data:
        assert all(data[name].dtype != object for name in data.files)


def test_loading_garbage_raises_value_error(tmp_path: Path) -> None:
    path = tmp_path / "model.npz"
    path.write_bytes(b"not a model")
    with pytest.raises(ValueError, match="not a KNNRecommender model"):
        KNNRecommender.load(path)

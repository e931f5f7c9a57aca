"""KNNRecommender: user- or item-based neighbourhood CF with Surprise-exact rating predictions."""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any, Final

import numpy as np
import numpy.typing as npt
import scipy.sparse as sp

from app.shop.recommend.ids import IdArray, IdIndex, RawId, as_id_array
from app.shop.recommend.neighbourhood import Estimates, Formula, RatingsByY, estimate, neighbour_similarities
from app.shop.recommend.ranker import CoPurchaseRanker
from app.shop.recommend.similarity import SIMILARITIES, similarity_matrix

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

KINDS: Final = ("user", "item")
FORMAT_VERSION: Final = 1


class KNNRecommender:
    """kNN collaborative filtering.

    ``predict`` implements ``mean(x) + sum sim(x, x')(r(x', y) - mean(x')) / sum |sim(x, x')|`` over the ``k``
    most similar x' that rated y (``with_means=False`` drops the means: Surprise's KNNBasic).

    ``positive_only=True`` (the default) keeps only neighbours with positive similarity, which is what
    Surprise does and so reproduces its numbers; ``positive_only=False`` is the textbook formula, where
    negatively correlated neighbours among the k push the estimate the other way and the denominator is
    ``sum |sim|``. The two differ only when a selected neighbour has similarity <= 0 (pearson mostly).

    ``top_n`` ranks with a co-purchase item neighbourhood on binarised data (see ``ranker``), which is a far
    better top-N ranker than sorting by predicted rating.
    """

    def __init__(
        self,
        kind: str = "user",
        similarity: str = "cosine",
        k: int = 40,
        min_k: int = 1,
        min_support: int = 1,
        with_means: bool = True,
        *,
        positive_only: bool = True,
        shrinkage: float = 0.0,
        rank_neighbours: int = 100,
        rank_alpha: float = 0.7,
    ) -> None:
        if kind not in KINDS:
            raise ValueError(f"unknown kind {kind!r}; expected 'user' or 'item'")
        if similarity not in SIMILARITIES:
            raise ValueError(f"unknown similarity {similarity!r}; expected one of {', '.join(SIMILARITIES)}")
        if k < 1:
            raise ValueError(f"k must be >= 1, got {k}")
        if min_k < 0:
            raise ValueError(f"min_k must be >= 0, got {min_k}")
        if min_support < 0:
            raise ValueError(f"min_support must be >= 0, got {min_support}")
        if shrinkage < 0:
            raise ValueError(f"shrinkage must be >= 0, got {shrinkage}")
        if rank_neighbours < 1:
            raise ValueError(f"rank_neighbours must be >= 1, got {rank_neighbours}")
        if not 0.0 <= rank_alpha <= 1.0:
            raise ValueError(f"rank_alpha must be in [0, 1], got {rank_alpha}")
        self.kind = kind
        self.similarity = similarity
        self.k = int(k)
        self.min_k = int(min_k)
        self.min_support = int(min_support)
        self.with_means = bool(with_means)
        self.positive_only = bool(positive_only)
        self.shrinkage = float(shrinkage)
        self.rank_neighbours = int(rank_neighbours)
        self.rank_alpha = float(rank_alpha)
        self._fitted = False

    # ----------------------------------------------------------------- fitting

    def fit(
        self,
        users: Sequence[Any] | npt.ArrayLike,
        items: Sequence[Any] | npt.ArrayLike,
        ratings: Sequence[float] | npt.ArrayLike,
        rating_scale: tuple[float, float] | None = None,
    ) -> KNNRecommender:
        """Learn from (user, item, rating) triples; their order breaks similarity ties, as in Surprise.

        ``rating_scale`` bounds predictions (default: the lowest and highest rating seen).
        """
        user_raw = as_id_array(users)
        item_raw = as_id_array(items)
        values = np.asarray(ratings, dtype=np.float64).reshape(-1)
        if not len(user_raw) == len(item_raw) == len(values):
            raise ValueError(
                f"users, items and ratings must have equal lengths, got {len(user_raw)}, "
                f"{len(item_raw)} and {len(values)}"
            )
        if len(values) == 0:
            raise ValueError("cannot fit on empty data")
        if not np.all(np.isfinite(values)):
            raise ValueError("ratings must be finite numbers")
        user_index, user_idx = IdIndex.encode(user_raw)
        item_index, item_idx = IdIndex.encode(item_raw)
        if rating_scale is None:
            rating_scale = (float(values.min()), float(values.max()))
        elif rating_scale[0] > rating_scale[1]:
            raise ValueError(f"rating_scale {rating_scale} is empty")
        self._install(user_index, item_index, user_idx, item_idx, values, rating_scale, ranker=None)
        return self

    def _install(
        self,
        user_index: IdIndex,
        item_index: IdIndex,
        user_idx: IntArray,
        item_idx: IntArray,
        values: FloatArray,
        rating_scale: tuple[float, float],
        ranker: CoPurchaseRanker | None,
    ) -> None:
        n_users, n_items = len(user_index), len(item_index)
        user_items = sp.csr_matrix((values, (user_idx, item_idx)), shape=(n_users, n_items))
        if user_items.nnz != len(values):
            raise ValueError("each (user, item) pair may appear only once; aggregate repeated events first")
        self._users = user_index
        self._items = item_index
        self._user_idx = user_idx
        self._item_idx = item_idx
        self._values = values
        self.rating_scale = (float(rating_scale[0]), float(rating_scale[1]))
        self.global_mean = float(values.sum() / len(values))
        self._user_items = user_items
        x, y = (user_idx, item_idx) if self.kind == "user" else (item_idx, user_idx)
        n_x, n_y = (n_users, n_items) if self.kind == "user" else (n_items, n_users)
        self._by_y = RatingsByY.build(x, y, values, n_y)
        self._means = np.bincount(x, weights=values, minlength=n_x) / np.bincount(x, minlength=n_x)
        self._x_rows = user_items if self.kind == "user" else user_items.T.tocsr()
        self._sim: FloatArray | None = None
        self._ranker = ranker
        self._fitted = True

    def _require_fitted(self) -> None:
        if not self._fitted:
            raise ValueError("the model is not fitted yet; call fit() or load() first")

    def _neighbour_sim(self) -> FloatArray:
        self._require_fitted()
        if self._sim is None:
            self._sim = neighbour_similarities(
                lambda out: similarity_matrix(
                    self._x_rows, self.similarity, self.min_support, self.shrinkage, out=out
                ),
                self._x_rows.shape[0],
            )
        return self._sim

    @property
    def sim(self) -> FloatArray:
        """The x-by-x similarity matrix (users for kind="user", items for "item"), 1 on the diagonal."""
        sim = self._neighbour_sim()[:, :-1].copy()
        np.fill_diagonal(sim, 1.0)
        return sim

    @property
    def ranker(self) -> CoPurchaseRanker:
        """The top-N ranker, built on first use."""
        self._require_fitted()
        if self._ranker is None:
            self._ranker = CoPurchaseRanker.fit(self._user_items, self.rank_neighbours, self.rank_alpha)
        return self._ranker

    # ------------------------------------------------------------- predicting

    @property
    def n_users(self) -> int:
        """Number of distinct users seen in training."""
        self._require_fitted()
        return len(self._users)

    @property
    def n_items(self) -> int:
        """Number of distinct items seen in training."""
        self._require_fitted()
        return len(self._items)

    def knows_user(self, user: Any) -> bool:
        """Whether the user appeared in the training data."""
        self._require_fitted()
        return self._users.index_of(user) >= 0

    def knows_item(self, item: Any) -> bool:
        """Whether the item appeared in the training data."""
        self._require_fitted()
        return self._items.index_of(item) >= 0

    def estimates(
        self, users: Sequence[Any] | npt.ArrayLike, items: Sequence[Any] | npt.ArrayLike
    ) -> Estimates:
        """Unclipped estimates with neighbour counts; unknown users/items are impossible (global mean)."""
        self._require_fitted()
        u = self._users.indices(users)
        i = self._items.indices(items)
        if len(u) != len(i):
            raise ValueError(f"users and items must have equal lengths, got {len(u)} and {len(i)}")
        value = np.full(len(u), self.global_mean, dtype=np.float64)
        actual_k = np.zeros(len(u), dtype=np.int64)
        impossible = np.ones(len(u), dtype=np.bool_)
        known = np.flatnonzero((u >= 0) & (i >= 0))
        if known.size:
            xs, ys = (u[known], i[known]) if self.kind == "user" else (i[known], u[known])
            formula = Formula(self.k, self.min_k, self.with_means, self.positive_only)
            result = estimate(
                self._neighbour_sim(), self._means, self.global_mean, self._by_y, xs, ys, formula
            )
            value[known] = result.value
            actual_k[known] = result.actual_k
            impossible[known] = result.was_impossible
        return Estimates(value=value, actual_k=actual_k, was_impossible=impossible)

    def predict(
        self, users: Sequence[Any] | npt.ArrayLike, items: Sequence[Any] | npt.ArrayLike, clip: bool = True
    ) -> FloatArray:
        """Predicted ratings for pairs ``(users[n], items[n])``, clipped to the rating scale by default."""
        value = self.estimates(users, items).value
        if clip:
            value = np.clip(value, self.rating_scale[0], self.rating_scale[1])
        return value

    # ---------------------------------------------------------------- ranking

    def items_of(self, user: Any) -> list[RawId]:
        """The items a user rated or bought in the training data (empty for unknown users)."""
        self._require_fitted()
        return [self._items.raw(j) for j in self._basket_of(self._users.index_of(user)).tolist()]

    def _basket_of(self, user_index: int) -> IntArray:
        if user_index < 0:
            return np.zeros(0, dtype=np.int64)
        row = self._user_items
        basket: IntArray = row.indices[row.indptr[user_index] : row.indptr[user_index + 1]].astype(np.int64)
        return basket

    def _allowed(self, candidates: Iterable[Any] | None, exclude: IntArray) -> npt.NDArray[np.bool_]:
        if candidates is None:
            allowed = np.ones(self.n_items, dtype=np.bool_)
        else:
            allowed = np.zeros(self.n_items, dtype=np.bool_)
            found = self._items.indices(list(candidates))
            allowed[found[found >= 0]] = True
        allowed[exclude] = False
        return allowed

    def _ranked(
        self, scores: FloatArray, n: int, allowed: npt.NDArray[np.bool_]
    ) -> list[tuple[RawId, float]]:
        best = self.ranker.rank(scores, n, allowed)
        return [(self._items.raw(j), float(scores[j])) for j in best.tolist()]

    def top_n(
        self, user: Any, n: int = 10, exclude_seen: bool = True, candidates: Iterable[Any] | None = None
    ) -> list[tuple[RawId, float]]:
        """The user's ``n`` best items as ``(item, score)``, best first; popularity for unknown users.

        ``candidates`` restricts the choice (unknown candidate ids are ignored). Scores are co-purchase
        scores (or buyer counts for the popularity fallback), not ratings.
        """
        self._require_fitted()
        basket = self._basket_of(self._users.index_of(user))
        if basket.size == 0:
            return self.popular(n, candidates=candidates)
        allowed = self._allowed(candidates, basket if exclude_seen else np.zeros(0, dtype=np.int64))
        return self._ranked(self.ranker.scores(basket), n, allowed)

    def top_n_for_items(
        self,
        items: Iterable[Any],
        n: int = 10,
        exclude: Iterable[Any] = (),
        candidates: Iterable[Any] | None = None,
    ) -> list[tuple[RawId, float]]:
        """Items bought together with ``items`` (e.g. a new customer's basket), never those items themselves.

        Falls back to popularity when none of ``items`` is known.
        """
        self._require_fitted()
        basket = self._items.indices(list(items))
        basket = basket[basket >= 0]
        excluded = self._items.indices(list(exclude))
        excluded = np.concatenate([basket, excluded[excluded >= 0]])
        if basket.size == 0:
            return self.popular(n, candidates=candidates, exclude=exclude)
        return self._ranked(self.ranker.scores(basket), n, self._allowed(candidates, excluded))

    def popular(
        self, n: int = 10, candidates: Iterable[Any] | None = None, exclude: Iterable[Any] = ()
    ) -> list[tuple[RawId, float]]:
        """The ``n`` items with most buyers/raters as ``(item, n_buyers)``."""
        self._require_fitted()
        excluded = self._items.indices(list(exclude))
        popularity = self.ranker.popularity
        return self._ranked(popularity, n, self._allowed(candidates, excluded[excluded >= 0]))

    def explain(
        self, item: Any, user: Any = None, basket: Iterable[Any] = (), n: int = 3
    ) -> list[tuple[RawId, float]]:
        """The user's (or basket's) items that contributed most to recommending ``item``, strongest first."""
        self._require_fitted()
        target = self._items.index_of(item)
        if target < 0:
            return []
        own = self._basket_of(self._users.index_of(user)) if user is not None else np.zeros(0, np.int64)
        extra = self._items.indices(list(basket))
        pool = np.concatenate([own, extra[extra >= 0]])
        sources, weights = self.ranker.contributions(pool, target)
        return [
            (self._items.raw(s), float(w))
            for s, w in zip(sources[:n].tolist(), weights[:n].tolist(), strict=True)
        ]

    # ------------------------------------------------------------ persistence

    def _params(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "similarity": self.similarity,
            "k": self.k,
            "min_k": self.min_k,
            "min_support": self.min_support,
            "with_means": self.with_means,
            "positive_only": self.positive_only,
            "shrinkage": self.shrinkage,
            "rank_neighbours": self.rank_neighbours,
            "rank_alpha": self.rank_alpha,
        }

    def save(self, path: str | Path) -> None:
        """Write the model to one ``.npz`` file (plain arrays and JSON, no pickle)."""
        self._require_fitted()
        ranker = self.ranker
        weights = ranker.weights
        meta = {"format_version": FORMAT_VERSION, "params": self._params(), "rating_scale": self.rating_scale}
        arrays: dict[str, npt.NDArray[Any]] = {
            "meta": np.array(json.dumps(meta)),
            "user_ids": self._users.raw_ids,
            "item_ids": self._items.raw_ids,
            "user_idx": self._user_idx.astype(np.int32),
            "item_idx": self._item_idx.astype(np.int32),
            "values": self._values,
            "rank_indptr": weights.indptr.astype(np.int64),
            "rank_indices": weights.indices.astype(np.int32),
            "rank_weights": weights.data.astype(np.float32),
        }
        with Path(path).open("wb") as fh:
            np.savez_compressed(fh, **arrays)  # type: ignore[arg-type]

    @classmethod
    def load(cls, path: str | Path) -> KNNRecommender:
        """Read a model written by ``save``; predictions and rankings are identical to the saved model's."""
        try:
            with np.load(Path(path), allow_pickle=False) as data:
                arrays = {name: data[name] for name in data.files}
        except (OSError, ValueError) as exc:
            raise ValueError(f"{path}: not a KNNRecommender model file ({exc})") from exc
        try:
            meta = json.loads(str(arrays["meta"]))
            if meta.get("format_version") != FORMAT_VERSION:
                raise ValueError(f"unsupported model format {meta.get('format_version')!r}")
            model = cls(**meta["params"])
            user_ids: IdArray = arrays["user_ids"]
            item_ids: IdArray = arrays["item_ids"]
            n_items = len(item_ids)
            weights = sp.csr_matrix(
                (arrays["rank_weights"], arrays["rank_indices"], arrays["rank_indptr"]),
                shape=(n_items, n_items),
            )
            user_idx = arrays["user_idx"].astype(np.int64)
            item_idx = arrays["item_idx"].astype(np.int64)
            popularity = np.bincount(item_idx, minlength=n_items).astype(np.float64)
        except KeyError as exc:
            raise ValueError(f"{path}: model file lacks {exc}") from exc
        low, high = meta["rating_scale"]
        model._install(
            IdIndex(user_ids),
            IdIndex(item_ids),
            user_idx,
            item_idx,
            arrays["values"].astype(np.float64),
            (float(low), float(high)),
            ranker=CoPurchaseRanker(weights=weights, popularity=popularity),
        )
        return model

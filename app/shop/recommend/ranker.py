"""Top-N ranking on implicit (bought / not bought) data: item neighbourhoods of co-purchase counts.

A predicted *rating* is a poor ranking signal (an obscure item rated 5 by its only two raters wins), so top-N
lists are ranked by how strongly an item co-occurs with what the customer already has:
``score(u, j) = sum over i in basket(u) of w(i, j)``, with
``w(i, j) = support(i, j) / (n_i^alpha * n_j^(1-alpha))`` kept for the ``neighbours`` best sources i of each
target j. alpha > 0.5 discounts evidence from items everyone buys: such co-purchases say little.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final

import numpy as np
import numpy.typing as npt
import scipy.sparse as sp

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

_DENSE_CELLS: Final = 50_000_000
_FLOAT32_EXACT: Final = 2**24
# Targets processed per dense block while picking neighbours: bounds memory at block x n_items floats.
_BLOCK_ROWS: Final = 512


@dataclass(frozen=True, slots=True)
class CoPurchaseRanker:
    """Sparse ``n_items x n_items`` source->target weights plus item popularity (number of buyers)."""

    weights: sp.csr_matrix
    popularity: FloatArray

    @classmethod
    def fit(cls, baskets: sp.csr_matrix, neighbours: int = 100, alpha: float = 0.7) -> CoPurchaseRanker:
        """Learn from a users x items matrix whose stored entries mean "bought/rated"."""
        n_users, n_items = baskets.shape
        pattern = sp.csr_matrix(
            (np.ones(baskets.nnz, dtype=np.float32), baskets.indices, baskets.indptr), shape=baskets.shape
        )
        support: Any
        if n_users * n_items <= _DENSE_CELLS and n_users < _FLOAT32_EXACT:
            # Co-purchase counts are integers below 2**24, exact in float32; BLAS beats sparse products here.
            dense = pattern.toarray()
            support = dense.T @ dense
        else:
            support = (pattern.T @ pattern).tocsr()
        popularity = np.asarray(pattern.sum(axis=0), dtype=np.float64).reshape(-1)
        safe = np.maximum(popularity, 1.0)
        source_norm = safe**-alpha
        target_norm = safe ** -(1.0 - alpha)
        rows: list[IntArray] = []
        cols: list[IntArray] = []
        vals: list[npt.NDArray[np.float32]] = []
        keep = min(neighbours, max(n_items - 1, 0))
        for start in range(0, n_items, _BLOCK_ROWS):
            stop = min(start + _BLOCK_ROWS, n_items)
            # Row t of this block holds the weights of every source for target ``start + t``.
            rows_block = support[start:stop]
            counts = rows_block.toarray() if sp.issparse(rows_block) else rows_block
            block = counts * source_norm[None, :] * target_norm[start:stop, None]
            block[np.arange(stop - start), np.arange(start, stop)] = 0.0
            if keep == 0:
                continue
            best = np.argpartition(-block, keep - 1, axis=1)[:, :keep]
            best_vals = np.take_along_axis(block, best, axis=1)
            nonzero = best_vals > 0
            rows.append(best[nonzero].astype(np.int64))
            cols.append(
                np.broadcast_to(np.arange(start, stop)[:, None], best.shape)[nonzero].astype(np.int64)
            )
            vals.append(best_vals[nonzero].astype(np.float32))
        weights = sp.csr_matrix(
            (
                np.concatenate(vals) if vals else np.zeros(0, np.float32),
                (
                    np.concatenate(rows) if rows else np.zeros(0, np.int64),
                    np.concatenate(cols) if cols else np.zeros(0, np.int64),
                ),
            ),
            shape=(n_items, n_items),
            dtype=np.float32,
        )
        weights.sort_indices()
        return cls(weights=weights, popularity=popularity)

    def _rows(self, basket: IntArray) -> tuple[IntArray, IntArray, FloatArray]:
        """For each stored weight in the basket's rows: its source, its target and the weight."""
        indptr = self.weights.indptr
        starts, stops = indptr[basket], indptr[basket + 1]
        lengths = stops - starts
        total = int(lengths.sum())
        # Flat positions of every stored entry in these rows, without a Python loop over rows.
        offsets = np.arange(total, dtype=np.int64) - np.repeat(np.cumsum(lengths) - lengths, lengths)
        positions = np.repeat(starts, lengths) + offsets
        sources = np.repeat(basket, lengths)
        return sources, self.weights.indices[positions].astype(np.int64), self.weights.data[positions]

    def scores(self, basket: IntArray) -> FloatArray:
        """Score of every item for a basket of item indices (duplicates count once)."""
        basket = np.unique(basket)
        n_items = self.weights.shape[1]
        if basket.size == 0:
            return np.zeros(n_items, dtype=np.float64)
        _, targets, weights = self._rows(basket)
        totals = np.bincount(targets, weights=weights.astype(np.float64), minlength=n_items)
        return totals.astype(np.float64, copy=False)

    def contributions(self, basket: IntArray, target: int) -> tuple[IntArray, FloatArray]:
        """Basket items that support ``target``, strongest first, with their weights."""
        basket = np.unique(basket)
        sources, targets, weights = self._rows(basket)
        hit = targets == target
        sources, column = sources[hit], weights[hit].astype(np.float64)
        order = np.lexsort((sources, -column))
        return sources[order], column[order]

    def rank(self, scores: FloatArray, n: int, allowed: npt.NDArray[np.bool_]) -> IntArray:
        """The ``n`` best allowed items by score; ties (notably zero scores) go to popularity, then index."""
        candidates = np.flatnonzero(allowed)
        if candidates.size == 0 or n <= 0:
            return np.zeros(0, dtype=np.int64)
        cand_scores = scores[candidates]
        if candidates.size > 4 * n:
            # Only items scoring at least the n-th best can make it; cut down before the full sort.
            cut = np.partition(cand_scores, candidates.size - n)[candidates.size - n]
            keep = cand_scores >= cut
            candidates, cand_scores = candidates[keep], cand_scores[keep]
        order = np.lexsort((candidates, -self.popularity[candidates], -cand_scores))
        return candidates[order[:n]].astype(np.int64)

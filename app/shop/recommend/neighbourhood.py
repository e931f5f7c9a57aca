"""The kNN rating formula, evaluated for many (x, y) pairs at once.

x is the entity whose similarities are used (the user for user-based CF, the item for item-based) and y the
other one. For each pair the candidates are the xs that rated y, in training order; the ``k`` most similar are
kept, ties going to the earlier rating exactly as ``heapq.nlargest`` does in Surprise.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Final

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]
Index = npt.NDArray[np.signedinteger[Any]]

# Cells per padded block: big enough to amortise numpy's per-call cost, small enough to stay in cache.
_BLOCK_CELLS: Final = 1 << 17
# Below this many cells a thread pool costs more than it saves.
_PARALLEL_CELLS: Final = 1 << 20
_WORKERS: Final = max(1, min(4, os.cpu_count() or 1))
# Candidate lists longer than k are padded up to the next width in this geometric progression.
_WIDTH_GROWTH: Final = 1.1


@dataclass(frozen=True, slots=True)
class RatingsByY:
    """Training ratings grouped by y, each group in training order (CSR over y)."""

    ptr: IntArray
    x: IntArray
    value: FloatArray

    @classmethod
    def build(cls, x: IntArray, y: IntArray, value: FloatArray, n_y: int) -> RatingsByY:
        """Group (x, y, value) triples by y while keeping their training order inside each group."""
        # A stable sort of 16-bit keys is a radix sort in numpy: linear instead of n log n.
        keys = y.astype(np.uint16) if n_y <= np.iinfo(np.uint16).max else y
        order = np.argsort(keys, kind="stable")
        ptr = np.zeros(n_y + 1, dtype=np.int64)
        np.cumsum(np.bincount(y, minlength=n_y), out=ptr[1:])
        return cls(ptr=ptr, x=x[order], value=value[order])


@dataclass(frozen=True, slots=True)
class Estimates:
    """Unclipped estimates, how many neighbours each used, and which fell back to the default."""

    value: FloatArray
    actual_k: IntArray
    was_impossible: BoolArray


@dataclass(frozen=True, slots=True)
class Formula:
    """The knobs of the neighbourhood formula."""

    k: int
    min_k: int
    with_means: bool
    positive_only: bool


def neighbour_similarities(fill: Callable[[FloatArray], object], n_x: int) -> FloatArray:
    """The layout ``estimate`` expects: ``fill``'s n x n similarities, -inf on the diagonal, one -inf column.

    -inf makes an x never its own neighbour, and the extra column is where padding cells point. ``fill``
    writes straight into the (n, n + 1) array, which saves copying a matrix that can be tens of MB.
    """
    out = np.empty((n_x, n_x + 1), dtype=np.float64)
    fill(out[:, :n_x])
    out[:, n_x] = -np.inf
    np.fill_diagonal(out[:, :n_x], -np.inf)
    return out


def _widths(counts: IntArray, k: int) -> IntArray:
    """Padded width per pair: one bucket for lists of at most k, geometric buckets above."""
    short = max(1, min(k, int(counts.max(initial=1))))
    steps = np.ceil(np.log(np.maximum(counts, 1) / k) / np.log(_WIDTH_GROWTH)).clip(min=0)
    widths = np.ceil(k * _WIDTH_GROWTH**steps).astype(np.int64)
    return np.where(counts <= k, short, np.maximum(widths, counts))


def _blocks(widths: IntArray, xs: IntArray) -> list[tuple[int, IntArray]]:
    """Pairs split into blocks of one width each, at most about ``_BLOCK_CELLS`` cells per block."""
    # Ordered by x inside a width, consecutive pairs read the same similarity row, which is then in cache
    # instead of costing a memory access per candidate.
    order = np.lexsort((xs, widths))
    sorted_widths = widths[order]
    edges = np.flatnonzero(sorted_widths[1:] != sorted_widths[:-1]) + 1
    blocks: list[tuple[int, IntArray]] = []
    for begin, end in zip(np.r_[0, edges].tolist(), np.r_[edges, len(order)].tolist(), strict=True):
        width = int(sorted_widths[begin])
        rows_per_block = max(1, _BLOCK_CELLS // width)
        blocks.extend(
            (width, order[start : min(end, start + rows_per_block)])
            for start in range(begin, end, rows_per_block)
        )
    return blocks


def estimate(
    neighbour_sim: FloatArray,
    means: FloatArray,
    global_mean: float,
    by_y: RatingsByY,
    xs: IntArray,
    ys: IntArray,
    formula: Formula,
) -> Estimates:
    """The formula for known pairs ``(xs[n], ys[n])``, given ``neighbour_similarities`` of the model."""
    n_pairs = len(xs)
    value = np.empty(n_pairs, dtype=np.float64)
    actual_k = np.zeros(n_pairs, dtype=np.int64)
    impossible = np.zeros(n_pairs, dtype=np.bool_)
    if n_pairs == 0:
        return Estimates(value=value, actual_k=actual_k, was_impossible=impossible)
    counts = by_y.ptr[ys + 1] - by_y.ptr[ys]
    widths = _widths(counts, formula.k)
    deviations = by_y.value - means[by_y.x] if formula.with_means else by_y.value
    flat_sim = neighbour_sim.reshape(-1)
    stride = neighbour_sim.shape[1]
    # Flat offsets into the similarity matrix fit in int32 below 46k users/items: half the index traffic.
    index_type: type[np.signedinteger[Any]] = np.int32 if flat_sim.size < np.iinfo(np.int32).max else np.int64
    candidates: Index = by_y.x.astype(index_type)
    offsets: Index = (xs * stride).astype(index_type)

    def run(job: tuple[int, IntArray]) -> None:
        width, block = job
        num, den, used = _aggregate(
            flat_sim, stride, by_y.ptr, candidates, deviations, offsets[block], ys[block], width, formula
        )
        enough = (used >= formula.min_k) & (den > 0)
        ratio = np.divide(num, den, out=np.zeros_like(num), where=enough)
        actual_k[block] = used
        if formula.with_means:
            # Too few neighbours: Surprise's KNNWithMeans drops the neighbour term and keeps the mean.
            value[block] = means[xs[block]] + ratio
        else:
            value[block] = np.where(enough, ratio, global_mean)
            impossible[block] = ~enough

    blocks = _blocks(widths, xs)
    if int(widths.sum()) < _PARALLEL_CELLS or _WORKERS == 1:
        for job in blocks:
            run(job)
    else:
        # numpy releases the GIL inside these array operations, so blocks run in parallel on threads.
        with ThreadPoolExecutor(max_workers=_WORKERS) as pool:
            list(pool.map(run, blocks))
    return Estimates(value=value, actual_k=actual_k, was_impossible=impossible)


def _aggregate(
    flat_sim: FloatArray,
    stride: int,
    ptr: IntArray,
    candidates: Index,
    deviations: FloatArray,
    offsets: Index,
    ys: IntArray,
    width: int,
    formula: Formula,
) -> tuple[FloatArray, FloatArray, IntArray]:
    """Weighted deviation sum, weight sum and neighbour count per pair, over a block padded to ``width``."""
    # Candidate tables are built once per distinct y, then shared by every pair with that y.
    distinct, which = np.unique(ys, return_inverse=True)
    starts = ptr[distinct]
    counts = ptr[distinct + 1] - starts
    columns = np.arange(width, dtype=np.int64)
    present = columns[None, :] < counts[:, None]
    cells = np.where(present, starts[:, None] + columns[None, :], 0)
    # Padding points at the extra all -inf column, so it is never a neighbour.
    table_x = np.where(present, candidates[cells], candidates.dtype.type(stride - 1))
    table_dev = np.where(present, deviations[cells], 0.0)
    index = table_x[which]
    index += offsets[:, None]
    sims = np.take(flat_sim, index)
    devs = table_dev[which]
    k = formula.k
    if formula.positive_only:
        # Keeping "top k" and "similarity > 0" in one comparison: a positive value within the top k is one
        # at or above max(k-th largest, smallest positive double).
        floor = np.nextafter(0.0, 1.0)
        threshold = np.full((len(ys), 1), floor) if width <= k else np.maximum(_kth_largest(sims, k), floor)
        chosen = sims >= threshold
        used = np.count_nonzero(chosen, axis=1)
        crowded = np.flatnonzero(used > k)
        if crowded.size:
            chosen[crowded] = _first_k(sims[crowded], threshold[crowded], k)
            used[crowded] = k
        # The threshold is positive, so clamping at 0 changes no chosen value and turns -inf into 0, which
        # makes "weight = similarity if chosen" a multiplication instead of a select.
        weights = np.maximum(sims, 0.0, out=sims)
        weights *= chosen
        denominator = weights.sum(axis=1)
    else:
        if width > k:
            kth = _kth_largest(sims, k)
            chosen = sims >= kth
            crowded = np.flatnonzero(chosen.sum(axis=1) > k)
            if crowded.size:
                chosen[crowded] = _first_k(sims[crowded], kth[crowded], k)
            weights = np.where(chosen & np.isfinite(sims), sims, 0.0)
        else:
            weights = np.where(np.isfinite(sims), sims, 0.0)
        denominator = np.abs(weights).sum(axis=1)
        used = np.count_nonzero(weights, axis=1)
    numerator = np.einsum("ij,ij->i", weights, devs)
    return numerator, denominator, used.astype(np.int64)


def _kth_largest(sims: FloatArray, k: int) -> FloatArray:
    """Each row's k-th largest value, as a column."""
    width = sims.shape[1]
    return np.partition(sims, width - k, axis=1)[:, width - k, None]


def _first_k(sims: FloatArray, kth: FloatArray, k: int) -> BoolArray:
    """Rows whose k-th largest value is tied: keep everything above it and the earliest ties."""
    above = sims > kth
    tied = sims == kth
    room = k - above.sum(axis=1, keepdims=True)
    keep: BoolArray = above | (tied & (np.cumsum(tied, axis=1) <= room))
    return keep

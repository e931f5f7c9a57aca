"""The kNN rating formula, evaluated for many (x, y) pairs at once.

x is the entity whose similarities are used (the user for user-based CF, the item for item-based) and y the
other one. For each pair the candidates are the xs that rated y, in training order; the ``k`` most similar are
kept, ties going to the earlier rating exactly as ``heapq.nlargest`` does in Surprise.
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Final

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]

# Cells per padded block: big enough to amortise numpy's per-call cost, small enough to stay in cache.
_BLOCK_CELLS: Final = 1 << 18
# Below this many cells a thread pool costs more than it saves.
_PARALLEL_CELLS: Final = 1 << 20
_WORKERS: Final = max(1, min(4, os.cpu_count() or 1))
# Candidate lists longer than k are padded up to the next width in this geometric progression.
_WIDTH_GROWTH: Final = 1.25


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


def neighbour_similarities(sim: FloatArray) -> FloatArray:
    """``sim`` with -inf on the diagonal and an extra all -inf column, the layout ``estimate`` expects.

    -inf makes an x never its own neighbour, and the extra column is where padding cells point.
    """
    n_x = sim.shape[0]
    out = np.empty((n_x, n_x + 1), dtype=np.float64)
    out[:, :n_x] = sim
    out[:, n_x] = -np.inf
    np.fill_diagonal(out[:, :n_x], -np.inf)
    return out


def _widths(counts: IntArray, k: int) -> IntArray:
    """Padded width per pair: one bucket for lists of at most k, geometric buckets above."""
    short = max(1, min(k, int(counts.max(initial=1))))
    steps = np.ceil(np.log(np.maximum(counts, 1) / k) / np.log(_WIDTH_GROWTH)).clip(min=0)
    widths = np.ceil(k * _WIDTH_GROWTH**steps).astype(np.int64)
    return np.where(counts <= k, short, np.maximum(widths, counts))


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
    blocks: list[tuple[int, IntArray]] = []
    for width in np.unique(widths).tolist():
        members = np.flatnonzero(widths == width)
        rows_per_block = max(1, _BLOCK_CELLS // width)
        blocks.extend(
            (width, members[start : start + rows_per_block])
            for start in range(0, len(members), rows_per_block)
        )

    def run(job: tuple[int, IntArray]) -> None:
        width, block = job
        num, den, used = _aggregate(
            flat_sim, neighbour_sim.shape[1], by_y, deviations, xs[block], ys[block], width, formula
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
    by_y: RatingsByY,
    deviations: FloatArray,
    xs: IntArray,
    ys: IntArray,
    width: int,
    formula: Formula,
) -> tuple[FloatArray, FloatArray, IntArray]:
    """Weighted deviation sum, weight sum and neighbour count per pair, over a block padded to ``width``."""
    # Candidate tables are built once per distinct y, then shared by every pair with that y.
    distinct, which = np.unique(ys, return_inverse=True)
    starts = by_y.ptr[distinct]
    counts = by_y.ptr[distinct + 1] - starts
    offsets = np.arange(width, dtype=np.int64)
    present = offsets[None, :] < counts[:, None]
    cells = np.where(present, starts[:, None] + offsets[None, :], 0)
    sentinel = stride - 1
    table_x = np.where(present, by_y.x[cells], sentinel)
    table_dev = np.where(present, deviations[cells], 0.0)
    neighbours = table_x[which]
    devs = table_dev[which]
    sims = flat_sim[xs[:, None] * stride + neighbours]
    k = formula.k
    if formula.positive_only:
        # Keeping "top k" and "similarity > 0" in one comparison: a positive value within the top k is one
        # at or above max(k-th largest, smallest positive double).
        floor = np.nextafter(0.0, 1.0)
        threshold = floor if width <= k else np.maximum(_kth_largest(sims, k), floor)
        weights = np.where(sims >= threshold, sims, 0.0)
        used = np.count_nonzero(weights, axis=1)
        crowded = np.flatnonzero(used > k)
        if crowded.size:
            keep = _first_k(sims[crowded], np.broadcast_to(threshold, sims.shape)[crowded, :1], k)
            weights[crowded] = np.where(keep, weights[crowded], 0.0)
            used[crowded] = k
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

"""Similarity between the rows of a rating matrix over the columns both rated (Surprise's definitions)."""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Final

import numpy as np
import numpy.typing as npt
import scipy.sparse as sp

SIMILARITIES: Final = ("cosine", "pearson", "msd")

# Above this many cells the dense products would use too much memory, so sparse products are used instead.
_DENSE_CELLS: Final = 50_000_000
# float32 sums of integers are exact below 2**24, and twice as fast as float64 in BLAS.
_FLOAT32_EXACT: Final = float(2**24)
# Cells per row block: the float64 temporaries of one block then stay in cache instead of streaming
# several full n x n matrices through memory, which is what dominated for 1,682 items.
_BLOCK_CELLS: Final = 1 << 15
_WORKERS: Final = max(1, min(4, os.cpu_count() or 1))

Matrix = npt.NDArray[np.float64]


def _operands(ratings: sp.csr_matrix) -> tuple[Any, Any, Any]:
    """The ratings, their squares and the rated/not-rated pattern as dense arrays."""
    n_rows, n_cols = ratings.shape
    values = ratings.data
    integral = bool(np.all(values == np.round(values)))
    bound = float(np.max(np.abs(values), initial=0.0)) ** 2 * max(n_cols, 1)
    dtype = np.float32 if integral and bound < _FLOAT32_EXACT else np.float64
    rows = np.repeat(np.arange(n_rows, dtype=np.int32), np.diff(ratings.indptr))
    dense = np.zeros((3, n_rows, n_cols), dtype=dtype)
    dense[0, rows, ratings.indices] = values
    dense[1, rows, ratings.indices] = values**2
    dense[2, rows, ratings.indices] = 1.0
    return dense[0], dense[1], dense[2]


def _sparse_operands(ratings: sp.csr_matrix) -> tuple[Any, Any, Any]:
    pattern = sp.csr_matrix((np.ones(ratings.nnz), ratings.indices, ratings.indptr), shape=ratings.shape)
    squares = sp.csr_matrix((ratings.data**2, ratings.indices, ratings.indptr), shape=ratings.shape)
    return ratings, squares, pattern


def _gram(left: Any, right: Any) -> Any:
    """``left @ right.T`` as a dense array, still in the operands' dtype (exact: sums of integers)."""
    product = left @ right.T
    return product.toarray() if sp.issparse(product) else np.asarray(product)


@dataclass(frozen=True, slots=True)
class Grams:
    """Sums over the columns both rows rated; ``x[a, b]`` is row a's and ``x_t[a, b]`` is row b's."""

    products: Any
    sq_own: Any
    sq_own_t: Any
    support: Any | None
    sum_own: Any | None
    sum_own_t: Any | None


def _transposed(gram: Any) -> Any:
    # A contiguous copy once beats reading column blocks through a strided view in every row block.
    return np.ascontiguousarray(gram.T)


def _formula(name: str, grams: Grams, rows: slice, cols: slice, min_support: int, shrinkage: float) -> Matrix:
    """Similarities of the ``rows`` against the ``cols`` in float64, with Surprise's arithmetic.

    Every gram entry is an integer below 2**53 (2**24 in float32), hence exact whatever the summation order,
    and every operation below matches Surprise's, so the results are bit-identical to its loops.
    """
    f64 = np.float64
    sim: Matrix
    products = grams.products[rows, cols].astype(f64)
    sq_own = grams.sq_own[rows, cols].astype(f64)
    sq_other = grams.sq_own_t[rows, cols].astype(f64)
    support = None if grams.support is None else grams.support[rows, cols].astype(f64)
    with np.errstate(divide="ignore", invalid="ignore"):
        if name == "cosine":
            sq_own *= sq_other
            root = np.sqrt(sq_own, out=sq_own)
            # A zero root means one side's common ratings are all zero, so the product is zero too: raising
            # the root to the tiniest double gives Surprise's 0 without a NaN pass, and leaves others exact.
            np.maximum(root, np.finfo(f64).tiny, out=root)
            sim = np.divide(products, root, out=products)
        elif name == "msd":
            assert support is not None
            # sum (r_a - r_b)^2 expanded, which stays exact for integer ratings like Surprise's direct sum.
            sq_own += sq_other
            sq_own -= 2.0 * products
            sq_own /= support
            sq_own += 1.0
            sim = np.divide(1.0, sq_own, out=sq_own)
        else:
            assert support is not None
            assert grams.sum_own is not None
            assert grams.sum_own_t is not None
            sum_own = grams.sum_own[rows, cols].astype(f64)
            sum_other = grams.sum_own_t[rows, cols].astype(f64)
            num = support * products - sum_own * sum_other
            den = np.sqrt((support * sq_own - sum_own**2) * (support * sq_other - sum_other**2))
            sim = np.where(den == 0.0, 0.0, num / den)
            sim[~np.isfinite(sim)] = 0.0
    if support is not None:
        # Also catches no common column at all (support 0), where msd divided by zero.
        np.copyto(sim, 0.0, where=support < max(min_support, 1))
        if shrinkage > 0:
            sim *= support / (support + shrinkage)
    return sim


def similarity_matrix(
    ratings: sp.csr_matrix,
    name: str,
    min_support: int = 1,
    shrinkage: float = 0.0,
    out: Matrix | None = None,
) -> Matrix:
    """Dense ``n_rows x n_rows`` similarities between rows of ``ratings``; 1 on the diagonal.

    Pairs with fewer than ``min_support`` common columns get 0, as in Surprise; ``shrinkage`` > 0 multiplies
    each similarity by ``support / (support + shrinkage)`` so that pairs with little evidence count less.
    ``out`` (n x n, possibly a strided view) receives the result instead of a new array.
    """
    if name not in SIMILARITIES:
        raise ValueError(f"unknown similarity {name!r}; expected one of {', '.join(SIMILARITIES)}")
    n_rows, n_cols = ratings.shape
    sim = np.empty((n_rows, n_rows), dtype=np.float64) if out is None else out
    # With positive ratings, "no common column" is exactly "zero dot product": cosine can skip one product.
    skip_support = name == "cosine" and min_support <= 1 and shrinkage == 0 and bool(np.all(ratings.data > 0))
    if n_rows * n_cols > _DENSE_CELLS:
        values, squares, pattern = _sparse_operands(ratings)
    else:
        values, squares, pattern = _operands(ratings)
    step = max(8, _BLOCK_CELLS // max(n_rows, 1))

    def with_transpose(left: Any, right: Any) -> tuple[Any, Any]:
        gram = _gram(left, right)
        return gram, _transposed(gram)

    def fill(start: int) -> None:
        stop = min(n_rows, start + step)
        block = _formula(name, grams, slice(start, stop), slice(start, n_rows), min_support, shrinkage)
        sim[start:stop, start:] = block
        sim[start:, start:stop] = block.T

    # BLAS and numpy release the GIL, so the independent products, then the row blocks, share the cores
    # (with BLAS pinned to one thread, as in the bench, this is the only parallelism there is).
    with ThreadPoolExecutor(max_workers=_WORKERS) as pool:
        products = pool.submit(_gram, values, values)
        sq_own = pool.submit(with_transpose, squares, pattern)
        support = None if skip_support else pool.submit(_gram, pattern, pattern)
        sum_own = pool.submit(with_transpose, values, pattern) if name == "pearson" else None
        grams = Grams(
            products=products.result(),
            sq_own=sq_own.result()[0],
            sq_own_t=sq_own.result()[1],
            support=None if support is None else support.result(),
            sum_own=None if sum_own is None else sum_own.result()[0],
            sum_own_t=None if sum_own is None else sum_own.result()[1],
        )
        # Every formula is symmetric bit for bit, so only blocks on or right of the diagonal are evaluated
        # and then mirrored: half the arithmetic, on cache-sized float64 temporaries. Blocks write disjoint
        # parts of ``sim``.
        list(pool.map(fill, range(0, n_rows, step)))
    np.fill_diagonal(sim, 1.0)
    return sim

"""Similarity between the rows of a rating matrix over the columns both rated (Surprise's definitions)."""

from __future__ import annotations

from typing import Any, Final

import numpy as np
import numpy.typing as npt
import scipy.sparse as sp

SIMILARITIES: Final = ("cosine", "pearson", "msd")

# Above this many cells the dense products would use too much memory, so sparse products are used instead.
_DENSE_CELLS: Final = 50_000_000
# float32 sums of integers are exact below 2**24, and twice as fast as float64 in BLAS.
_FLOAT32_EXACT: Final = float(2**24)

Matrix = npt.NDArray[np.float64]


def _gram(left: Any, right: Any) -> Matrix:
    product = left @ right.T
    dense = product.toarray() if sp.issparse(product) else product
    return np.asarray(dense, dtype=np.float64)


def _operands(ratings: sp.csr_matrix) -> tuple[Any, Any, Any]:
    """The ratings, their squares and the rated/not-rated pattern, dense when that is affordable."""
    n_rows, n_cols = ratings.shape
    values = ratings.data
    if n_rows * n_cols > _DENSE_CELLS:
        pattern = sp.csr_matrix((np.ones(ratings.nnz), ratings.indices, ratings.indptr), shape=ratings.shape)
        squares = sp.csr_matrix((values**2, ratings.indices, ratings.indptr), shape=ratings.shape)
        return ratings, squares, pattern
    integral = bool(np.all(values == np.round(values)))
    bound = float(np.max(np.abs(values), initial=0.0)) ** 2 * max(n_cols, 1)
    dtype = np.float32 if integral and bound < _FLOAT32_EXACT else np.float64
    rows = np.repeat(np.arange(n_rows), np.diff(ratings.indptr))
    dense = np.zeros((3, n_rows, n_cols), dtype=dtype)
    dense[0, rows, ratings.indices] = values
    dense[1, rows, ratings.indices] = values**2
    dense[2, rows, ratings.indices] = 1.0
    return dense[0], dense[1], dense[2]


def similarity_matrix(
    ratings: sp.csr_matrix, name: str, min_support: int = 1, shrinkage: float = 0.0
) -> Matrix:
    """Dense ``n_rows x n_rows`` similarities between rows of ``ratings``; 1 on the diagonal.

    Pairs with fewer than ``min_support`` common columns get 0, as in Surprise; ``shrinkage`` > 0 multiplies
    each similarity by ``support / (support + shrinkage)`` so that pairs with little evidence count less.
    """
    if name not in SIMILARITIES:
        raise ValueError(f"unknown similarity {name!r}; expected one of {', '.join(SIMILARITIES)}")
    values, squares, pattern = _operands(ratings)
    # With positive ratings, "no common column" is exactly "zero dot product": cosine can skip one product.
    skip_support = name == "cosine" and min_support <= 1 and shrinkage == 0 and bool(np.all(ratings.data > 0))
    support = None if skip_support else _gram(pattern, pattern)
    # sq_own[a, b] = sum of a's squared ratings over the columns a and b both rated; sq_own.T is b's.
    sq_own = _gram(squares, pattern)
    with np.errstate(divide="ignore", invalid="ignore"):
        if name == "cosine":
            products = _gram(values, values)
            sim = products / np.sqrt(sq_own * sq_own.T)
        elif name == "msd":
            assert support is not None
            products = _gram(values, values)
            # sum (r_a - r_b)^2 expanded, which stays exact for integer ratings like Surprise's direct sum.
            sq_diff = sq_own + sq_own.T - 2.0 * products
            sim = 1.0 / (sq_diff / support + 1.0)
        else:
            assert support is not None
            products = _gram(values, values)
            sum_own = _gram(values, pattern)
            num = support * products - sum_own * sum_own.T
            den = np.sqrt((support * sq_own - sum_own**2) * (support * sq_own.T - sum_own.T**2))
            sim = np.where(den == 0.0, 0.0, num / den)
    sim[~np.isfinite(sim)] = 0.0
    if support is not None:
        sim[(support < min_support) | (support == 0)] = 0.0
    if support is not None and shrinkage > 0:
        sim *= support / (support + shrinkage)
    np.fill_diagonal(sim, 1.0)
    return sim

"""Implicit feedback (purchase counts) turned into confidence weights for the engine."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt


def confidence(counts: npt.ArrayLike, alpha: float = 1.0) -> npt.NDArray[np.float64]:
    """``1 + alpha * log(1 + count)`` (Hu, Koren & Volinsky 2008): repeats count, with diminishing weight.

    Counts must be >= 0; a single purchase gives ``1 + alpha * log 2``.
    """
    values = np.asarray(counts, dtype=np.float64)
    if np.any(values < 0) or not np.all(np.isfinite(values)):
        raise ValueError("purchase counts must be finite and >= 0")
    if alpha < 0:
        raise ValueError(f"alpha must be >= 0, got {alpha}")
    return 1.0 + alpha * np.log1p(values)

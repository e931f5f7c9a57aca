"""Purchase counts to confidence weights."""

from __future__ import annotations

import math

import pytest

from app.shop.recommend.confidence import confidence


def test_confidence_grows_with_diminishing_returns() -> None:
    one, two, ten = confidence([1, 2, 10])
    assert one == pytest.approx(1 + math.log(2))
    assert two - one > (ten - one) / 9


def test_negative_counts_are_rejected() -> None:
    with pytest.raises(ValueError, match=">= 0"):
        confidence([1, -1])

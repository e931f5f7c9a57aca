"""Shared fixtures: the hand-computable 4x4 ratings and the shipped demo shop."""

from __future__ import annotations

import pytest

from app.shop.catalog import Shop, load_shop

# Users A-D rate items 1-4 (a missing cell is an unrated item); small enough to check predictions by hand.
HAND_RATINGS: list[tuple[str, str, float]] = [
    ("A", "1", 5),
    ("A", "2", 3),
    ("A", "4", 1),
    ("B", "1", 4),
    ("B", "3", 2),
    ("B", "4", 1),
    ("C", "1", 1),
    ("C", "2", 1),
    ("C", "4", 5),
    ("D", "1", 1),
    ("D", "3", 5),
    ("D", "4", 4),
]


@pytest.fixture
def hand_triples() -> tuple[list[str], list[str], list[float]]:
    """The 4x4 ratings as (users, items, ratings) columns."""
    users, items, ratings = zip(*HAND_RATINGS, strict=True)
    return list(users), list(items), list(ratings)


@pytest.fixture(scope="session")
def shop() -> Shop:
    """The demo shop shipped in app/data/shop."""
    return load_shop()

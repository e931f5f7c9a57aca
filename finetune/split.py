"""Deterministic train/validation assignment: a seeded hash of the conversation's content, not position."""

from __future__ import annotations

import hashlib
from enum import StrEnum


class Split(StrEnum):
    """The two output files."""

    TRAIN = "train"
    VALIDATION = "validation"


def split_for(content_key: int, seed: int, validation_ratio: float) -> Split:
    """The split of a conversation; stable across runs, input order and worker count for a given seed."""
    digest = hashlib.blake2b(
        content_key.to_bytes(8, "little"), digest_size=8, key=seed.to_bytes(8, "little", signed=True)
    )
    draw = int.from_bytes(digest.digest(), "little") / 2**64
    return Split.VALIDATION if draw < validation_ratio else Split.TRAIN

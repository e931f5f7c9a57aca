"""The sentence encoder in its child process gives the same vectors as in this process."""

from __future__ import annotations

import numpy as np

from app.shop.embedding import Encoder, EncoderProcess

TEXTS = ["what is your return policy?", "Wo ist meine Bestellung?", "hi"]


def test_the_child_process_encodes_like_this_process(encoder: Encoder) -> None:
    child = EncoderProcess()
    try:
        vectors = child.encode(TEXTS)
    finally:
        child.close()
    assert vectors.shape == (3, 512)
    np.testing.assert_allclose(vectors, encoder.encode(TEXTS), atol=1e-5)


def test_encoding_nothing_needs_no_child() -> None:
    child = EncoderProcess()
    try:
        assert child.encode([]).shape == (0, 512)
    finally:
        child.close()

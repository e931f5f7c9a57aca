"""The sentence encoder in its child process gives the same vectors as in this process."""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor

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


def test_concurrent_requests_each_get_their_own_vectors(encoder: Encoder) -> None:
    texts = [f"question number {n} about delivery" for n in range(12)]
    child = EncoderProcess()
    try:
        with ThreadPoolExecutor(max_workers=6) as pool:
            results = list(pool.map(lambda text: child.encode([text]), texts))
    finally:
        child.close()
    np.testing.assert_allclose(np.vstack(results), encoder.encode(texts), atol=1e-5)


async def test_embed_is_awaited_on_the_event_loop(encoder: Encoder) -> None:
    child = EncoderProcess()
    try:
        vectors = await asyncio.gather(*(child.embed(text) for text in TEXTS))
    finally:
        child.close()
    np.testing.assert_allclose(np.vstack(vectors), encoder.encode(TEXTS), atol=1e-5)

"""One message is embedded once, however many parts of the server ask for its vector at the same moment."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import numpy as np
import pytest

from app.shop.embedding import SharedEmbeddings, Vectors


class CountingEncoder:
    """Embeds each text as a one-hot-ish vector and counts the texts it was asked for."""

    def __init__(self, fail: bool = False) -> None:
        self.texts: list[str] = []
        self.fail = fail

    def encode(self, texts: Sequence[str]) -> Vectors:
        self.texts.extend(texts)
        if self.fail:
            raise RuntimeError("encoder down")
        return np.full((len(texts), 4), 0.5, dtype=np.float32)

    def __hash__(self) -> int:
        return id(self)


async def test_concurrent_requests_for_one_text_share_one_embedding() -> None:
    inner = CountingEncoder()
    shared = SharedEmbeddings(inner)
    vectors = await asyncio.gather(*(shared.embed("where is my order?") for _ in range(3)))
    assert inner.texts == ["where is my order?"]
    assert all(np.array_equal(v, vectors[0]) for v in vectors)


async def test_a_failed_embedding_is_not_kept() -> None:
    inner = CountingEncoder(fail=True)
    shared = SharedEmbeddings(inner)
    for _ in range(2):
        with pytest.raises(RuntimeError, match="encoder down"):
            await shared.embed("hello")
    assert inner.texts == ["hello", "hello"]


async def test_only_the_latest_texts_are_kept() -> None:
    inner = CountingEncoder()
    shared = SharedEmbeddings(inner, keep=2)
    for text in ("a", "b", "c", "a"):
        await shared.embed(text)
    assert inner.texts == ["a", "b", "c", "a"]


async def test_a_vector_is_ready_only_once_made() -> None:
    shared = SharedEmbeddings(CountingEncoder())
    assert shared.ready("hello") is None
    pending = asyncio.ensure_future(shared.embed("hello"))
    await asyncio.sleep(0)
    assert shared.ready("hello") is None or pending.done()
    vector = await pending
    ready = shared.ready("hello")
    assert ready is not None
    assert np.array_equal(ready, vector)

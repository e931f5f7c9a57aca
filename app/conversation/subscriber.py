"""One socket's view of a conversation: an outbox of ready-to-send JSON, each stored event once and in order.

A replay is read from the store one page at a time, as the socket's sender takes frames, so a long
conversation is never held in memory whole and a slow reader only slows its own replay. Live events that
arrive meanwhile are held and follow the replay (those it already had are skipped by ``seq``). A socket
that falls ``max_queue`` frames behind on live events is given up on: its outbox is emptied, ``overflowed``
is set and the sender closes the connection, so the client reconnects with the ``last_seq`` it has.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from app.store.records import StoredPayload

log = logging.getLogger("shopchat.conversation")

PageReader = Callable[[int, int], Awaitable[list[StoredPayload]]]
"""``read(after_seq, limit)``: at most ``limit`` stored events with a greater ``seq``, in order."""


class Subscriber:
    """Frames queued for one socket; stored events arrive at most once each and in ``seq`` order.

    Until the replay is finished (``start_replay`` ran out of pages, or ``finish_replay``), live events are
    held back so the events read from the store go first.
    """

    def __init__(self, last_seq: int, max_queue: int = 2000, page_size: int = 500) -> None:
        self.last_seq = last_seq
        self.max_queue = max_queue
        self.page_size = page_size
        # Not bounded as a queue: the limit is counted here, so the closing marker always fits.
        self.outbox: asyncio.Queue[str | None] = asyncio.Queue()
        self.overflowed = False
        self.closed = False
        self._replaying = True
        self._reader: PageReader | None = None
        self._held: list[StoredPayload] = []
        self._held_dropped = False
        self._later: list[str] = []
        # Where missing events are read from when a later one arrives first (several processes write).
        self.source: PageReader | None = None
        self._gap: asyncio.Future[None] | None = None

    def deliver(self, seq: int, payload: str) -> None:
        """Queue a stored event without blocking; skipped if this socket already has it.

        An event that arrives before an earlier one (another process stored that one, and its notice is still
        on its way) starts a short replay from the store: every event still arrives once and in order.
        """
        if self.closed:
            return
        if not self._replaying and seq > self.last_seq + 1 and self.source is not None:
            self._replaying = True
            self._reader = self.source
            # The sender may be waiting on an empty outbox: read the gap now rather than on its next turn.
            self._gap = asyncio.ensure_future(self._fill_gap())
        if self._replaying:
            if len(self._held) >= self.page_size:
                # Every published event is stored: the replay reads these back rather than hold them all.
                self._held.clear()
                self._held_dropped = True
            self._held.append(StoredPayload(seq, payload))
            return
        self._put(seq, payload)

    def send(self, payload: str) -> None:
        """Queue a frame for this socket alone (connection frames, repeated acknowledgements).

        While a replay still has pages to read, the frame waits for its end: a repeated acknowledgement
        must not overtake the events before it.
        """
        if self.closed:
            return
        if self._reader is not None:
            if len(self._later) >= self.max_queue:
                self._overflow()
                return
            self._later.append(payload)
            return
        if self.outbox.qsize() >= self.max_queue:
            self._overflow()
            return
        self.outbox.put_nowait(payload)

    async def start_replay(self, read: PageReader) -> None:
        """Replay the stored events after ``last_seq`` through ``read``; the first page is read now.

        Later pages are read by ``next`` as the outbox runs dry; the replay ends with the first short page.
        """
        self._reader = read
        await self._read_page()

    def finish_replay(self) -> None:
        """Stop replaying: send the live events held meanwhile, each once and in order, then go live."""
        self._reader = None
        self._replaying = False
        held, self._held = sorted(self._held, key=lambda e: e.seq), []
        for event in held:
            self._put(event.seq, event.payload)
        later, self._later = self._later, []
        for payload in later:
            self.send(payload)

    async def next(self) -> str | None:
        """The next frame to send, or None when the socket should stop (see ``overflowed``)."""
        while self.outbox.empty() and self._reader is not None and not self.closed:
            await self._read_page()
        return await self.outbox.get()

    def close(self) -> None:
        """Tell the sender loop to stop once it has sent what is queued."""
        if self.closed:
            return
        self.closed = True
        self._reader = None
        self._held.clear()
        self._later.clear()
        self.outbox.put_nowait(None)

    async def _fill_gap(self) -> None:
        try:
            while self._reader is not None and not self.closed:
                await self._read_page()
        except Exception:
            # The store is unreachable: go on live; a reconnect with last_seq reads what was missed.
            log.warning("could not read missing events for a socket; it goes on live", exc_info=True)
            self.finish_replay()

    async def _read_page(self) -> None:
        assert self._reader is not None
        self._held_dropped = False
        page = await self._reader(self.last_seq, self.page_size)
        if self.closed:
            return
        for event in page:
            self._put(event.seq, event.payload)
        # A short page means the store had nothing more when it was read; whatever was published after that
        # is held, unless some of the held events had to be dropped during the read.
        if len(page) < self.page_size and not self._held_dropped:
            self.finish_replay()

    def _put(self, seq: int, payload: str) -> None:
        if seq <= self.last_seq or self.closed:
            return
        if self.outbox.qsize() >= self.max_queue:
            self._overflow()
            return
        self.last_seq = seq
        self.outbox.put_nowait(payload)

    def _overflow(self) -> None:
        # A client this far behind reconnects and replays from the store instead: nothing queued is kept.
        self.overflowed = True
        while not self.outbox.empty():
            self.outbox.get_nowait()
        self.close()

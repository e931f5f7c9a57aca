"""One socket's view of a conversation: a bounded outbox of ready-to-send JSON, de-duplicated by ``seq``."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterable

from app.store.records import StoredPayload


class Subscriber:
    """Frames queued for one socket; stored events arrive at most once each and in ``seq`` order.

    Until ``finish_replay`` runs, live events are held back so the replay read from the store goes first.
    """

    def __init__(self, last_seq: int, max_queue: int = 2000) -> None:
        self.last_seq = last_seq
        self.outbox: asyncio.Queue[str | None] = asyncio.Queue(maxsize=max_queue)
        self.overflowed = False
        self._replaying = True
        self._held: list[StoredPayload] = []

    def deliver(self, seq: int, payload: str) -> None:
        """Queue a stored event without blocking; skipped if this socket already has it."""
        if self._replaying:
            self._held.append(StoredPayload(seq, payload))
            return
        self._put(seq, payload)

    def send(self, payload: str) -> None:
        """Queue a frame for this socket alone (connection frames, repeated acknowledgements)."""
        with contextlib.suppress(asyncio.QueueFull):
            self.outbox.put_nowait(payload)

    def finish_replay(self, stored: Iterable[StoredPayload]) -> None:
        """Send the stored events, then the live ones that arrived meanwhile, each once and in order."""
        for event in stored:
            self._put(event.seq, event.payload)
        for event in sorted(self._held, key=lambda e: e.seq):
            self._put(event.seq, event.payload)
        self._held.clear()
        self._replaying = False

    def close(self) -> None:
        """Tell the sender loop to stop."""
        with contextlib.suppress(asyncio.QueueFull):
            self.outbox.put_nowait(None)

    def _put(self, seq: int, payload: str) -> None:
        if seq <= self.last_seq:
            return
        self.last_seq = seq
        try:
            self.outbox.put_nowait(payload)
        except asyncio.QueueFull:
            # A client this far behind reconnects and replays from the store instead.
            self.overflowed = True
            with contextlib.suppress(asyncio.QueueFull):
                self.outbox.put_nowait(None)

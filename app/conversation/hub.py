"""The live state of one conversation in this process: its journal, its answer queue and who is connected."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Literal

from app.conversation.eventlog import Journal
from app.conversation.owner import Owner
from app.conversation.prefetch import Prefetch
from app.conversation.router import RouteDecision
from app.conversation.transcript import Transcript
from app.events import Accepted

# "handoff": a person took the conversation over while the assistant was answering.
StopReason = Literal["cancel", "abandoned", "shutdown", "handoff"]


@dataclass(slots=True)
class Job:
    """A stored customer message waiting for its answer; ``recovered`` if a previous process left it.

    ``route`` is the message's classification, started while the message was being stored; ``prefetch`` the
    chat request started at the same time, if any (used only if the route is chat).
    """

    accepted: Accepted
    recovered: bool = False
    route: asyncio.Future[RouteDecision] | None = None
    prefetch: Prefetch | None = None

    def drop(self) -> None:
        """The job will never run: release what was started for it."""
        if self.route is not None:
            self.route.cancel()
        if self.prefetch is not None:
            self.prefetch.drop()


@dataclass(slots=True)
class Running:
    """The answer being generated and, once asked to stop, why."""

    message_id: str
    task: asyncio.Task[None]
    stop_reason: StopReason | None = None


@dataclass(eq=False)
class Hub:
    """One conversation's live state; answers are generated one at a time, in the order messages came."""

    conversation_id: str
    customer_id: str | None
    journal: Journal
    persisted: bool
    jobs: asyncio.Queue[Job] = field(default_factory=asyncio.Queue)
    queued: set[str] = field(default_factory=set)
    accepting: dict[str, asyncio.Future[Accepted]] = field(default_factory=dict)
    worker: asyncio.Task[None] | None = None
    running: Running | None = None
    abandon_timer: asyncio.TimerHandle | None = None
    sockets: int = 0
    # Loop times of the last sign of another process: its events for this conversation, its sockets watching.
    remote_events_at: float = 0.0
    remote_watchers_at: float = 0.0
    watch_sent_at: float = 0.0
    abandoned: bool = False
    transcript: Transcript = field(default_factory=Transcript)
    # Who answers (the assistant unless a person was asked for or took over), and the assistant's answers in
    # a row that could not help (``Finished.helpless``).
    owner: Owner = field(default_factory=Owner)
    helpless: int = 0

    @property
    def busy(self) -> bool:
        """Whether anything still needs this hub: sockets, answers, pending writes or a pending abandon."""
        return bool(
            self.sockets
            or self.running is not None
            or not self.jobs.empty()
            or self.accepting
            or (self.worker is not None and not self.worker.done())
            or self.abandon_timer is not None
            or not self.journal.idle
        )

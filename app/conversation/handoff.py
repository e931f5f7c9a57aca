"""The handoff desk: the one place a conversation changes hands between the assistant and a person.

Every request for a person (the customer asked, the model called ``transfer_to_human_agents``, the assistant
could not help several times in a row) is recorded through the ``Handoffs`` port (``NotifyingHandoffs``: the
``handoffs`` row and the webhook), and every change of owner is stored with the ``handoff`` event that tells
the customer, in one transaction of the conversation's journal. Operators' inboxes hear of each change on the
broadcaster's ``OPERATORS_CHANNEL`` (a hint; they read the queue back from the store).
"""

from __future__ import annotations

import logging
import re
import statistics
import time
import uuid
from collections import deque
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import replace
from typing import Protocol

import orjson

from app.conversation import owner as owners
from app.conversation.broadcaster import Broadcaster
from app.conversation.hub import Hub
from app.conversation.owner import HandoffSource, Operator, Owner
from app.errors import ErrorCode, ShopchatError
from app.events import AgentMessage, Handoff, HandoffStatus
from app.llm.language import detect_language
from app.store.records import NewOperatorMessage, OwnerChanged
from app.store.tables import utcnow

log = logging.getLogger("shopchat.handoff")

OPERATORS_CHANNEL = "__operators__"
"""The broadcaster's channel for inbox hints (not a conversation id: ids are 32 hex characters)."""

MAX_REASON_CHARS = 2000
_EMAIL = re.compile(r"^[^@\s<>\"']{1,64}@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+$")


class Handoffs(Protocol):
    """Where handoff requests are recorded and announced (``app.web.handoffs.NotifyingHandoffs``)."""

    async def add_handoff(self, conversation_id: str | None, customer_id: str | None, summary: str) -> int:
        """Record the request; its id."""
        ...


class NoHandoffs:
    """Records nothing (tests, or a server without a handoffs table)."""

    async def add_handoff(self, conversation_id: str | None, customer_id: str | None, summary: str) -> int:
        """Nothing recorded: id 0."""
        return 0


def owner_write(conversation_id: str, owner: Owner) -> OwnerChanged:
    """The row that stores ``owner``."""
    return OwnerChanged(
        conversation_id=conversation_id,
        state=owner.state,
        operator_id=owner.operator.id if owner.operator is not None else None,
        reason=owner.reason,
        source=owner.source,
        since=owner.since,
        ticket_email=owner.ticket_email,
    )


WAITS_KEPT = 20
"""Recent waits the expected wait is estimated from."""

# What the customer reads, in their language when the desk has it (English otherwise).
TEXTS: dict[str, dict[str, str]] = {
    "en": {
        "unavailable": "Nobody from the team is available right now.{when} Leave your email address and we will "
        "write to you; until then the assistant keeps helping.",
        "when": " Our team is here {hours}.",
        "waiting": "A person from the team will join this chat shortly; please stay here.{place} Your messages "
        "are kept for them.",
        "place": " You are number {n} in the queue.",
        "minute": " The wait is usually about a minute.",
        "minutes": " The wait is usually about {n} minutes.",
        "hour": " The wait may be over an hour.",
        "joined": "{name} joined the chat.",
        "returned": "You are chatting with the assistant again.",
        "closed": "This conversation was closed. Write again any time if you need help.",
    },
    "de": {
        "unavailable": "Gerade ist niemand aus dem Team erreichbar.{when} Hinterlasse deine E-Mail-Adresse, dann "
        "schreiben wir dir; bis dahin hilft dir der Assistent weiter.",
        "when": " Unser Team ist {hours} für dich da.",
        "waiting": "Gleich meldet sich jemand aus dem Team in diesem Chat; bitte bleib hier.{place} Deine "
        "Nachrichten werden für sie aufbewahrt.",
        "place": " Du bist Nummer {n} in der Warteschlange.",
        "minute": " Die Wartezeit beträgt meist etwa eine Minute.",
        "minutes": " Die Wartezeit beträgt meist etwa {n} Minuten.",
        "hour": " Die Wartezeit kann über eine Stunde betragen.",
        "joined": "{name} ist dem Chat beigetreten.",
        "returned": "Du schreibst wieder mit dem Assistenten.",
        "closed": "Dieses Gespräch wurde beendet. Schreib uns jederzeit wieder, wenn du Hilfe brauchst.",
    },
}


def customer_text(lang: str, key: str, **values: object) -> str:
    """The customer's sentence ``key`` in ``lang`` (English when the desk has no such language)."""
    return TEXTS.get(lang, TEXTS["en"])[key].format(**values)


def expected_wait(waits: Sequence[float], ahead: int, lang: str = "en") -> str:
    """What a customer with ``ahead`` customers before them may expect, from recent waits ("" without any).

    The median of the recent waits, once per customer in the queue before them and once for themselves:
    rough, but grounded in how this shop's team has answered lately, never a promise from thin air.
    """
    if not waits:
        return ""
    minutes = statistics.median(waits) * (ahead + 1) / 60
    if minutes < 1.5:
        return customer_text(lang, "minute")
    if minutes < 60:
        return customer_text(lang, "minutes", n=round(minutes))
    return customer_text(lang, "hour")


class HandoffDesk:
    """Moves conversations between the assistant and people (see the module docstring).

    ``available()`` says whether a person can come now (an operator is online, within the shop's hours);
    ``hours`` is the shop's support hours in words, for the customer when nobody can. ``after_fallbacks``
    answers in a row that could not help pass the conversation to a person (0: never).
    """

    def __init__(
        self,
        handoffs: Handoffs | None = None,
        *,
        available: Callable[[], bool] = lambda: True,
        hours: str = "",
        after_fallbacks: int = 2,
        broadcaster: Broadcaster | None = None,
        waiting: Callable[[], Awaitable[int]] | None = None,
    ) -> None:
        self.handoffs: Handoffs = handoffs or NoHandoffs()
        # How many customers are waiting already (the queue in the store): the customer is told their place.
        self.waiting = waiting
        self.available = available
        self.hours = hours
        self.after_fallbacks = after_fallbacks
        self.broadcaster = broadcaster
        # Set by ChatService: the live hub of a conversation (the tool asks by conversation id), and who to tell
        # of each change (the other processes, whose answer in progress must stop when a person takes over).
        # How long the last customers waited for a person (seconds): the next one is told what to expect.
        self.waits: deque[float] = deque(maxlen=WAITS_KEPT)
        self.hubs: Callable[[str], Hub | None] = lambda _: None
        self.changed: Callable[[Hub], None] = lambda _: None

    # ---- requests for a person ---------------------------------------------------------------------

    async def request(self, hub: Hub, reason: str, source: HandoffSource) -> int:
        """Ask for a person: ``waiting`` (or ``unavailable`` when nobody can come); the handoff's id.

        Asked again while a person is already asked for or present, nothing changes (and 0 is returned): the
        helpdesk heard of it the first time.
        """
        if not hub.owner.bot_answers:
            return 0
        reason = reason.strip()[:MAX_REASON_CHARS] or "The customer asked for a person."
        handoff_id = await self.handoffs.add_handoff(hub.conversation_id, hub.customer_id, reason)
        lang = self._language(hub)
        if not self.available():
            when = customer_text(lang, "when", hours=self.hours) if self.hours else ""
            await self._announce(hub, hub.owner, "unavailable", customer_text(lang, "unavailable", when=when))
            log.info("handoff of %s (%s): nobody available", hub.conversation_id, source)
            return handoff_id
        ahead = await self.waiting() if self.waiting is not None else 0
        changed = owners.request(hub.owner, reason, source, utcnow())
        place = customer_text(lang, "place", n=ahead + 1) if ahead else ""
        place += expected_wait(self.waits, ahead, lang)
        await self._announce(hub, changed, "waiting", customer_text(lang, "waiting", place=place))
        log.info("handoff of %s (%s): waiting for a person", hub.conversation_id, source)
        return handoff_id

    async def add_handoff(self, conversation_id: str | None, customer_id: str | None, summary: str) -> int:
        """The tools' ``Handoffs``: the model called ``transfer_to_human_agents`` while answering."""
        hub = self.hubs(conversation_id) if conversation_id is not None else None
        if hub is None:
            return await self.handoffs.add_handoff(conversation_id, customer_id, summary)
        return await self.request(hub, summary, "tool")

    async def after_answer(self, hub: Hub) -> None:
        """After each answer: too many in a row that could not help ask for a person."""
        if self.after_fallbacks and hub.owner.bot_answers and hub.helpless >= self.after_fallbacks:
            hub.helpless = 0
            await self.request(
                hub, f"The assistant could not help {self.after_fallbacks} times in a row.", "fallbacks"
            )

    # ---- people ------------------------------------------------------------------------------------

    async def take(self, hub: Hub, operator: Operator) -> None:
        """``operator`` takes the conversation; an answer being generated stops (its one ``done``, stopped)."""
        now = utcnow()
        changed = owners.take(hub.owner, operator, now)
        if changed is hub.owner:
            return
        if hub.owner.state == "waiting" and hub.owner.since is not None:
            self.waits.append((now - hub.owner.since).total_seconds())
        running = hub.running
        shown = operator.name[:1].upper() + operator.name[1:]  # names are stored lower-case
        await self._announce(
            hub, changed, "joined", customer_text(self._language(hub), "joined", name=shown), operator.name
        )
        if running is not None and not running.task.done():
            running.stop_reason = "handoff"
            running.task.cancel()

    async def release(self, hub: Hub, operator: Operator) -> None:
        """Hand the conversation back to the assistant."""
        changed = owners.release(hub.owner, operator)
        hub.helpless = 0
        await self._announce(hub, changed, "returned", customer_text(self._language(hub), "returned"))

    async def close(self, hub: Hub, operator: Operator) -> None:
        """End the conversation; a new customer message reopens it with the assistant."""
        changed = owners.close(hub.owner, operator)
        await self._announce(hub, changed, "closed", customer_text(self._language(hub), "closed"))

    @staticmethod
    def _language(hub: Hub) -> str:
        """The language of the customer's latest message (what the desk tells them is written in it)."""
        latest = hub.transcript.latest_question()
        return detect_language(latest) if latest else "en"

    async def say(self, hub: Hub, operator: Operator, text: str) -> AgentMessage:
        """Store and send the operator's message to the customer."""
        owners.may_say(hub.owner, operator)
        message_id = "op-" + uuid.uuid4().hex[:16]
        now = utcnow()
        event = await hub.journal.event(
            lambda seq: AgentMessage(
                seq=seq,
                message_id=message_id,
                text=text,
                operator_name=operator.name,
                created_at=now.isoformat(),
            ),
            NewOperatorMessage(hub.conversation_id, message_id, text, operator.id, now),
        )
        assert isinstance(event, AgentMessage)
        hub.transcript.operator_said(text)
        return event

    # ---- the customer ------------------------------------------------------------------------------

    async def reopen(self, hub: Hub) -> None:
        """A customer message in a closed conversation: the assistant answers again (nothing is announced)."""
        changed = owners.reopen(hub.owner)
        hub.owner = changed
        hub.journal.write(owner_write(hub.conversation_id, changed))
        await hub.journal.flushed()
        self.changed(hub)
        self._hint(hub.conversation_id)

    async def ticket(self, hub: Hub, email: str) -> None:
        """The customer leaves an email address: the conversation becomes a ticket in the inbox."""
        email = email.strip()
        if len(email) > 254 or not _EMAIL.match(email):
            raise ShopchatError("That does not look like an email address.", code=ErrorCode.INVALID_VALUE)
        if not hub.persisted:
            raise ShopchatError("Write your question first, then leave your email.", code=ErrorCode.NOT_FOUND)
        changed = replace(hub.owner, ticket_email=email, since=hub.owner.since or utcnow())
        await self._announce(
            hub, changed, "unavailable", f"Thank you. The team will write to you at {email}."
        )

    # ---- storing -----------------------------------------------------------------------------------

    async def _announce(
        self, hub: Hub, changed: Owner, status: HandoffStatus, message: str, operator_name: str | None = None
    ) -> None:
        # The owner changes now, before the commit: an answer queued meanwhile must already see it.
        hub.owner = changed
        await hub.journal.event(
            lambda seq: Handoff(seq=seq, status=status, operator_name=operator_name, message=message),
            owner_write(hub.conversation_id, changed),
        )
        self.changed(hub)
        self._hint(hub.conversation_id)

    def _hint(self, conversation_id: str) -> None:
        if self.broadcaster is not None:
            payload = orjson.dumps({"type": "queue_changed", "conversation_id": conversation_id}).decode()
            # Any growing number will do: the inbox reads the queue back, so it only needs to hear "changed".
            self.broadcaster.publish(OPERATORS_CHANNEL, time.time_ns(), payload)

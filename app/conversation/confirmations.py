"""Changes that wait for the customer's word: proposed by a tool call, decided once by the customer.

A write tool never runs on the model's word. Its call is checked and stored as a pending action, and the
customer gets a ``confirm`` event. The customer answers with a ``confirm`` frame, or types yes or no right
after the question; the answer to that message claims the action (one compare-and-set in the database, so
two tabs or two processes decide it once), makes the change only when approved, and lets the model say how it
went. Declined, expired, superseded and already-answered actions never run.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import orjson

from app.conversation.hub import Hub
from app.errors import ErrorCode
from app.events import Confirm, Error
from app.store.actions import ActionRecord, ActionStore
from app.store.tables import utcnow

CONFIRM_TTL_S = 900.0
"""How long a customer has to answer a confirmation (15 minutes)."""

FRAME_PREFIX = "confirm-"
APPROVE_TEXT = "Yes, go ahead."
DECLINE_TEXT = "No, don't do that."

_WORD = re.compile(r"[^\W\d_]+|\d+", re.UNICODE)
_YES_FIRST = frozenset(
    [
        "yes",
        "yeah",
        "yep",
        "yup",
        "ya",
        "sure",
        "ok",
        "okay",
        "confirm",
        "confirmed",
        "correct",
        "absolutely",
        "definitely",
        "please",
        "go",
        "do",
        "ja",
        "jawohl",
        "genau",
        "klar",
        "bestätigen",
        "bestätigt",
        "bestätige",
        "gerne",
        "mach",
        "oui",
        "si",
    ]
)
# A yes is only a yes when every word after the first says yes too ("yes please, go ahead, cancel it"): "ok,
# show me the items first" or "sure, what is the total?" ask something else and approve nothing.
_YES_WORDS = _YES_FIRST | frozenset(
    [
        "it",
        "that",
        "this",
        "do",
        "go",
        "ahead",
        "thanks",
        "thank",
        "you",
        "fine",
        "right",
        "proceed",
        "cancel",
        "return",
        "change",
        "send",
        "i",
        "am",
        "s",
        "is",
        "bitte",
        "danke",
        "das",
        "es",
        "los",
        "weiter",
        "so",
        "ich",
        "bin",
        "sicher",
        "merci",
    ]
)
_NO_FIRST = frozenset(["no", "nope", "nah", "nein", "non", "don", "dont", "never"])
_MAX_WORDS = 6


def yes_or_no(text: str) -> bool | None:
    """True for a short yes ("yes please", "ja", "go ahead"), False for a short no, None for anything else."""
    words = [w.lower() for w in _WORD.findall(text)]
    if not words or len(words) > _MAX_WORDS:
        return None
    if words[0] in _NO_FIRST:
        return False
    if words[0] in _YES_FIRST and all(w in _YES_WORDS for w in words[1:]):
        return True
    return None


@dataclass(frozen=True, slots=True)
class Decision:
    """The customer's answer to the pending action ``action_id``."""

    action_id: str
    approve: bool


class Confirmations:
    """Proposes changes to customers and turns their answers into ``Decision``s (see the module docstring)."""

    def __init__(
        self,
        actions: ActionStore,
        *,
        ttl_s: float = CONFIRM_TTL_S,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.actions = actions
        self.ttl = timedelta(seconds=ttl_s)
        self._clock = clock

    async def propose(
        self,
        hub: Hub,
        message_id: str,
        call_id: str,
        tool: str,
        arguments: dict[str, Any],
        summary: str,
        customer_id: str,
    ) -> str:
        """Store the pending action and its ``confirm`` event; returns what the model reads instead of a result."""
        now = self._clock()
        action = ActionRecord(
            action_id=secrets.token_urlsafe(12),
            conversation_id=hub.conversation_id,
            message_id=message_id,
            call_id=call_id,
            tool=tool,
            arguments=arguments,
            summary=summary,
            customer_id=customer_id,
            status="pending",
            created_at=now,
            expires_at=now + self.ttl,
        )
        await self.actions.propose(action)
        expires = action.expires_at.isoformat()
        await hub.journal.event(
            lambda seq: Confirm(
                seq=seq,
                message_id=message_id,
                action_id=action.action_id,
                call_id=call_id,
                tool=tool,
                summary=summary,
                arguments=arguments,
                expires_at=expires,
            )
        )
        return orjson.dumps(
            {
                "status": "awaiting_confirmation",
                "action_id": action.action_id,
                "summary": summary,
                "message": "Nothing has changed yet. The customer now sees this change with Confirm and Cancel "
                "buttons and can also reply yes or no. Ask them to confirm it; do not say it is done.",
            }
        ).decode()

    async def refusal(self, hub: Hub, action_id: str) -> Error | None:
        """Why a ``confirm`` frame for ``action_id`` cannot be taken in this conversation, or None if it can."""
        action = await self.actions.get(action_id)
        if action is None or action.conversation_id != hub.conversation_id:
            return Error(
                code=ErrorCode.NOT_FOUND,
                message="There is no change waiting for your confirmation with that id.",
            )
        if action.status == "superseded":
            return Error(
                code=ErrorCode.CONFIRMATION_CLOSED,
                message="A newer request replaced this one; nothing was changed by it.",
            )
        if action.status != "pending":
            return Error(
                code=ErrorCode.CONFIRMATION_CLOSED,
                message="This change was already confirmed or declined.",
            )
        if action.expired(self._clock()):
            await self.actions.expire(action_id)
            return Error(
                code=ErrorCode.CONFIRMATION_EXPIRED,
                message="This confirmation has expired, so nothing was changed. Ask again if you still want it.",
            )
        return None

    async def decision(self, hub: Hub, message_id: str, text: str) -> Decision | None:
        """The decision a stored customer message carries, else None.

        A ``confirm`` frame is stored as the message ``confirm-<action_id>`` (see ``frame_message``); a typed
        yes or no counts only for the action the previous answer proposed.
        """
        if message_id.startswith(FRAME_PREFIX):
            return Decision(message_id[len(FRAME_PREFIX) :], text == APPROVE_TEXT)
        approve = yes_or_no(text)
        if approve is None:
            return None
        previous = hub.transcript.previous(message_id)
        if previous is None:
            return None
        action = await self.actions.pending(hub.conversation_id)
        # Only the question just asked: a "yes" to anything later must never approve an older change.
        if action is None or action.message_id != previous:
            return None
        return Decision(action.action_id, approve)

    async def claim(self, hub: Hub, decision: Decision) -> ActionRecord | None:
        """Decide the action now, exactly once; the action if this call decided it, None if it could not be."""
        action = await self.actions.get(decision.action_id)
        if action is None or action.conversation_id != hub.conversation_id:
            return None
        now = self._clock()
        if not await self.actions.decide(decision.action_id, approve=decision.approve, now=now):
            if action.status == "pending" and action.expired(now):
                await self.actions.expire(decision.action_id)
            return None
        return action

    async def action(self, hub: Hub, action_id: str) -> ActionRecord | None:
        """The conversation's stored action ``action_id``, or None."""
        action = await self.actions.get(action_id)
        return action if action is not None and action.conversation_id == hub.conversation_id else None


def frame_message(action_id: str, approve: bool) -> tuple[str, str]:
    """The customer message (id, text) a ``confirm`` frame is stored as: resent frames are one message."""
    return FRAME_PREFIX + action_id, APPROVE_TEXT if approve else DECLINE_TEXT

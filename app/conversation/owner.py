"""Who answers a conversation: the assistant (``bot``), nobody yet (``waiting`` for a person), a person
(``human``), or nobody any more (``closed``). Pure: no I/O, every transition one function.

::

    bot ──request──▶ waiting ──take──▶ human ──release──▶ bot
     │  ◀──release──┘                   │
     └──────────────take────────────────┘        (any of bot, waiting, human) ──close──▶ closed ──reopen──▶ bot

While the owner is not ``bot`` the assistant answers nothing: customer messages are stored and acknowledged,
and each still ends with one terminal ``done`` (``held: true``). A transition that does not apply raises
``OwnerError`` with a stable code; the caller turns it into an error frame.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from typing import Literal

from app.errors import ErrorCode, ShopchatError

OwnerState = Literal["bot", "waiting", "human", "closed"]
OWNER_STATES: tuple[OwnerState, ...] = ("bot", "waiting", "human", "closed")
HandoffSource = Literal["customer", "tool", "fallbacks", "operator"]


class OwnerError(ShopchatError):
    """A transition the conversation's owner does not allow (``invalid_transition``), or an operator acting
    on a conversation another operator holds (``not_owner``)."""

    public = True

    def __init__(self, message: str, *, code: ErrorCode, state: OwnerState) -> None:
        super().__init__(message, code=code)
        self.state = state


@dataclass(frozen=True, slots=True)
class Operator:
    """A signed-in person who can take conversations."""

    id: int
    name: str


@dataclass(frozen=True, slots=True)
class Owner:
    """A conversation's owner; ``operator`` while ``human``; ``reason`` why a person was asked for."""

    state: OwnerState = "bot"
    operator: Operator | None = None
    reason: str | None = None
    source: HandoffSource | None = None
    since: datetime | None = None
    ticket_email: str | None = None

    @property
    def bot_answers(self) -> bool:
        """Whether the assistant may answer (and keep streaming) now."""
        return self.state == "bot"


def _refuse(owner: Owner, action: str) -> OwnerError:
    return OwnerError(
        f"cannot {action} a conversation that is {owner.state}",
        code=ErrorCode.INVALID_TRANSITION,
        state=owner.state,
    )


def _held_by_other(owner: Owner, operator: Operator) -> bool:
    return owner.state == "human" and owner.operator is not None and owner.operator.id != operator.id


def request(owner: Owner, reason: str, source: HandoffSource, now: datetime) -> Owner:
    """The customer, the model or the fallback rule asks for a person: ``bot`` → ``waiting``."""
    if owner.state != "bot":
        raise _refuse(owner, "ask a person for")
    return Owner(state="waiting", reason=reason, source=source, since=now, ticket_email=owner.ticket_email)


def take(owner: Owner, operator: Operator, now: datetime) -> Owner:
    """An operator takes the conversation: ``bot`` or ``waiting`` → ``human`` (again by the same: unchanged)."""
    if owner.state == "human" and owner.operator == operator:
        return owner
    if _held_by_other(owner, operator):
        assert owner.operator is not None
        raise OwnerError(
            f"{owner.operator.name} has already taken this conversation",
            code=ErrorCode.NOT_OWNER,
            state=owner.state,
        )
    if owner.state not in ("bot", "waiting"):
        raise _refuse(owner, "take")
    return replace(owner, state="human", operator=operator, since=now, source=owner.source or "operator")


def release(owner: Owner, operator: Operator) -> Owner:
    """Hand the conversation back to the assistant: ``waiting`` or ``human`` (by its operator) → ``bot``."""
    if _held_by_other(owner, operator):
        raise OwnerError("another operator holds this conversation", code=ErrorCode.NOT_OWNER, state="human")
    if owner.state not in ("waiting", "human"):
        raise _refuse(owner, "hand back")
    return Owner(state="bot", ticket_email=owner.ticket_email)


def close(owner: Owner, operator: Operator) -> Owner:
    """End the conversation for good: ``bot``, ``waiting`` or ``human`` (by its operator) → ``closed``."""
    if _held_by_other(owner, operator):
        raise OwnerError("another operator holds this conversation", code=ErrorCode.NOT_OWNER, state="human")
    if owner.state == "closed":
        raise _refuse(owner, "close")
    return Owner(state="closed", operator=owner.operator, ticket_email=owner.ticket_email)


def reopen(owner: Owner) -> Owner:
    """The customer writes again after the conversation was closed: ``closed`` → ``bot``."""
    if owner.state != "closed":
        raise _refuse(owner, "reopen")
    return Owner(state="bot", ticket_email=owner.ticket_email)


def may_say(owner: Owner, operator: Operator) -> None:
    """Raise unless ``operator`` holds the conversation (only its person writes to the customer)."""
    if owner.state != "human":
        raise OwnerError(
            "take the conversation before writing to the customer",
            code=ErrorCode.NOT_OWNER,
            state=owner.state,
        )
    if _held_by_other(owner, operator):
        raise OwnerError("another operator holds this conversation", code=ErrorCode.NOT_OWNER, state="human")

"""What the store returns and what it is asked to write: plain values, no ORM objects."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

# "held": the assistant did not answer, a person owned the conversation (never a training example).
MessageStatus = Literal["streaming", "done", "stopped", "failed", "held"]


@dataclass(frozen=True, slots=True)
class ConversationRecord:
    """A stored conversation."""

    id: str
    customer_id: str | None
    created_at: datetime
    last_seq: int


@dataclass(frozen=True, slots=True)
class MessageRecord:
    """A stored user message or assistant answer; an answer shares ``client_id`` with its question."""

    client_id: str
    role: str
    text: str
    status: str
    route: str | None
    prompt_tokens: int | None
    completion_tokens: int | None
    error_code: str | None
    recommendations: dict[str, Any] | None
    feedback_rating: int | None
    feedback_comment: str | None
    created_at: datetime
    completed_at: datetime | None


@dataclass(frozen=True, slots=True)
class HistoryTurn:
    """A finished message as the prompt builder needs it."""

    role: Literal["user", "assistant"]
    text: str


@dataclass(frozen=True, slots=True)
class StoredPayload:
    """An event as stored: its ``seq`` and its JSON, ready to send as it is."""

    seq: int
    payload: str


# ---- writes: applied together, in one transaction, by ``Store.write`` ----------------------------------


@dataclass(frozen=True, slots=True)
class NewConversation:
    """Create the conversation unless it exists (its first message creates it)."""

    conversation_id: str
    customer_id: str | None


@dataclass(frozen=True, slots=True)
class NewUserMessage:
    """A customer message; its ``client_id`` is unique within the conversation."""

    conversation_id: str
    client_id: str
    text: str
    created_at: datetime


@dataclass(frozen=True, slots=True)
class AnswerStarted:
    """The answer to ``client_id`` is being generated (again, after a restart: its text starts over)."""

    conversation_id: str
    client_id: str
    route: str


@dataclass(frozen=True, slots=True)
class AnswerFinished:
    """The final (or partial) answer to ``client_id`` with its outcome."""

    conversation_id: str
    client_id: str
    text: str
    status: MessageStatus
    route: str
    prompt_tokens: int | None
    completion_tokens: int | None
    error_code: str | None = None
    recommendations: tuple[dict[str, Any], ...] = ()


@dataclass(frozen=True, slots=True)
class NewEvent:
    """One event of the log; ``payload`` is its JSON as sent to clients."""

    conversation_id: str
    seq: int
    type: str
    message_id: str | None
    payload: str


@dataclass(frozen=True, slots=True)
class OwnerChanged:
    """Who answers the conversation now (``app.conversation.owner``); one row per conversation, replaced."""

    conversation_id: str
    state: str
    operator_id: int | None
    reason: str | None
    source: str | None
    since: datetime | None
    ticket_email: str | None


@dataclass(frozen=True, slots=True)
class NewOperatorMessage:
    """A message an operator wrote to the customer; stored as role ``operator`` with its author."""

    conversation_id: str
    client_id: str
    text: str
    operator_id: int
    created_at: datetime


@dataclass(frozen=True, slots=True)
class OwnerRecord:
    """A conversation's stored owner, with the operator's name when one holds it."""

    conversation_id: str
    state: str
    operator_id: int | None
    operator_name: str | None
    reason: str | None
    source: str | None
    since: datetime | None
    ticket_email: str | None
    updated_at: datetime
    customer_id: str | None = None


Write = (
    NewConversation
    | NewUserMessage
    | AnswerStarted
    | AnswerFinished
    | NewEvent
    | OwnerChanged
    | NewOperatorMessage
)

"""Frames of the operators' websocket ``/ws/operator`` (docs/protocol.md, "The operators' inbox"), defined once.

Operators send ``queue``, ``conversation``, ``take``, ``say``, ``release``, ``close`` and ``ping``; the server
sends ``hello``, ``queue``, ``conversation``, ``event`` (a stored event of the conversation being watched,
replayed then live), ``done_action``, ``error`` and ``pong``.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, TypeAdapter

from app.events import Error, Frame
from app.web.frames import CustomerText, parse_frame

CONVERSATION_ID = r"^[0-9a-f]{32}$"
MAX_OPERATOR_TEXT = 4000

# ---- operator → server --------------------------------------------------------------------------------


class OpQueue(Frame):
    """Send the queue again (it is also sent on connecting and whenever it changes)."""

    type: Literal["queue"]


class OpConversation(Frame):
    """Watch a conversation: its details, then its stored events after ``last_seq``, then live ones."""

    type: Literal["conversation"]
    conversation_id: str = Field(pattern=CONVERSATION_ID)
    last_seq: int = Field(default=0, ge=0)


class OpTake(Frame):
    """Take the conversation: the assistant stops answering it (an answer being written stops)."""

    type: Literal["take"]
    conversation_id: str = Field(pattern=CONVERSATION_ID)


class OpSay(Frame):
    """Write to the customer of a conversation this operator has taken."""

    type: Literal["say"]
    conversation_id: str = Field(pattern=CONVERSATION_ID)
    text: CustomerText = Field(min_length=1, max_length=MAX_OPERATOR_TEXT)


class OpRelease(Frame):
    """Hand the conversation back to the assistant."""

    type: Literal["release"]
    conversation_id: str = Field(pattern=CONVERSATION_ID)


class OpClose(Frame):
    """Close the conversation (a new customer message reopens it with the assistant)."""

    type: Literal["close"]
    conversation_id: str = Field(pattern=CONVERSATION_ID)


class OpPing(Frame):
    """Keep-alive; answered with ``pong``."""

    type: Literal["ping"]


OperatorFrame = OpQueue | OpConversation | OpTake | OpSay | OpRelease | OpClose | OpPing
OPERATOR_FRAME: TypeAdapter[OperatorFrame] = TypeAdapter(
    Annotated[OperatorFrame, Field(discriminator="type")]
)
OPERATOR_TYPES = frozenset({"queue", "conversation", "take", "say", "release", "close", "ping"})
Action = Literal["take", "say", "release", "close"]


def parse_operator_frame(raw: str) -> OperatorFrame | Error:
    """Validate one operator frame; problems come back as an ``Error`` frame with a stable code."""
    return parse_frame(raw, OPERATOR_FRAME, OPERATOR_TYPES)


# ---- server → operator --------------------------------------------------------------------------------


class OperatorInfo(Frame):
    """Who is signed in."""

    id: int
    name: str


class Hello(Frame):
    """First frame: the operator this socket signed in as."""

    type: Literal["hello"] = "hello"
    operator: OperatorInfo


class QueueItem(Frame):
    """One conversation in the inbox; ``waiting_s``: how long the customer has waited (or been with a person)."""

    conversation_id: str
    customer_id: str | None
    state: Literal["bot", "waiting", "human", "closed"]
    operator_name: str | None
    reason: str | None
    source: str | None
    since: str | None
    waiting_s: float | None
    ticket_email: str | None


class Queue(Frame):
    """The inbox: waiting customers first (longest waiting first), then conversations with a person, then
    tickets."""

    type: Literal["queue"] = "queue"
    items: list[QueueItem]


class OrderLine(Frame):
    """One line of a customer's order."""

    name: str
    quantity: int


class OrderSummary(Frame):
    """A customer's order as the inbox shows it."""

    order_id: str
    status: str
    placed_at: str
    items: list[OrderLine]


class Suggestion(Frame):
    """A product the recommender would suggest to this customer."""

    product_id: str
    name: str
    price: float
    currency: str


class ConversationInfo(Frame):
    """The conversation now watched: who, why, its owner, the customer's orders and suggestions; its events
    follow as ``event`` frames."""

    type: Literal["conversation"] = "conversation"
    conversation_id: str
    customer_id: str | None
    state: Literal["bot", "waiting", "human", "closed"]
    operator_name: str | None
    reason: str | None
    ticket_email: str | None
    last_seq: int
    orders: list[OrderSummary]
    recommendations: list[Suggestion]


class ActionDone(Frame):
    """An operator's ``take``/``say``/``release``/``close`` went through."""

    type: Literal["done_action"] = "done_action"
    action: Action
    conversation_id: str


class Pong(Frame):
    """Reply to ``ping``."""

    type: Literal["pong"] = "pong"


def event_frame(conversation_id: str, payload: str) -> str:
    """A stored event of the watched conversation, as sent to the operator: ``{"type": "event", …}``.

    ``payload`` is the stored JSON as it is (never re-encoded); ``conversation_id`` is 32 hex characters.
    """
    return f'{{"type":"event","conversation_id":"{conversation_id}","event":{payload}}}'

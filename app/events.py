"""The stored event vocabulary: every event a conversation's log holds, defined once.

Events carry a ``seq``; they are stored before they are sent, replayed on reconnect, and read back by the API
and the fine-tune export. Frames that belong to one connection only live in ``app.web.frames``.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter

from app.errors import ErrorCode

Route = Literal["chat", "recommend"]
# Why an answer ended: the model finished it, a token limit cut it (the model's or ours), or a content filter.
FinishReason = Literal["stop", "length", "content_filter"]


class Frame(BaseModel):
    """Base of every wire frame: unknown fields are rejected so typos surface as errors."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class Usage(Frame):
    """Tokens the model read and wrote for one answer."""

    prompt_tokens: int
    completion_tokens: int


class ProductCard(Frame):
    """One recommended product as the widget shows it."""

    product_id: str
    name: str
    price: float
    currency: str
    reason: str


class Accepted(Frame):
    """The user message is stored; it will be answered exactly once."""

    type: Literal["accepted"] = "accepted"
    seq: int
    message_id: str
    text: str
    created_at: str


class Delta(Frame):
    """A piece of the answer to ``message_id``, in order."""

    type: Literal["delta"] = "delta"
    seq: int
    message_id: str
    text: str


class Reset(Frame):
    """Discard the partial answer to ``message_id``: the server restarted and answers it again."""

    type: Literal["reset"] = "reset"
    seq: int
    message_id: str


class Recommendations(Frame):
    """Products suggested for the answer to ``message_id``; sent before its ``done``."""

    type: Literal["recommendations"] = "recommendations"
    seq: int
    message_id: str
    items: list[ProductCard]


class ToolCalled(Frame):
    """While answering ``message_id`` the assistant called the tool ``name`` (``arguments`` as it gave them)."""

    type: Literal["tool_call"] = "tool_call"
    seq: int
    message_id: str
    call_id: str
    name: str
    arguments: dict[str, Any]


class ToolResult(Frame):
    """The call ``call_id`` ended: ``ok`` or not, and ``summary`` in words a customer may read."""

    type: Literal["tool_result"] = "tool_result"
    seq: int
    message_id: str
    call_id: str
    ok: bool
    summary: str


class Confirm(Frame):
    """The assistant asks the customer to confirm a change (``summary``) before it is made.

    Answer it with a ``confirm`` frame {action_id, approve} (or a typed yes/no) before ``expires_at``; the call
    ``call_id`` of the answer ``message_id`` asked for it. Nothing changes until the customer approves.
    """

    type: Literal["confirm"] = "confirm"
    seq: int
    message_id: str
    action_id: str
    call_id: str
    tool: str
    summary: str
    arguments: dict[str, Any]
    expires_at: str


class Source(Frame):
    """Shop data an answer was given to work from: an FAQ entry or a product (by its id)."""

    kind: Literal["faq", "product"]
    id: str
    title: str


class Done(Frame):
    """The answer to ``message_id`` is complete (or ``stopped`` early); ``text`` is all of it.

    ``sources`` are the FAQ entries and products the model was given for it (found for the message, shown as
    cards or returned by its tools), so a shop can see what an answer rests on.
    """

    type: Literal["done"] = "done"
    seq: int
    message_id: str
    route: Route
    text: str
    usage: Usage
    stopped: bool = False
    # Events stored before this field existed were all ended by the model, hence the default.
    finish_reason: FinishReason = "stop"
    sources: list[Source] = Field(default_factory=list)
    # What the message was about (``order_status``, ``recommend`` …; app/llm/intents.py); None when unknown.
    intent: str | None = None
    # The assistant did not answer: a person owns the conversation (``text`` is empty; see ``handoff``).
    held: bool = False


class Error(Frame):
    """Something went wrong; ``seq`` is set when the error ends the answer to ``reply_to`` (it is stored)."""

    type: Literal["error"] = "error"
    code: ErrorCode
    message: str
    reply_to: str | None = None
    seq: int | None = None
    retry_after_s: float | None = None


HandoffStatus = Literal["waiting", "joined", "returned", "closed", "unavailable"]


class Handoff(Frame):
    """Who answers changed: a person was asked for (``waiting``, or ``unavailable`` when nobody can come),
    ``joined`` (``operator_name``), handed back to the assistant (``returned``), or ``closed``.

    ``message`` is what the customer reads, written by shopchat.
    """

    type: Literal["handoff"] = "handoff"
    seq: int
    status: HandoffStatus
    operator_name: str | None = None
    message: str


class AgentMessage(Frame):
    """A message a person of the shop (``operator_name``) wrote to the customer."""

    type: Literal["agent_message"] = "agent_message"
    seq: int
    message_id: str
    text: str
    operator_name: str
    created_at: str


StoredEvent = (
    Accepted
    | Delta
    | Reset
    | Recommendations
    | ToolCalled
    | ToolResult
    | Confirm
    | Done
    | Error
    | Handoff
    | AgentMessage
)
EVENT: TypeAdapter[StoredEvent] = TypeAdapter(Annotated[StoredEvent, Field(discriminator="type")])


def event_message_id(event: StoredEvent) -> str | None:
    """The customer message an event belongs to (``reply_to`` for errors; None for a ``handoff``)."""
    if isinstance(event, Error):
        return event.reply_to
    if isinstance(event, Handoff):
        return None
    return event.message_id

"""Websocket frames of one connection: what clients send, and the server frames that are never stored."""

from __future__ import annotations

import json
from typing import Annotated, Literal

from pydantic import Field, TypeAdapter, ValidationError

from app.errors import ErrorCode
from app.events import Accepted, Delta, Done, Error, Frame, Recommendations, Reset
from app.llm.health import ModelState

MESSAGE_ID_PATTERN = r"^[A-Za-z0-9_.:\-]{1,64}$"


# ---- client → server -------------------------------------------------------------------------------


class ClientMessage(Frame):
    """A customer's message; ``id`` is chosen by the client and makes resending idempotent."""

    type: Literal["message"]
    id: str = Field(pattern=MESSAGE_ID_PATTERN)
    text: str


class ClientCancel(Frame):
    """Stop the answer to ``message_id``; its ``done`` then has ``stopped`` set."""

    type: Literal["cancel"]
    message_id: str = Field(pattern=MESSAGE_ID_PATTERN)


class ClientFeedback(Frame):
    """Thumbs up (1) or down (-1) on the answer to ``message_id``."""

    type: Literal["feedback"]
    message_id: str = Field(pattern=MESSAGE_ID_PATTERN)
    rating: Literal[1, -1]
    comment: str | None = Field(default=None, max_length=2000)


class ClientPing(Frame):
    """Keep-alive; answered with ``pong``."""

    type: Literal["ping"]


ClientFrame = Annotated[
    ClientMessage | ClientCancel | ClientFeedback | ClientPing, Field(discriminator="type")
]
CLIENT_FRAME: TypeAdapter[ClientMessage | ClientCancel | ClientFeedback | ClientPing] = TypeAdapter(
    ClientFrame
)
CLIENT_TYPES = frozenset({"message", "cancel", "feedback", "ping"})


# ---- server → client (connection-only; stored events are in app.events) -------------------------------


class Ready(Frame):
    """First frame of every connection: which conversation this is and how to resume it."""

    type: Literal["ready"] = "ready"
    conversation_id: str
    token: str
    customer_id: str | None = None
    last_seq: int
    resumed: bool
    max_message_chars: int
    # Whether the chat model answered lately: the widget says replies may be delayed when it did not.
    model_state: ModelState = "ok"


class FeedbackSaved(Frame):
    """The feedback on the answer to ``message_id`` is stored."""

    type: Literal["feedback_saved"] = "feedback_saved"
    message_id: str
    rating: int


class Pong(Frame):
    """Reply to ``ping``."""

    type: Literal["pong"] = "pong"


ServerFrame = Ready | Accepted | Delta | Reset | Recommendations | Done | Error | FeedbackSaved | Pong
SERVER_FRAME: TypeAdapter[ServerFrame] = TypeAdapter(Annotated[ServerFrame, Field(discriminator="type")])


# ---- parsing -----------------------------------------------------------------------------------------

_WRONG_TYPE_ERRORS = frozenset(
    {
        "string_type",
        "int_type",
        "int_parsing",
        "bool_type",
        "model_type",
        "dict_type",
        "list_type",
        "float_type",
    }
)

ParsedClientFrame = ClientMessage | ClientCancel | ClientFeedback | ClientPing


def parse_client_frame(raw: str) -> ParsedClientFrame | Error:
    """Validate one client text frame; problems come back as an ``Error`` frame with a stable code."""
    try:
        data = json.loads(raw)
    except (json.JSONDecodeError, RecursionError):
        return Error(code=ErrorCode.BAD_JSON, message="The frame is not valid JSON.")
    if not isinstance(data, dict):
        return Error(code=ErrorCode.BAD_JSON, message="The frame must be a JSON object.")
    reply_to = next(
        (v for k in ("id", "message_id") if isinstance(v := data.get(k), str) and len(v) <= 64), None
    )
    frame_type = data.get("type")
    if frame_type not in CLIENT_TYPES:
        shown = frame_type if isinstance(frame_type, str) and len(frame_type) <= 40 else "missing"
        return Error(
            code=ErrorCode.UNKNOWN_TYPE,
            message=f"Unknown frame type {shown!r}; expected one of {', '.join(sorted(CLIENT_TYPES))}.",
            reply_to=reply_to,
        )
    try:
        return CLIENT_FRAME.validate_python(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        field = ".".join(str(part) for part in first["loc"][1:]) or str(first["loc"][0])
        kind = first["type"]
        if kind == "missing":
            code, message = ErrorCode.MISSING_FIELD, f"Field {field!r} is required for {frame_type!r} frames."
        elif kind in _WRONG_TYPE_ERRORS:
            code, message = ErrorCode.WRONG_TYPE, f"Field {field!r} has the wrong type: {first['msg']}."
        elif kind == "extra_forbidden":
            code, message = ErrorCode.INVALID_VALUE, f"Unknown field {field!r} in a {frame_type!r} frame."
        else:
            code, message = ErrorCode.INVALID_VALUE, f"Field {field!r} is invalid: {first['msg']}."
        return Error(code=code, message=message, reply_to=reply_to)

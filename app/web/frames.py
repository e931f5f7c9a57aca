"""Websocket frames of one connection: what clients send, and the server frames that are never stored."""

from __future__ import annotations

import json
import math
import re
from typing import Annotated, Any, Literal, TypeVar

from pydantic import AfterValidator, BeforeValidator, Field, StrictBool, TypeAdapter, ValidationError
from pydantic_core import PydanticCustomError

from app.errors import ErrorCode
from app.events import (
    Accepted,
    AgentMessage,
    Confirm,
    Delta,
    Done,
    Error,
    Frame,
    Handoff,
    Recommendations,
    Reset,
    ToolCalled,
    ToolResult,
)
from app.llm.health import ModelState

MESSAGE_ID_PATTERN = r"^[A-Za-z0-9_.:\-]{1,64}$"
_MESSAGE_ID = re.compile(r"[A-Za-z0-9_.:\-]{1,64}")
# Tabs and line breaks are text; every other control character (C0, DEL, C1) is refused, and so are lone
# surrogates, which no database can store and no socket can send.
_FORBIDDEN_CHARACTER = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff]")


def _printable_text(value: str) -> str:
    found = _FORBIDDEN_CHARACTER.search(value)
    if found is not None:
        raise PydanticCustomError(
            "invalid_character",
            "it contains the character U+{code}, which is not allowed",
            {"code": f"{ord(found.group()):04X}"},
        )
    return value


def _whole_number(value: Any) -> Any:
    # JSON true, false and 1.0 are not ratings, although Python compares them equal to 1, 0 and 1.
    if isinstance(value, bool) or not isinstance(value, int):
        raise PydanticCustomError("int_type", "Input should be a whole number")
    return value


CustomerText = Annotated[str, AfterValidator(_printable_text)]


# ---- client → server -------------------------------------------------------------------------------


class ClientMessage(Frame):
    """A customer's message; ``id`` is chosen by the client and makes resending idempotent."""

    type: Literal["message"]
    id: str = Field(pattern=MESSAGE_ID_PATTERN)
    text: CustomerText


class ClientCancel(Frame):
    """Stop the answer to ``message_id``; its ``done`` then has ``stopped`` set."""

    type: Literal["cancel"]
    message_id: str = Field(pattern=MESSAGE_ID_PATTERN)


class ClientFeedback(Frame):
    """Thumbs up (1) or down (-1) on the answer to ``message_id``."""

    type: Literal["feedback"]
    message_id: str = Field(pattern=MESSAGE_ID_PATTERN)
    rating: Annotated[Literal[1, -1], BeforeValidator(_whole_number)]
    comment: CustomerText | None = Field(default=None, max_length=2000)


class ClientConfirm(Frame):
    """The customer's answer to a ``confirm`` event: approve (true) or decline (false) the change ``action_id``."""

    type: Literal["confirm"]
    action_id: str = Field(pattern=r"^[A-Za-z0-9_-]{1,32}$")
    approve: StrictBool


class ClientTicket(Frame):
    """Nobody from the team could come (``handoff`` ``unavailable``): the customer leaves an email address."""

    type: Literal["ticket"]
    email: str = Field(min_length=3, max_length=254)


class ClientPing(Frame):
    """Keep-alive; answered with ``pong``."""

    type: Literal["ping"]


ParsedClientFrame = ClientMessage | ClientCancel | ClientFeedback | ClientConfirm | ClientTicket | ClientPing
ClientFrame = Annotated[ParsedClientFrame, Field(discriminator="type")]
CLIENT_FRAME: TypeAdapter[ParsedClientFrame] = TypeAdapter(ClientFrame)
CLIENT_TYPES = frozenset({"message", "cancel", "feedback", "confirm", "ticket", "ping"})


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


ServerFrame = (
    Ready
    | Accepted
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
    | FeedbackSaved
    | Pong
)
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
# No client frame needs a longer number; longer ones cost CPU to convert (and over 4,300 digits, an error).
_MAX_NUMBER_CHARS = 32
_SHOWN_CHARS = 40


class _RefusedJsonError(ValueError):
    """Valid JSON that no client frame may contain."""


def _parse_int(text: str) -> int:
    if len(text) > _MAX_NUMBER_CHARS:
        raise _RefusedJsonError(f"a number in the frame is longer than {_MAX_NUMBER_CHARS} characters")
    return int(text)


def _parse_float(text: str) -> float:
    if len(text) > _MAX_NUMBER_CHARS or not math.isfinite(value := float(text)):
        raise _RefusedJsonError("a number in the frame is too long or out of range")
    return value


def _parse_constant(name: str) -> float:
    raise _RefusedJsonError(f"{name} is not a JSON number")


def _object(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    data = dict(pairs)
    if len(data) < len(pairs):
        # Which of two values would count is up to each parser: refuse rather than guess.
        seen: set[str] = set()
        for key, _ in pairs:
            if key in seen:
                raise _RefusedJsonError(f"the key {_shown(key)} appears twice")
            seen.add(key)
    return data


_DECODER = json.JSONDecoder(
    object_pairs_hook=_object,
    parse_int=_parse_int,
    parse_float=_parse_float,
    parse_constant=_parse_constant,
)


def _shown(value: str) -> str:
    """A client's string quoted for an error message: escaped (no control characters or surrogates) and short."""
    return repr(value) if len(value) <= _SHOWN_CHARS else repr(value[:_SHOWN_CHARS]) + "…"


def _reply_to(data: dict[str, Any]) -> str | None:
    # Only a well-formed id is echoed: anything else could be unsendable (a lone surrogate) or huge.
    for key in ("id", "message_id"):
        value = data.get(key)
        if isinstance(value, str) and _MESSAGE_ID.fullmatch(value):
            return value
    return None


def parse_client_frame(raw: str) -> ParsedClientFrame | Error:
    """Validate one client text frame; problems come back as an ``Error`` frame with a stable code."""
    return parse_frame(raw, CLIENT_FRAME, CLIENT_TYPES)


F = TypeVar("F")


def parse_frame(raw: str, adapter: TypeAdapter[F], types: frozenset[str]) -> F | Error:
    """Validate one text frame against a union of ``types`` (``adapter``); problems as an ``Error`` frame."""
    try:
        data = _DECODER.decode(raw)
    except _RefusedJsonError as exc:
        return Error(code=ErrorCode.BAD_JSON, message=f"The frame is not accepted: {exc}.")
    except (ValueError, RecursionError):
        # ValueError covers JSONDecodeError; RecursionError, nesting deeper than the interpreter allows.
        return Error(code=ErrorCode.BAD_JSON, message="The frame is not valid JSON.")
    if not isinstance(data, dict):
        return Error(code=ErrorCode.BAD_JSON, message="The frame must be a JSON object.")
    reply_to = _reply_to(data)
    frame_type = data.get("type")
    if not isinstance(frame_type, str) or frame_type not in types:
        if frame_type is None:
            problem = "The frame has no 'type'"
        elif isinstance(frame_type, str):
            problem = f"Unknown frame type {_shown(frame_type)}"
        else:
            problem = f"The frame's 'type' is a JSON {_json_type(frame_type)}, not a string"
        return Error(
            code=ErrorCode.UNKNOWN_TYPE,
            message=f"{problem}; expected one of {', '.join(sorted(types))}.",
            reply_to=reply_to,
        )
    try:
        return adapter.validate_python(data)
    except ValidationError as exc:
        first = exc.errors(include_url=False, include_input=False)[0]
        field = _shown(".".join(str(part) for part in first["loc"][1:]) or str(first["loc"][0]))
        kind = first["type"]
        if kind == "missing":
            code, message = ErrorCode.MISSING_FIELD, f"Field {field} is required for {frame_type!r} frames."
        elif kind in _WRONG_TYPE_ERRORS:
            code, message = ErrorCode.WRONG_TYPE, f"Field {field} has the wrong type: {first['msg']}."
        elif kind == "extra_forbidden":
            code, message = ErrorCode.INVALID_VALUE, f"Unknown field {field} in a {frame_type!r} frame."
        else:
            code, message = ErrorCode.INVALID_VALUE, f"Field {field} is invalid: {first['msg']}."
        return Error(code=code, message=message, reply_to=reply_to)


def _json_type(value: object) -> str:
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    return "array" if isinstance(value, list) else "object"

"""The error tree: every failure a user can see has a stable code."""

from __future__ import annotations

import re
from collections.abc import Iterable
from enum import StrEnum


class ErrorCode(StrEnum):
    """Stable error codes, sent in ``error`` frames and HTTP error bodies; never renamed."""

    BAD_JSON = "bad_json"
    UNKNOWN_TYPE = "unknown_type"
    MISSING_FIELD = "missing_field"
    WRONG_TYPE = "wrong_type"
    INVALID_VALUE = "invalid_value"
    BINARY_FRAME = "binary_frame"
    FRAME_TOO_LARGE = "frame_too_large"
    MESSAGE_TOO_LONG = "message_too_long"
    MESSAGE_TOO_MANY_TOKENS = "message_too_many_tokens"
    NOT_FOUND = "not_found"
    UNAUTHORIZED = "unauthorized"
    RATE_LIMITED = "rate_limited"
    MODEL_UNAVAILABLE = "model_unavailable"
    MODEL_TIMEOUT = "model_timeout"
    MODEL_ERROR = "model_error"
    MODEL_AUTH = "model_auth"
    MODEL_BAD_REQUEST = "model_bad_request"
    TEMPLATE_ERROR = "template_error"
    INTERNAL = "internal"
    CONFIRMATION_EXPIRED = "confirmation_expired"
    CONFIRMATION_CLOSED = "confirmation_closed"
    # Handoff to a person (app/conversation/owner.py): a transition the owner does not allow, or a conversation
    # another operator holds.
    INVALID_TRANSITION = "invalid_transition"
    NOT_OWNER = "not_owner"


# What a customer reads when an answer ends with an error: our own words per code, never what a model server,
# a template or a library said (that goes to the log).
CUSTOMER_MESSAGES: dict[ErrorCode, str] = {
    ErrorCode.RATE_LIMITED: "The assistant is busy right now. Please try again in a moment.",
    ErrorCode.MODEL_UNAVAILABLE: "The assistant is unavailable right now. Please try again in a moment.",
    ErrorCode.MODEL_TIMEOUT: "The assistant took too long to answer. Please try again.",
    ErrorCode.MODEL_ERROR: "The assistant could not finish its answer. Please try again.",
    ErrorCode.MODEL_AUTH: "The assistant is not set up correctly. Please contact the shop.",
    ErrorCode.MODEL_BAD_REQUEST: "The assistant could not answer this message. Please rephrase it or try again.",
    ErrorCode.TEMPLATE_ERROR: "The assistant is not set up correctly. Please contact the shop.",
    ErrorCode.INTERNAL: "Something went wrong on our side. Please try again.",
}

# Credentials a foreign message may echo: "Bearer …", "sk-…" keys, "api_key=…"; the name is kept, the value masked.
_SECRETS = re.compile(
    r"(?i)(\b(?:bearer|basic)\s+)[A-Za-z0-9._~+/=-]+"
    r"|(\b(?:sk|pk|rk)-)[A-Za-z0-9_*-]{4,}"
    r"|(\b(?:api[_-]?key|access[_-]?token|token|secret|password)[\"']?\s*[:=]\s*[\"']?)[^\s\"',;&}]+"
)
_CONTROLS = re.compile(r"[\x00-\x1f\x7f\u2028\u2029]+")


def loggable(text: str, *, secrets: Iterable[str] = (), limit: int = 300) -> str:
    """Foreign text fit for one log line: credentials masked, control characters out, at most ``limit`` chars."""
    for secret in secrets:
        if secret:
            text = text.replace(secret, "***")
    text = _SECRETS.sub(lambda m: (m.group(1) or m.group(2) or m.group(3)) + "***", text)
    text = _CONTROLS.sub(" ", text).strip()
    return text if len(text) <= limit else text[: limit - 1] + "…"


class ShopchatError(Exception):
    """Base of every error shopchat raises on purpose.

    ``message`` is ours; ``detail`` is what a foreign system said (for the log only, never for customers).
    """

    code: ErrorCode = ErrorCode.INTERNAL
    # Whether ``message`` is written for customers; when not, they read ``CUSTOMER_MESSAGES[code]``.
    public: bool = False

    def __init__(self, message: str, *, code: ErrorCode | None = None, detail: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.detail = detail
        if code is not None:
            self.code = code


def customer_message(error: BaseException) -> str:
    """What a customer may read about ``error``: a fixed text for its code, or a message written for them."""
    if isinstance(error, ShopchatError):
        if error.public:
            return error.message
        return CUSTOMER_MESSAGES.get(error.code, CUSTOMER_MESSAGES[ErrorCode.INTERNAL])
    return CUSTOMER_MESSAGES[ErrorCode.INTERNAL]


class ConfigError(ShopchatError):
    """Settings or shipped data are wrong; raised at start-up, never mid-conversation."""


class TemplateError(ShopchatError):
    """A prompt template failed to load or render; the message names file and line."""

    code = ErrorCode.TEMPLATE_ERROR


class ModelError(ShopchatError):
    """The chat model failed; ``code`` says how (unavailable, timeout, rate limited …).

    Customers read the fixed text for the code; what the model server said goes in ``detail``, for the log.
    """

    code = ErrorCode.MODEL_ERROR

    def __init__(
        self,
        message: str | None = None,
        *,
        code: ErrorCode | None = None,
        retry_after_s: float | None = None,
        detail: str | None = None,
    ) -> None:
        code = code or type(self).code
        shown = CUSTOMER_MESSAGES.get(code, CUSTOMER_MESSAGES[ErrorCode.INTERNAL])
        super().__init__(message or shown, code=code, detail=detail)
        self.retry_after_s = retry_after_s


class ContextOverflowError(ModelError):
    """The model server refused the prompt as longer than its context window; what it stated, when it did."""

    code = ErrorCode.MODEL_BAD_REQUEST

    def __init__(
        self, message: str, *, context_tokens: int | None = None, prompt_tokens: int | None = None
    ) -> None:
        super().__init__(message)
        self.context_tokens = context_tokens
        self.prompt_tokens = prompt_tokens


class BudgetError(ShopchatError):
    """A single user message does not fit the model's context budget."""

    code = ErrorCode.MESSAGE_TOO_MANY_TOKENS
    public = True  # built by us from token counts


class ShopBackendError(ShopchatError):
    """The shop's own order API failed: unreachable, refused by policy, too slow, an error status, unreadable.

    ``message`` is ours (operation, host, what went wrong); nothing the shop answered and no credential is in it.
    """

"""The error tree: every failure a user can see has a stable code."""

from __future__ import annotations

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


class ShopchatError(Exception):
    """Base of every error shopchat raises on purpose."""

    code: ErrorCode = ErrorCode.INTERNAL

    def __init__(self, message: str, *, code: ErrorCode | None = None) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code


class ConfigError(ShopchatError):
    """Settings or shipped data are wrong; raised at start-up, never mid-conversation."""


class TemplateError(ShopchatError):
    """A prompt template failed to load or render; the message names file and line."""

    code = ErrorCode.TEMPLATE_ERROR


class ModelError(ShopchatError):
    """The chat model failed; ``code`` says how (unavailable, timeout, rate limited …)."""

    code = ErrorCode.MODEL_ERROR

    def __init__(
        self, message: str, *, code: ErrorCode | None = None, retry_after_s: float | None = None
    ) -> None:
        super().__init__(message, code=code)
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

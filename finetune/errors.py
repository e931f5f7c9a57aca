"""Errors of the fine-tune pipeline; each carries a stable code the CLI prints and tests match on."""

from __future__ import annotations

from enum import StrEnum


class ErrorCode(StrEnum):
    """Stable codes for pipeline failures; never renamed."""

    INPUT_NOT_FOUND = "input_not_found"
    UNKNOWN_FORMAT = "unknown_format"
    BAD_OPTION = "bad_option"
    OUTPUT_EXISTS = "output_exists"
    NOTHING_TO_SUBMIT = "nothing_to_submit"
    TEMPLATE = "template_error"
    DATABASE = "database_error"
    API_AUTH = "api_auth"
    API_PERMISSION = "api_permission"
    API_NOT_FOUND = "api_not_found"
    API_RATE_LIMITED = "api_rate_limited"
    API_BAD_REQUEST = "api_bad_request"
    API_CONNECTION = "api_connection"
    API_TIMEOUT = "api_timeout"
    API_ERROR = "api_error"
    JOB_FAILED = "job_failed"


class FinetuneError(Exception):
    """A failure the user can act on; ``str()`` is the readable message, ``code`` is stable."""

    def __init__(self, code: ErrorCode, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message

    def __str__(self) -> str:
        return f"{self.message} [{self.code}]"

"""Where a record came from and why one was rejected: the vocabulary of the accounting invariant."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any


class Reason(StrEnum):
    """Why a record ended in ``rejected.jsonl``; stable, counted per value in the report."""

    INVALID_JSON = "invalid_json"
    UNREADABLE_RECORD = "unreadable_record"
    FAILED_CHECKS = "failed_checks"
    OVER_TOKEN_LIMIT = "over_token_limit"
    EXACT_DUPLICATE = "exact_duplicate"
    NEAR_DUPLICATE = "near_duplicate"


@dataclass(frozen=True, slots=True)
class Origin:
    """A record's source and position: ``line`` is the 1-based file line where it starts, when it has one."""

    source: str
    record: int
    line: int | None = None
    key: str | None = None

    def as_json(self) -> dict[str, Any]:
        """The origin as it appears in rejected.jsonl and reports (``key``: e.g. a conversation id)."""
        out: dict[str, Any] = {"source": self.source, "record": self.record}
        if self.line is not None:
            out["line"] = self.line
        if self.key is not None:
            out["key"] = self.key
        return out

    def label(self) -> str:
        """``file:line`` (or ``file#record``) for humans."""
        if self.line is not None:
            return f"{self.source}:{self.line}"
        return f"{self.source}#{self.key}" if self.key is not None else f"{self.source}#{self.record}"

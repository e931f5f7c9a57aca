"""What the conversation layer reports about its work, behind a port: the web layer binds it to Prometheus.

Calls happen once per answer, per first token and per commit, never per streamed piece of text, so a metrics
backend costs the hot path nothing measurable.
"""

from __future__ import annotations

from typing import Protocol


class Metrics(Protocol):
    """Receives the conversation layer's measurements; every method must be cheap and never raise."""

    def answer_ended(self, route: str | None, outcome: str, seconds: float) -> None:
        """An answer ended: ``outcome`` is ``done``, ``stopped`` or the error code; ``seconds`` since it began."""
        ...

    def first_text(self, seconds: float) -> None:
        """An answer's first text was handed to the event log ``seconds`` after the answer began."""
        ...

    def model_error(self, code: str) -> None:
        """An answer failed because of the model (its error code)."""
        ...

    def committed(self, seconds: float, events: int) -> None:
        """The event log committed one batch of ``events`` stored events in ``seconds``."""
        ...

    def tool_called(self, name: str, ok: bool) -> None:
        """A tool call of the model ended (``name`` is ``unknown`` for one the conversation does not offer)."""
        ...


class NoMetrics:
    """The default: measurements are dropped."""

    def answer_ended(self, route: str | None, outcome: str, seconds: float) -> None:
        """Dropped."""

    def first_text(self, seconds: float) -> None:
        """Dropped."""

    def model_error(self, code: str) -> None:
        """Dropped."""

    def committed(self, seconds: float, events: int) -> None:
        """Dropped."""

    def tool_called(self, name: str, ok: bool) -> None:
        """Dropped."""

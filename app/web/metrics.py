"""Prometheus metrics of one app: the conversation layer's ``Metrics`` port, plus what the web layer counts.

Each app has its own registry (tests build many apps in one process); ``/metrics`` renders it.
"""

from __future__ import annotations

import os
from collections.abc import Callable

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    Info,
    generate_latest,
)

# Seconds: a first token is expected within tens of ms (local) to a few seconds (a remote model).
_LATENCY_BUCKETS = (0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
_DURATION_BUCKETS = (0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0)
_COMMIT_BUCKETS = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0)
_BATCH_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512)


class PrometheusMetrics:
    """Implements ``app.conversation.metrics.Metrics`` and holds the socket and conversation gauges."""

    content_type = CONTENT_TYPE_LATEST

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        # Which process answered the scrape: behind one port (`serve --workers N`) each scrape reaches one.
        Info("shopchat_process", "This server process", registry=r).info({"pid": str(os.getpid())})
        self.open_sockets = Gauge("shopchat_open_sockets", "Chat websockets open in this process", registry=r)
        self.active_conversations = Gauge(
            "shopchat_active_conversations",
            "Conversations live in this process (a socket or an answer)",
            registry=r,
        )
        self.answers = Counter(
            "shopchat_answers", "Answers ended, by route and outcome (done, stopped or the error code)",
            ["route", "outcome"], registry=r,
        )  # fmt: skip
        self.first_token = Histogram(
            "shopchat_time_to_first_token_seconds", "From an answer's start to its first text",
            buckets=_LATENCY_BUCKETS, registry=r,
        )  # fmt: skip
        self.answer_duration = Histogram(
            "shopchat_answer_duration_seconds", "From an answer's start to its end", buckets=_DURATION_BUCKETS,
            registry=r,
        )  # fmt: skip
        self.model_errors = Counter(
            "shopchat_model_errors", "Answers failed by the model, by error code", ["code"], registry=r
        )
        self.commit_latency = Histogram(
            "shopchat_eventlog_commit_seconds", "One event-log transaction (a batch of events)",
            buckets=_COMMIT_BUCKETS, registry=r,
        )  # fmt: skip
        self.commit_events = Histogram(
            "shopchat_eventlog_batch_events", "Events stored per event-log transaction", buckets=_BATCH_BUCKETS,
            registry=r,
        )  # fmt: skip
        self.tool_calls = Counter(
            "shopchat_tool_calls", "Tool calls of the model, by tool and outcome (ok, failed)",
            ["tool", "outcome"], registry=r,
        )  # fmt: skip
        self.handoffs = Counter(
            "shopchat_handoffs", "Requests for a person recorded (transfer_to_human_agents that succeeded)",
            registry=r,
        )  # fmt: skip

    def watch_conversations(self, count: Callable[[], int]) -> None:
        """Read the active-conversation gauge from ``count`` at each scrape."""
        self.active_conversations.set_function(lambda: float(count()))

    def render(self) -> bytes:
        """The registry in Prometheus' text format."""
        return generate_latest(self.registry)

    # ---- app.conversation.metrics.Metrics ----------------------------------------------------------

    def answer_ended(self, route: str | None, outcome: str, seconds: float) -> None:
        """See ``Metrics.answer_ended``."""
        self.answers.labels(route or "none", outcome).inc()
        self.answer_duration.observe(seconds)

    def first_text(self, seconds: float) -> None:
        """See ``Metrics.first_text``."""
        self.first_token.observe(seconds)

    def model_error(self, code: str) -> None:
        """See ``Metrics.model_error``."""
        self.model_errors.labels(code).inc()

    def committed(self, seconds: float, events: int) -> None:
        """See ``Metrics.committed``."""
        self.commit_latency.observe(seconds)
        self.commit_events.observe(events)

    def tool_called(self, name: str, ok: bool) -> None:
        """See ``Metrics.tool_called``; a successful ``transfer_to_human_agents`` is also a handoff."""
        self.tool_calls.labels(name, "ok" if ok else "failed").inc()
        if ok and name == "transfer_to_human_agents":
            self.handoffs.inc()

"""Whether the chat model answers: learned from real requests, and from a cheap probe while there are none."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal, Protocol, runtime_checkable

from app.errors import ContextOverflowError, ErrorCode, ModelError
from app.llm.model import ChatModel, ChatRequest, Finished, ModelEvent

log = logging.getLogger("shopchat.model")

ModelState = Literal["ok", "unreachable", "error", "unknown"]
Probe = Callable[[], Awaitable[None]]


@runtime_checkable
class Probeable(Protocol):
    """A model that can be asked, cheaply and without a prompt, whether its server answers."""

    async def probe(self) -> None:
        """Return when the server answers; raise ``ModelError`` (with its code) when it does not."""
        ...


# The server could not be reached or did not answer in time; every other failure means it answered, badly.
_UNREACHABLE = frozenset({ErrorCode.MODEL_UNAVAILABLE, ErrorCode.MODEL_TIMEOUT})


@dataclass(frozen=True, slots=True)
class HealthReport:
    """The model's state, when it was last learned (None: never), and the error code behind a bad state."""

    state: ModelState
    checked_at: datetime | None
    code: ErrorCode | None = None


class ModelHealth:
    """The model's last known state; ``start`` probes it every ``interval_s`` while no real request tells.

    A real request's outcome always counts. A probe (``GET /v1/models``) only sees whether the server answers,
    so its success clears ``unreachable`` but not an ``error`` a real request saw (a wrong model name, a rate
    limit): only a real answer clears that.
    """

    def __init__(
        self,
        name: str,
        probe: Probe | None = None,
        *,
        interval_s: float = 30.0,
        always_ok: bool = False,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.name = name
        self.interval_s = interval_s
        self._probe = probe
        self._clock = clock
        self._report = HealthReport("ok", datetime.now(UTC)) if always_ok else HealthReport("unknown", None)
        self._always_ok = always_ok
        self._last_request: float | None = None
        self._task: asyncio.Task[None] | None = None

    def report(self) -> HealthReport:
        """The model's state as last learned."""
        return self._report

    def succeeded(self) -> None:
        """A real request was answered."""
        self._last_request = self._clock()
        self._set("ok", None)

    def failed(self, error: ModelError) -> None:
        """A real request failed with ``error``; an over-long prompt says nothing about the model's health."""
        if isinstance(error, ContextOverflowError):
            return
        self._last_request = self._clock()
        self._set("unreachable" if error.code in _UNREACHABLE else "error", error.code)

    async def check(self) -> None:
        """Probe the model once (a no-op without a probe)."""
        if self._probe is None or self._always_ok:
            return
        try:
            await self._probe()
        except ModelError as exc:
            self._set("unreachable" if exc.code in _UNREACHABLE else "error", exc.code)
        except Exception:
            log.exception("model probe of %s failed unexpectedly", self.name)
            self._set("error", ErrorCode.MODEL_ERROR)
        else:
            if self._report.state == "error":
                # The server answers, but what a real request saw (a wrong model name …) may still hold.
                self._report = HealthReport("error", datetime.now(UTC), self._report.code)
            else:
                self._set("ok", None)

    def start(self) -> None:
        """Probe now and then every ``interval_s``, skipping rounds in which real requests told; call on the loop."""
        if self._probe is not None and not self._always_ok and self._task is None:
            self._task = asyncio.create_task(self._run(), name="model-health")

    async def stop(self) -> None:
        """Stop probing."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _run(self) -> None:
        while True:
            recent = self._last_request is not None and self._clock() - self._last_request < self.interval_s
            if not recent:
                await self.check()
            await asyncio.sleep(self.interval_s)

    def _set(self, state: ModelState, code: ErrorCode | None) -> None:
        before = self._report.state
        self._report = HealthReport(state, datetime.now(UTC), code)
        if state == before:
            return
        if state == "ok":
            if before != "unknown":
                log.info("model %s answers again", self.name)
        elif state == "unreachable":
            log.error("model %s is unreachable (%s): answers fail until it is back", self.name, code)
        else:
            log.error("model %s fails requests (%s)", self.name, code)


class MonitoredModel:
    """A chat model whose every request's outcome feeds its ``ModelHealth``, each failure logged once."""

    def __init__(self, model: ChatModel, health: ModelHealth) -> None:
        self.model = model
        self.health = health
        self.name = model.name

    async def stream(self, request: ChatRequest) -> AsyncIterator[ModelEvent]:
        """The wrapped model's stream; closing it closes the wrapped one (and its connection) at once."""
        inner = self.model.stream(request)
        try:
            async for event in inner:
                if isinstance(event, Finished):
                    self.health.succeeded()
                yield event
        except ModelError as exc:
            if not isinstance(exc, ContextOverflowError):  # the pipeline retries those, and says so
                # The code only: the request's text is the customer's, and never goes to the log.
                log.warning("model %s request failed: %s", self.name, exc.code)
            self.health.failed(exc)
            raise
        finally:
            aclose = getattr(inner, "aclose", None)
            if aclose is not None:
                await aclose()

    async def aclose(self) -> None:
        """Close the wrapped model."""
        await self.model.aclose()

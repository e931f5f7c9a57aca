"""Readiness: whether this process should get traffic, per component, each check cached for a moment.

The database and Redis are pinged at most once per ``ttl_s`` whatever the probe rate; the model is never
called here: its state comes from ``ModelHealth`` (real requests' outcomes and its own background probe).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass

from app.llm.health import ModelHealth

Ping = Callable[[], Awaitable[object]]


@dataclass(frozen=True, slots=True)
class Readiness:
    """Each component's state: ``ok`` or why it is down; ``ready`` when none is down."""

    components: dict[str, str]

    @property
    def ready(self) -> bool:
        """No component is down."""
        return all(state == "ok" for state in self.components.values())

    @property
    def down(self) -> list[str]:
        """The components that are down."""
        return [name for name, state in self.components.items() if state != "ok"]


class _Cached:
    def __init__(self, ping: Ping, ttl_s: float, timeout_s: float, clock: Callable[[], float]) -> None:
        self._ping = ping
        self._ttl_s = ttl_s
        self._timeout_s = timeout_s
        self._clock = clock
        self._state = "ok"
        self._checked: float | None = None
        self._lock = asyncio.Lock()

    async def state(self) -> str:
        async with self._lock:  # concurrent probes share one ping
            now = self._clock()
            if self._checked is None or now - self._checked >= self._ttl_s:
                self._state = await self._check()
                self._checked = self._clock()
            return self._state

    async def _check(self) -> str:
        try:
            await asyncio.wait_for(self._ping(), self._timeout_s)
        except TimeoutError:
            return f"down: no answer within {self._timeout_s:g}s"
        except Exception as exc:
            return f"down: {type(exc).__name__}"
        return "ok"


class ReadinessCheck:
    """The database, Redis when configured, and the model's last known state."""

    def __init__(
        self,
        pings: Mapping[str, Ping],
        health: ModelHealth,
        *,
        ttl_s: float = 2.0,
        timeout_s: float = 2.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._pings = {name: _Cached(ping, ttl_s, timeout_s, clock) for name, ping in pings.items()}
        self._health = health

    async def check(self) -> Readiness:
        """Every component's state (cached pings; the model from its health)."""
        states = await asyncio.gather(*(cached.state() for cached in self._pings.values()))
        components = dict(zip(self._pings, states, strict=True))
        report = self._health.report()
        # Unknown is not down: a model without a probe is known only once a request has gone to it.
        if report.state in ("ok", "unknown"):
            components["model"] = "ok"
        else:
            components["model"] = f"down: {report.state} ({report.code})"
        return Readiness(components)

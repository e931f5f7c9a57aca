"""Answer leases, behind a port: with several processes, only the holder of an answer's lease generates it."""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol


class Lease(Protocol):
    """A held lease; kept alive by its implementation until ``release``."""

    async def release(self) -> None:
        """Give the lease up (never raises)."""
        ...


class Leases(Protocol):
    """Hands out one lease per key at a time, across every process sharing the implementation."""

    async def acquire(self, key: str, on_lost: Callable[[], None] | None = None) -> Lease | None:
        """The lease on ``key``, or None while another live process holds it.

        ``on_lost`` is called if the lease is found taken by someone else while held (it lapsed: this process
        stalled longer than its lifetime), so the holder stops and leaves the work to the new one.
        """
        ...


class _Held:
    async def release(self) -> None:
        """Nothing to give up."""


class LocalLeases:
    """One process: its hub already runs one answer at a time, so every lease is granted."""

    async def acquire(self, key: str, on_lost: Callable[[], None] | None = None) -> Lease | None:
        """Always granted."""
        return _Held()

"""Message rate limiting: a token bucket."""

from __future__ import annotations

import time


class RateLimiter:
    """``per_minute`` messages a minute with bursts of up to a fifth of that."""

    def __init__(self, per_minute: int) -> None:
        self.capacity = max(3.0, per_minute / 5)
        self.tokens = self.capacity
        self.rate = per_minute / 60.0
        self.updated = time.monotonic()

    def take(self) -> float | None:
        """Spend one token; None if allowed, else the seconds until one is available."""
        now = time.monotonic()
        self.tokens = min(self.capacity, self.tokens + (now - self.updated) * self.rate)
        self.updated = now
        if self.tokens >= 1:
            self.tokens -= 1
            return None
        return (1 - self.tokens) / self.rate

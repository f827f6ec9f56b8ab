"""Per-principal token buckets."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from ogmux.server.settings import RateLimit

__all__ = ["RateLimitExceeded", "RateLimiter"]


class RateLimitExceeded(PermissionError):
    """Raised when a principal's bucket is empty; says when to retry."""

    def __init__(self, principal: str, limit: RateLimit, retry_after: float):
        self.retry_after = retry_after
        super().__init__(
            f"rate limit exceeded for principal {principal!r} ({limit.burst} calls at once, "
            f"{limit.rate:g} per second sustained); retry after {retry_after:.2f} s"
        )


class RateLimiter:
    """Token bucket per principal id; buckets refill continuously."""

    def __init__(self, clock: Callable[[], float] = time.monotonic):
        self._clock = clock
        self._buckets: dict[str, tuple[float, float]] = {}
        self._lock = threading.Lock()

    def acquire(self, principal: str, limit: RateLimit) -> None:
        """Take one token from `principal`'s bucket or raise RateLimitExceeded."""
        now = self._clock()
        with self._lock:
            tokens, last = self._buckets.get(principal, (float(limit.burst), now))
            tokens = min(float(limit.burst), tokens + (now - last) * limit.rate)
            if tokens < 1.0:
                self._buckets[principal] = (tokens, now)
                raise RateLimitExceeded(principal, limit, (1.0 - tokens) / limit.rate)
            self._buckets[principal] = (tokens - 1.0, now)

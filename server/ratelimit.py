"""Per-principal token buckets: in this process, or one bucket per principal across replicas in Redis."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from ogmux.server.settings import RateLimit
from ogmux.server.state import SharedState, StateUnavailable
from ogmux.text import plural

__all__ = ["RateLimitExceeded", "RateLimitUnavailable", "RateLimiter"]


class RateLimitExceeded(PermissionError):
    """Raised when a principal's bucket is empty; says when to retry."""

    def __init__(self, principal: str, limit: RateLimit, retry_after: float):
        self.retry_after = retry_after
        super().__init__(
            f"rate limit exceeded for principal {principal!r} ({plural(limit.burst, 'call')} at once, "
            f"{limit.rate:g} per second sustained); retry after {retry_after:.2f} s"
        )


class RateLimitUnavailable(RateLimitExceeded):
    """The shared buckets are unreachable and `[state].fail = "closed"`: the call is refused."""

    def __init__(self, reason: str, retry_after: float):
        self.retry_after = retry_after
        PermissionError.__init__(
            self,
            f"call refused: the rate limit cannot be checked because {reason}; retry after "
            f'{retry_after:.2f} s (an administrator can set [state] fail = "open" to serve with local limits)',
        )


class RateLimiter:
    """Token bucket per principal id; buckets refill continuously.

    With `shared`, the bucket lives in Redis (one per principal for all replicas); while Redis is
    unreachable this process's own buckets apply, or with `[state].fail = "closed"` calls are refused.
    """

    def __init__(self, shared: SharedState | None = None, clock: Callable[[], float] = time.monotonic):
        self._shared = shared
        self._clock = clock
        self._buckets: dict[str, tuple[float, float]] = {}
        self._lock = threading.Lock()

    def acquire(self, principal: str, limit: RateLimit) -> None:
        """Take one token from `principal`'s bucket or raise RateLimitExceeded."""
        if self._shared is not None:
            try:
                wait = self._shared.take_token(principal, limit.rate, limit.burst)
            except StateUnavailable as exc:
                if self._shared.fail_closed:
                    raise RateLimitUnavailable(str(exc), self._shared.retry_in_s()) from None
            else:
                if wait > 0:
                    raise RateLimitExceeded(principal, limit, wait)
                return
        now = self._clock()
        with self._lock:
            tokens, last = self._buckets.get(principal, (float(limit.burst), now))
            tokens = min(float(limit.burst), tokens + (now - last) * limit.rate)
            if tokens < 1.0:
                self._buckets[principal] = (tokens, now)
                raise RateLimitExceeded(principal, limit, (1.0 - tokens) / limit.rate)
            self._buckets[principal] = (tokens - 1.0, now)

"""A per-replica circuit breaker: closed → open (cooldown or Retry-After) → half-open probe → closed."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Literal

__all__ = ["CircuitBreaker"]

State = Literal["closed", "open", "half_open"]


class CircuitBreaker:
    """Counts consecutive failures; opens after `threshold`, lets one probe through after the cooldown."""

    def __init__(self, threshold: int, cooldown_s: float, clock: Callable[[], float] = time.monotonic):
        self.threshold = threshold
        self.cooldown_s = cooldown_s
        self._clock = clock
        self.failures = 0
        self.opened_until = 0.0
        self._open = False
        self._probing = False
        self.last_error = ""

    @property
    def state(self) -> State:
        if not self._open:
            return "closed"
        return "half_open" if self._clock() >= self.opened_until else "open"

    def available(self) -> bool:
        """True when a request may be sent now (closed, or half-open with no probe in flight)."""
        st = self.state
        return st == "closed" or (st == "half_open" and not self._probing)

    def acquire(self) -> None:
        """Mark the start of a request; in half-open state it becomes the single probe."""
        if self.state == "half_open":
            self._probing = True

    def release(self) -> None:
        """End a request that neither succeeded nor failed (cancelled, or rejected as malformed)."""
        self._probing = False

    def success(self) -> None:
        self.failures = 0
        self._open = False
        self._probing = False
        self.last_error = ""

    def failure(self, error: str, retry_after_s: float | None = None, hard: bool = False) -> None:
        """Record a failure; `hard` (e.g. 429 with Retry-After, connection refused) opens at once."""
        self.failures += 1
        self.last_error = error
        self._probing = False
        if hard or self.failures >= self.threshold or self._open:
            self._open = True
            self.opened_until = self._clock() + max(self.cooldown_s, retry_after_s or 0.0)

    def retry_in_s(self) -> float:
        return max(0.0, self.opened_until - self._clock()) if self._open else 0.0

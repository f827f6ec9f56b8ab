"""A per-replica circuit breaker: closed → open (cooldown or Retry-After) → half-open probe → closed.

With a `BreakerStore` (Redis, handed in by the server) an opened breaker is published for every
ogmux replica: each reads the shared cooldown at most every `SYNC_S` seconds and stays open until
it ends, then lets its own half-open probe through. Consecutive failures below the threshold are
counted per ogmux replica. An unreachable store means local state only.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Literal, Protocol

__all__ = ["SYNC_S", "BreakerStore", "CircuitBreaker"]

State = Literal["closed", "open", "half_open"]
SYNC_S = 0.2  # how stale a replica's view of a shared cooldown may be


class BreakerStore(Protocol):
    """Cooldowns shared between ogmux replicas; both methods give up quietly when the store is down."""

    def open_breaker(self, key: str, seconds: float, error: str) -> None:
        """Mark `key` open for everyone for `seconds`, with the error that opened it."""

    def breaker_cooldown(self, key: str) -> tuple[float, str] | None:
        """(seconds left, error) while `key` is open somewhere; None when closed or unknown."""


class CircuitBreaker:
    """Counts consecutive failures; opens after `threshold`, lets one probe through after the cooldown."""

    def __init__(
        self,
        threshold: int,
        cooldown_s: float,
        clock: Callable[[], float] = time.monotonic,
        store: BreakerStore | None = None,
        key: str = "",
    ):
        self.threshold = threshold
        self.cooldown_s = cooldown_s
        self._clock = clock
        self._store = store
        self._key = key
        self._synced_at = -float("inf")
        self.failures = 0
        self.opened_until = 0.0
        self._open = False
        self._probing = False
        self.last_error = ""

    def _sync(self, now: float) -> None:
        """Adopt a cooldown another replica published (read at most every SYNC_S seconds)."""
        if self._store is None or now - self._synced_at < SYNC_S:
            return
        self._synced_at = now
        shared = self._store.breaker_cooldown(self._key)
        if shared is not None and (not self._open or now + shared[0] > self.opened_until):
            self._open = True
            self.opened_until = now + shared[0]
            self.last_error = shared[1]

    @property
    def state(self) -> State:
        now = self._clock()
        self._sync(now)
        if not self._open:
            return "closed"
        return "half_open" if now >= self.opened_until else "open"

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
            seconds = max(self.cooldown_s, retry_after_s or 0.0)
            self.opened_until = self._clock() + seconds
            if self._store is not None:
                self._store.open_breaker(self._key, seconds, error)

    def retry_in_s(self) -> float:
        return max(0.0, self.opened_until - self._clock()) if self.state != "closed" else 0.0

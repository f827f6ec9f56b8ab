"""The per-replica circuit breaker, driven by a fake clock."""

from __future__ import annotations

from ogmux.router.breaker import CircuitBreaker


class Clock:
    def __init__(self):
        self.t = 100.0

    def __call__(self) -> float:
        return self.t


def test_opens_after_threshold_then_one_half_open_probe():
    clock = Clock()
    b = CircuitBreaker(threshold=3, cooldown_s=5, clock=clock)
    b.failure("e1")
    b.failure("e2")
    assert b.state == "closed" and b.available()
    b.failure("e3")
    assert b.state == "open" and not b.available() and b.retry_in_s() == 5
    clock.t += 5
    assert b.state == "half_open" and b.available()
    b.acquire()
    assert not b.available()  # only one probe at a time
    b.failure("probe failed")
    assert b.state == "open"  # a failed probe re-opens at once
    clock.t += 5
    b.acquire()
    b.success()
    assert b.state == "closed" and b.failures == 0


def test_retry_after_longer_than_cooldown_wins():
    clock = Clock()
    b = CircuitBreaker(threshold=3, cooldown_s=5, clock=clock)
    b.failure("429", retry_after_s=30, hard=True)
    assert b.state == "open" and b.retry_in_s() == 30
    clock.t += 29
    assert b.state == "open"
    clock.t += 1
    assert b.state == "half_open"


def test_a_probe_that_ends_without_a_verdict_frees_the_slot():
    clock = Clock()
    b = CircuitBreaker(threshold=1, cooldown_s=5, clock=clock)
    b.failure("down")
    clock.t += 5
    b.acquire()
    assert not b.available()
    b.release()  # e.g. the probe was a 400 or the caller cancelled
    assert b.state == "half_open" and b.available()

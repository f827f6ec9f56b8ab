"""Token buckets: in process with an injected clock, and shared across replicas in a real Redis."""

from __future__ import annotations

import logging
import socket
import time

import pytest
import redis as redis_py

from ogmux.server.ratelimit import RateLimiter, RateLimitExceeded, RateLimitUnavailable
from ogmux.server.settings import RateLimit, StateSettings
from ogmux.server.state import SharedState
from tests.integration.engines import RedisServer


def _shared(url: str, **kw) -> SharedState:
    """Shared state in `url` with 2 s per Redis call unless told (a slow answer on a loaded machine is not an
    outage here)."""
    return SharedState(StateSettings(url=url, **{"timeout_ms": 2000, **kw}))


def _until_back(shared: SharedState, limiter: RateLimiter, timeout: float = 10) -> None:
    """Call until the background probe has found Redis again (the calls themselves use local state)."""
    deadline = time.monotonic() + timeout
    while shared.down:
        assert time.monotonic() < deadline, "Redis was not found again"
        try:
            limiter.acquire("someone-else", RateLimit(rate=1000, burst=1000))
        except RateLimitExceeded:
            pass
        time.sleep(0.05)


def test_bucket_refills_and_reports_retry_after() -> None:
    now = [0.0]
    limiter = RateLimiter(clock=lambda: now[0])
    limit = RateLimit(rate=2.0, burst=2)
    limiter.acquire("p", limit)
    limiter.acquire("p", limit)
    with pytest.raises(RateLimitExceeded) as exc:
        limiter.acquire("p", limit)
    assert exc.value.retry_after == pytest.approx(0.5)
    limiter.acquire("q", limit)  # other principals have their own bucket
    now[0] = 0.5
    limiter.acquire("p", limit)
    with pytest.raises(RateLimitExceeded):
        limiter.acquire("p", limit)


def test_one_shared_bucket_for_all_replicas(redis: RedisServer) -> None:
    replicas = [RateLimiter(_shared(redis.url)) for _ in range(3)]
    limit = RateLimit(rate=0.001, burst=4)
    for i in range(4):
        replicas[i % 3].acquire("p", limit)
    for r in replicas:  # the burst is spent for every replica
        with pytest.raises(RateLimitExceeded) as exc:
            r.acquire("p", limit)
        assert 900 < exc.value.retry_after <= 1000  # (1 - tokens) / rate, as in process
        assert "rate limit exceeded for principal 'p' (4 calls at once" in str(exc.value)
    replicas[0].acquire("q", limit)  # another principal, another bucket


def test_shared_bucket_refills_at_the_rate_and_expires_when_idle(redis: RedisServer) -> None:
    limiter = RateLimiter(_shared(redis.url))
    limit = RateLimit(rate=1.0, burst=1)  # slow enough that no pause between two calls refills the bucket
    limiter.acquire("p", limit)
    with pytest.raises(RateLimitExceeded) as exc:
        limiter.acquire("p", limit)
    assert 0 < exc.value.retry_after <= 1.0
    time.sleep(exc.value.retry_after + 0.01)
    limiter.acquire("p", limit)
    ttl_ms = redis_py.Redis.from_url(redis.url).pttl("ogmux:ratelimit:p")
    assert 0 < ttl_ms <= 2000  # full again after burst/rate = 1 s: a missing bucket is a full one


def test_redis_outage_falls_back_to_local_buckets_with_one_warning(
    redis: RedisServer, caplog: pytest.LogCaptureFixture
) -> None:
    shared = _shared(redis.url, retry_s=0.2)
    limiter = RateLimiter(shared)
    limit = RateLimit(rate=0.001, burst=3)
    limiter.acquire("p", limit)  # shared bucket: 2 left
    redis.stop()
    with caplog.at_level(logging.INFO, logger="ogmux.state"):
        for _ in range(3):  # local bucket, full
            limiter.acquire("p", limit)
        with pytest.raises(RateLimitExceeded):
            limiter.acquire("p", limit)
        time.sleep(0.25)  # past the back-off: Redis is tried again, still down
        with pytest.raises(RateLimitExceeded):
            limiter.acquire("p", limit)
        warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
        assert len(warnings) == 1, [r.getMessage() for r in warnings]
        assert f"shared state at {redis.url} is unreachable" in warnings[0].getMessage()
        assert 'fail = "open"' in warnings[0].getMessage()
        redis.start()  # same port, empty (no persistence): the shared bucket starts full
        _until_back(shared, limiter)
        for _ in range(3):
            limiter.acquire("p", limit)
        with pytest.raises(RateLimitExceeded):
            limiter.acquire("p", limit)
    assert not shared.down
    assert any("reachable again" in r.getMessage() for r in caplog.records if r.levelno == logging.INFO)
    assert len([r for r in caplog.records if r.levelno == logging.WARNING]) == 1


def test_fail_closed_refuses_calls_while_redis_is_down(redis: RedisServer) -> None:
    shared = _shared(redis.url, fail="closed", retry_s=0.2)
    limiter = RateLimiter(shared)
    limit = RateLimit(rate=10, burst=10)
    limiter.acquire("p", limit)
    redis.stop()
    with pytest.raises(RateLimitUnavailable) as exc:
        limiter.acquire("p", limit)
    msg = str(exc.value)
    assert msg.startswith("call refused: the rate limit cannot be checked because shared state at redis://")
    assert "is unreachable" in msg and 'set [state] fail = "open"' in msg
    assert 0 < exc.value.retry_after <= 4.0  # at least two Redis timeouts (2 s each), the time a probe takes
    redis.start()
    _until_back(shared, limiter)
    limiter.acquire("p", limit)


def test_an_unanswering_redis_never_stalls_calls() -> None:
    with socket.socket() as silent:  # accepts connections (backlog) and never answers
        silent.bind(("127.0.0.1", 0))
        silent.listen(64)
        url = f"redis://127.0.0.1:{silent.getsockname()[1]}/0"
        shared = _shared(url, timeout_ms=200, retry_s=0.05)
        limiter = RateLimiter(shared)
        limit = RateLimit(rate=1000, burst=1000)
        t0 = time.monotonic()
        limiter.acquire("p", limit)  # the call that finds the outage waits: timeout, one retry
        first = time.monotonic() - t0
        waited = 0.0
        for _ in range(100):  # 0.5 s: ten back-off periods, each probed in the background
            t0 = time.monotonic()
            limiter.acquire("p", limit)
            waited += time.monotonic() - t0
            time.sleep(0.005)
        assert shared.down
    # The first call waits 2 x 200 ms, bounded at ten times that; the 100 others take about 10 ms in all,
    # bounded well below the 4 s that ten of them waiting for a probe (2 x 200 ms each) would cost.
    assert first < 4.0
    assert waited < 1.0

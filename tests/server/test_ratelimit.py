"""Token buckets with an injected clock."""

from __future__ import annotations

import pytest

from ogmux.server.ratelimit import RateLimiter, RateLimitExceeded
from ogmux.server.settings import RateLimit


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

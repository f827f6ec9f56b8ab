"""Shared state in a real Redis: breaker cooldowns seen by every replica, outages, settings."""

from __future__ import annotations

import pytest
import redis as redis_py

from ogmux.router.breaker import SYNC_S, CircuitBreaker
from ogmux.server.cli import main
from ogmux.server.settings import ConfigError, StateSettings, load_settings
from ogmux.server.state import SharedState, redact_url
from tests.integration.engines import RedisServer, wait_for

KEY = "m@http://127.0.0.1:9"  # a vLLM replica; never contacted here
COOLDOWN_S = 1.0


class Clock:
    """The breakers' clock, moved by hand. The shared cooldowns are Redis keys that expire on real time:
    a test waits for that expiry, never for a time of its own."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def _breakers(url: str, clock: Clock) -> list[CircuitBreaker]:
    """One backend replica's breaker as two ogmux replicas see it through one Redis (2 s per Redis call:
    a slow answer on a loaded machine is not an outage here)."""
    return [
        CircuitBreaker(3, COOLDOWN_S, clock, SharedState(StateSettings(url=url, timeout_ms=2000)), KEY)
        for _ in range(2)
    ]


def _until_the_shared_cooldown_ends(url: str) -> None:
    client = redis_py.Redis.from_url(url)
    wait_for(lambda: not client.exists(f"ogmux:breaker:{KEY}"), "the end of the shared cooldown", timeout=30)
    client.close()


def test_a_breaker_opened_by_one_replica_is_open_for_all(redis: RedisServer) -> None:
    clock = Clock()
    a, b = _breakers(redis.url, clock)
    assert b.state == "closed"
    a.failure("connection refused", hard=True)
    clock.now += SYNC_S / 2
    assert b.state == "closed"  # b re-reads the shared cooldown at most every SYNC_S
    clock.now += SYNC_S / 2
    assert b.state == "open" and not b.available()
    assert b.last_error == "connection refused"
    assert 0 < b.retry_in_s() <= COOLDOWN_S  # what is left of a's cooldown in Redis
    _until_the_shared_cooldown_ends(redis.url)
    clock.now += COOLDOWN_S
    assert b.state == "half_open" and b.available()  # the cooldown ended: b sends its own probe
    b.acquire()
    assert not b.available()
    b.success()
    assert b.state == "closed"


def test_retry_after_is_shared_and_a_failed_probe_reopens_for_all(redis: RedisServer) -> None:
    clock = Clock()
    a, b = _breakers(redis.url, clock)
    a.failure("429", retry_after_s=2 * COOLDOWN_S, hard=True)
    assert b.state == "open" and b.retry_in_s() > COOLDOWN_S  # the longer Retry-After, not a cooldown
    _until_the_shared_cooldown_ends(redis.url)
    clock.now += 2 * COOLDOWN_S
    assert a.state == b.state == "half_open"
    b.acquire()
    b.failure("probe failed")  # a failed probe opens again, for a as well
    clock.now += SYNC_S
    assert a.state == "open" and a.last_error == "probe failed"


def test_breakers_keep_working_locally_while_redis_is_down(redis: RedisServer) -> None:
    a, b = _breakers(redis.url, Clock())
    redis.stop()
    a.failure("down", hard=True)  # publishing fails quietly
    assert a.state == "open"
    assert b.state == "closed"  # nothing shared while Redis is down
    redis.start()


def test_password_never_appears_in_messages() -> None:
    assert redact_url("redis://ogmux:s3cret@redis:6379/0") == "redis://ogmux:***@redis:6379/0"
    assert redact_url("redis://:s3cret@redis:6379/0") == "redis://:***@redis:6379/0"
    assert redact_url("redis://redis:6379/0") == "redis://redis:6379/0"


def test_state_settings_are_checked(tmp_path) -> None:
    cfg = tmp_path / "ogmux.toml"
    cfg.write_text('[state]\nurl = "http://redis:6379"\n')
    with pytest.raises(ConfigError) as exc:
        load_settings(cfg)
    assert "state.url" in str(exc.value)
    cfg.write_text('[state]\nurl = "redis://redis:6379/0"\nfail = "closed"\n')
    s = load_settings(cfg).state
    assert (s.url, s.fail, s.timeout_ms) == ("redis://redis:6379/0", "closed", 100)
    cfg.write_text('[state]\nfail = "maybe"\n')
    with pytest.raises(ConfigError, match="state.fail"):
        load_settings(cfg)


def test_config_check_shows_the_shared_state_without_its_password(tmp_path, capsys) -> None:
    cfg = tmp_path / "ogmux.toml"
    cfg.write_text('[state]\nurl = "redis://ogmux:s3cret@redis:6379/0"\nfail = "closed"\n')
    assert main(["config", "check", str(cfg)]) == 0
    out = capsys.readouterr().out
    assert "rate limits, breakers, call slots and budgets: Redis redis://ogmux:***@redis:6379/0 (fail closed)" in out
    assert "s3cret" not in out

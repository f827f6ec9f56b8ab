"""Shared state in a real Redis: breaker cooldowns seen by every replica, outages, settings."""

from __future__ import annotations

import time

import pytest

from ogmux.router.config import RouterConfig
from ogmux.router.pool import Pool
from ogmux.server.cli import main
from ogmux.server.settings import ConfigError, StateSettings, load_settings
from ogmux.server.state import SharedState, redact_url
from tests.integration.engines import RedisServer

URL = "http://127.0.0.1:9"  # a vLLM replica URL; never contacted here


def _pools(url: str, n: int = 2, cooldown_s: float = 0.6) -> list[Pool]:
    config = RouterConfig.model_validate(
        {"backends": [{"name": "m", "kind": "vllm", "replicas": [URL]}], "breaker": {"cooldown_s": cooldown_s}}
    )
    return [Pool(config, store=SharedState(StateSettings(url=url))) for _ in range(n)]


def test_a_breaker_opened_by_one_replica_is_open_for_all(redis: RedisServer) -> None:
    a, b = (p.replicas["m"][0].breaker for p in _pools(redis.url))
    assert b.state == "closed"
    a.failure("connection refused", hard=True)
    time.sleep(0.21)  # b re-reads the shared cooldown at most every 0.2 s
    assert b.state == "open" and not b.available()
    assert b.last_error == "connection refused"
    assert 0.2 < b.retry_in_s() <= 0.4
    time.sleep(b.retry_in_s())
    assert b.state == "half_open" and b.available()  # the cooldown ended: b sends its own probe
    b.acquire()
    assert not b.available()
    b.success()
    assert b.state == "closed"


def test_retry_after_is_shared_and_a_failed_probe_reopens_for_all(redis: RedisServer) -> None:
    a, b = (p.replicas["m"][0].breaker for p in _pools(redis.url, cooldown_s=0.5))
    a.failure("429", retry_after_s=0.7, hard=True)
    assert b.state == "open" and b.retry_in_s() > 0.6
    time.sleep(0.75)
    assert a.state == b.state == "half_open"
    b.acquire()
    b.failure("probe failed")  # a failed probe opens again, for a as well
    time.sleep(0.21)
    assert a.state == "open" and a.last_error == "probe failed"


def test_breakers_keep_working_locally_while_redis_is_down(redis: RedisServer) -> None:
    a, b = (p.replicas["m"][0].breaker for p in _pools(redis.url))
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
    assert "rate limits and breakers: Redis redis://ogmux:***@redis:6379/0 (fail closed)" in out
    assert "s3cret" not in out

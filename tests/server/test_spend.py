"""Role budgets and spend in a real Redis: one budget for all replicas under concurrent holds, charge-once
across replicas, spend kept across restarts, holds of a killed replica ending with their lease, budget
periods, Redis outages (open and closed), and `chat` on two servers sharing one Redis."""

from __future__ import annotations

import asyncio
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import mcp
import pytest

from ogmux.router.errors import BudgetExceededError
from ogmux.server import spend
from ogmux.server.app import build_server
from ogmux.server.settings import StateSettings, load_settings
from ogmux.server.spend import BudgetUnavailable, RedisLedger
from ogmux.server.state import SharedState
from tests.integration.engines import RedisServer, redis_server, wait_for
from tests.router.wire_server import wire_server


def _ledgers(url: str, n: int, budgets: dict[str, float], **kw) -> list[RedisLedger]:
    """`n` replicas' ledgers in one Redis (2 s per Redis call: a slow answer on a loaded machine is not an
    outage here)."""
    state = {"timeout_ms": 2000, **{k: kw.pop(k) for k in ("fail", "retry_s") if k in kw}}
    return [RedisLedger(SharedState(StateSettings(url=url, **state)), budgets, **kw) for _ in range(n)]


def test_two_replicas_cannot_together_hold_more_than_the_budget(redis: RedisServer) -> None:
    ledgers = _ledgers(redis.url, 2, {"r": 10.0})
    taken: list[bool] = []
    go = threading.Barrier(8)

    def take(ledger: RedisLedger) -> None:
        go.wait()
        for _ in range(10):
            try:
                ledger.hold("r", 0.5)
                taken.append(True)
            except BudgetExceededError as exc:
                assert "on all replicas" in str(exc)
                taken.append(False)

    threads = [threading.Thread(target=take, args=(ledgers[i % 2],)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert taken.count(True) == 20 and len(taken) == 80
    assert all(led.remaining_usd("r") == pytest.approx(0.0) for led in ledgers)
    for led in ledgers:
        led.close()


def test_holds_and_charges_are_seen_by_every_replica(redis: RedisServer) -> None:
    a, b = _ledgers(redis.url, 2, {"r": 1.0})
    held = a.hold("r", 0.4)
    assert b.remaining_usd("r") == pytest.approx(0.6)
    with pytest.raises(BudgetExceededError, match=r"has \$0.600000 left of its \$1 budget on all replicas"):
        b.hold("r", 0.7)
    assert a.charge("req-1", "alice", "r", 100, 20, 0.25)
    a.release(held)
    assert b.remaining_usd("r") == pytest.approx(0.75)
    assert not b.charge("req-1", "alice", "r", 100, 20, 0.25)  # charged once, whichever replica retries
    assert b.charge("req-2", "bob", "r", 1, 2, 0.5)
    alice, role = b.principal_spend("alice"), a.role_spend("r")
    assert (alice.requests, alice.prompt_tokens, alice.completion_tokens, alice.cost_usd) == (
        1,
        100,
        20,
        0.25,
    )
    assert (role.requests, role.prompt_tokens, role.completion_tokens, role.cost_usd) == (2, 101, 22, 0.75)
    assert a.remaining_usd("free") is None and a.hold("free", 1e9).id is None  # no budget, nothing held
    a.close()
    b.close()


def test_spend_survives_a_new_ledger_and_a_redis_restart(tmp_path: Path) -> None:
    with redis_server(tmp_path / "redis", appendonly=True) as server:
        [first] = _ledgers(server.url, 1, {"r": 1.0})
        first.charge("req-1", "alice", "r", 10, 5, 0.3)
        first.close()
        server.stop()
        server.start()
        [restarted] = _ledgers(server.url, 1, {"r": 1.0})
        assert restarted.principal_spend("alice").cost_usd == pytest.approx(0.3)
        assert restarted.remaining_usd("r") == pytest.approx(0.7)
        restarted.close()


HOLDER = """
import sys, time
from ogmux.server.settings import StateSettings
from ogmux.server.spend import RedisLedger
from ogmux.server.state import SharedState
ledger = RedisLedger(SharedState(StateSettings(url=sys.argv[1], timeout_ms=2000)), {"r": 1.0}, lease_s=float(sys.argv[2]))
ledger.hold("r", 0.9)
print("held", flush=True)
time.sleep(60)
"""


def test_holds_of_a_killed_replica_end_with_their_lease(redis: RedisServer) -> None:
    lease = 1.0
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLDER, redis.url, str(lease)], stdout=subprocess.PIPE, text=True
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        [replica] = _ledgers(redis.url, 1, {"r": 1.0})
        time.sleep(lease * 2.5)  # the holder renews its hold while it lives
        assert replica.remaining_usd("r") == pytest.approx(0.1)
        with pytest.raises(BudgetExceededError):
            replica.hold("r", 0.5)
        holder.send_signal(signal.SIGKILL)  # no release, no more renewals
        holder.wait(10)
        # Freed by the lease, expected within one (1 s); the timeout only guards against a hang.
        wait_for(
            lambda: replica.remaining_usd("r") == pytest.approx(1.0), "the killed replica's hold to end", 10
        )
        replica.release(replica.hold("r", 1.0))
        replica.close()
    finally:
        holder.kill()
        holder.wait(10)


def _at(text: str) -> float:
    return datetime.fromisoformat(text).replace(tzinfo=UTC).timestamp()


def test_a_budget_period_starts_spend_again_for_every_replica(redis: RedisServer) -> None:
    import redis as redis_py

    now = [_at("2025-03-31T23:00:00")]
    a, b = _ledgers(redis.url, 2, {"r": 1.0}, period="day", clock=lambda: now[0])
    a.charge("req-1", "alice", "r", 10, 5, 0.9)
    with pytest.raises(BudgetExceededError, match="budget this day"):
        b.hold("r", 0.2)
    now[0] = _at("2025-04-01T00:00:01")
    assert b.remaining_usd("r") == pytest.approx(1.0)
    assert a.principal_spend("alice").requests == 0
    client = redis_py.Redis.from_url(redis.url)
    assert 0 < client.pttl("ogmux:spend:2025-03-31:role:r") <= 2 * 86_400_000  # old periods expire
    client.close()
    a.close()
    b.close()


def test_while_redis_is_down_a_replica_counts_from_what_it_last_read_and_writes_later(tmp_path: Path) -> None:
    with redis_server(tmp_path / "redis", appendonly=True) as server:
        a, other = _ledgers(server.url, 2, {"r": 1.0}, retry_s=0.1)
        a.charge("req-0", "alice", "r", 10, 5, 0.5)
        # Read (as every chat call reads them), so a knows the role's and the caller's spend.
        assert a.remaining_usd("r") == pytest.approx(0.5) and a.principal_spend("alice").requests == 1
        server.stop()
        held = a.hold("r", 0.3)  # counted here: 0.5 spent (last read) leaves 0.5
        with pytest.raises(BudgetExceededError, match="counted by this replica: shared state is unreachable"):
            a.hold("r", 0.3)
        assert a.charge("req-1", "alice", "r", 20, 10, 0.25)
        assert not a.charge("req-1", "alice", "r", 20, 10, 0.25)
        a.release(held)
        assert a.remaining_usd("r") == pytest.approx(0.25)
        spend = a.principal_spend("alice")
        assert (spend.requests, spend.prompt_tokens, spend.cost_usd) == (2, 30, pytest.approx(0.75))
        server.start()
        # Once a's ping finds Redis again, its next call writes the kept charge, once.
        wait_for(lambda: other.principal_spend("alice").requests == 2, "the kept charge to reach Redis", 10)
        assert a.principal_spend("alice").requests == 2 and a.remaining_usd("r") == pytest.approx(0.25)
        assert other.role_spend("r").cost_usd == pytest.approx(0.75)
        a.close()
        other.close()


def test_failing_closed_refuses_budgeted_calls_while_redis_is_down(redis: RedisServer) -> None:
    [closed] = _ledgers(redis.url, 1, {"r": 1.0}, fail="closed", retry_s=0.1)
    redis.stop()
    with pytest.raises(BudgetUnavailable) as refused:
        closed.hold("r", 0.1)
    text = str(refused.value)
    assert text.startswith("call refused: the budget of role 'r' cannot be checked because shared state at")
    assert "is unreachable" in text and "retry after" in text
    closed.release(closed.hold("free", 5.0))  # a role without a budget is served
    assert closed.charge("req-1", "p", "free", 1, 1, 5.0)
    redis.start()

    def checked() -> bool:
        try:
            closed.release(closed.hold("r", 0.1))
        except BudgetUnavailable:
            return False
        return True

    wait_for(checked, "the budget to be checked again", 10)
    closed.close()


def test_charges_kept_during_an_outage_count_against_holds_until_written(redis: RedisServer) -> None:
    shared = SharedState(StateSettings(url=redis.url, timeout_ms=2000, retry_s=0.1))
    ledger = RedisLedger(shared, {"r": 1.0})
    assert ledger.remaining_usd("r") == pytest.approx(1.0)
    redis.stop()
    assert ledger.charge("req-1", "alice", "r", 10, 5, 0.8)  # kept: Redis is down
    redis.start()
    # Another thread is writing the kept charges (as the background sync does when Redis answers again):
    # until this one is written, Redis does not hold it, but the role spent it.
    with ledger._syncing:

        def back() -> bool:
            ledger.remaining_usd("r")
            return not shared.down

        wait_for(back, "shared state to be reachable again", 10)
        assert ledger.remaining_usd("r") == pytest.approx(0.2)
        with pytest.raises(BudgetExceededError, match=r"has \$0.200000 left"):
            ledger.hold("r", 0.5)
    wait_for(lambda: ledger.role_spend("r").requests == 1, "the kept charge to be written", 10)
    assert ledger.remaining_usd("r") == pytest.approx(0.2)
    ledger.release(ledger.hold("r", 0.1))
    ledger.close()
    shared.close()


def test_a_charge_dropped_while_it_is_written_costs_no_other_charge(
    redis: RedisServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(spend, "MAX_UNSYNCED", 2)
    shared = SharedState(StateSettings(url=redis.url, timeout_ms=2000, retry_s=0.1))
    ledger = RedisLedger(shared, {"r": 10.0})
    redis.stop()
    assert ledger.charge("req-1", "alice", "r", 1, 1, 0.1) and ledger.charge("req-2", "alice", "r", 1, 1, 0.1)
    redis.start()
    write = ledger._write

    def write_while_another_is_kept(c):
        written = write(c)
        if c.request_id == "req-1":  # a charge kept before this write returns drops the oldest: this one
            ledger._keep(spend._Charge("req-3", "alice", "r", 1, 1, 0.1, ledger.label()))
        return written

    monkeypatch.setattr(ledger, "_write", write_while_another_is_kept)
    wait_for(lambda: ledger.role_spend("r").requests == 3, "every kept charge to be written", 10)
    assert ledger.role_spend("r").cost_usd == pytest.approx(0.3)
    ledger.close()
    shared.close()


# --- through the chat tool of two servers --------------------------------------------------------------
@pytest.fixture(scope="module")
def wire() -> Iterator[str]:
    with wire_server() as url:
        yield url


async def test_chat_on_two_servers_spends_one_role_budget(redis: RedisServer, wire: str) -> None:
    # One output token costs $1; the wire server's answers cost about $14 each (estimated at $11: 8 prompt
    # tokens + 3), so a $35 budget pays for three calls, however the calls spread over the servers.
    backends = [{"name": "paid", "kind": "openai", "model": "ok", "replicas": [f"{wire}/v1"],
                 "context_length": 4096, "price_in_per_mtok": 1e6, "price_out_per_mtok": 1e6}]  # fmt: skip
    settings = load_settings(
        None,
        **{"audit.sink": "off", "state.url": redis.url, "state.timeout_ms": 2000, "router.backends": backends,
           "router.role_budgets_usd": {"admin": 35.0}},
    )  # fmt: skip
    servers = [build_server(settings, transport="memory") for _ in range(2)]
    args = {"messages": [{"role": "user", "content": "hi"}], "max_tokens": 3, "stream": False}
    try:
        async with mcp.Client(servers[0]) as one, mcp.Client(servers[1]) as two:
            results = await asyncio.gather(*[c.call_tool("chat", args) for _ in range(6) for c in (one, two)])
            ok = [r for r in results if not r.is_error]
            assert len(ok) == 3, [r.content[0].text for r in results]
            assert all("budget" in r.content[0].text for r in results if r.is_error)
    finally:
        for s in servers:
            await s.state.aclose()
    # A restarted server reads the spend back from Redis.
    again = build_server(settings, transport="memory")
    try:
        async with mcp.Client(again) as client:
            res = await client.call_tool("chat", {**args, "max_tokens": 1})
    finally:
        await again.state.aclose()
    assert res.is_error and "budget" in res.content[0].text, res.content[0].text

"""The in-process ledger: holds checked against role budgets, charge-once, spend sums and budget periods."""

from __future__ import annotations

import threading
from datetime import UTC, datetime

import pytest

from ogmux.router.accounting import MemoryLedger, period_label
from ogmux.router.errors import BudgetExceededError


def _at(text: str) -> float:
    return datetime.fromisoformat(text).replace(tzinfo=UTC).timestamp()


def test_a_hold_counts_against_the_budget_until_released() -> None:
    ledger = MemoryLedger({"r": 1.0})
    first = ledger.hold("r", 0.6)
    assert ledger.remaining_usd("r") == pytest.approx(0.4)
    with pytest.raises(BudgetExceededError) as refused:
        ledger.hold("r", 0.5)
    assert "role 'r' has $0.400000 left of its $1 budget" in str(refused.value)
    assert "needs up to $0.500000" in str(refused.value)
    ledger.release(first)
    assert ledger.remaining_usd("r") == pytest.approx(1.0)
    ledger.release(ledger.hold("r", 1.0))  # exactly the budget fits


def test_a_role_without_a_budget_is_never_refused() -> None:
    ledger = MemoryLedger({"r": 1.0})
    assert ledger.remaining_usd("free") is None
    ledger.hold("free", 1e9)
    assert ledger.charge("id", "p", "free", 1, 1, 1e9)
    assert ledger.remaining_usd("free") is None


def test_charges_are_summed_per_principal_and_role_once_per_request_id() -> None:
    ledger = MemoryLedger({"r": 1.0})
    assert ledger.charge("a", "alice", "r", 10, 5, 0.25)
    assert ledger.charge("b", "bob", "r", 1, 2, 0.5)
    assert not ledger.charge("a", "alice", "r", 10, 5, 0.25)
    alice = ledger.principal_spend("alice")
    assert (alice.requests, alice.prompt_tokens, alice.completion_tokens, alice.cost_usd) == (1, 10, 5, 0.25)
    role = ledger.role_spend("r")
    assert (role.requests, role.prompt_tokens, role.completion_tokens) == (2, 11, 7)
    assert ledger.remaining_usd("r") == pytest.approx(0.25)
    with pytest.raises(BudgetExceededError):
        ledger.hold("r", 0.3)


def test_concurrent_holds_cannot_exceed_the_budget() -> None:
    ledger = MemoryLedger({"r": 10.0})
    taken: list[bool] = []
    go = threading.Barrier(8)

    def take() -> None:
        go.wait()
        for _ in range(10):
            try:
                ledger.hold("r", 0.5)
                taken.append(True)
            except BudgetExceededError:
                taken.append(False)

    threads = [threading.Thread(target=take) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert taken.count(True) == 20
    assert ledger.remaining_usd("r") == pytest.approx(0.0)


def test_period_labels_are_utc_days_and_months() -> None:
    at = _at("2025-03-31T23:59:59")
    assert period_label("none", at) == ""
    assert period_label("day", at) == "2025-03-31"
    assert period_label("month", at) == "2025-03"
    assert period_label("month", at + 1) == "2025-04"


def test_spend_starts_again_with_a_new_period_but_running_holds_stay() -> None:
    now = [_at("2025-03-31T23:00:00")]
    ledger = MemoryLedger({"r": 1.0}, period="day", clock=lambda: now[0])
    ledger.charge("a", "alice", "r", 10, 5, 0.7)
    running = ledger.hold("r", 0.2)
    assert ledger.remaining_usd("r") == pytest.approx(0.1)
    with pytest.raises(BudgetExceededError, match="budget this day"):
        ledger.hold("r", 0.2)
    now[0] = _at("2025-04-01T00:00:01")
    assert ledger.principal_spend("alice").requests == 0
    assert ledger.remaining_usd("r") == pytest.approx(0.8)  # the running call still holds its estimate
    ledger.release(running)
    assert ledger.remaining_usd("r") == pytest.approx(1.0)


def test_without_a_period_spend_is_kept_for_the_ledgers_lifetime() -> None:
    now = [_at("2025-03-31T23:00:00")]
    ledger = MemoryLedger({"r": 1.0}, clock=lambda: now[0])
    ledger.charge("a", "alice", "r", 10, 5, 0.7)
    now[0] = _at("2026-01-01T00:00:00")
    assert ledger.principal_spend("alice").cost_usd == pytest.approx(0.7)
    assert ledger.remaining_usd("r") == pytest.approx(0.3)

"""Usage and cost per principal and per role, role budgets, and charge-once bookkeeping.

`Ledger` is what the router needs from a spend store; `MemoryLedger` keeps it in this process. A server
running several replicas hands the router a ledger they share (see the server's `[state]` section).
"""

from __future__ import annotations

import threading
import time
from abc import ABC, abstractmethod
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from pydantic import BaseModel

from ogmux.router.config import BackendConfig, BudgetPeriod
from ogmux.router.errors import BudgetExceededError

__all__ = ["Hold", "Ledger", "MemoryLedger", "SpendSummary", "cost_usd", "period_label"]

_REMEMBERED_IDS = 100_000


def cost_usd(backend: BackendConfig, prompt_tokens: int, completion_tokens: int) -> float:
    """USD cost of a call at the backend's per-1M-token prices."""
    return (prompt_tokens * backend.price_in_per_mtok + completion_tokens * backend.price_out_per_mtok) / 1e6


def period_label(period: BudgetPeriod, at: float) -> str:
    """The budget period holding Unix time `at`: "" (one period for ever), the UTC day or the UTC month."""
    if period == "none":
        return ""
    return datetime.fromtimestamp(at, UTC).strftime("%Y-%m-%d" if period == "day" else "%Y-%m")


class SpendSummary(BaseModel):
    requests: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost_usd: float = 0.0

    def add(self, prompt_tokens: int, completion_tokens: int, cost: float, requests: int = 1) -> None:
        """Count `requests` more requests with these tokens and cost (negative amounts take them back)."""
        self.requests += requests
        self.prompt_tokens += prompt_tokens
        self.completion_tokens += completion_tokens
        self.cost_usd += cost


@dataclass(frozen=True)
class Hold:
    """An estimate counted against a role's budget while its call runs; `id` names it in a shared store."""

    role: str
    usd: float
    id: str | None = None


class Ledger(ABC):
    """Spend per principal and per role within the current budget period, and holds against role budgets.

    `hold` checks and reserves in one step, so concurrent calls cannot all pass the budget check before
    any of them is charged; `charge` is idempotent per request id, so a retried chain is charged once.
    """

    def __init__(
        self,
        role_budgets_usd: dict[str, float],
        period: BudgetPeriod = "none",
        clock: Callable[[], float] = time.time,
    ):
        self.budgets = dict(role_budgets_usd)
        self.period: BudgetPeriod = period
        self._clock = clock

    def label(self) -> str:
        """The current budget period (see `period_label`)."""
        return period_label(self.period, self._clock())

    def refusal(self, hold: Hold, left: float, where: str = "") -> BudgetExceededError:
        """The error of a hold that does not fit in what is left of its role's budget."""
        period = "" if self.period == "none" else f" this {self.period} (UTC)"
        return BudgetExceededError(
            f"role {hold.role!r} has ${max(left, 0.0):.6f} left of its ${self.budgets[hold.role]:g} budget{period}"
            f"{where}, and this call needs up to ${hold.usd:.6f} while it runs (calls still running hold their "
            "estimate); retry when running calls have finished, or ask for fewer max_tokens"
        )

    @abstractmethod
    def remaining_usd(self, role: str) -> float | None:
        """Budget left for `role` (spent and held subtracted), or None when the role has no budget."""

    @abstractmethod
    def hold(self, role: str, usd: float) -> Hold:
        """Count `usd` against `role`'s budget until `release`; raise BudgetExceededError if it does not fit."""

    @abstractmethod
    def release(self, hold: Hold) -> None:
        """End `hold` (its call was charged what it really cost, or failed)."""

    @abstractmethod
    def charge(
        self,
        request_id: str,
        principal: str,
        role: str,
        prompt_tokens: int,
        completion_tokens: int,
        cost: float,
    ) -> bool:
        """Record one completed request; False (and no change) if `request_id` was already charged."""

    def close(self) -> None:
        """Stop the ledger's background work, if it has any."""

    @abstractmethod
    def principal_spend(self, principal: str) -> SpendSummary:
        """What `principal` spent in the current period."""

    @abstractmethod
    def role_spend(self, role: str) -> SpendSummary:
        """What `role` spent in the current period."""


class MemoryLedger(Ledger):
    """A thread-safe ledger in this process: it starts empty with each process."""

    def __init__(
        self,
        role_budgets_usd: dict[str, float],
        period: BudgetPeriod = "none",
        clock: Callable[[], float] = time.time,
    ):
        super().__init__(role_budgets_usd, period, clock)
        self.by_principal: dict[str, SpendSummary] = {}
        self.by_role: dict[str, SpendSummary] = {}
        self._charged: OrderedDict[str, None] = OrderedDict()
        self._held: dict[str, float] = {}
        self._lock = threading.Lock()
        self._period = self.label()

    def _roll(self) -> None:
        """Start a new period's spend when the period changed (holds stay: their calls still run)."""
        label = self.label()
        if label != self._period:
            self._period = label
            self.by_principal.clear()
            self.by_role.clear()

    def _left(self, role: str) -> float:
        return self.budgets[role] - (
            self.by_role.get(role, SpendSummary()).cost_usd + self._held.get(role, 0.0)
        )

    def remaining_usd(self, role: str) -> float | None:
        if role not in self.budgets:
            return None
        with self._lock:
            self._roll()
            return self._left(role)

    def hold(self, role: str, usd: float) -> Hold:
        held = Hold(role, usd)
        with self._lock:
            self._roll()
            if role in self.budgets and usd > (left := self._left(role)):
                raise self.refusal(held, left)
            self._held[role] = self._held.get(role, 0.0) + usd
        return held

    def release(self, hold: Hold) -> None:
        with self._lock:
            left = self._held.get(hold.role, 0.0) - hold.usd
            if left > 1e-12:
                self._held[hold.role] = left
            else:
                self._held.pop(hold.role, None)

    def charge(
        self,
        request_id: str,
        principal: str,
        role: str,
        prompt_tokens: int,
        completion_tokens: int,
        cost: float,
    ) -> bool:
        with self._lock:
            if request_id in self._charged:
                return False
            self._charged[request_id] = None
            while len(self._charged) > _REMEMBERED_IDS:
                self._charged.popitem(last=False)
            self._roll()
            for book, key in ((self.by_principal, principal), (self.by_role, role)):
                book.setdefault(key, SpendSummary()).add(prompt_tokens, completion_tokens, cost)
            return True

    def principal_spend(self, principal: str) -> SpendSummary:
        with self._lock:
            self._roll()
            return self.by_principal.get(principal, SpendSummary()).model_copy()

    def role_spend(self, role: str) -> SpendSummary:
        with self._lock:
            self._roll()
            return self.by_role.get(role, SpendSummary()).model_copy()

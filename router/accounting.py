"""Usage and cost per principal and per role, role budgets, and charge-once bookkeeping."""

from __future__ import annotations

import threading
from collections import OrderedDict

from pydantic import BaseModel

from ogmux.router.config import BackendConfig

__all__ = ["Ledger", "SpendSummary", "cost_usd"]

_REMEMBERED_IDS = 100_000


def cost_usd(backend: BackendConfig, prompt_tokens: int, completion_tokens: int) -> float:
    """USD cost of a call at the backend's per-1M-token prices."""
    return (prompt_tokens * backend.price_in_per_mtok + completion_tokens * backend.price_out_per_mtok) / 1e6


class SpendSummary(BaseModel):
    requests: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost_usd: float = 0.0


class Ledger:
    """Thread-safe spend records. `charge` is idempotent per request id, so a retried chain is charged once."""

    def __init__(self, role_budgets_usd: dict[str, float]):
        self.budgets = dict(role_budgets_usd)
        self.by_principal: dict[str, SpendSummary] = {}
        self.by_role: dict[str, SpendSummary] = {}
        self._charged: OrderedDict[str, None] = OrderedDict()
        self._held: dict[str, float] = {}
        self._lock = threading.Lock()

    def remaining_usd(self, role: str) -> float | None:
        """Budget left for `role`, or None when the role has no budget."""
        if role not in self.budgets:
            return None
        with self._lock:
            spent = self.by_role.get(role, SpendSummary()).cost_usd + self._held.get(role, 0.0)
        return self.budgets[role] - spent

    def hold(self, role: str, usd: float) -> None:
        """Count `usd` as spent by `role` until `release`: the estimate of a call still running, so that
        concurrent calls cannot all pass the budget check before any of them is charged."""
        with self._lock:
            self._held[role] = self._held.get(role, 0.0) + usd

    def release(self, role: str, usd: float) -> None:
        """End a `hold` of `usd` (the call was charged what it really cost, or failed)."""
        with self._lock:
            left = self._held.get(role, 0.0) - usd
            if left > 1e-12:
                self._held[role] = left
            else:
                self._held.pop(role, None)

    def charge(self, request_id: str, principal: str, role: str, prompt_tokens: int, completion_tokens: int, cost: float) -> bool:
        """Record one completed request; False (and no change) if `request_id` was already charged."""
        with self._lock:
            if request_id in self._charged:
                return False
            self._charged[request_id] = None
            while len(self._charged) > _REMEMBERED_IDS:
                self._charged.popitem(last=False)
            for book, key in ((self.by_principal, principal), (self.by_role, role)):
                s = book.setdefault(key, SpendSummary())
                s.requests += 1
                s.prompt_tokens += prompt_tokens
                s.completion_tokens += completion_tokens
                s.cost_usd += cost
            return True

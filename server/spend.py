"""Role budgets and spend shared by every replica in Redis (`[state].url`), kept across restarts.

Keys (under `[state].key_prefix`):
- `spend:<period>:role:<role>` and `spend:<period>:principal:<principal>`: hashes of requests, prompt_tokens,
  completion_tokens and cost_usd; <period> is `all` with `router.budget_period = "none"`, else the UTC day or
  month, and such a key expires 2 days (day) or 62 days (month) after its last charge;
- `holds:<role>`: the estimates of the role's running calls, a lease set (member `<id>:<usd>`, scored by the
  end of its lease on the Redis clock), renewed by the replica running the call;
- `charged:<request id>`: a charged request, kept a day, so a charge written twice counts once.

While Redis is unreachable this replica counts on its own: from the spend and holds it last read for the
role, plus what it charged and holds since (with `[state].fail = "closed"`, calls of a role with a budget are
refused instead). Charges made meanwhile are written to Redis, once each, when it answers again.
"""

from __future__ import annotations

import logging
import secrets
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from ogmux.router.accounting import Hold, Ledger, SpendSummary
from ogmux.router.config import BudgetPeriod
from ogmux.server.callslots import LEASE_S
from ogmux.server.state import Leases, SharedState, StateUnavailable

__all__ = ["BudgetUnavailable", "RedisLedger"]

log = logging.getLogger("ogmux.state")
K = TypeVar("K")
V = TypeVar("V")
CHARGED_MS = 86_400_000  # how long a charged request id is remembered
MAX_UNSYNCED = 100_000  # charges kept while Redis is unreachable; beyond this the oldest are dropped
_MAX_SEEN = 10_000  # spend records remembered for outages; all are forgotten when there are more
_PERIOD_TTL_MS = {"none": 0, "day": 2 * 86_400_000, "month": 62 * 86_400_000}
_FIELDS = ("requests", "prompt_tokens", "completion_tokens", "cost_usd")

# Drops the role's expired holds, then sums what is held and spent. With ARGV (budget, usd, lease ms,
# member) it also takes a hold of usd when it fits: usd <= budget - (spent + held), computed as the router's
# budget filter computes it. Returns {taken (0/1), spent, held} (floats as text: Lua numbers become integers).
_HOLD = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
local held = 0
for _, m in ipairs(redis.call('ZRANGE', KEYS[1], 0, -1)) do
  held = held + tonumber(string.match(m, ':([^:]*)$'))
end
local spent = tonumber(redis.call('HGET', KEYS[2], 'cost_usd') or '0')
local taken = 0
if #ARGV > 0 and not (tonumber(ARGV[2]) > tonumber(ARGV[1]) - (spent + held)) then
  redis.call('ZADD', KEYS[1], now + tonumber(ARGV[3]), ARGV[4])
  redis.call('PEXPIRE', KEYS[1], tonumber(ARGV[3]))
  taken = 1
end
return {taken, string.format('%.17g', spent), string.format('%.17g', held)}
"""

# Charges one request unless its id was charged: KEYS: charged id, principal spend, role spend.
# ARGV: ms the id is remembered, prompt tokens, completion tokens, cost, ms the spend is kept (0 = for ever).
_CHARGE = """
if not redis.call('SET', KEYS[1], '1', 'NX', 'PX', ARGV[1]) then
  return 0
end
for i = 2, 3 do
  redis.call('HINCRBY', KEYS[i], 'requests', 1)
  redis.call('HINCRBY', KEYS[i], 'prompt_tokens', ARGV[2])
  redis.call('HINCRBY', KEYS[i], 'completion_tokens', ARGV[3])
  redis.call('HINCRBYFLOAT', KEYS[i], 'cost_usd', ARGV[4])
  if tonumber(ARGV[5]) > 0 then
    redis.call('PEXPIRE', KEYS[i], ARGV[5])
  end
end
return 1
"""


class BudgetUnavailable(PermissionError):
    """The shared budgets are unreachable and `[state].fail = "closed"`: a call of a budgeted role is refused."""


@dataclass(frozen=True)
class _Charge:
    request_id: str
    principal: str
    role: str
    prompt_tokens: int
    completion_tokens: int
    cost: float
    period: str


class RedisLedger(Ledger):
    """A ledger in Redis, one for all replicas: holds are leases renewed while their call runs, so the holds
    of a replica that stops end within `lease_s`."""

    def __init__(
        self,
        shared: SharedState,
        role_budgets_usd: dict[str, float],
        period: BudgetPeriod = "none",
        clock: Callable[[], float] = time.time,
        lease_s: float = LEASE_S,
    ):
        super().__init__(role_budgets_usd, period, clock)
        self._shared = shared
        self._hold = shared.script(_HOLD)
        self._charge = shared.script(_CHARGE)
        self._leases = Leases(shared, max(1, round(lease_s * 1000)), "ogmux-spend-holds")
        self._lock = threading.Lock()
        self._syncing = threading.Lock()
        # Charges not yet in Redis, their ids and sums by (period, kind, name); then what was last read from
        # Redis: spend by (period, kind, name), and spent + held by (period, role); and holds taken here
        # while Redis was unreachable, by role.
        self._unsynced: deque[_Charge] = deque()
        self._unsynced_ids: set[str] = set()
        self._unsynced_sums: dict[tuple[str, str, str], SpendSummary] = {}
        self._seen: dict[tuple[str, str, str], SpendSummary] = {}
        self._seen_used: dict[tuple[str, str], float] = {}
        self._local_held: dict[str, float] = {}
        self._syncer: threading.Thread | None = None
        self._closed = threading.Event()

    def _spend_key(self, period: str, kind: str, name: str) -> str:
        return self._shared.key("spend", f"{period or 'all'}:{kind}:{name}")

    def _read(self, role: str, period: str, *take: object) -> tuple[bool, float]:
        """Run the hold script for `role` (taking a hold with `take` = budget, usd, lease ms, member):
        whether the hold was taken, and what is spent and held now (before it); remembered for outages."""
        keys = [self._shared.key("holds", role), self._spend_key(period, "role", role)]
        taken, spent, held = self._shared.call(lambda _: self._hold(keys=keys, args=list(take)))
        used = float(spent) + float(held)
        with self._lock:
            _remember(self._seen_used, (period, role), used)
        return bool(taken), used

    def _unsynced_cost(self, role: str, period: str) -> float:
        """What this replica charged `role` that Redis does not hold yet (under the lock)."""
        return self._unsynced_sums.get((period, "role", role), SpendSummary()).cost_usd

    def _local_used(self, role: str, period: str) -> float:
        """Spent and held by `role` as this replica knows it while Redis is unreachable (under the lock)."""
        return (
            self._seen_used.get((period, role), 0.0)
            + self._unsynced_cost(role, period)
            + self._local_held.get(role, 0.0)
        )

    def remaining_usd(self, role: str) -> float | None:
        if role not in self.budgets:
            return None
        period = self.label()
        self._sync()
        with self._lock:
            unsynced = self._unsynced_cost(role, period)  # kept charges another thread may still be writing
        try:
            _, used = self._read(role, period)
            used += unsynced
        except StateUnavailable:
            with self._lock:
                used = self._local_used(role, period)
        return self.budgets[role] - used

    def hold(self, role: str, usd: float) -> Hold:
        if role not in self.budgets:
            return Hold(role, usd)  # nothing to check it against
        period = self.label()
        self._sync()
        budget, member = self.budgets[role], f"{secrets.token_hex(8)}:{usd!r}"
        with self._lock:
            unsynced = self._unsynced_cost(role, period)  # kept charges another thread may still be writing
        try:
            # Redis checks the hold against what it holds; the kept charges not written yet count too.
            taken, used = self._read(
                role, period, repr(budget - unsynced), repr(usd), self._leases.lease_ms, member
            )
            used += unsynced
        except StateUnavailable as exc:
            if self._shared.fail_closed:
                raise BudgetUnavailable(
                    f"call refused: the budget of role {role!r} cannot be checked because {exc}; retry after "
                    f'{self._shared.retry_in_s():.2f} s (an administrator can set [state] fail = "open" to count '
                    "budgets on each replica meanwhile)"
                ) from None
            with self._lock:
                left = budget - self._local_used(role, period)
                if usd > left:
                    raise self.refusal(
                        Hold(role, usd), left, " (counted by this replica: shared state is unreachable)"
                    )
                self._local_held[role] = self._local_held.get(role, 0.0) + usd
            return Hold(role, usd)
        if not taken:
            raise self.refusal(Hold(role, usd), budget - used, " on all replicas")
        self._leases.add(self._shared.key("holds", role), member)
        return Hold(role, usd, member)

    def release(self, hold: Hold) -> None:
        if hold.id is None:
            if hold.role in self.budgets:
                with self._lock:
                    self._local_held[hold.role] = self._local_held.get(hold.role, 0.0) - hold.usd
            return
        key = self._shared.key("holds", hold.role)
        self._leases.discard(key, hold.id)
        try:
            self._shared.call(lambda c: c.zrem(key, hold.id))
        except StateUnavailable:
            pass  # it ends with its lease

    def charge(
        self,
        request_id: str,
        principal: str,
        role: str,
        prompt_tokens: int,
        completion_tokens: int,
        cost: float,
    ) -> bool:
        charge = _Charge(request_id, principal, role, prompt_tokens, completion_tokens, cost, self.label())
        self._sync()
        try:
            return self._write(charge)
        except StateUnavailable:
            return self._keep(charge)

    def _write(self, c: _Charge) -> bool:
        keys = [
            self._shared.key("charged", c.request_id),
            self._spend_key(c.period, "principal", c.principal),
            self._spend_key(c.period, "role", c.role),
        ]
        args = [CHARGED_MS, c.prompt_tokens, c.completion_tokens, repr(c.cost), _PERIOD_TTL_MS[self.period]]
        return bool(self._shared.call(lambda _: self._charge(keys=keys, args=args)))

    def _count(self, c: _Charge, sign: int) -> None:
        """Add (`sign` 1) or take back (-1) an unsynced charge in the unsynced sums (under the lock)."""
        for kind, name in (("principal", c.principal), ("role", c.role)):
            book = self._unsynced_sums.setdefault((c.period, kind, name), SpendSummary())
            book.add(sign * c.prompt_tokens, sign * c.completion_tokens, sign * c.cost, requests=sign)
            if not book.requests:
                del self._unsynced_sums[(c.period, kind, name)]

    def _keep(self, c: _Charge) -> bool:
        """Keep a charge Redis could not take, to write it when Redis answers again."""
        with self._lock:
            if c.request_id in self._unsynced_ids:
                return False
            if len(self._unsynced) >= MAX_UNSYNCED:
                dropped = self._unsynced.popleft()
                self._unsynced_ids.discard(dropped.request_id)
                self._count(dropped, -1)
                log.warning("%d charges wait for shared state; the oldest is dropped", MAX_UNSYNCED)
            self._unsynced.append(c)
            self._unsynced_ids.add(c.request_id)
            self._count(c, 1)
            if self._syncer is None:
                self._syncer = threading.Thread(target=self._sync_later, name="ogmux-spend-sync", daemon=True)
                self._syncer.start()
        return True

    def _sync_later(self) -> None:
        """Try `_sync` every `[state].retry_s` until nothing is left to write, so the kept charges reach Redis
        even if this replica gets no call when Redis is back."""
        while not self._closed.wait(self._shared.settings.retry_s):
            self._sync()
            with self._lock:
                if not self._unsynced:
                    self._syncer = None
                    return

    def _sync(self) -> None:
        """Write the charges kept during an outage, oldest first, once Redis answers (one thread at a time)."""
        if not self._unsynced or not self._syncing.acquire(blocking=False):
            return
        try:
            while True:
                with self._lock:
                    if not self._unsynced:
                        return
                    c = self._unsynced[0]
                try:
                    self._write(c)
                except StateUnavailable:
                    return
                with self._lock:
                    if self._unsynced and self._unsynced[0] is c:  # else `_keep` dropped it while it was written
                        self._unsynced.popleft()
                        self._unsynced_ids.discard(c.request_id)
                        self._count(c, -1)
        finally:
            self._syncing.release()

    def _spend(self, kind: str, name: str) -> SpendSummary:
        period = self.label()
        self._sync()
        key = self._spend_key(period, kind, name)
        try:
            values = self._shared.call(lambda c: c.hmget(key, _FIELDS))
        except StateUnavailable:
            with self._lock:
                spend = self._seen.get((period, kind, name), SpendSummary()).model_copy()
        else:
            spend = SpendSummary(
                **{f: v.decode() for f, v in zip(_FIELDS, values, strict=True) if v is not None}
            )
            with self._lock:
                _remember(self._seen, (period, kind, name), spend.model_copy())
        with self._lock:
            if (unsynced := self._unsynced_sums.get((period, kind, name))) is not None:
                spend.add(
                    unsynced.prompt_tokens, unsynced.completion_tokens, unsynced.cost_usd, unsynced.requests
                )
        return spend

    def principal_spend(self, principal: str) -> SpendSummary:
        return self._spend("principal", principal)

    def role_spend(self, role: str) -> SpendSummary:
        return self._spend("role", role)

    def close(self) -> None:
        """Stop renewing holds (those of calls still running end with their lease) and writing kept charges."""
        self._closed.set()
        self._leases.close()


def _remember(book: dict[K, V], key: K, value: V) -> None:
    """Set `book[key]`, forgetting everything first when the book is full (it only serves outages)."""
    if len(book) >= _MAX_SEEN and key not in book:
        book.clear()
    book[key] = value

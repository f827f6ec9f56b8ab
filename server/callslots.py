"""Per-principal concurrent call slots (`[limits].calls_per_principal`): in this process, or shared by all
replicas in Redis.

A shared slot is a lease: this replica renews the leases of the slots it holds every third of a lease, so a
replica that stops without giving its slots back (killed, crashed, cut off) frees them within one lease. While
Redis is unreachable, calls count against this replica's own slots, or with `[state].fail = "closed"` are refused.
"""

from __future__ import annotations

import secrets
import threading
from dataclasses import dataclass

from ogmux.server.audit import printable
from ogmux.server.state import Leases, SharedState, StateUnavailable

__all__ = ["LEASE_S", "CallSlots", "CallsBusy", "Slot"]

LEASE_S = 30.0  # a shared slot not renewed for this long (its replica stopped) is free again


class CallsBusy(Exception):
    """All of a principal's slots are taken (or, failing closed, cannot be counted); says when to retry."""


@dataclass(frozen=True)
class Slot:
    """One held slot: shared (`id` set) or of this process."""

    principal: str
    id: str | None = None


class CallSlots:
    """Counts the calls each principal has running, against one limit for all replicas when `shared` is given."""

    def __init__(self, shared: SharedState | None = None, lease_s: float = LEASE_S):
        self._shared = shared
        self._leases = Leases(shared, max(1, round(lease_s * 1000)), "ogmux-call-slots") if shared else None
        self._local: dict[str, int] = {}
        self._lock = threading.Lock()

    def take(self, principal: str, limit: int) -> Slot:
        """Take one of `principal`'s `limit` slots or raise CallsBusy."""
        if self._shared is not None and self._leases is not None:
            slot = secrets.token_hex(8)
            try:
                running = self._shared.take_slot(principal, slot, limit, self._leases.lease_ms)
            except StateUnavailable as exc:
                if self._shared.fail_closed:
                    raise CallsBusy(
                        f"call refused: the running calls cannot be counted because {exc}; retry after "
                        f"{self._shared.retry_in_s():.2f} s"
                    ) from None
            else:
                if running >= 0:
                    raise CallsBusy(_busy(principal, running, limit, " on all replicas"))
                self._leases.add(self._shared.key("calls", principal), slot)
                return Slot(principal, slot)
        with self._lock:
            running = self._local.get(principal, 0)
            if running >= limit:
                raise CallsBusy(_busy(principal, running, limit, ""))
            self._local[principal] = running + 1
        return Slot(principal)

    def release(self, slot: Slot) -> None:
        """Give `slot` back."""
        if slot.id is None:
            with self._lock:
                self._local[slot.principal] -= 1
                if not self._local[slot.principal]:
                    del self._local[slot.principal]
            return
        if self._shared is not None and self._leases is not None:
            self._leases.discard(self._shared.key("calls", slot.principal), slot.id)
            self._shared.release_slot(slot.principal, slot.id)

    def close(self) -> None:
        """Stop renewing (slots still held then end with their lease)."""
        if self._leases is not None:
            self._leases.close()


def _busy(principal: str, running: int, limit: int, where: str) -> str:
    return (
        f"{printable(principal, 100)} already has {running} calls running{where} "
        f"(limits.calls_per_principal = {limit}); retry when one has finished"
    )

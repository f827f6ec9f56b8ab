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
from ogmux.server.state import SharedState, StateUnavailable

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
        self._lease_ms = max(1, round(lease_s * 1000))
        self._local: dict[str, int] = {}
        self._held: dict[str, set[str]] = {}  # shared slot ids this replica holds, per principal
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._renewer: threading.Thread | None = None

    def take(self, principal: str, limit: int) -> Slot:
        """Take one of `principal`'s `limit` slots or raise CallsBusy."""
        if self._shared is not None:
            slot = secrets.token_hex(8)
            try:
                running = self._shared.take_slot(principal, slot, limit, self._lease_ms)
            except StateUnavailable as exc:
                if self._shared.fail_closed:
                    raise CallsBusy(
                        f"call refused: the running calls cannot be counted because {exc}; retry after "
                        f"{self._shared.retry_in_s():.2f} s"
                    ) from None
            else:
                if running >= 0:
                    raise CallsBusy(_busy(principal, running, limit, " on all replicas"))
                with self._lock:
                    self._held.setdefault(principal, set()).add(slot)
                    self._start_renewer()
                return Slot(principal, slot)
        with self._lock:
            running = self._local.get(principal, 0)
            if running >= limit:
                raise CallsBusy(_busy(principal, running, limit, ""))
            self._local[principal] = running + 1
        return Slot(principal)

    def release(self, slot: Slot) -> None:
        """Give `slot` back."""
        with self._lock:
            if slot.id is None:
                self._local[slot.principal] -= 1
                if not self._local[slot.principal]:
                    del self._local[slot.principal]
                return
            held = self._held[slot.principal]
            held.discard(slot.id)
            if not held:
                del self._held[slot.principal]
        if self._shared is not None:
            self._shared.release_slot(slot.principal, slot.id)

    def _start_renewer(self) -> None:
        if self._renewer is None:
            self._renewer = threading.Thread(target=self._renew, name="ogmux-call-slots", daemon=True)
            self._renewer.start()

    def _renew(self) -> None:
        shared = self._shared
        while shared is not None and not self._stop.wait(self._lease_ms / 3000):
            with self._lock:
                held = {principal: sorted(ids) for principal, ids in self._held.items()}
            for principal, ids in held.items():
                try:
                    shared.renew_slots(principal, ids, self._lease_ms)
                except StateUnavailable:
                    break  # tried again next round; meanwhile the leases run on

    def close(self) -> None:
        """Stop renewing (slots still held then end with their lease)."""
        self._stop.set()
        if self._renewer is not None:
            self._renewer.join(timeout=5)


def _busy(principal: str, running: int, limit: int, where: str) -> str:
    return (
        f"{printable(principal, 100)} already has {running} calls running{where} "
        f"(limits.calls_per_principal = {limit}); retry when one has finished"
    )

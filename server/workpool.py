"""The heavy-work pool: solves run on threads of their own, capped per principal, and stop when cancelled.

Heavy tools (`[limits].heavy_tools`) never take threads from the pool that document calls use,
so a flood of solves queues here while other calls keep answering. A principal may have
`heavy_per_principal` heavy calls running or queued; at most `heavy_queue` wait in all. A call
beyond either is refused at once with the reason and when to retry. A call whose request is
cancelled (client cancel or disconnect) sets an event that interrupts every HiGHS run of its
thread (`tools.solver.cancel.cancel_on`); the call's slot is held until the thread has really stopped.
"""

from __future__ import annotations

import math
import os
import threading
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import TypeVar

import anyio
import anyio.lowlevel
import anyio.to_thread

from ogmux.server.context import AppState
from ogmux.server.settings import LimitsSettings
from ogmux.tools.solver.cancel import cancel_on

__all__ = ["HeavyWorkRefused", "WorkPool", "work_pool"]

T = TypeVar("T")
POOL_COMPONENT = "server.workpool"


class HeavyWorkRefused(PermissionError):
    """A heavy call refused because its principal or the server has too many in flight; says when to retry."""

    def __init__(self, message: str, retry_after_s: float | None):
        self.retry_after_s = retry_after_s
        when = (
            f"retry in {retry_after_s:.0f} s at the latest (the earliest of them reaches its time limit by then), "
            "or sooner when one finishes"
            if retry_after_s is not None
            else "retry when one of them has finished"
        )
        super().__init__(f"{message}; {when}")


@dataclass
class _Call:
    principal: str
    deadline: float | None = None  # monotonic time by which the call's own time limit ends it
    started: float = field(default_factory=time.monotonic)


_CURRENT: ContextVar[_Call | None] = ContextVar("ogmux_heavy_call", default=None)


class WorkPool:
    """Bounded threads for heavy work, with per-principal admission and cancellation."""

    def __init__(self, limits: LimitsSettings):
        self.workers = limits.heavy_workers or os.cpu_count() or 1
        self.per_principal = limits.heavy_per_principal
        self.queue_limit = limits.heavy_queue
        self._threads = anyio.CapacityLimiter(self.workers)
        self._calls: list[_Call] = []  # admitted calls, running or waiting for a thread
        self._lock = threading.Lock()

    @property
    def running(self) -> int:
        """Heavy calls on a thread now."""
        return int(self._threads.borrowed_tokens)

    @property
    def waiting(self) -> int:
        """Admitted heavy calls not yet on a thread."""
        return max(0, len(self._calls) - self.running)

    def _retry_after(self, calls: list[_Call]) -> float | None:
        """Seconds until the first of `calls` with a known time limit must have ended, if any has one."""
        deadlines = [c.deadline for c in calls if c.deadline is not None]
        if not deadlines:
            return None
        return max(1.0, math.ceil(min(deadlines) - time.monotonic()))

    @asynccontextmanager
    async def admit(self, principal: str) -> AsyncIterator[None]:
        """Hold one of `principal`'s heavy slots for the block, or raise HeavyWorkRefused."""
        with self._lock:
            mine = [c for c in self._calls if c.principal == principal]
            if len(mine) >= self.per_principal:
                raise HeavyWorkRefused(
                    f"principal {principal!r} already has {len(mine)} heavy calls running or queued "
                    f"(limits.heavy_per_principal = {self.per_principal})",
                    self._retry_after(mine),
                )
            if len(self._calls) >= self.workers + self.queue_limit:
                raise HeavyWorkRefused(
                    f"the server is busy: {self.workers} heavy calls running and {self.queue_limit} queued "
                    "(limits.heavy_workers, limits.heavy_queue)",
                    self._retry_after(list(self._calls)),
                )
            call = _Call(principal)
            self._calls.append(call)
        token = _CURRENT.set(call)
        try:
            yield
        finally:
            _CURRENT.reset(token)
            with self._lock:
                self._calls.remove(call)

    async def run(self, fn: Callable[[], T], time_limit_s: float | None = None) -> T:
        """Run `fn` on a heavy-work thread once one is free; interrupt its solves if this task is cancelled.

        `time_limit_s` (the work's own limit, when known) lets refusals say when to retry.
        """
        call = _CURRENT.get()
        cancel = threading.Event()

        def job() -> tuple[T | None, Exception | None]:
            if call is not None and time_limit_s is not None:
                call.deadline = time.monotonic() + time_limit_s
            with cancel_on(cancel):
                try:
                    return fn(), None
                except Exception as exc:  # noqa: BLE001 - re-raised below, outside the task group
                    return None, exc

        async def interrupt_when_cancelled() -> None:
            try:
                await anyio.sleep_forever()
            finally:
                cancel.set()

        async with anyio.create_task_group() as tg:
            tg.start_soon(interrupt_when_cancelled)
            # Not abandoned on cancel: the thread (and its slot) is waited for until HiGHS has stopped.
            result, error = await anyio.to_thread.run_sync(job, limiter=self._threads)
            tg.cancel_scope.cancel()
        # A cancelled caller gets its cancellation here, not the interrupted result.
        await anyio.lowlevel.checkpoint()
        if error is not None:
            raise error
        return result  # type: ignore[return-value]


def work_pool(state: AppState) -> WorkPool:
    """The server's heavy-work pool."""
    return state.component(POOL_COMPONENT, lambda settings: WorkPool(settings.limits))

"""Cancelling HiGHS runs from another thread, without importing HiGHS (the server's work pool uses it)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

__all__ = ["cancel_event", "cancel_on"]

_CANCEL: ContextVar[threading.Event | None] = ContextVar("ogmux_solver_cancel", default=None)


@contextmanager
def cancel_on(event: threading.Event) -> Iterator[None]:
    """Every HiGHS instance made by `new_highs` inside the block stops soon after `event` is set.

    HiGHS then ends with status "interrupted"; the caller decides what an interrupted result means.
    """
    token = _CANCEL.set(event)
    try:
        yield
    finally:
        _CANCEL.reset(token)


def cancel_event() -> threading.Event | None:
    """The event of the innermost `cancel_on` block, or None outside one."""
    return _CANCEL.get()

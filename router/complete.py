"""The small `Complete` protocol other packages take (messages → text), backed by the router."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

if TYPE_CHECKING:
    from ogmux.router.core import Router

__all__ = ["Complete", "RouterComplete"]


@runtime_checkable
class Complete(Protocol):
    """A synchronous completion function: chat messages ({role, content}) in, answer text out."""

    def __call__(self, messages: list[dict[str, str]]) -> str: ...


class RouterComplete:
    """`Complete` over a router whose loop runs on another thread (see `Router.run_in_background`).

    `options` are ChatRequest fields applied to every call (e.g. policy, model, max_tokens, temperature).
    """

    def __init__(self, router: Router, principal: str = "", role: str = "", **options: Any):
        if router.loop is None:
            raise RuntimeError("start the router first (Router.run_in_background() for synchronous callers)")
        self.router = router
        self.principal = principal
        self.role = role
        self.options = options

    def __call__(self, messages: list[dict[str, str]]) -> str:
        assert self.router.loop is not None
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is self.router.loop:
            raise RuntimeError("RouterComplete is synchronous: call it from a worker thread, or await Router.complete")
        coro = self.router.complete(messages, self.principal, self.role, **self.options)
        return asyncio.run_coroutine_threadsafe(coro, self.router.loop).result()

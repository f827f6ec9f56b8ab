"""What a tool handler receives besides its arguments: the caller, the settings, shared components."""

from __future__ import annotations

import threading
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from ogmux.server.principal import Principal
from ogmux.server.settings import Settings

__all__ = ["AppState", "ProgressFn", "ToolContext"]

T = TypeVar("T")
ProgressFn = Callable[[float, float | None, str | None], Awaitable[None]]


async def _no_progress(done: float, total: float | None = None, message: str | None = None) -> None:
    return None


class AppState:
    """Components shared by all calls of one server (corpus, model pool, ...), built once on first use."""

    def __init__(self, settings: Settings):
        self.settings = settings
        self._components: dict[str, Any] = {}
        self._lock = threading.Lock()
        self._closers: list[Callable[[], Any]] = []

    def component(self, key: str, factory: Callable[[Settings], T]) -> T:
        """Return the component `key`, building it with `factory(settings)` the first time."""
        try:
            return self._components[key]
        except KeyError:
            pass
        with self._lock:
            if key not in self._components:
                self._components[key] = factory(self.settings)
            return self._components[key]

    def add_closer(self, close: Callable[[], Any]) -> None:
        """Register a callable run (and awaited if it returns an awaitable) when the server stops."""
        self._closers.append(close)

    async def aclose(self) -> None:
        while self._closers:
            result = self._closers.pop()()
            if isinstance(result, Awaitable):
                await result


@dataclass
class ToolContext:
    """Passed to every tool and resource handler."""

    principal: Principal
    state: AppState
    progress: ProgressFn = field(default=_no_progress)
    wants_progress: bool = False  # the caller sent a progress token, so `progress` reaches someone

    @property
    def settings(self) -> Settings:
        return self.state.settings

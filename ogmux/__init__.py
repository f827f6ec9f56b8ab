"""ogmux: one MCP server for role-scoped document graphs, model routing, safety scoring and solvers.

    from ogmux import Ogmux

`Ogmux` runs tools in-process for a principal; `ogmux.server`, `ogmux.tools`, `ogmux.router` and
`ogmux.evaluators` hold the parts.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ogmux.server.api import Ogmux

__all__ = ["Ogmux"]


def __getattr__(name: str) -> Any:
    # Lazy, so that importing a domain package (ogmux.tools.solver, ...) does not load the MCP server.
    if name == "Ogmux":
        from ogmux.server.api import Ogmux

        return Ogmux
    raise AttributeError(f"module 'ogmux' has no attribute {name!r}")

"""The corpus in PostgreSQL: pushed as immutable versions, queried in SQL under the caller's scopes.

`push_snapshot` writes a loaded corpus as a new version in one transaction and makes it current;
`DocumentStore` serves the current version to many replicas at once without loading it: every
query reads only rows the caller may see (the scope filter is part of each SQL statement), and a
request reads one version from start to end. `CorpusView` is what the query tools call, with an
in-memory (`MemoryView`) and a PostgreSQL (`StoreView`) implementation.

Names load on first use: `CorpusView` and `MemoryView` never import the database driver (psycopg),
so a server that serves its corpus from memory does not load it; the other names do.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ogmux.tools.objectgraph.store.engine import DocumentStore, StoreEmptyError, StoreUnavailableError
    from ogmux.tools.objectgraph.store.memory import CorpusView, MemoryView
    from ogmux.tools.objectgraph.store.push import PushResult, push_snapshot
    from ogmux.tools.objectgraph.store.views import StoreView

__all__ = [
    "CorpusView",
    "DocumentStore",
    "MemoryView",
    "PushResult",
    "StoreEmptyError",
    "StoreUnavailableError",
    "StoreView",
    "push_snapshot",
]

# Where each export lives; loaded on first use.
_HOMES = {
    "CorpusView": "memory", "MemoryView": "memory", "DocumentStore": "engine", "StoreEmptyError": "engine",
    "StoreUnavailableError": "engine", "PushResult": "push", "push_snapshot": "push", "StoreView": "views",
}


def __getattr__(name: str) -> Any:
    if name in _HOMES:
        return getattr(import_module(f"{__name__}.{_HOMES[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

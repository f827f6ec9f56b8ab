"""The corpus in PostgreSQL: pushed as immutable versions, queried in SQL under the caller's scopes.

`push_snapshot` writes a loaded corpus as a new version in one transaction and makes it current;
`DocumentStore` serves the current version to many replicas at once without loading it: every
query reads only rows the caller may see (the scope filter is part of each SQL statement), and a
request reads one version from start to end. `CorpusView` is what the query tools call, with an
in-memory (`MemoryView`) and a PostgreSQL (`StoreView`) implementation.
"""

from ogmux.tools.objectgraph.store.engine import DocumentStore, StoreEmptyError, StoreUnavailableError
from ogmux.tools.objectgraph.store.push import PushResult, push_snapshot
from ogmux.tools.objectgraph.store.views import CorpusView, MemoryView, StoreView

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

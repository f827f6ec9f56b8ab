"""The ObjectGraph corpus of a server — files loaded in memory, or the document store — and the caller's scopes."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from ogmux.server.context import AppState, ToolContext
from ogmux.server.settings import Settings
from ogmux.tools.objectgraph.access import Scopes
from ogmux.tools.objectgraph.corpus import Corpus, Issue
from ogmux.tools.objectgraph.snapshot import Snapshot
from ogmux.tools.objectgraph.store import CorpusView, MemoryView

if TYPE_CHECKING:  # the store's modules load its database driver: imported when a store is configured
    from ogmux.tools.objectgraph.store import DocumentStore

__all__ = ["caller_scopes", "new_load_problems", "served_corpus", "snapshot_for", "view_for"]

COMPONENT = "objectgraph.corpus"
STORE = "objectgraph.store"


_log = logging.getLogger("ogmux.objectgraph")


@dataclass
class _Served:
    corpus: Corpus
    logged: set[str] = field(default_factory=set)


def _build(settings: Settings) -> _Served:
    cfg = settings.objectgraph
    return _Served(Corpus(cfg.corpus_dir(), cfg))


def served_corpus(state: AppState) -> Corpus:
    """The server's corpus of files, loaded on first use (`ogmux serve` loads it before serving)."""
    served: _Served = state.component(COMPONENT, _build)
    return served.corpus


def snapshot_for(ctx: ToolContext) -> Snapshot:
    """The current snapshot (changed files re-read when reload is on); new load problems are logged.

    A file that fails to parse is not served (or keeps its last good version), so the server log
    says which file, where, and why, once per problem.
    """
    served: _Served = ctx.state.component(COMPONENT, _build)
    snap = served.corpus.snapshot()
    for issue in new_load_problems(ctx.state):
        _log.log(logging.ERROR if issue.severity == "error" else logging.WARNING, "corpus: %s", issue)
    return snap


def new_load_problems(state: AppState) -> list[Issue]:
    """Load problems of the served corpus not reported before; each is reported once, whoever reports it."""
    served: _Served = state.component(COMPONENT, _build)
    issues = served.corpus.issues
    new = [i for i in issues if str(i) not in served.logged]
    served.logged = {str(i) for i in issues}
    return new


def _open_store(state: AppState) -> DocumentStore:
    from ogmux.tools.objectgraph.store import DocumentStore

    cfg = state.settings.objectgraph
    store = DocumentStore(cfg.store, reload_interval_s=cfg.reload_interval_s)
    state.add_closer(store.close)
    return store


def view_for(ctx: ToolContext) -> CorpusView:
    """What this request queries: the current version of `objectgraph.store` when one is configured (the
    corpus is then never loaded into this process), else the in-memory snapshot of the corpus files."""
    if ctx.settings.objectgraph.store:
        from ogmux.tools.objectgraph.store import StoreView

        return StoreView(ctx.state.component(STORE, lambda _settings: _open_store(ctx.state)))
    return MemoryView(snapshot_for(ctx))


def caller_scopes(ctx: ToolContext) -> Scopes:
    """The document scopes granted to the caller's role."""
    return frozenset(ctx.principal.scopes)

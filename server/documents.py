"""The shared ObjectGraph corpus of a server, and the caller's document scopes."""

from __future__ import annotations

from server.context import ToolContext
from server.settings import Settings
from tools.objectgraph.access import Scopes
from tools.objectgraph.corpus import Corpus
from tools.objectgraph.snapshot import Snapshot

__all__ = ["caller_scopes", "corpus_for", "snapshot_for"]

COMPONENT = "objectgraph.corpus"


def _build(settings: Settings) -> Corpus:
    cfg = settings.objectgraph
    return Corpus(cfg.corpus_dir(), cfg)


def corpus_for(ctx: ToolContext) -> Corpus:
    """The corpus configured in `[objectgraph]`, loaded once per server."""
    return ctx.state.component(COMPONENT, _build)


def snapshot_for(ctx: ToolContext) -> Snapshot:
    """The current snapshot (changed files re-read when reload is on)."""
    return corpus_for(ctx).snapshot()


def caller_scopes(ctx: ToolContext) -> Scopes:
    """The document scopes granted to the caller's role."""
    return frozenset(ctx.principal.scopes)

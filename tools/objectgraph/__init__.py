"""ObjectGraph: the `.og` document format (a strict superset of Markdown) and its query layer.

Format layer (model, parser, writer, metadata, transpiler) — see docs/objectgraph.md.
Query layer (corpus, search_index, resolve_context, scoped listings, rendering) — every
query takes the caller's document scopes and never reveals a node outside them.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ogmux.tools.objectgraph.access import NotFoundError
    from ogmux.tools.objectgraph.config import ObjectGraphConfig, SearchWeights
    from ogmux.tools.objectgraph.corpus import Corpus, CorpusError, Issue
    from ogmux.tools.objectgraph.errors import ObjectGraphSyntaxError
    from ogmux.tools.objectgraph.metadata import Complete, fill_metadata
    from ogmux.tools.objectgraph.model import (
        Assertion,
        ChangelogEntry,
        Check,
        Document,
        Edge,
        Node,
        Segment,
        parse_ref,
        version_key,
    )
    from ogmux.tools.objectgraph.parser import load_path, parse_document
    from ogmux.tools.objectgraph.render import render_resolve, render_search
    from ogmux.tools.objectgraph.resolve import ResolveResult, resolve_context
    from ogmux.tools.objectgraph.search import InvalidCursorError, SearchPage, search_index
    from ogmux.tools.objectgraph.snapshot import Snapshot
    from ogmux.tools.objectgraph.transpile import (
        TranspileResult,
        fidelity,
        transpile_file,
        transpile_text,
        transpile_tree,
    )
    from ogmux.tools.objectgraph.untrusted import InjectionFlag, scan_instructions
    from ogmux.tools.objectgraph.writer import render_document, with_og_layout

__all__ = [
    "Assertion",
    "ChangelogEntry",
    "Check",
    "Complete",
    "Corpus",
    "CorpusError",
    "Document",
    "Edge",
    "InjectionFlag",
    "InvalidCursorError",
    "Issue",
    "Node",
    "NotFoundError",
    "ObjectGraphConfig",
    "ObjectGraphSyntaxError",
    "ResolveResult",
    "SearchPage",
    "SearchWeights",
    "Segment",
    "Snapshot",
    "TranspileResult",
    "fidelity",
    "fill_metadata",
    "load_path",
    "parse_document",
    "parse_ref",
    "render_document",
    "render_resolve",
    "render_search",
    "resolve_context",
    "scan_instructions",
    "search_index",
    "transpile_file",
    "transpile_text",
    "transpile_tree",
    "version_key",
    "with_og_layout",
]

# The module holding each export, imported on first use: importing one module (the settings import
# `config`) does not load the search stack (bm25s, numpy, scipy) or the store's driver (psycopg).
_EXPORTS = {
    "access": ("NotFoundError",),
    "config": ("ObjectGraphConfig", "SearchWeights"),
    "corpus": ("Corpus", "CorpusError", "Issue"),
    "errors": ("ObjectGraphSyntaxError",),
    "metadata": ("Complete", "fill_metadata"),
    "model": (
        "Assertion", "ChangelogEntry", "Check", "Document", "Edge", "Node", "Segment", "parse_ref",
        "version_key",
    ),
    "parser": ("load_path", "parse_document"),
    "render": ("render_resolve", "render_search"),
    "resolve": ("ResolveResult", "resolve_context"),
    "search": ("InvalidCursorError", "SearchPage", "search_index"),
    "snapshot": ("Snapshot",),
    "transpile": ("TranspileResult", "fidelity", "transpile_file", "transpile_text", "transpile_tree"),
    "untrusted": ("InjectionFlag", "scan_instructions"),
    "writer": ("render_document", "with_og_layout"),
}
_HOMES = {name: module for module, names in _EXPORTS.items() for name in names}


def __getattr__(name: str) -> Any:
    if name in _HOMES:
        return getattr(importlib.import_module(f"ogmux.tools.objectgraph.{_HOMES[name]}"), name)
    raise AttributeError(f"module 'ogmux.tools.objectgraph' has no attribute {name!r}")

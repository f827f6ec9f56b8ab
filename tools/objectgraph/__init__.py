"""ObjectGraph: the `.og` document format (a strict superset of Markdown) and its query layer.

Format layer (model, parser, writer, metadata, transpiler) — see docs/objectgraph.md.
Query layer (corpus, search_index, resolve_context, scoped listings, rendering) — every
query takes the caller's document scopes and never reveals a node outside them.
"""

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

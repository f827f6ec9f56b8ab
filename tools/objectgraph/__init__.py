"""ObjectGraph: the `.og` document format (a strict superset of Markdown) and its query layer.

Format layer (model, parser, writer, metadata, transpiler) — see docs/objectgraph.md.
"""

from tools.objectgraph.errors import ObjectGraphSyntaxError
from tools.objectgraph.metadata import Complete, fill_metadata
from tools.objectgraph.model import (
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
from tools.objectgraph.parser import load_path, parse_document
from tools.objectgraph.writer import render_document, with_og_layout

__all__ = [
    "Assertion",
    "ChangelogEntry",
    "Check",
    "Complete",
    "Document",
    "Edge",
    "Node",
    "ObjectGraphSyntaxError",
    "Segment",
    "fill_metadata",
    "load_path",
    "parse_document",
    "parse_ref",
    "render_document",
    "version_key",
    "with_og_layout",
]

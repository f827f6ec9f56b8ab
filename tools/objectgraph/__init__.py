"""ObjectGraph: the `.og` document format (a strict superset of Markdown) and its query layer.

Format layer (model, parser, writer, metadata, transpiler) — see docs/objectgraph.md.
"""

from tools.objectgraph.errors import ObjectGraphSyntaxError
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

__all__ = [
    "Assertion",
    "ChangelogEntry",
    "Check",
    "Document",
    "Edge",
    "Node",
    "ObjectGraphSyntaxError",
    "Segment",
    "parse_ref",
    "version_key",
]

"""Render a `Document` back to `.og` text.

Public API
----------
- `render_document(doc) -> str`: the document's text. A parsed document that was not changed
  renders to its source byte-for-byte; `og:` blocks whose meaning changed are re-rendered in
  canonical form, everything else is written verbatim.
- `with_og_layout(doc) -> Document`: the same document laid out as a fully annotated `.og`
  file (manifest at the top, an `og:node` marker before every node); used by the transpiler.
- `render_meta`, `render_index`, `render_changelog`, `render_marker`: canonical block texts.
"""

from __future__ import annotations

import json

from ogmux.tools.objectgraph.model import Document, Node, Segment

__all__ = [
    "render_changelog",
    "render_document",
    "render_index",
    "render_marker",
    "render_meta",
    "with_og_layout",
]

_BARE = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-:/#@+,")


def _value(value: str) -> str:
    """A bare token when safe, else a JSON string (which never contains `-->`)."""
    if value and all(c in _BARE for c in value) and "--" not in value:
        return value
    return json.dumps(value, ensure_ascii=False).replace("-->", "--\\u003e")


def _attrs(pairs: list[tuple[str, str]]) -> str:
    return " ".join(f"{k}={_value(v)}" for k, v in pairs)


def _fmt_float(x: float) -> str:
    return repr(round(x, 4))


def _block(kind: str, head: str, lines: list[str]) -> str:
    first = f"<!-- og:{kind}" + (f" {head}" if head else "")
    if not lines:
        return first + " -->\n"
    return first + "\n" + "".join(line + "\n" for line in lines) + "-->\n"


def render_meta(doc: Document) -> str:
    """Canonical `og:meta` block."""
    return _block(
        "meta",
        _attrs(
            [
                ("id", doc.id),
                ("title", doc.title),
                ("version", doc.version),
                ("scope", doc.scope),
                ("format", doc.format),
            ]
        ),
        [],
    )


def _declared_metadata(doc: Document) -> list[Node]:
    return [n for n in doc.nodes if not n.derived_metadata]


def render_index(doc: Document) -> str:
    """Canonical `og:index` block: one line per node whose keywords/dense are declared."""
    lines = []
    for node in _declared_metadata(doc):
        pairs = [("title", node.title), ("scopes", ",".join(node.scopes))]
        if node.keywords:
            pairs.append(("keywords", ", ".join(node.keywords)))
        if node.dense:
            pairs.append(("dense", node.dense))
        lines.append(f"{node.id} {_attrs(pairs)}")
    return _block("index", "", lines)


def render_changelog(doc: Document) -> str:
    """Canonical `og:changelog` block: one line per release, newest last as written."""
    lines = [
        _attrs(
            [
                ("version", e.version),
                ("date", e.date.isoformat()),
                ("changed", ",".join(e.changed)),
                ("summary", e.summary),
            ]
        )
        for e in doc.changelog
    ]
    return _block("changelog", "", lines)


def render_marker(node: Node, doc: Document) -> str:
    """Canonical `og:node` marker for one node (attributes equal to defaults are omitted)."""
    pairs = [("id", node.id), ("type", node.type), ("scopes", ",".join(node.scopes))]
    if node.title != (node.heading or ""):
        pairs.append(("title", node.title))
    if node.confidence != 1.0:
        pairs.append(("confidence", _fmt_float(node.confidence)))
    if node.version != doc.version:
        pairs.append(("version", node.version))
    if node.tags:
        pairs.append(("tags", ",".join(node.tags)))
    lines: list[str] = []
    kinds: dict[tuple[str, bool], list[str]] = {}
    for edge in node.edges:
        kinds.setdefault((edge.kind, edge.inferred), []).append(edge.target)
    lines.extend(
        f":{kind} {', '.join(targets)}{' (inferred)' if inferred else ''}" for (kind, inferred), targets in kinds.items()
    )
    if node.assertion is not None:
        pairs.append(("retries", str(node.assertion.retries)))
        if node.assertion.escalate_to:
            pairs.append(("escalate", node.assertion.escalate_to))
        for check in node.assertion.checks:
            tail = "" if check.op == "exists" and check.value is None else " " + json.dumps(check.value)
            lines.append(f"check: {check.path} {check.op}{tail}".replace("-->", "--\\u003e"))
    return _block("node", _attrs(pairs), lines)


def _canonical(seg: Segment, doc: Document, nodes: dict[str, Node]) -> str:
    if seg.kind == "meta":
        return render_meta(doc)
    if seg.kind == "index":
        return render_index(doc)
    if seg.kind == "changelog":
        return render_changelog(doc)
    return render_marker(nodes[seg.node_id or ""], doc)


def render_document(doc: Document) -> str:
    """The document as `.og` text; unchanged parts are reproduced byte-for-byte."""
    nodes = doc.node_map()
    layout = _complete_layout(doc)
    out: list[str] = []
    for seg in layout:
        if seg.kind == "space":
            out.append(seg.raw)
        elif seg.kind == "node":
            node = nodes.get(seg.node_id or "")
            if node is not None:
                out.append(node.full)
        elif seg.kind == "marker" and (seg.node_id or "") not in nodes:
            continue
        else:
            text = _canonical(seg, doc, nodes)
            out.append((seg.raw if text == seg.fingerprint else text) + seg.trailing)
    return "".join(out)


def _complete_layout(doc: Document) -> list[Segment]:
    """The layout plus segments for manifest blocks and nodes it does not yet hold."""
    layout = list(doc.layout)
    kinds = {s.kind for s in layout}
    head = 1 if layout and layout[0].kind == "space" else 0
    if "meta" in kinds:
        head = next(i for i, s in enumerate(layout) if s.kind == "meta") + 1
    if doc.changelog and "changelog" not in kinds:
        layout.insert(head, Segment(kind="changelog"))
    if _declared_metadata(doc) and "index" not in kinds:
        layout.insert(head, Segment(kind="index"))
    placed = {s.node_id for s in layout if s.kind == "node"}
    for node in doc.nodes:
        if node.id not in placed:
            layout.append(Segment(kind="marker", node_id=node.id))
            layout.append(Segment(kind="node", node_id=node.id))
    return layout


def with_og_layout(doc: Document) -> Document:
    """A copy laid out as an annotated `.og` file: meta, index, changelog, then marker + node."""
    layout = [Segment(kind="meta")]
    if _declared_metadata(doc):
        layout.append(Segment(kind="index"))
    if doc.changelog:
        layout.append(Segment(kind="changelog"))
    for node in doc.nodes:
        layout.append(Segment(kind="marker", node_id=node.id))
        layout.append(Segment(kind="node", node_id=node.id))
    nodes = [n.model_copy(update={"declared": True}) for n in doc.nodes]
    return doc.model_copy(update={"layout": layout, "nodes": nodes})

"""Typed edges inferred from plain Markdown, marked `inferred` so that authored edges always win.

Rules, applied to one document at a time (deterministic; nothing but the document is read):

- a link to an anchor of the same document (`[Install](#install)`) → `see-also` that section;
  a relative link to another Markdown file (`../x.md#y`) → `see-also` `x#y` (document ids are
  file-stem slugs, as the corpus and the transpiler name them); table-of-contents lines are skipped;
- "see X", "as described in X", "refer to X" naming another heading (as a link or by its exact
  title) → `requires` it;
- a "Prerequisites" / "Before you begin" / "Requirements" / "Requires" section → every later
  sibling section `requires` it;
- numbered procedure steps split over sibling sections ("Step 1", "2. Configure") or a numbered
  list split over parts of one section → `precedes` from each step to the next;
- a heading with no text of its own → `requires` each of its children (reading it means reading them).

An inferred edge is dropped when the node already has an edge (authored or inferred) to the same
target or already has `MAX_EDGES` edges, and never points from a node to itself. Every rule links a node
only to sections of its document that every reader of the node may see (a link, a title, a prerequisite
sibling, a child, the next step, the next part), so a hidden section never changes which edges a caller
sees: an edge to a section some readers may not see would take one of the node's `MAX_EDGES` places from
an edge they do see.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from itertools import pairwise

from ogmux.tools.objectgraph.access import covers, effective_scopes
from ogmux.tools.objectgraph.metadata import reader_text
from ogmux.tools.objectgraph.model import Document, Edge, Node
from ogmux.tools.objectgraph.parser import slugify
from ogmux.tools.objectgraph.syntax import MAX_EDGES

__all__ = ["infer_edges", "inferred_edges"]

_LINK = re.compile(r"(?<!!)\[([^\]\n]{1,200})\]\(\s*<?([^)\s>]{1,500})>?(?:\s+\"[^\"]*\")?\s*\)")
_MENTION = re.compile(
    r"\b(?:see|see also|as described in|described in|as explained in|explained in|refer to|as shown in)"
    r"\s+(?:the\s+)?",
    re.IGNORECASE,
)
_PREREQ = re.compile(
    r"^\s*(?:prerequisites?|pre-requisites?|before you (?:begin|start)|requirements|requires|what you need)\b",
    re.IGNORECASE,
)
_STEP = re.compile(r"^\s*(?:step\s+(\d{1,3})\b|(\d{1,3})[.)]\s)", re.IGNORECASE)
_HEADING_LINE = re.compile(r"\A[ \t]*#{1,6}[ \t][^\n]*\n?|\A[^\n]*\n[ \t]*(?:=+|-+)[ \t]*(?:\n|\Z)")
_WORD = re.compile(r"[A-Za-z0-9]")
_NOT_ALNUM = re.compile(r"[\W_]")
_ITEM = re.compile(r"^[ \t]{0,3}\d{1,9}[.)][ \t]", re.MULTILINE)
_MD_SUFFIXES = (".md", ".markdown", ".og")


def _own_text(node: Node) -> str:
    return _HEADING_LINE.sub("", reader_text(node.full), count=1)


class _Targets:
    """The sections a node may link to or name: those every reader of the node may see."""

    def __init__(self, doc: Document, source: Node):
        mine = effective_scopes(source.scopes)
        shown = [n for n in doc.nodes if n.heading is not None and covers(effective_scopes(n.scopes), mine)]
        self.doc_id = doc.id
        self.anchors: dict[str, str] = {}
        for n in shown:
            self.anchors.setdefault(slugify(n.heading or ""), n.id)
            self.anchors.setdefault(n.id, n.id)
        # the first section with a title wins; titles are looked up whole, so a mention costs no more
        # with 5,000 sections than with 5
        self.titles = {(n.heading or "").strip().lower(): n.id for n in reversed(shown) if len((n.heading or "").split()) >= 2}
        self.longest = max(map(len, self.titles), default=0)

    def link(self, href: str) -> str | None:
        """The node a link points to (`node` or `doc#node`), or None for external and unresolvable links."""
        if "://" in href or href.startswith(("mailto:", "/")):
            return None
        path, _, anchor = href.partition("#")
        if not path:
            return self.anchors.get(slugify(anchor)) if anchor else None
        stem = path.rsplit("/", 1)[-1]
        if not stem.lower().endswith(_MD_SUFFIXES) or not anchor:
            return None
        target_doc = slugify(stem.rsplit(".", 1)[0])
        if target_doc == self.doc_id:
            return self.anchors.get(slugify(anchor))
        return f"{target_doc}#{slugify(anchor)}"

    def mentions(self, text: str) -> Iterator[str]:
        """Targets named right after "see", "as described in", ...: a link or a heading's exact title."""
        for m in _MENTION.finditer(text):
            rest = text[m.end() : m.end() + 300]
            link = _LINK.match(rest)
            if link:
                target = self.link(link.group(2))
                if target:
                    yield target
                continue
            head = rest.lstrip("\"'*_`“").lower()[: self.longest + 1]
            # the longest title the text starts with, ending where a word does
            ends = [len(head)] + [m.start() for m in reversed(list(_NOT_ALNUM.finditer(head)))]
            nid = next((self.titles[head[:k]] for k in ends if head[:k] in self.titles), None)
            if nid is not None:
                yield nid


def _step(node: Node) -> int | None:
    m = _STEP.match(node.heading or "")
    return int(m.group(1) or m.group(2)) if m else None


def inferred_edges(doc: Document) -> dict[str, list[Edge]]:
    """Edges the rules above infer for each node id of `doc` (authored edges are not repeated)."""
    by_id = doc.node_map()
    found: dict[str, list[Edge]] = {n.id: [] for n in doc.nodes}

    def add(src: str, kind: str, target: str) -> None:
        if target == src or target == f"{doc.id}#{src}":
            return
        found[src].append(Edge(kind=kind, target=target, inferred=True))  # type: ignore[arg-type]

    children: dict[str | None, list[Node]] = {}
    for n in doc.nodes:
        children.setdefault(n.parent, []).append(n)

    targets_of: dict[frozenset[str], _Targets] = {}  # nodes with the same scopes may name the same sections
    for n in doc.nodes:
        text = _own_text(n)
        mine = effective_scopes(n.scopes)
        targets = targets_of.get(mine) or targets_of.setdefault(mine, _Targets(doc, n))
        required = list(dict.fromkeys(targets.mentions(text)))
        for target in required:
            add(n.id, "requires", target)
        for link in _LINK.finditer(text):
            target = targets.link(link.group(2))
            if target and target not in required:
                add(n.id, "see-also", target)
        if n.heading is not None and not _WORD.search(text):
            for child in children.get(n.id, []):
                if covers(effective_scopes(child.scopes), mine):
                    add(n.id, "requires", child.id)

    for siblings in children.values():
        prereq: list[Node] = []
        steps: list[tuple[int, str]] = []
        for s in siblings:
            if s.heading is None:
                continue
            mine = effective_scopes(s.scopes)
            for p in prereq:
                if covers(effective_scopes(p.scopes), mine):
                    add(s.id, "requires", p.id)
            if _PREREQ.match(s.heading):
                prereq.append(s)
            number = _step(s)
            if number is not None:
                steps.append((number, s.id))
        for i, (a, src) in enumerate(steps):  # the next step is the next one every reader of this one sees
            mine = effective_scopes(by_id[src].scopes)
            nxt = next(((b, dst) for b, dst in steps[i + 1 :] if covers(effective_scopes(by_id[dst].scopes), mine)), None)
            if nxt is not None and nxt[0] == a + 1:
                add(src, "precedes", nxt[1])

    for n in doc.nodes:
        mine = effective_scopes(n.scopes)
        parts = [
            c for c in children.get(n.id, [])
            if c.id.startswith(f"{n.id}-part-") and covers(effective_scopes(c.scopes), mine)
        ]
        chain = [n, *parts]
        for a, b in pairwise(chain):
            if _ITEM.search(a.full) and _ITEM.match(b.full.lstrip("\r\n")):
                add(a.id, "precedes", b.id)

    out: dict[str, list[Edge]] = {}
    for nid, edges in found.items():
        have = {e.resolve(doc.id) for e in by_id[nid].edges}
        kept: list[Edge] = []
        for e in edges:
            key = e.resolve(doc.id)
            if len(have) >= MAX_EDGES:  # edges are listed with the node, outside its token budget
                break
            if key not in have:
                have.add(key)
                kept.append(e)
        if kept:
            out[nid] = kept
    return out


def infer_edges(doc: Document) -> Document:
    """`doc` with the inferred edges appended to each node's edges (authored edges first, kept as they are)."""
    extra = inferred_edges(doc)
    if not extra:
        return doc
    nodes = [n.model_copy(update={"edges": [*n.edges, *extra[n.id]]}) if n.id in extra else n for n in doc.nodes]
    return doc.model_copy(update={"nodes": nodes})

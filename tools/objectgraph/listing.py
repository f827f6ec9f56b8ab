"""Listings behind the og:// resources: documents, a document's index, one node, a changelog — all scoped."""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Sequence

from pydantic import BaseModel, ConfigDict, Field

from ogmux.tools.objectgraph.access import NotFoundError, Scopes, normalize_scopes
from ogmux.tools.objectgraph.model import version_key
from ogmux.tools.objectgraph.snapshot import ChangeRecord, DocRecord, EdgeRecord, NodeRecord, Snapshot
from ogmux.tools.objectgraph.tokens import count_tokens
from ogmux.tools.objectgraph.untrusted import fence, flag_lines, node_label

__all__ = [
    "DocumentEntry",
    "DocumentListing",
    "IndexLine",
    "document_changelog",
    "document_index",
    "document_listing",
    "index_row",
    "list_documents",
    "node_source",
    "node_version",
    "unknown_document",
    "visible_changelog",
    "visible_version",
]


class DocumentEntry(BaseModel):
    """A document as the caller sees it (counts cover visible nodes only)."""

    id: str
    title: str
    version: str
    nodes: int = Field(description="visible nodes")


class IndexLine(BaseModel):
    """One visible node of a document's index."""

    model_config = ConfigDict(frozen=True)

    id: str
    type: str
    title: str
    dense: str
    edges: tuple[str, ...] = ()


def index_row(line: IndexLine) -> str:
    """The line's row in a page of the index: id, type, title and dense summary, then its visible edges."""
    row = f"- {line.id} [{line.type}] {line.title}: {line.dense}"
    return row + ("\n  " + ", ".join(line.edges) if line.edges else "")


class DocumentListing:
    """A document's index as one scope key sees it, built once per snapshot, scope key and document, so that a
    completion costs a bisection and a page costs its own rows (rebuilding the index took 36-39 ms a call on
    a 4,000-node document). It holds the visible nodes and their visible edges (about 0.15 KB a line); index
    lines are made for the rows asked for."""

    def __init__(self, entry: DocumentEntry, nodes: Sequence[NodeRecord], edges: Sequence[tuple[EdgeRecord, ...]]):
        self.entry = entry
        self._nodes = tuple(nodes)  # visible, in source order
        self._edges = tuple(edges)  # each node's edges to visible nodes
        order = sorted(range(len(self._nodes)), key=lambda i: self._nodes[i].id)
        self._sorted = [self._nodes[i].id for i in order]
        self._order = order  # source position of each id of `_sorted`
        self._tokens = [-1] * len(self._nodes)  # tokens of each row, counted when a page first shows it
        self._warnings: list[str | None] = [None] * len(self._nodes)  # and its warning line, scanned then

    def __len__(self) -> int:
        return len(self._nodes)

    def line(self, i: int) -> IndexLine:
        """The index line of the `i`-th visible node."""
        n = self._nodes[i]
        edges = tuple(f":{e.kind} {e.target}" for e in self._edges[i])
        return IndexLine(id=n.id, type=n.type, title=n.title, dense=n.dense, edges=edges)

    def lines(self, first: int = 0, end: int | None = None) -> list[IndexLine]:
        """The index lines from `first` up to `end` (the end of the document by default)."""
        return [self.line(i) for i in range(first, len(self) if end is None else min(end, len(self)))]

    def ids_starting(self, prefix: str, limit: int) -> list[str]:
        """The first `limit` ids (in source order) that start with `prefix`."""
        lo = bisect_left(self._sorted, prefix)
        hi = bisect_right(self._sorted, prefix, lo, key=lambda s: s[: len(prefix)])
        if hi - lo == len(self):  # every line: no sort needed
            return [n.id for n in self._nodes[:limit]]
        return [self._nodes[i].id for i in sorted(self._order[lo:hi])[:limit]]

    def row_tokens(self, i: int) -> int:
        """cl100k tokens of line `i`'s row (`index_row`), counted once."""
        n = self._tokens[i]
        if n < 0:
            n = self._tokens[i] = count_tokens(index_row(self.line(i)))
        return n

    def row_warning(self, i: int) -> str:
        """The warning line for instruction-like text in line `i`'s title or dense summary ('' if none),
        scanned once."""
        w = self._warnings[i]
        if w is None:
            n = self._nodes[i]
            w = self._warnings[i] = "".join(flag_lines([(n.id, "index", f"{n.title}\n{n.dense}")]))
        return w

    def page_end(self, first: int, budget: int) -> int:
        """Where the page from line `first` ends: rows (and a line break each) up to `budget` tokens, at
        least one row."""
        used, end = 0, first
        while end < len(self):
            used += self.row_tokens(end) + 1
            if used > budget and end > first:
                break
            end += 1
        return end


def list_documents(snapshot: Snapshot, scopes: Scopes | None = None) -> list[DocumentEntry]:
    """Every document holding at least one node visible to `scopes` (built once per snapshot and scope key:
    completions ask for it on every keystroke, unmetered)."""
    caller = normalize_scopes(scopes)
    return list(snapshot.cached("documents", snapshot.key(caller), lambda: _documents(snapshot, caller)))


def _documents(snapshot: Snapshot, caller: Scopes) -> list[DocumentEntry]:
    out = []
    for d in snapshot.docs.values():
        n = sum(1 for nid in d.nodes if snapshot.visible(nid, caller))
        if n:
            out.append(DocumentEntry(id=d.id, title=d.title, version=visible_version(snapshot, d, caller), nodes=n))
    return out


# Listings kept per snapshot: enough for a completion that walks 101 documents without evicting its own.
LISTINGS_CACHED = 128


def document_index(snapshot: Snapshot, doc: str, scopes: Scopes | None = None) -> tuple[DocumentEntry, list[IndexLine]]:
    """A document's visible nodes with type, title, dense summary and visible edges."""
    listed = document_listing(snapshot, doc, scopes)
    return listed.entry, listed.lines()


def document_listing(snapshot: Snapshot, doc: str, scopes: Scopes | None = None) -> DocumentListing:
    """A document's visible index (`DocumentListing`), built once per snapshot, scope key and document."""
    caller = normalize_scopes(scopes)
    key = (snapshot.key(caller), doc)
    return snapshot.cached("listing", key, lambda: _listing(snapshot, doc, caller), size=LISTINGS_CACHED)


def _listing(snapshot: Snapshot, doc: str, caller: Scopes) -> DocumentListing:
    d = snapshot.visible_doc(doc, caller)
    if d is None:
        raise unknown_document(doc)
    nodes, edges = [], []
    for nid in d.nodes:
        n = snapshot.visible(nid, caller)
        if n is not None:
            nodes.append(n)
            edges.append(tuple(e for e in n.edges if snapshot.visible(e.target, caller)))
    entry = DocumentEntry(id=d.id, title=d.title, version=visible_version(snapshot, d, caller), nodes=len(nodes))
    return DocumentListing(entry, nodes, edges)


def unknown_document(doc: str) -> NotFoundError:
    """The error for a document that does not exist or holds no node the caller may see (the two look alike)."""
    return NotFoundError("document", doc, "og://docs lists the documents you can read")


def node_source(snapshot: Snapshot, ref: str, scopes: Scopes | None = None) -> str:
    """One node's exact Markdown source in a labelled data fence."""
    caller = normalize_scopes(scopes)
    n = snapshot.lookup(ref, caller)
    if n is None:
        raise NotFoundError("node", ref, "ids look like 'doc#node'; search_index lists them")
    d = snapshot.docs[n.doc]
    label = node_label(n.id, visible_version(snapshot, d, caller), node_version(snapshot, n, caller), n.hash, True)
    text = fence(n.full, label)
    return "\n".join([text, *flag_lines([(n.id, "full", n.full)])])


def document_changelog(snapshot: Snapshot, doc: str, scopes: Scopes | None = None) -> list[dict[str, object]]:
    """Changelog entries mentioning visible nodes (or no node); summaries of entries touching hidden nodes are withheld."""
    caller = normalize_scopes(scopes)
    d = snapshot.visible_doc(doc, caller)
    if d is None:
        raise unknown_document(doc)
    return visible_changelog(snapshot, d, caller)


def _hidden_entry(snapshot: Snapshot, change: ChangeRecord, caller: Scopes) -> bool:
    """Whether the entry changed only nodes `caller` may not see."""
    return bool(change.nodes) and not any(snapshot.visible(n, caller) for n in change.nodes)


def _hidden_releases(snapshot: Snapshot, doc: DocRecord, caller: Scopes) -> set[str]:
    """Versions whose every entry changed only nodes `caller` may not see (a release may have several entries:
    one naming a visible node keeps it shown)."""
    hidden, shown = set(), set()
    for c in doc.changelog:
        (hidden if _hidden_entry(snapshot, c, caller) else shown).add(c.version)
    return hidden - shown


def visible_changelog(
    snapshot: Snapshot, doc: DocRecord, caller: Scopes, since_version: str | None = None
) -> list[dict[str, object]]:
    """The changelog of the document with the nodes `caller` may not see removed (newer than `since_version`).

    An entry that names only hidden nodes is dropped; one that names some hidden nodes keeps
    its visible ids but not its summary, which may describe the hidden ones.
    """
    floor = version_key(since_version) if since_version is not None else None
    out: list[dict[str, object]] = []
    for c in doc.changelog:
        if _hidden_entry(snapshot, c, caller) or (floor is not None and version_key(c.version) <= floor):
            continue
        ids = [nid for nid in c.nodes if snapshot.visible(nid, caller)]
        entry: dict[str, object] = {"version": c.version, "date": c.date, "changed": ids}
        if len(ids) == len(c.nodes) and c.summary:
            entry["summary"] = c.summary
        out.append(entry)
    return out


def visible_version(snapshot: Snapshot, doc: DocRecord, caller: Scopes) -> str:
    """The document's version as `caller` sees it.

    When the document's version is a release that changed only hidden nodes, it is the newest
    release `caller` sees instead ("0" when there is none), so a release is never announced to
    a caller who cannot see what it changed.
    """
    hidden = _hidden_releases(snapshot, doc, caller)
    if doc.version not in hidden:
        return doc.version
    shown = [c.version for c in doc.changelog if c.version not in hidden]
    return max(shown, key=version_key) if shown else "0"


def node_version(snapshot: Snapshot, node: NodeRecord, caller: Scopes) -> str:
    """A node's version as `caller` sees it: its own, or (when it carries the document's) the document's."""
    doc = snapshot.docs[node.doc]
    return node.version if node.version != doc.version else visible_version(snapshot, doc, caller)

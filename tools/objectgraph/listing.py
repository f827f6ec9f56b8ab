"""Listings behind the og:// resources: documents, a document's index, one node, a changelog — all scoped."""

from __future__ import annotations

from pydantic import BaseModel, Field

from ogmux.tools.objectgraph.access import NotFoundError, Scopes, normalize_scopes
from ogmux.tools.objectgraph.model import version_key
from ogmux.tools.objectgraph.snapshot import DocRecord, Snapshot
from ogmux.tools.objectgraph.untrusted import fence, flag_lines, node_label

__all__ = [
    "DocumentEntry",
    "IndexLine",
    "document_changelog",
    "document_index",
    "list_documents",
    "node_source",
    "visible_changelog",
]


class DocumentEntry(BaseModel):
    """A document as the caller sees it (counts cover visible nodes only)."""

    id: str
    title: str
    version: str
    nodes: int = Field(description="visible nodes")


class IndexLine(BaseModel):
    id: str
    type: str
    title: str
    dense: str
    edges: list[str] = Field(default_factory=list)


def list_documents(snapshot: Snapshot, scopes: Scopes | None = None) -> list[DocumentEntry]:
    """Every document holding at least one node visible to `scopes`."""
    caller = normalize_scopes(scopes)
    out = []
    for d in snapshot.docs.values():
        n = sum(1 for nid in d.nodes if snapshot.visible(nid, caller))
        if n:
            out.append(DocumentEntry(id=d.id, title=d.title, version=d.version, nodes=n))
    return out


def document_index(snapshot: Snapshot, doc: str, scopes: Scopes | None = None) -> tuple[DocumentEntry, list[IndexLine]]:
    """A document's visible nodes with type, title, dense summary and visible edges."""
    caller = normalize_scopes(scopes)
    d = snapshot.visible_doc(doc, caller)
    if d is None:
        raise NotFoundError("document", doc, "og://docs lists the documents you can read")
    lines = []
    for nid in d.nodes:
        n = snapshot.visible(nid, caller)
        if n is None:
            continue
        edges = [f":{e.kind} {e.target}" for e in n.edges if snapshot.visible(e.target, caller)]
        lines.append(IndexLine(id=n.id, type=n.type, title=n.title, dense=n.dense, edges=edges))
    return DocumentEntry(id=d.id, title=d.title, version=d.version, nodes=len(lines)), lines


def node_source(snapshot: Snapshot, ref: str, scopes: Scopes | None = None) -> str:
    """One node's exact Markdown source in a labelled data fence."""
    caller = normalize_scopes(scopes)
    n = snapshot.lookup(ref, caller)
    if n is None:
        raise NotFoundError("node", ref, "ids look like 'doc#node'; search_index lists them")
    d = snapshot.docs[n.doc]
    text = fence(n.full, node_label(n.id, d.version, n.version, n.hash, exact_source=True))
    return "\n".join([text, *flag_lines([(n.id, "full", n.full)])])


def document_changelog(snapshot: Snapshot, doc: str, scopes: Scopes | None = None) -> list[dict[str, object]]:
    """Changelog entries mentioning visible nodes (or no node); summaries of entries touching hidden nodes are withheld."""
    caller = normalize_scopes(scopes)
    d = snapshot.visible_doc(doc, caller)
    if d is None:
        raise NotFoundError("document", doc, "og://docs lists the documents you can read")
    return visible_changelog(snapshot, d, caller)


def visible_changelog(
    snapshot: Snapshot, doc: DocRecord, caller: Scopes, since_version: str | None = None
) -> list[dict[str, object]]:
    """Entries (newer than `since_version`, if given) restricted to visible node ids.

    An entry that names only hidden nodes is dropped; one that names some hidden nodes keeps
    its visible ids but not its summary, which may describe the hidden ones.
    """
    floor = version_key(since_version) if since_version is not None else None
    out: list[dict[str, object]] = []
    for c in doc.changelog:
        if floor is not None and version_key(c.version) <= floor:
            continue
        ids = [nid for nid in c.nodes if snapshot.visible(nid, caller)]
        hidden = len(ids) < len(c.nodes)
        if hidden and not ids:
            continue
        entry: dict[str, object] = {"version": c.version, "date": c.date, "changed": ids}
        if not hidden:
            entry["summary"] = c.summary
        out.append(entry)
    return out

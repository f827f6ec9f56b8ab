"""Partial snapshots: the few visible nodes one call needs, read with the caller's scope filter in SQL.

`resolve_context` and the listings run unchanged on a `Snapshot` holding only what they will
look at: the requested nodes, their edge closure, the targets of their edges (to know which are
visible), the assertion nodes verifying them, and the nodes their documents' changelogs name.
Every node in it is visible to the caller, so the query functions' own checks see exactly what
they would see on the whole corpus, and hidden nodes never leave the database.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import psycopg
from psycopg import sql

from ogmux.tools.objectgraph.access import Scopes
from ogmux.tools.objectgraph.listing import DocumentEntry, visible_version
from ogmux.tools.objectgraph.model import EDGE_KINDS
from ogmux.tools.objectgraph.snapshot import (
    AssertionRecord,
    ChangeRecord,
    DocRecord,
    EdgeRecord,
    NodeRecord,
    Snapshot,
)
from ogmux.tools.objectgraph.store.query import scope_params, visible
from ogmux.tools.objectgraph.store.schema import table

__all__ = ["Fetcher", "list_visible_documents"]

HIDDEN = "#hidden"  # stands for "a node the caller may not see": never a node id, never visible

# A visible node's references to other nodes — parent, edge targets, escalation target — are
# filtered in SQL too: a hidden target's id never leaves the database.
_NODE = f"""
n.id, n.doc, n.node, n.title, n.type, n.scopes, n.keywords, n.dense_text, {{full}}, n.version, n.hash,
n.heading_path, n.confidence,
(SELECT p.id FROM {{node}} p WHERE p.id = n.parent AND {visible("p")}) AS parent,
(SELECT coalesce(jsonb_agg(x.e ORDER BY x.i), '[]'::jsonb) FROM jsonb_array_elements(n.edges) WITH ORDINALITY AS x(e, i)
 WHERE EXISTS (SELECT 1 FROM {{node}} t WHERE t.id = x.e->>'target' AND {visible("t")})) AS edges,
CASE WHEN n.assertion IS NULL OR n.assertion->>'escalate' IS NULL OR n.assertion->>'escalate' LIKE 'role:%%'
       OR EXISTS (SELECT 1 FROM {{node}} t WHERE {visible("t")} AND t.id = CASE
                  WHEN strpos(n.assertion->>'escalate', '#') > 0 THEN n.assertion->>'escalate'
                  ELSE n.doc || '#' || (n.assertion->>'escalate') END)
     THEN n.assertion ELSE jsonb_set(n.assertion, ARRAY['escalate'], to_jsonb('{HIDDEN}'::text)) END AS assertion,
n.ord, n.dense_tokens, n.full_tokens
"""

# Documents with their changelog entries, each with its visible node ids only. HIDDEN stands for the
# hidden ones, so the in-memory rules apply unchanged: an entry naming only hidden nodes hides its release
# (and the document's version, when it is that release), one naming some loses its summary — which is
# withheld here already, with the ids. One statement: the entries travel as a JSON array per document.
_DOCS = f"""
SELECT d.id, d.title, d.version, d.path, d.hash, d.scopes, d.ord, coalesce(ch.entries, '[]'::jsonb)
FROM {{doc}} d LEFT JOIN LATERAL (
    SELECT jsonb_agg(jsonb_build_array(
               c.version, c.date,
               CASE WHEN coalesce(v.n, 0) = cardinality(c.nodes) THEN c.summary ELSE '' END,
               coalesce(v.ids, ARRAY[]::text[]) || CASE WHEN coalesce(v.n, 0) < cardinality(c.nodes)
                                                        THEN ARRAY['{HIDDEN}'] ELSE ARRAY[]::text[] END
           ) ORDER BY c.idx) AS entries
    FROM {{change}} c LEFT JOIN LATERAL (
        SELECT array_agg(x.id ORDER BY x.i) AS ids, count(*) AS n
        FROM unnest(c.nodes) WITH ORDINALITY AS x(id, i) JOIN {{node}} n ON n.id = x.id
        WHERE {visible("n")}
    ) v ON true
    WHERE c.doc = d.id
) ch ON true
WHERE d.id = ANY(%(docs)s)
"""


def _node(row: tuple) -> tuple[NodeRecord, int, tuple[int, int]]:
    (nid, doc, node, title, type_, scopes, keywords, dense, full, version, hash_, heading, confidence, parent,
     edges, assertion, ord_, dense_tokens, full_tokens) = row  # fmt: skip
    rec = None
    if assertion is not None:
        rec = AssertionRecord(tuple(assertion["checks"]), int(assertion["retries"]), assertion["escalate"])
    return NodeRecord(
        id=nid, doc=doc, node=node, title=title, type=type_, scopes=frozenset(scopes), keywords=tuple(keywords),
        dense=dense, full=full, version=version, hash=hash_, heading_path=tuple(heading), confidence=confidence,
        parent=parent, edges=tuple(EdgeRecord(**e) for e in edges), assertion=rec,
    ), ord_, (dense_tokens, full_tokens)  # fmt: skip


class Fetcher:
    """Reads visible nodes and documents of one version for one caller into a partial snapshot."""

    def __init__(self, conn: psycopg.Connection, version: int, caller: Scopes):
        self.conn = conn
        self.version = version
        self.params = scope_params(caller)
        self.nodes: dict[str, NodeRecord] = {}
        self.ord: dict[str, int] = {}
        self.tokens: dict[str, tuple[int, int]] = {}  # stored token counts of the dense summary and full text
        self.light: set[str] = set()  # fetched without their full text: only their visibility is used
        self.docs: dict[str, DocRecord] = {}
        self.doc_ord: dict[str, int] = {}
        self.doc_nodes: dict[str, list[str]] = {}

    def _select(
        self, where: str, params: dict[str, object], light: bool, order: str = "n.ord"
    ) -> list[tuple[NodeRecord, int, tuple[int, int]]]:
        cols = _NODE.replace("{full}", "''" if light else "n.full_text")
        q = sql.SQL(f"SELECT {cols} FROM {{node}} n WHERE ({where}) AND {visible('n')} ORDER BY {order}").format(
            node=table(self.version, "node"), edge=table(self.version, "edge"), doc=table(self.version, "doc")
        )
        return [_node(r) for r in self.conn.execute(q, {**self.params, **params}).fetchall()]

    def _add(self, records: Iterable[tuple[NodeRecord, int, tuple[int, int]]], light: bool) -> list[NodeRecord]:
        out = []
        for r, ord_, tokens in records:
            if r.id in self.nodes and not (r.id in self.light and not light):
                continue
            self.nodes[r.id] = r
            self.ord[r.id] = ord_
            self.tokens[r.id] = tokens
            (self.light.add if light else self.light.discard)(r.id)
            out.append(r)
        return out

    def by_ids(self, ids: Iterable[str], light: bool = False) -> list[NodeRecord]:
        """Visible nodes among global ids `ids` (fetched once; a light node is re-read in full)."""
        want = sorted({i for i in ids if i not in self.nodes or (i in self.light and not light)})
        if not want:
            return []
        return self._add(self._select("n.id = ANY(%(ids)s)", {"ids": want}, light), light)

    def by_ords(self, ords: Sequence[int]) -> dict[int, str]:
        """Visible nodes (light) by row number; the id of each row found."""
        self._add(self._select("n.ord = ANY(%(ords)s)", {"ords": list(ords)}, True), True)
        wanted = set(ords)
        return {o: nid for nid, o in self.ord.items() if o in wanted}

    def by_refs(self, refs: Sequence[str]) -> None:
        """Visible nodes for `doc#node` refs, and every visible node with the local id of a bare ref."""
        full = [r for r in refs if "#" in r]
        bare = [r for r in refs if "#" not in r]
        self._add(self._select("n.id = ANY(%(ids)s) OR n.node = ANY(%(bare)s)", {"ids": full, "bare": bare}, False), False)

    def closure(self, roots: Iterable[str], follow: Sequence[str], depth: int) -> list[str]:
        """Fetch what `depth` levels of `follow` edges reach from `roots`; return every node reached."""
        kinds = {k.removeprefix(":") for k in follow} & set(EDGE_KINDS)
        seen = [r for r in roots if r in self.nodes]
        frontier = list(seen)
        for _ in range(depth):
            targets = {e.target for nid in frontier for e in self.nodes[nid].edges if e.kind in kinds} - set(seen)
            self.by_ids(targets)
            frontier = [t for t in sorted(targets) if t in self.nodes]
            seen += frontier
            if not frontier:
                break
        return seen

    def edge_targets(self, ids: Iterable[str]) -> None:
        """Fetch (light) the targets of the edges of `ids`, so their visibility is known."""
        self.by_ids({e.target for i in ids if i in self.nodes for e in self.nodes[i].edges}, light=True)

    def verifiers(self, ids: Sequence[str]) -> None:
        """Fetch the visible assertion nodes that verify or require any of `ids`, and every escalation target."""
        q = (
            "n.assertion IS NOT NULL AND n.id IN (SELECT e.source FROM {edge} e "
            "WHERE e.target = ANY(%(ids)s) AND e.kind IN ('verifies', 'requires'))"
        )
        self._add(self._select(q, {"ids": list(ids)}, False), False)
        escalate = []
        for a in list(self.nodes.values()):
            esc = a.assertion.escalate if a.assertion else None
            if esc and not esc.startswith("role:"):
                escalate.append(esc if "#" in esc else f"{a.doc}#{esc}")
        self.by_ids(escalate, light=True)

    def documents(self, ids: Iterable[str]) -> None:
        """Fetch document records by id (a document is reported only if it holds a fetched node)."""
        want = sorted(set(ids) - set(self.docs))
        if not want:
            return
        q = sql.SQL(_DOCS).format(**{t: table(self.version, t) for t in ("doc", "change", "node")})
        for did, title, version, path, hash_, scopes, ord_, entries in self.conn.execute(
            q, {**self.params, "docs": want}
        ).fetchall():
            changes = tuple(ChangeRecord(v, date, tuple(named), summary) for v, date, summary, named in entries)
            self.doc_ord[did] = ord_
            self.docs[did] = DocRecord(did, title, version, path, hash_, (), changes, frozenset(scopes))

    def changelog_nodes(self, docs: Iterable[str]) -> None:
        """Fetch (light) every node the changelogs of `docs` name."""
        self.by_ids({nid for d in docs if d in self.docs for c in self.docs[d].changelog for nid in c.nodes}, light=True)

    def doc_members(self, doc: str, limit: int | None = None) -> None:
        """Fetch the visible nodes of `doc` in source order (light; `limit` caps how many)."""
        order = "n.ord" + (f" LIMIT {int(limit)}" if limit else "")
        # By the document's row number, so that the (doc_ord, ord) index finds the rows in order (by id: a scan)
        rows = self._select("n.doc_ord = (SELECT d.ord FROM {doc} d WHERE d.id = %(doc)s)", {"doc": doc}, True, order)
        self._add(rows, True)
        self.doc_nodes[doc] = [r.id for r, _, _ in rows]

    def snapshot(self) -> Snapshot:
        """The partial snapshot: fetched documents (with their fetched nodes in corpus order) and nodes.

        The nodes the documents' changelogs name are fetched too: which of them the caller sees
        decides the document and node versions the caller is shown.
        """
        self.documents({n.doc for n in self.nodes.values()})
        self.changelog_nodes(list(self.docs))
        self.documents({n.doc for n in self.nodes.values()})
        nodes = {nid: self.nodes[nid] for nid in sorted(self.nodes, key=self.ord.__getitem__)}
        by_doc: dict[str, list[str]] = {}
        for nid, n in nodes.items():
            by_doc.setdefault(n.doc, []).append(nid)
        docs = {}
        for did, d in sorted(self.docs.items(), key=lambda kv: self.doc_ord[kv[0]]):
            members = self.doc_nodes[did] if did in self.doc_nodes else by_doc.get(did, [])
            docs[did] = DocRecord(**{**d.__dict__, "nodes": tuple(members)})
        return Snapshot(docs=docs, nodes=nodes)


def list_visible_documents(conn: psycopg.Connection, version: int, caller: Scopes) -> list[DocumentEntry]:
    """Every document holding a node `caller` may see, with its count of visible nodes and the version the
    caller is shown, in corpus order."""
    q = sql.SQL(
        "SELECT d.id, count(*) FROM {node} n JOIN {doc} d ON d.ord = n.doc_ord "
        f"WHERE {visible('n')} GROUP BY d.ord, d.id ORDER BY d.ord"
    ).format(node=table(version, "node"), doc=table(version, "doc"))
    counts = dict(conn.execute(q, scope_params(caller)).fetchall())
    f = Fetcher(conn, version, caller)
    f.documents(counts)
    snap = f.snapshot()
    return [
        DocumentEntry(id=d, title=snap.docs[d].title, version=visible_version(snap, snap.docs[d], caller), nodes=int(n))
        for d, n in counts.items()
    ]


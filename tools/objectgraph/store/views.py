"""`StoreView`: the `CorpusView` calls (`memory.py`) answered from the document store.

A view reads one version of the store for one request: search ranks in SQL (`query.py`), fused with
the stored embeddings in hybrid mode (`dense.py`); resolve
and the listings run the in-memory functions on a partial snapshot of the visible nodes they
need (`fetch.py`). Like `MemoryView`, it takes the caller's scopes on every call, as the query functions do.

The document list (`og://docs`) and each document's listing (`og://doc/{doc}` pages, node-id completions)
are built once per version and scope key (callers with equal keys see the same nodes) and kept by the
store (`DocumentStore.cached`), as the in-memory path keeps them per snapshot: a completion or a page then
reads no row, and a push is seen at the next poll of the current version, which changes the cache key.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ogmux.tools.objectgraph import listing
from ogmux.tools.objectgraph.access import Scopes, normalize_scopes, scope_key
from ogmux.tools.objectgraph.config import ObjectGraphConfig
from ogmux.tools.objectgraph.lexical import analyze
from ogmux.tools.objectgraph.listing import DocumentEntry, DocumentListing, IndexLine, node_version
from ogmux.tools.objectgraph.metadata import Complete
from ogmux.tools.objectgraph.resolve import ResolveResult, resolve_context
from ogmux.tools.objectgraph.search import (
    SearchEntry,
    SearchPage,
    _apply_rerank,
    _decode_cursor,
    _digest,
    _page,
)
from ogmux.tools.objectgraph.snapshot import NodeRecord, Snapshot
from ogmux.tools.objectgraph.store import dense
from ogmux.tools.objectgraph.store.engine import DocumentStore
from ogmux.tools.objectgraph.store.fetch import Fetcher, list_visible_documents
from ogmux.tools.objectgraph.store.query import rank, visible_stats
from ogmux.tools.objectgraph.untrusted import scan_instructions

__all__ = ["DOCUMENT_LISTS_CACHED", "StoreView"]

DOCUMENT_LISTS_CACHED = 16  # document lists kept, one per scope key and version


class StoreView:
    """One version of the document store, read for one request."""

    def __init__(self, store: DocumentStore):
        self.store = store
        self.current = store.current()
        self.version = self.current.version

    def _key(self, caller: Scopes) -> frozenset[str]:
        """The caller's scope key on this version (callers with equal keys see the same nodes)."""
        return scope_key(caller, self.current.all_scopes)

    def search(self, query: str, k: int = 8, cursor: str | None = None, scopes: Scopes | None = None,
               config: ObjectGraphConfig | None = None, complete: Complete | None = None) -> SearchPage:  # fmt: skip
        """`search_index` over the store: the same ranking, paging, cursors and re-rank (hybrid: over the
        nodes holding a query term only)."""
        config = config or ObjectGraphConfig()
        caller = normalize_scopes(scopes)
        if k < 1:
            raise ValueError("k must be at least 1")
        key = self._key(caller)
        digest = _digest(query, key)
        offset = 0 if cursor is None else _decode_cursor(cursor, digest)
        with self.store.connection() as conn:
            stats = self.store.cached("stats", (self.current, key), lambda: visible_stats(conn, self.version, caller))
            want = offset + k
            reranked = complete is not None and config.rerank == "llm"
            if reranked:
                want = max(want, config.rerank_candidates)
            if config.ranking == "hybrid":
                ranked, total = rank(conn, self.version, stats, analyze(query), dense.candidates(want), config)
                stored = self.store.cached("vectors", self.current, lambda: dense.has_vectors(conn, self.version))
                shown = 0 if reranked else offset
                ranked = dense.fuse(conn, self.version, caller, query, ranked, config, stored, shown)[:want]
            else:
                ranked, total = rank(conn, self.version, stats, analyze(query), want, config)
            f = Fetcher(conn, self.version, caller)
            row_ids = f.by_ords([o for o, _ in ranked]) if ranked else {}
            ids = [row_ids[o] for o, _ in ranked if o in row_ids]
            found = f.snapshot()  # the ranked nodes, for the re-rank prompt and the versions the caller sees
        if reranked and complete is not None:
            ids, reranked = _apply_rerank(found, ids, query, complete, config.rerank_candidates)
        by_id = {row_ids[o]: (s, *f.tokens[row_ids[o]]) for o, s in ranked if o in row_ids}
        entries = []
        for nid in ids[offset : offset + k]:
            node = found.nodes[nid]
            entries.append(_entry(node, node_version(found, node, caller), *by_id[nid]))
        return _page(query, entries, total, digest, offset + k, reranked)

    def resolve(self, ids: Sequence[str], scopes: Scopes | None = None, **options: Any) -> ResolveResult:
        """`resolve_context` on the visible nodes the call can reach."""
        caller = normalize_scopes(scopes)
        config = options.get("config") or ObjectGraphConfig()
        with self.store.connection() as conn:
            f = Fetcher(conn, self.version, caller)
            f.by_refs(list(dict.fromkeys(ids)))
            follow = options.get("follow")
            kinds = (":requires",) if follow is None else follow  # None: the default edge following
            found = f.closure(list(f.nodes), kinds, min(options.get("depth", 1), config.max_depth))
            f.edge_targets(found)
            if options.get("since_version") is not None:
                docs = {f.nodes[n].doc for n in found}
                f.documents(docs)
                f.changelog_nodes(docs)
            if options.get("state") is not None:
                f.verifiers(found)
            snap = f.snapshot()
        return resolve_context(snap, ids, scopes=caller, **options)

    def around(self, ids: Sequence[str], scopes: Scopes | None = None) -> Snapshot:
        with self.store.connection() as conn:
            f = Fetcher(conn, self.version, normalize_scopes(scopes))
            f.by_refs(list(dict.fromkeys(ids)))
            docs = {n.doc for n in f.nodes.values()}
            f.documents(docs)
            f.changelog_nodes(docs)
            return f.snapshot()

    def _documents(self, caller: Scopes) -> dict[str, DocumentEntry]:
        """The documents `caller` may read, by id in corpus order (built once per version and scope key)."""

        def build() -> dict[str, DocumentEntry]:
            with self.store.connection() as conn:
                return {d.id: d for d in list_visible_documents(conn, self.version, caller)}

        return self.store.cached("documents", (self.current, self._key(caller)), build, size=DOCUMENT_LISTS_CACHED)

    def documents(self, scopes: Scopes | None = None) -> list[DocumentEntry]:
        return list(self._documents(normalize_scopes(scopes)).values())

    def document_index(self, doc: str, scopes: Scopes | None = None) -> tuple[DocumentEntry, list[IndexLine]]:
        listed = self.document_listing(doc, scopes)
        return listed.entry, listed.lines()

    def document_listing(self, doc: str, scopes: Scopes | None = None) -> DocumentListing:
        caller = normalize_scopes(scopes)
        if doc not in self._documents(caller):  # completions name any document: no query for unknown ones
            raise listing.unknown_document(doc)

        def build() -> DocumentListing:
            with self.store.connection() as conn:
                f = Fetcher(conn, self.version, caller)
                f.doc_members(doc)
                f.edge_targets(f.doc_nodes[doc])
                snap = f.snapshot()
            return listing.document_listing(snap, doc, caller)

        key = (self.current, self._key(caller), doc)
        return self.store.cached("listing", key, build, size=listing.LISTINGS_CACHED)

    def node_source(self, ref: str, scopes: Scopes | None = None) -> str:
        caller = normalize_scopes(scopes)
        with self.store.connection() as conn:
            f = Fetcher(conn, self.version, caller)
            f.by_refs([ref])
            snap = f.snapshot()
        return listing.node_source(snap, ref, caller)

    def changelog(self, doc: str, scopes: Scopes | None = None) -> list[dict[str, object]]:
        caller = normalize_scopes(scopes)
        with self.store.connection() as conn:
            f = Fetcher(conn, self.version, caller)
            f.doc_members(doc, limit=1)
            f.documents([doc])
            f.changelog_nodes([doc])
            snap = f.snapshot()
        return listing.document_changelog(snap, doc, caller)


def _entry(n: NodeRecord, version: str, score: float, dense_tokens: int, full_tokens: int) -> SearchEntry:
    return SearchEntry(
        id=n.id,
        doc=n.doc,
        title=n.title,
        type=n.type,
        summary=n.dense,
        score=round(score, 4),
        dense_tokens=dense_tokens,
        full_tokens=full_tokens,
        version=version,
        hash=n.hash,
        flags=scan_instructions(n.title, "title") + scan_instructions(n.dense, "dense")
        + scan_instructions(" ".join(n.keywords), "keywords"),
    )

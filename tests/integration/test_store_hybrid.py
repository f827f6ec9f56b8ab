"""Hybrid ranking served from a real PostgreSQL 15: embeddings stored at push, fused with the BM25 candidates.

The claim tested: the store's hybrid ranking is the in-memory hybrid ranking with the nodes that hold
no query term left out (in memory those enter when their cosine reaches `min_similarity`), scores
included, for every caller.
"""

from __future__ import annotations

import logging
import shutil
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from ogmux.demo import CORPUS as DEMO
from ogmux.tools.objectgraph import embedding, search
from ogmux.tools.objectgraph.config import ObjectGraphConfig
from ogmux.tools.objectgraph.corpus import Corpus
from ogmux.tools.objectgraph.search import search_index
from ogmux.tools.objectgraph.snapshot import Snapshot
from ogmux.tools.objectgraph.store import DocumentStore, StoreView, dense, push_snapshot
from ogmux.tools.objectgraph.store.schema import table
from tests.integration.engines import PostgresServer
from tests.integration.store_db import new_database
from tests.tools.objectgraph.documents import VAULT

HYBRID = ObjectGraphConfig(reload=False, ranking="hybrid")
LEXICAL = ObjectGraphConfig(reload=False, ranking="lexical")
OG_DEV = Path(__file__).parents[1] / "data" / "og-dev" / "docs"
# "Restore" has sections and two words of its own, so it is never ranked, yet it is a public caller's
# best BM25 match for "restore"; the admin-only section is the best match of all.
KEYS = """<!-- og:node id=restore-keys scopes=admin -->
### Restore keys

Restore the restore keys: restore them from the restore vault.
"""
RUNBOOK = (
    """# Restore runbook

How a replica comes back after a failed disk.

## Restore

Restore it.

<!-- og:node id=disk -->
### Disk

Copy the snapshot back onto the volume of the replica, then start the replica again and watch its
replication lag until it has caught up.

<!-- og:node id=database -->
### Database

Load the nightly dump into a fresh database, point the replica at it and check the row counts against
the primary before it serves reads.

"""
    + KEYS
)
RESTORE_QUERIES = ["restore", "restore the replica", "restore a database"]
QUERIES = [
    "restart the server", "rate limit token bucket", "root key rotation vault", "configure vllm backends",
    "how do I stop a runaway model", "safety score of an answer", "solve a linear program", "zzz",
    *RESTORE_QUERIES,
]  # fmt: skip
CALLERS = [None, frozenset({"public"}), frozenset({"dev"}), frozenset({"admin"})]


def _demo_with(root: Path, runbook: str) -> Snapshot:
    """The demo corpus with the vault and `runbook` documents, served from `root`."""
    for p in DEMO.iterdir():
        if p.suffix in (".og", ".md"):
            shutil.copy(p, root / p.name)
    (root / "vault.og").write_text(VAULT, encoding="utf-8")
    (root / "restore.md").write_text(runbook, encoding="utf-8")
    return Corpus(root, HYBRID).snapshot()


@pytest.fixture(scope="module")
def demo(
    pg_cluster: PostgresServer, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Snapshot, DocumentStore]]:
    snap = _demo_with(tmp_path_factory.mktemp("corpus"), RUNBOOK)
    dsn = new_database(pg_cluster)
    assert push_snapshot(dsn, snap).embedded
    store = DocumentStore(dsn, reload_interval_s=0)
    try:
        yield snap, store
    finally:
        store.close()


def _memory_without_unmatched(
    snap: Snapshot, query: str, scopes: frozenset[str] | None
) -> list[tuple[str, float]]:
    """The in-memory hybrid ranking (ids, scores) with the nodes that hold no query term left out."""
    matched = {e.id for e in search_index(snap, query, k=10_000, scopes=scopes, config=LEXICAL).entries}
    ranked = search_index(snap, query, k=10_000, scopes=scopes, config=HYBRID).entries
    return [(e.id, e.score) for e in ranked if e.id in matched]


def test_store_hybrid_ranking_is_memory_hybrid_over_the_nodes_holding_a_query_term(
    demo: tuple[Snapshot, DocumentStore],
) -> None:
    snap, store = demo
    view = StoreView(store)
    reordered = 0
    for scopes in CALLERS:
        for q in QUERIES:
            want = _memory_without_unmatched(snap, q, scopes)
            lexical = view.search(q, k=4, scopes=scopes, config=LEXICAL)
            first = view.search(q, k=4, scopes=scopes, config=HYBRID)
            assert [(e.id, e.score) for e in first.entries] == want[:4], (q, scopes)
            assert first.total == lexical.total == len(want)
            if first.next_cursor:
                second = view.search(q, k=4, cursor=first.next_cursor, scopes=scopes, config=HYBRID)
                assert [(e.id, e.score) for e in second.entries] == want[4:8], (q, scopes)
            reordered += [e.id for e in first.entries] != [e.id for e in lexical.entries]
    assert reordered >= 5  # the fusion changes the BM25 order on many of these queries


def test_scores_are_scaled_to_the_best_row_a_caller_can_be_shown_on_both_paths(
    demo: tuple[Snapshot, DocumentStore], pg_cluster: PostgresServer, tmp_path: Path
) -> None:
    """The hybrid score's BM25 part is scaled to the best row the caller may be shown, in memory as in the
    store (memory scaled to the never-ranked "Restore" heading, so its scores differed), and a
    hidden section, the best match of all, changes neither path's ids or scores: as if it were deleted."""
    snap, store = demo
    reduced = _demo_with(tmp_path, RUNBOOK.replace(KEYS, ""))
    dsn = new_database(pg_cluster)
    push_snapshot(dsn, reduced)
    reduced_store = DocumentStore(dsn)
    public = frozenset({"public"})

    def pairs(page: search.SearchPage) -> list[tuple[str, float]]:
        return [(e.id, e.score) for e in page.entries]

    try:
        for q in RESTORE_QUERIES:
            memory = pairs(search_index(snap, q, k=10, scopes=public, config=HYBRID))
            shown = pairs(StoreView(store).search(q, k=10, scopes=public, config=HYBRID))
            assert "restore#restore" not in dict(memory) and memory[0][0].startswith("restore#"), q
            assert shown == _memory_without_unmatched(snap, q, public)[:10], q
            assert memory == pairs(search_index(reduced, q, k=10, scopes=public, config=HYBRID)), q
            assert shown == pairs(StoreView(reduced_store).search(q, k=10, scopes=public, config=HYBRID)), q
    finally:
        reduced_store.close()


def test_hybrid_store_finds_a_paraphrase_that_lexical_ranking_misses(pg_cluster: PostgresServer) -> None:
    """No word of the answer's heading is in the question; its embedding brings it from 4th to the top 3."""
    question = "app sees the wrong client IP behind nginx"
    answer = "fastapi-behind-a-proxy#enable-proxy-forwarded-headers"
    dsn = new_database(pg_cluster)
    push_snapshot(dsn, Corpus(OG_DEV, HYBRID).snapshot())
    store = DocumentStore(dsn)
    try:
        view = StoreView(store)
        assert answer not in [e.id for e in view.search(question, k=3, config=LEXICAL).entries]
        assert answer in [e.id for e in view.search(question, k=3, config=HYBRID).entries]
    finally:
        store.close()


def test_deep_pages_fuse_block_by_block_and_never_repeat_or_skip_a_node(
    demo: tuple[Snapshot, DocumentStore], monkeypatch: pytest.MonkeyPatch
) -> None:
    """With blocks of 3 candidates, paging 2 at a time visits every match once, in the one-shot order,
    and a page fuses (reads the vectors of) at most the two blocks it overlaps."""
    monkeypatch.setattr(dense, "CANDIDATES", 3)
    view = StoreView(demo[1])
    query = "configure the server and its backends"
    whole = view.search(query, k=50, config=HYBRID)
    assert whole.total > 6
    fused: list[int] = []
    monkeypatch.setattr(dense, "cosines", lambda m, q: fused.append(len(m)) or embedding.cosines(m, q))
    paged, cursor = [], None
    while True:
        page = view.search(query, k=2, cursor=cursor, config=HYBRID)
        paged += [e.id for e in page.entries]
        if not (cursor := page.next_cursor):
            break
    assert paged == [e.id for e in whole.entries]
    assert max(fused) <= 6 and len(fused) == -(-whole.total // 2)
    lexical = [e.id for e in view.search(query, k=50, config=LEXICAL).entries]
    for start in range(0, len(lexical), 3):  # each block holds the same nodes as the BM25 block
        assert set(paged[start : start + 3]) == set(lexical[start : start + 3])


def _missing() -> embedding.Embedder:
    raise embedding.EmbeddingUnavailable("the 'wordllama' package is not installed (pip install wordllama)")


def test_without_the_model_the_store_ranks_lexically_with_one_warning(
    demo: tuple[Snapshot, DocumentStore], monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(dense, "load_embedder", _missing)
    monkeypatch.setattr(search, "_warned", set())
    view = StoreView(demo[1])
    with caplog.at_level(logging.WARNING):
        for q in QUERIES:
            assert view.search(q, k=5, config=HYBRID) == view.search(q, k=5, config=LEXICAL)
    warnings = [r.getMessage() for r in caplog.records if "hybrid ranking unavailable" in r.getMessage()]
    assert len(warnings) == 1 and "pip install wordllama" in warnings[0]


def test_a_version_pushed_without_the_model_ranks_lexically_and_says_so(
    demo: tuple[Snapshot, DocumentStore],
    pg_cluster: PostgresServer,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    dsn = new_database(pg_cluster)
    with monkeypatch.context() as m, caplog.at_level(logging.WARNING):
        m.setattr(dense, "load_embedder", _missing)
        pushed = push_snapshot(dsn, demo[0])
    assert not pushed.embedded
    assert any("pushing without embeddings" in r.getMessage() for r in caplog.records)
    with psycopg.connect(dsn) as conn:
        count = psycopg.sql.SQL("SELECT count(*) FROM {}").format(table(pushed.version, "vec"))
        assert conn.execute(count).fetchone() == (0,)
    monkeypatch.setattr(search, "_warned", set())
    store = DocumentStore(dsn)
    try:
        view = StoreView(store)
        caplog.clear()
        with caplog.at_level(logging.WARNING):
            for q in QUERIES:
                assert view.search(q, k=5, config=HYBRID) == view.search(q, k=5, config=LEXICAL)
        warnings = [r.getMessage() for r in caplog.records if "hybrid ranking unavailable" in r.getMessage()]
        assert len(warnings) == 1 and f"version {pushed.version} was pushed without embeddings" in warnings[0]
    finally:
        store.close()


def test_a_version_pushed_before_embeddings_existed_ranks_lexically(
    demo: tuple[Snapshot, DocumentStore], pg_cluster: PostgresServer
) -> None:
    dsn = new_database(pg_cluster)
    pushed = push_snapshot(dsn, demo[0])
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute(psycopg.sql.SQL("DROP TABLE {}").format(table(pushed.version, "vec")))
    store = DocumentStore(dsn)
    try:
        view = StoreView(store)
        for q in QUERIES:
            assert view.search(q, k=5, config=HYBRID) == view.search(q, k=5, config=LEXICAL)
    finally:
        store.close()


def test_stored_vectors_are_the_in_memory_vectors(demo: tuple[Snapshot, DocumentStore]) -> None:
    snap, store = demo
    version = store.current_version()
    with store.connection() as conn:
        q = psycopg.sql.SQL("SELECT n.id, v.v FROM {} v JOIN {} n USING (ord)").format(
            table(version, "vec"), table(version, "node")
        )
        stored = dict(conn.execute(q).fetchall())
    assert set(stored) == set(snap.nodes)
    model = embedding.load_embedder()
    for nid, n in snap.nodes.items():
        want = model.embed([search.embedded_text(snap.docs[n.doc].title, n)])[0]
        assert bytes(stored[nid]) == want.astype("<f4").tobytes(), nid

"""The document boost per kind of caller, against a real PostgreSQL: one who sees every scope class reads
`doc_posting_all`, one who sees a single class reads that class's rows of `doc_posting` (length included),
one who sees some classes sums them. Each must rank exactly as a store holding only the caller's nodes.
"""

from __future__ import annotations

from collections.abc import Iterator

import psycopg
import pytest

from ogmux.tools.objectgraph.config import ObjectGraphConfig
from ogmux.tools.objectgraph.corpus import build_snapshot
from ogmux.tools.objectgraph.store import DocumentStore, StoreView, push_snapshot
from ogmux.tools.objectgraph.store.query import visible_stats
from tests.integration.engines import PostgresServer
from tests.integration.store_db import new_database
from tests.integration.test_store_pruning import QUERIES, _corpus
from tests.tools.objectgraph.test_access import restrict

CONFIG = ObjectGraphConfig(ranking="lexical", store_candidates=0)
# The corpus's classes: public, ops, dev. Caller → how many of them it sees.
CALLERS = {frozenset({"public"}): 1, frozenset({"ops"}): 2, frozenset({"dev", "ops"}): 3}


@pytest.fixture(scope="module")
def full(pg_cluster: PostgresServer) -> Iterator[tuple[str, DocumentStore]]:
    dsn = new_database(pg_cluster)
    push_snapshot(dsn, build_snapshot(_corpus())[0])
    store = DocumentStore(dsn, reload_interval_s=0)
    try:
        yield dsn, store
    finally:
        store.close()


@pytest.mark.parametrize("caller", list(CALLERS), ids=lambda c: "+".join(sorted(c)))
def test_scoped_search_ranks_as_a_store_of_the_visible_nodes_only(
    pg_cluster: PostgresServer, full: tuple[str, DocumentStore], caller: frozenset[str]
) -> None:
    dsn, store = full
    with psycopg.connect(dsn) as conn:
        version = conn.execute("SELECT version FROM ogmux.current").fetchone()[0]
        stats = visible_stats(conn, version, caller)
    assert (len(stats.classes), stats.every_class) == (CALLERS[caller], CALLERS[caller] == 3)
    visible_dsn = new_database(pg_cluster)
    push_snapshot(visible_dsn, build_snapshot(restrict(_corpus(), caller))[0])
    visible = DocumentStore(visible_dsn, reload_interval_s=0)
    try:
        for q in QUERIES:
            got = StoreView(store).search(q, k=10, scopes=caller, config=CONFIG)
            want = StoreView(visible).search(q, k=10, scopes=caller, config=CONFIG)
            assert [e.id for e in got.entries] == [e.id for e in want.entries]
            assert [e.score for e in got.entries] == pytest.approx([e.score for e in want.entries])
            assert got.entries and got.total == want.total
    finally:
        visible.close()

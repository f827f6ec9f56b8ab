"""Pruned store search against a real PostgreSQL: when a query term matches more nodes of a scope class
than `store_candidates`, only candidates are scored; the top results must still be the exact ones, and
the hidden-equals-deleted property must still hold.

The corpus is small (1000 nodes) with the candidate limit lowered, so pruning runs on every query
below without building a large corpus.
"""

from __future__ import annotations

import random
from collections.abc import Iterator

import psycopg
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ogmux.tools.objectgraph.access import is_visible
from ogmux.tools.objectgraph.config import ObjectGraphConfig
from ogmux.tools.objectgraph.corpus import build_snapshot
from ogmux.tools.objectgraph.lexical import analyze
from ogmux.tools.objectgraph.model import Document, Node
from ogmux.tools.objectgraph.store import DocumentStore, StoreView, push_snapshot
from ogmux.tools.objectgraph.store import query as query_module
from ogmux.tools.objectgraph.store.query import PRUNE_FACTOR
from tests.integration.engines import PostgresServer
from tests.integration.store_db import new_database
from tests.integration.test_store_access import stores  # noqa: F401 - the fixture of two fresh stores
from tests.tools.objectgraph.test_access import callers, corpora, marker, outcome, restrict

EXACT = ObjectGraphConfig(ranking="lexical", store_candidates=0)
PRUNED = ObjectGraphConfig(ranking="lexical", store_candidates=40)
WORDS = ["restart", "backup", "etcd", "quota", "token", "replica", "alarm", "disk", "leader", "proxy", "shard",
         "kernel", "volume", "cache", "queue", "worker", "rollout", "canary", "secret", "policy"]  # fmt: skip
QUERIES = ["restart backup", "etcd quota token", "replica", "alarm disk leader proxy", "kernel volume cache",
           "rollout canary secret", "restart restart etcd", "queue worker policy shard", "backup replica leader"]  # fmt: skip
CALLERS = [None, frozenset({"public"}), frozenset({"ops"}), frozenset({"dev", "ops"})]


def _corpus(n_docs: int = 40, per_doc: int = 25, seed: int = 5) -> list[Document]:
    """Sections of 20-40 words drawn with Zipf-like frequencies, so the common words match hundreds of nodes."""
    rng = random.Random(seed)
    weights = [1 / (r + 1) for r in range(len(WORDS))]
    docs = []
    for d in range(n_docs):
        nodes = []
        for i in range(per_doc):
            body = " ".join(rng.choices(WORDS, weights, k=rng.randint(20, 40)))
            title = " ".join(rng.choices(WORDS, weights, k=2))
            nodes.append(
                Node(id=f"n{i}", doc=f"d{d}", title=title, scopes=[rng.choice(["public", "public", "ops", "dev"])],
                     keywords=rng.choices(WORDS, weights, k=2), dense=body[:60], full=f"## {title}\n\n{body}\n\n",
                     derived_metadata=False)
            )  # fmt: skip
        docs.append(Document(id=f"d{d}", title=f"Doc {d}", version="1.0", nodes=nodes))
    return docs


@pytest.fixture(scope="module")
def store(pg_cluster: PostgresServer) -> Iterator[tuple[str, DocumentStore]]:
    dsn = new_database(pg_cluster)
    snap, _ = build_snapshot(_corpus())
    push_snapshot(dsn, snap)
    s = DocumentStore(dsn, reload_interval_s=0)
    try:
        yield dsn, s
    finally:
        s.close()


def test_pruned_search_returns_the_exact_top_k(store: tuple[str, DocumentStore]) -> None:
    dsn, s = store
    view = StoreView(s)
    with psycopg.connect(dsn) as conn:
        nodes = dict(conn.execute(f"SELECT term, sum(nodes) FROM ogmux_v{view.version}.term GROUP BY term").fetchall())
    for q in QUERIES:
        # the pruned path runs for every caller (the public one sees about half of the postings)
        assert sum(nodes[t] for t in set(analyze(q))) / 2 > PRUNE_FACTOR * PRUNED.store_candidates
        for caller in CALLERS:
            exact = view.search(q, k=8, scopes=caller, config=EXACT)
            pruned = view.search(q, k=8, scopes=caller, config=PRUNED)
            assert pruned.entries == exact.entries, (q, caller)
            # the count is an estimate, but never below what was found, and pages still continue
            assert pruned.total >= len(pruned.entries) and pruned.next_cursor
            second = view.search(q, k=8, cursor=pruned.next_cursor, scopes=caller, config=PRUNED)
            assert second.entries and not {e.id for e in second.entries} & {e.id for e in pruned.entries}


@settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(docs=corpora(), caller=callers, query=st.lists(st.sampled_from(["restart", "backup", "etcd", "token", "disk"]),
       min_size=1, max_size=3), k=st.integers(1, 3))  # fmt: skip
def test_pruned_search_over_hidden_nodes_equals_search_over_deleted_ones(
    stores: tuple[str, DocumentStore, str, DocumentStore],  # noqa: F811
    docs: list[Document],
    caller: frozenset[str],
    query: list[str],
    k: int,
) -> None:
    """Candidates are chosen per scope class from that class's own statistics, so nodes the caller may not
    see change neither which nodes are scored nor the estimated count."""
    full_dsn, full_store, visible_dsn, visible_store = stores
    full, _ = build_snapshot(docs)
    push_snapshot(full_dsn, full)
    push_snapshot(visible_dsn, build_snapshot(restrict(docs, caller))[0])
    config = ObjectGraphConfig(ranking="lexical", min_body_words=0, store_candidates=1)
    q = " ".join(query)
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(query_module, "PRUNE_FACTOR", 0)  # prune every search, however few its postings
        got = outcome(lambda: StoreView(full_store).search(q, k=k, scopes=caller, config=config))
        assert got == outcome(lambda: StoreView(visible_store).search(q, k=k, scopes=caller, config=config))
    blob = repr(got).replace(q, "")
    for n in full.nodes.values():
        if not is_visible(n.scopes, caller):
            assert marker(n.doc, n.node) not in blob

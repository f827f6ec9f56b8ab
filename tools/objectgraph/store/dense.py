"""Hybrid ranking in the store: node embeddings stored at push, fused with the BM25 candidates at search.

A push embeds every node with the in-memory model and text (`embedded_text`; a node's vector depends
on that node only) and stores it as 256 float32 values in `vec`. A hybrid search takes the best
`CANDIDATES` BM25 rows from `query.rank`, reads their vectors (scope filter in the SQL), and re-orders
them with the in-memory fusion (`search.hybrid_scores`, BM25 scaled to the best ranked row, as in memory). Deeper
pages fuse the next blocks of `CANDIDATES` rows the same way, each block after the one before, so a
row's place never depends on the page asked for, and a page reads only the vectors of the blocks it
overlaps. Unlike memory, a node with no query term is never a candidate: it would take a scan of
every vector.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

import numpy as np
import psycopg
from psycopg import sql

from ogmux.tools.objectgraph.access import Scopes
from ogmux.tools.objectgraph.config import ObjectGraphConfig
from ogmux.tools.objectgraph.embedding import DIM, Embedder, EmbeddingUnavailable, cosines, load_embedder
from ogmux.tools.objectgraph.search import embedded_text, hybrid_scores, warn_lexical
from ogmux.tools.objectgraph.snapshot import NodeRecord, Snapshot
from ogmux.tools.objectgraph.store.query import scope_params, visible
from ogmux.tools.objectgraph.store.schema import schema_of, table

__all__ = [
    "CANDIDATES",
    "candidates",
    "copy_vectors",
    "finish_ddl",
    "fuse",
    "has_vectors",
    "load_ddl",
    "push_embedder",
]

CANDIDATES = 100  # BM25 rows fused per block: the first block covers every page of up to 100 results
_log = logging.getLogger("ogmux.objectgraph.store")

_READ = """
SELECT v.ord, v.v FROM {vec} v JOIN {node} n ON n.ord = v.ord
WHERE v.ord = ANY(%(ords)s) AND """ + visible("n")


def load_ddl(version: int) -> sql.Composed:
    """The (empty, unindexed) vector table of `version`."""
    return sql.SQL("CREATE TABLE {} (ord integer NOT NULL, v bytea NOT NULL)").format(table(version, "vec"))


def finish_ddl(version: int) -> sql.Composed:
    """Index and analyse the loaded vector table of `version`."""
    vec = table(version, "vec")
    return sql.SQL("ALTER TABLE {vec} ADD PRIMARY KEY (ord); ANALYZE {vec}").format(vec=vec)


def push_embedder() -> Embedder | None:
    """The embedding model for a push, or None (logged) when it cannot be loaded: the push then stores no
    vectors and replicas rank that version with BM25 alone."""
    try:
        return load_embedder()
    except EmbeddingUnavailable as exc:
        _log.warning("pushing without embeddings (%s): the store will rank with BM25 alone", exc)
        return None


def copy_vectors(
    conn: psycopg.Connection, version: int, snapshot: Snapshot, nodes: Sequence[NodeRecord], first: int,
    embedder: Embedder,
) -> None:  # fmt: skip
    """COPY the float32 embeddings of `nodes`, whose node rows are `first`, `first + 1`, ..."""
    vectors = embedder.embed([embedded_text(snapshot.docs[n.doc].title, n) for n in nodes]).astype("<f4")
    copy = sql.SQL("COPY {} FROM STDIN (FORMAT BINARY)").format(table(version, "vec"))
    with conn.cursor().copy(copy) as cp:
        cp.set_types(["int4", "bytea"])
        for i, v in enumerate(vectors, first):
            cp.write_row((i, v.tobytes()))


def has_vectors(conn: psycopg.Connection, version: int) -> bool:
    """Whether `version` was pushed with embeddings (versions pushed before they existed have no table)."""
    row = conn.execute("SELECT to_regclass(%s) IS NOT NULL", (f"{schema_of(version)}.vec",)).fetchone()
    if not row or not row[0]:
        return False
    q = sql.SQL("SELECT EXISTS (SELECT 1 FROM {})").format(table(version, "vec"))
    return bool((conn.execute(q).fetchone() or (False,))[0])


def candidates(want: int) -> int:
    """How many BM25 rows to fuse for a page ending at `want`: whole blocks of `CANDIDATES`."""
    return -(-want // CANDIDATES) * CANDIDATES


def _query_vector(query: str) -> np.ndarray | None:
    try:
        return load_embedder().embed([query])[0]
    except EmbeddingUnavailable as exc:
        warn_lexical(str(exc))
        return None


def fuse(
    conn: psycopg.Connection,
    version: int,
    caller: Scopes,
    query: str,
    ranked: list[tuple[int, float]],
    config: ObjectGraphConfig,
    stored: bool,
    first: int = 0,
) -> list[tuple[int, float]]:
    """`ranked` (BM25 rows, best first) re-ordered by the hybrid score, block by block of `CANDIDATES`,
    from the block holding position `first` on (the blocks before it, which the caller does not show,
    keep their BM25 order: a deep page reads at most two blocks of vectors); `ranked` unchanged (with
    one warning) when the model is unavailable or the version has no vectors."""
    skip = first // CANDIDATES * CANDIDATES
    if len(ranked) <= skip:
        return ranked
    if not stored:
        warn_lexical(f"corpus version {version} was pushed without embeddings; push it again to rank hybrid")
        return ranked
    qvec = _query_vector(query)
    if qvec is None:
        return ranked
    ords = [o for o, _ in ranked[skip:]]
    q = sql.SQL(_READ).format(vec=table(version, "vec"), node=table(version, "node"))
    rows = conn.execute(q, {**scope_params(caller), "ords": ords}).fetchall()
    matrix = np.zeros((len(ords), DIM), dtype=np.float32)
    at = {o: i for i, o in enumerate(ords)}
    for o, v in rows:
        matrix[at[o]] = np.frombuffer(v, dtype="<f4")
    lexical = np.array([s for _, s in ranked[skip:]], dtype=np.float32)
    scores = hybrid_scores(lexical, cosines(matrix, qvec), config, top=float(np.float32(ranked[0][1])))
    order = sorted(range(len(ords)), key=lambda i: (i // CANDIDATES, -scores[i], ords[i]))
    return ranked[:skip] + [(ords[i], float(scores[i])) for i in order]

"""`push_snapshot`: write a loaded corpus into the store as a new version, in one transaction.

Everything is written inside one transaction that ends by making the new version current, so a
push that fails at any point (bad connection, full disk, a concurrent push) changes nothing.
Each node's embedding is stored with it (`dense.py`), for hybrid ranking.
Concurrent pushes are serialised by an advisory lock. Only the newest `keep` versions are kept;
older ones are dropped after the commit (a request still reading the previous version finishes).
"""

from __future__ import annotations

import json
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import asdict, dataclass

import psycopg
from psycopg import sql

from ogmux.tools.objectgraph.embedding import Embedder
from ogmux.tools.objectgraph.search import _WORDS, _body
from ogmux.tools.objectgraph.search import _fields as field_terms
from ogmux.tools.objectgraph.snapshot import NodeRecord, Snapshot
from ogmux.tools.objectgraph.store import dense
from ogmux.tools.objectgraph.store.engine import unavailable
from ogmux.tools.objectgraph.store.schema import (
    FIELDS,
    LOCK_KEY,
    REGISTRY_DDL,
    finish_ddl,
    load_ddl,
    schema_of,
    table,
)
from ogmux.tools.objectgraph.tokens import count_tokens

__all__ = ["PushResult", "push_snapshot"]

_CHUNK = 2000  # nodes per COPY write


@dataclass(frozen=True)
class PushResult:
    """What a push stored."""

    version: int
    docs: int
    nodes: int
    postings: int
    seconds: float
    dropped: tuple[int, ...] = ()
    embedded: bool = True  # False: the embedding model was unavailable; this version ranks with BM25 alone


def _node_row(n: NodeRecord, ord_: int, doc_ord: int, cls: int, lengths: list[int]) -> tuple[object, ...]:
    assertion = None
    if n.assertion is not None:
        a = n.assertion
        assertion = json.dumps({"checks": list(a.checks), "retries": a.retries, "escalate": a.escalate})
    return (
        ord_, n.id, n.doc, doc_ord, n.node, n.title, n.type, sorted(n.scopes), cls, list(n.keywords),
        n.dense, n.full, n.version, n.hash, list(n.heading_path), n.confidence, n.parent,
        json.dumps([asdict(e) for e in n.edges]), assertion,
        count_tokens(n.dense), count_tokens(n.full), *lengths, len(_WORDS.findall(_body(n))),
    )  # fmt: skip


def _postings(ord_: int, fields: dict[str, list[str]]) -> Iterator[str]:
    counts = [Counter(fields[f]) for f in FIELDS]
    for term in set().union(*counts):
        yield f"{term}\t{ord_}\t" + "\t".join(str(c[term]) for c in counts) + "\n"


def _load(conn: psycopg.Connection, version: int, snapshot: Snapshot, embedder: Embedder | None) -> int:
    """COPY documents, nodes, postings and (with `embedder`) vectors of `snapshot`; return the number of postings."""
    doc_ord = {d: i for i, d in enumerate(snapshot.docs)}
    classes: dict[frozenset[str], int] = {}
    class_stats: dict[int, list[int]] = {}
    doc_len: Counter[tuple[int, int]] = Counter()
    with conn.cursor().copy(sql.SQL("COPY {} FROM STDIN").format(table(version, "doc"))) as cp:
        for d in snapshot.docs.values():
            cp.write_row((doc_ord[d.id], d.id, d.title, d.version, d.path, d.hash, sorted(d.scopes)))
    with conn.cursor().copy(sql.SQL("COPY {} FROM STDIN").format(table(version, "change"))) as cp:
        for d in snapshot.docs.values():
            for i, c in enumerate(d.changelog):
                cp.write_row((d.id, i, c.version, c.date, list(c.nodes), c.summary))
    postings = 0
    nodes = list(snapshot.nodes.values())
    node_copy = sql.SQL("COPY {} FROM STDIN").format(table(version, "node"))
    posting_copy = sql.SQL("COPY {} FROM STDIN").format(table(version, "posting_load"))
    for start in range(0, len(nodes), _CHUNK):
        lines: list[str] = []
        with conn.cursor().copy(node_copy) as cp:
            for i, n in enumerate(nodes[start : start + _CHUNK], start):
                cls = classes.setdefault(n.scopes, len(classes))
                fields = field_terms(n)
                lengths = [len(fields[f]) for f in FIELDS]
                stats = class_stats.setdefault(cls, [0] * (1 + len(FIELDS)))
                stats[0] += 1
                for j, length in enumerate(lengths, 1):
                    stats[j] += length
                doc_len[(doc_ord[n.doc], cls)] += lengths[-1]
                cp.write_row(_node_row(n, i, doc_ord[n.doc], cls, lengths))
                lines.extend(_postings(i, fields))
        postings += len(lines)
        with conn.cursor().copy(posting_copy) as cp:
            cp.write("".join(lines))
        if embedder is not None:
            dense.copy_vectors(conn, version, snapshot, nodes[start : start + _CHUNK], start, embedder)
    with conn.cursor().copy(sql.SQL("COPY {} FROM STDIN").format(table(version, "class"))) as cp:
        for scopes, cls in classes.items():
            cp.write_row((cls, sorted(scopes), *class_stats[cls]))
    with conn.cursor().copy(sql.SQL("COPY {} FROM STDIN").format(table(version, "doc_len"))) as cp:
        for (d, cls), length in doc_len.items():
            cp.write_row((d, cls, length))
    return postings


def push_snapshot(conninfo: str, snapshot: Snapshot, source: str = "", keep: int = 2) -> PushResult:
    """Store `snapshot` as a new current version; keep the newest `keep` versions (at least 2)."""
    started = time.perf_counter()
    keep = max(2, keep)
    embedder = dense.push_embedder()
    try:
        with psycopg.connect(conninfo, connect_timeout=10, autocommit=True) as conn:
            with conn.transaction():
                conn.execute("SELECT pg_advisory_xact_lock(%s)", (LOCK_KEY,))
                conn.execute(REGISTRY_DDL)
                row = conn.execute("SELECT coalesce(max(version), 0) + 1 FROM ogmux.versions").fetchone()
                version = int(row[0]) if row else 1
                conn.execute(load_ddl(version))
                conn.execute(dense.load_ddl(version))
                postings = _load(conn, version, snapshot, embedder)
                conn.execute(finish_ddl(version))
                conn.execute(dense.finish_ddl(version))
                all_scopes = sorted({s for n in snapshot.nodes.values() for s in n.scopes})
                conn.execute(
                    "INSERT INTO ogmux.versions (version, source, docs, nodes, all_scopes) VALUES (%s, %s, %s, %s, %s)",
                    (version, source[:1000], len(snapshot.docs), len(snapshot.nodes), all_scopes),
                )
                conn.execute(
                    "INSERT INTO ogmux.current (one, version) VALUES (true, %s) "
                    "ON CONFLICT (one) DO UPDATE SET version = excluded.version",
                    (version,),
                )
            dropped = _drop_old(conn, keep)
    except psycopg.OperationalError as exc:
        raise unavailable(exc) from None
    seconds = time.perf_counter() - started
    return PushResult(version, len(snapshot.docs), len(snapshot.nodes), postings, seconds, dropped, embedder is not None)


def _drop_old(conn: psycopg.Connection, keep: int) -> tuple[int, ...]:
    """Drop every version but the newest `keep` (each in its own short transaction)."""
    rows = conn.execute("SELECT version FROM ogmux.versions ORDER BY version DESC OFFSET %s", (keep,)).fetchall()
    dropped = []
    for (version,) in rows:
        with conn.transaction():
            conn.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(schema_of(version))))
            conn.execute("DELETE FROM ogmux.versions WHERE version = %s", (version,))
        dropped.append(int(version))
    return tuple(dropped)

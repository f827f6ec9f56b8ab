"""Field-weighted BM25 in SQL over the caller's visible nodes: the same scores as the in-memory index.

The in-memory search builds its index over the caller's visible nodes only. The store keeps the
ingredients per scope class (nodes sharing one set of effective scopes): node counts and field
lengths per class, document frequencies per (term, class), and postings tagged with their class.
Summing over the classes the caller may see gives exactly the statistics of the visible part of
the corpus, and every statement filters postings by those classes, so a hidden node contributes
to no score and never leaves the database. Scoring is bm25s' default (Lucene) variant:
idf = ln(1 + (N - df + 0.5) / (df + 0.5)), tf part = tf / (tf + k1 (1 - b + b dl / avgdl)).
As in memory, a node with no words of its own below its heading, or with visible children and fewer
than `min_body_words`, is never ranked (its score still counts towards the document boost's scale).
A query whose terms have very many postings scores only candidates (`rank`), exactly.
"""

from __future__ import annotations

from dataclasses import dataclass

import psycopg
from psycopg import sql

from ogmux.tools.objectgraph.access import Scopes
from ogmux.tools.objectgraph.config import ObjectGraphConfig
from ogmux.tools.objectgraph.store.schema import FIELDS, TOP_MAX, table

__all__ = ["PRUNE_FACTOR", "VisibleStats", "rank", "scope_params", "visible", "visible_stats"]


def visible(alias: str) -> str:
    """The scope filter on the node (or scope class) row named `alias`; parameters from `scope_params`.

    Public rows have no effective scope; "*" sees everything; otherwise one shared scope suffices
    (the rule of `access.is_visible`).
    """
    return f"(cardinality({alias}.scopes) = 0 OR %(all)s OR {alias}.scopes && %(caller)s::text[])"


def scope_params(caller: Scopes) -> dict[str, object]:
    """Query parameters of the scope filter `visible`."""
    return {"all": "*" in caller, "caller": sorted(caller)}


@dataclass(frozen=True)
class VisibleStats:
    """Collection statistics of the nodes and documents one caller may see."""

    caller: Scopes
    classes: list[int]
    nodes: int
    avg_len: dict[str, float]
    docs: int
    avg_doc_len: float
    every_class: bool = False  # the caller sees every scope class (so every node)


def visible_stats(conn: psycopg.Connection, version: int, caller: Scopes) -> VisibleStats:
    """Node and document counts and mean field lengths over the classes `caller` may see."""
    q = sql.SQL(
        "SELECT cls, nodes, len_title, len_keywords, len_dense, len_content, (SELECT count(*) FROM {t}) FROM {t} c WHERE "
        + visible("c")
    )
    rows = conn.execute(q.format(t=table(version, "class")), scope_params(caller)).fetchall()
    classes = [r[0] for r in rows]
    nodes = sum(r[1] for r in rows)
    avg = {f: (sum(r[2 + i] for r in rows) / nodes if nodes else 0.0) for i, f in enumerate(FIELDS)}
    q = sql.SQL("SELECT count(DISTINCT doc), coalesce(sum(len), 0) FROM {} WHERE cls = ANY(%s)")
    docs, total = conn.execute(q.format(table(version, "doc_len")), (classes,)).fetchone() or (0, 0)
    every = bool(rows) and len(rows) == rows[0][6]
    return VisibleStats(caller, classes, nodes, avg, int(docs), float(total) / docs if docs else 0.0, every)


_QUERY = """q AS (
    SELECT t.term, count(*)::float8 AS qc FROM unnest(%(terms)s::text[]) AS t(term) GROUP BY t.term
)"""

# The document boost's ingredient: BM25 of each matching document (its visible nodes' content).
# `_DOCS_ONE` gives the same scores when one row per (term, document) holds the document's visible tf and
# length: from `doc_posting_all` for a caller who sees every class, from `doc_posting` for one who sees one.
_DOCS_ONE = """dtf AS (
    SELECT term, doc, tf::float8 AS tf, len::float8 AS len, (count(*) OVER (PARTITION BY term))::float8 AS df
    FROM {rows} WHERE %(w_doc)s > 0 AND term = ANY(%(terms)s){of_class}
), ds AS (
    SELECT dtf.doc, sum(q.qc * ln(1 + (%(n_docs)s - dtf.df + 0.5) / (dtf.df + 0.5))
                      * dtf.tf / (dtf.tf + %(k1)s * (1 - %(b)s + %(b)s * dtf.len / %(a_doc)s))) AS s
    FROM dtf JOIN q USING (term) GROUP BY dtf.doc
)"""
_DOCS = """dtf AS (
    SELECT term, doc, sum(tf)::float8 AS tf FROM {doc_posting}
    WHERE %(w_doc)s > 0 AND term = ANY(%(terms)s) AND cls = ANY(%(cls)s) GROUP BY term, doc
), ddf AS (
    SELECT term, count(*)::float8 AS df FROM dtf GROUP BY term
), dl AS (
    SELECT doc, sum(len)::float8 AS len FROM {doc_len}
    WHERE cls = ANY(%(cls)s) AND doc IN (SELECT doc FROM dtf) GROUP BY doc
), ds AS (
    SELECT dtf.doc, sum(q.qc * ln(1 + (%(n_docs)s - ddf.df + 0.5) / (ddf.df + 0.5))
                      * dtf.tf / (dtf.tf + %(k1)s * (1 - %(b)s + %(b)s * dl.len / %(a_doc)s))) AS s
    FROM dtf JOIN ddf USING (term) JOIN q USING (term) JOIN dl USING (doc) GROUP BY dtf.doc
)"""

_RANK = "WITH " + _QUERY + """, {docs}, df AS (
    SELECT term, sum(df_title)::float8 AS t, sum(df_keywords)::float8 AS k,
           sum(df_dense)::float8 AS d, sum(df_content)::float8 AS c
    FROM {term} WHERE term = ANY(%(terms)s) AND cls = ANY(%(cls)s) GROUP BY term
), w AS (
    SELECT q.term,
           q.qc * %(w_title)s * ln(1 + (%(n)s - df.t + 0.5) / (df.t + 0.5)) AS it,
           q.qc * %(w_keywords)s * ln(1 + (%(n)s - df.k + 0.5) / (df.k + 0.5)) AS ik,
           q.qc * %(w_dense)s * ln(1 + (%(n)s - df.d + 0.5) / (df.d + 0.5)) AS id,
           q.qc * %(w_content)s * ln(1 + (%(n)s - df.c + 0.5) / (df.c + 0.5)) AS ic
    FROM q JOIN df USING (term)
){candidates}, ns AS (
    SELECT p.node, p.doc, p.body_words, sum(
          CASE WHEN p.tf_title > 0 THEN w.it * p.tf_title
               / (p.tf_title + %(k1)s * (1 - %(b)s + %(b)s * p.len_title / %(a_title)s)) ELSE 0 END
        + CASE WHEN p.tf_keywords > 0 THEN w.ik * p.tf_keywords
               / (p.tf_keywords + %(k1)s * (1 - %(b)s + %(b)s * p.len_keywords / %(a_keywords)s)) ELSE 0 END
        + CASE WHEN p.tf_dense > 0 THEN w.id * p.tf_dense
               / (p.tf_dense + %(k1)s * (1 - %(b)s + %(b)s * p.len_dense / %(a_dense)s)) ELSE 0 END
        + CASE WHEN p.tf_content > 0 THEN w.ic * p.tf_content
               / (p.tf_content + %(k1)s * (1 - %(b)s + %(b)s * p.len_content / %(a_content)s)) ELSE 0 END
    ) AS s
    FROM {posting} p JOIN w USING (term)
    WHERE p.term = ANY(%(terms)s) AND p.cls = ANY(%(cls)s){only}
    GROUP BY p.node, p.doc, p.body_words
), top AS (
    SELECT (SELECT max(s) FROM ns) AS node_max, (SELECT max(s) FROM ds) AS doc_max
), fin AS (
    SELECT ns.node, ns.s + CASE WHEN top.node_max > 0 AND top.doc_max > 0
                                THEN coalesce(ds.s, 0) * (%(w_doc)s * top.node_max / top.doc_max) ELSE 0 END AS score
    FROM ns CROSS JOIN top LEFT JOIN ds USING (doc)
    WHERE ns.s > 0 AND (ns.body_words >= %(min_words)s OR (ns.body_words > 0 AND NOT EXISTS (
        SELECT 1 FROM {node} c WHERE c.parent = (SELECT m.id FROM {node} m WHERE m.ord = ns.node) AND {visible_c})))
)
SELECT node, score, count(*) OVER () FROM fin ORDER BY score DESC, node LIMIT %(want)s
"""

# Candidates of a pruned search: each query term's best postings per visible scope class, and every
# visible node of the best-matching documents (the document boost can lift any of them). Scoring reads
# their postings through the (term, node) index: `= ANY(ARRAY(...))` probes it, where a join would not.
_CANDIDATES = """, cand AS (
    SELECT node FROM {top} WHERE term = ANY(%(terms)s) AND cls = ANY(%(cls)s) AND rnk <= %(m)s
    UNION
    SELECT n.ord FROM {node} n WHERE n.doc_ord = ANY(ARRAY(SELECT doc FROM ds ORDER BY s DESC, doc LIMIT %(top_docs)s))
        AND """ + visible("n") + """
)"""
_ONLY_CANDIDATES = " AND p.node = ANY(ARRAY(SELECT node FROM cand))"

_COUNTS = "SELECT term, sum(nodes) FROM {term} WHERE term = ANY(%(terms)s) AND cls = ANY(%(cls)s) GROUP BY term"
_TOP_DOCS = 5  # best-matching documents whose every visible node is a candidate of a pruned search
# A search prunes only when its terms have more than this many times `store_candidates` visible postings
# in all: below that, reading them all costs about what probing the candidates' postings does.
PRUNE_FACTOR = 8


def _docs(stats: VisibleStats, names: dict[str, sql.Identifier]) -> sql.Composed:
    """The document boost's statement for the caller's classes."""
    if stats.every_class:
        return sql.SQL(_DOCS_ONE).format(rows=names["doc_posting_all"], of_class=sql.SQL(""))
    if len(stats.classes) == 1:
        return sql.SQL(_DOCS_ONE).format(rows=names["doc_posting"], of_class=sql.SQL(" AND cls = ANY(%(cls)s)"))
    return sql.SQL(_DOCS).format(**names)


def rank(
    conn: psycopg.Connection, version: int, stats: VisibleStats, terms: list[str], want: int, config: ObjectGraphConfig
) -> tuple[list[tuple[int, float]], int]:
    """The best `want` (node row, score) pairs for the query `terms` (best first, ties in corpus order) and
    how many visible nodes match at all.

    When the terms have more than PRUNE_FACTOR × `config.store_candidates` visible postings in all,
    only candidates are scored (exactly): each term's best `store_candidates` postings per class and
    the nodes of the best documents; the count is then an estimate (the terms taken as independent).
    """
    if not terms or not stats.nodes:
        return [], 0
    weights = config.search_weights
    m = max(config.store_candidates, want)
    params: dict[str, object] = {
        "terms": terms,
        "cls": stats.classes,
        "n": float(stats.nodes),
        "n_docs": float(stats.docs),
        "a_doc": stats.avg_doc_len,
        "k1": config.bm25_k1,
        "b": config.bm25_b,
        "w_doc": weights.document,
        "want": want,
        "min_words": config.min_body_words,
        "m": m,
        "top_docs": _TOP_DOCS,
        **scope_params(stats.caller),
        **{f"w_{f}": float(getattr(weights, f)) for f in FIELDS},
        **{f"a_{f}": stats.avg_len[f] for f in FIELDS},
    }
    tables = ("term", "posting", "doc_posting", "doc_posting_all", "doc_len", "node", "top")
    names = {k: table(version, k) for k in tables}
    counts = conn.execute(sql.SQL(_COUNTS).format(**names), params).fetchall()
    prune = 0 < config.store_candidates and m <= TOP_MAX and sum(int(c[1]) for c in counts) > PRUNE_FACTOR * m
    statement = sql.SQL(_RANK).format(
        **names,
        docs=_docs(stats, names),
        candidates=sql.SQL(_CANDIDATES).format(**names) if prune else sql.SQL(""),
        only=sql.SQL(_ONLY_CANDIDATES if prune else ""),
        visible_c=sql.SQL(visible("c")),
    )
    with conn.transaction():
        # The planner cannot estimate how many nodes match; with its guess of one it joins every matching
        # node to every matching document in a nested loop (seconds at 100k nodes). Hash joins it is (the
        # children lookup above is a subquery per node, so it still probes the parent index). Its cost
        # estimates at 1M nodes also pass the JIT thresholds: compiling then takes seconds, running ~0.1 s.
        conn.execute("SET LOCAL enable_nestloop = off; SET LOCAL jit = off")
        rows = conn.execute(statement, params).fetchall()
    ranked = [(int(r[0]), float(r[1])) for r in rows]
    if not prune:
        return ranked, int(rows[0][2]) if rows else 0
    missing = 1.0
    for _, matching in counts:
        missing *= 1 - int(matching) / stats.nodes
    return ranked, max(len(ranked), round(stats.nodes * (1 - missing)))

"""Tables of the document store: a registry of versions, and one schema per pushed version.

A version is immutable once committed, so a request that reads one version sees one corpus
however many statements it runs, and an old version is dropped whole (`DROP SCHEMA`) instead
of deleting millions of rows.
"""

from __future__ import annotations

from psycopg import sql

from ogmux.tools.objectgraph.config import ObjectGraphConfig

__all__ = ["FIELDS", "LOCK_KEY", "REGISTRY_DDL", "TOP_MAX", "finish_ddl", "load_ddl", "schema_of", "table"]

FIELDS = ("title", "keywords", "dense", "content")
LOCK_KEY = 0x6F676D7578  # pg_advisory_xact_lock key that serialises pushes
_PREFIX = "ogmux_v"
TOP_MAX = 4096  # postings per (term, scope class) kept in impact order: the most a search can prune to

REGISTRY_DDL = """
CREATE SCHEMA IF NOT EXISTS ogmux;
CREATE TABLE IF NOT EXISTS ogmux.versions (
    version bigint PRIMARY KEY,
    pushed_at timestamptz NOT NULL DEFAULT now(),
    source text NOT NULL,
    docs integer NOT NULL,
    nodes integer NOT NULL,
    all_scopes text[] NOT NULL
);
CREATE TABLE IF NOT EXISTS ogmux.current (
    one boolean PRIMARY KEY DEFAULT true CHECK (one),
    version bigint NOT NULL REFERENCES ogmux.versions
);
"""

# Created empty, filled with COPY, then indexed (faster than maintaining indexes row by row).
_LOAD = """
CREATE SCHEMA {s};
CREATE TABLE {s}.doc (
    ord integer PRIMARY KEY, id text NOT NULL UNIQUE, title text NOT NULL, version text NOT NULL,
    path text NOT NULL, hash text NOT NULL, scopes text[] NOT NULL
);
CREATE TABLE {s}.change (
    doc text NOT NULL, idx integer NOT NULL, version text NOT NULL, date text NOT NULL, nodes text[] NOT NULL,
    summary text NOT NULL, PRIMARY KEY (doc, idx)
);
CREATE TABLE {s}.node (
    ord integer NOT NULL, id text NOT NULL, doc text NOT NULL, doc_ord integer NOT NULL, node text NOT NULL,
    title text NOT NULL, type text NOT NULL, scopes text[] NOT NULL, cls integer NOT NULL, keywords text[] NOT NULL,
    dense_text text NOT NULL, full_text text NOT NULL, version text NOT NULL, hash text NOT NULL,
    heading_path text[] NOT NULL, confidence double precision, parent text, edges jsonb NOT NULL, assertion jsonb,
    dense_tokens integer NOT NULL, full_tokens integer NOT NULL,
    len_title integer NOT NULL, len_keywords integer NOT NULL, len_dense integer NOT NULL, len_content integer NOT NULL,
    body_words integer NOT NULL
);
CREATE TABLE {s}.class (
    cls integer PRIMARY KEY, scopes text[] NOT NULL, nodes integer NOT NULL,
    len_title bigint NOT NULL, len_keywords bigint NOT NULL, len_dense bigint NOT NULL, len_content bigint NOT NULL
);
CREATE TABLE {s}.doc_len (doc integer NOT NULL, cls integer NOT NULL, len bigint NOT NULL, PRIMARY KEY (doc, cls));
CREATE UNLOGGED TABLE {s}.posting_load (
    term text NOT NULL, node integer NOT NULL,
    tf_title integer NOT NULL, tf_keywords integer NOT NULL, tf_dense integer NOT NULL, tf_content integer NOT NULL
);
"""

# Postings are rewritten sorted by term, so one term's rows sit on adjacent pages; each carries the
# node's scope class, document, field lengths and body word count, so a query scores without touching
# `node`; (term, node) finds one node's posting of a term. `top` lists, per (term, scope class), the
# first TOP_MAX postings by their BM25 contribution under that class's own statistics and the default
# weights (`rnk` 1 = the largest): the candidates a search scores when a term matches too many nodes.
# Class statistics alone, so a caller's candidates do not depend on nodes it may not see.
# `doc_posting` holds a document's postings and length per scope class, `doc_posting_all` over all its
# classes: the document boost of a caller who sees one class, or every class, reads one row per
# (term, document) and no lengths table.
_FINISH = """
ALTER TABLE {s}.node ADD PRIMARY KEY (ord);
CREATE UNIQUE INDEX ON {s}.node (id);
CREATE INDEX ON {s}.node (node);
CREATE INDEX ON {s}.node (doc_ord, ord);
CREATE INDEX ON {s}.node (parent);
CREATE TABLE {s}.posting AS
    SELECT p.term, p.node, n.doc_ord AS doc, n.cls, p.tf_title, p.tf_keywords, p.tf_dense, p.tf_content,
           n.len_title, n.len_keywords, n.len_dense, n.len_content, n.body_words
    FROM {s}.posting_load p JOIN {s}.node n ON n.ord = p.node
    ORDER BY p.term, p.node;
DROP TABLE {s}.posting_load;
CREATE INDEX ON {s}.posting (term, node);
CREATE TABLE {s}.term AS
    SELECT term, cls, count(*) AS nodes,
           count(*) FILTER (WHERE tf_title > 0) AS df_title, count(*) FILTER (WHERE tf_keywords > 0) AS df_keywords,
           count(*) FILTER (WHERE tf_dense > 0) AS df_dense, count(*) FILTER (WHERE tf_content > 0) AS df_content
    FROM {s}.posting GROUP BY term, cls ORDER BY term;
CREATE INDEX ON {s}.term (term);
CREATE TABLE {s}.top AS
    WITH w AS (
        SELECT t.term, t.cls,
               {w_title}::float8 * ln(1 + (c.nodes - t.df_title + 0.5::float8) / (t.df_title + 0.5::float8)) AS it,
               {w_keywords}::float8 * ln(1 + (c.nodes - t.df_keywords + 0.5::float8) / (t.df_keywords + 0.5::float8)) AS ik,
               {w_dense}::float8 * ln(1 + (c.nodes - t.df_dense + 0.5::float8) / (t.df_dense + 0.5::float8)) AS id,
               {w_content}::float8 * ln(1 + (c.nodes - t.df_content + 0.5::float8) / (t.df_content + 0.5::float8)) AS ic,
               {k1}::float8 AS k1, {b}::float8 AS b,
               greatest(c.len_title::float8 / c.nodes, 1e-9) AS a_title,
               greatest(c.len_keywords::float8 / c.nodes, 1e-9) AS a_keywords,
               greatest(c.len_dense::float8 / c.nodes, 1e-9) AS a_dense,
               greatest(c.len_content::float8 / c.nodes, 1e-9) AS a_content
        FROM {s}.term t JOIN {s}.class c USING (cls)
    )
    SELECT term, cls, rnk, node FROM (
        SELECT p.term, p.cls, p.node, row_number() OVER (PARTITION BY p.term, p.cls ORDER BY
              w.it * p.tf_title / (p.tf_title + w.k1 * (1 - w.b + w.b * p.len_title / w.a_title))
            + w.ik * p.tf_keywords / (p.tf_keywords + w.k1 * (1 - w.b + w.b * p.len_keywords / w.a_keywords))
            + w.id * p.tf_dense / (p.tf_dense + w.k1 * (1 - w.b + w.b * p.len_dense / w.a_dense))
            + w.ic * p.tf_content / (p.tf_content + w.k1 * (1 - w.b + w.b * p.len_content / w.a_content)) DESC,
            p.node) AS rnk
        FROM {s}.posting p JOIN w USING (term, cls)
    ) r WHERE rnk <= {top_max} ORDER BY term, cls, rnk;
CREATE INDEX ON {s}.top (term, cls, rnk);
CREATE TABLE {s}.doc_posting AS
    SELECT p.term, p.doc, p.cls, sum(p.tf_content)::integer AS tf, l.len::integer AS len
    FROM {s}.posting p JOIN {s}.doc_len l USING (doc, cls) WHERE p.tf_content > 0
    GROUP BY p.term, p.doc, p.cls, l.len ORDER BY p.term, p.cls, p.doc;
CREATE INDEX ON {s}.doc_posting (term, cls);
CREATE TABLE {s}.doc_posting_all AS
    SELECT p.term, p.doc, sum(p.tf)::integer AS tf, l.len::integer AS len
    FROM {s}.doc_posting p JOIN (SELECT doc, sum(len) AS len FROM {s}.doc_len GROUP BY doc) l USING (doc)
    GROUP BY p.term, p.doc, l.len ORDER BY p.term, p.doc;
CREATE INDEX ON {s}.doc_posting_all (term);
CREATE TABLE {s}.edge AS
    SELECT n.id AS source, e->>'kind' AS kind, e->>'target' AS target FROM {s}.node n, jsonb_array_elements(n.edges) e;
CREATE INDEX ON {s}.edge (target);
ANALYZE {s}.doc; ANALYZE {s}.change; ANALYZE {s}.node; ANALYZE {s}.class; ANALYZE {s}.doc_len; ANALYZE {s}.posting;
ANALYZE {s}.term; ANALYZE {s}.top; ANALYZE {s}.doc_posting; ANALYZE {s}.doc_posting_all; ANALYZE {s}.edge;
"""


def schema_of(version: int) -> str:
    """Name of the schema holding `version`."""
    return f"{_PREFIX}{int(version)}"


def table(version: int, name: str) -> sql.Identifier:
    """The qualified name of table `name` of `version`."""
    return sql.Identifier(schema_of(version), name)


def load_ddl(version: int) -> sql.Composed:
    """Statements creating `version`'s schema and its (empty, unindexed) load tables."""
    return sql.SQL(_LOAD).format(s=sql.Identifier(schema_of(version)))


def finish_ddl(version: int) -> sql.Composed:
    """Statements deriving the search tables and indexes of a loaded `version`."""
    config = ObjectGraphConfig()
    weights = {f"w_{f}": sql.Literal(float(getattr(config.search_weights, f))) for f in FIELDS}
    return sql.SQL(_FINISH).format(
        s=sql.Identifier(schema_of(version)), k1=sql.Literal(config.bm25_k1), b=sql.Literal(config.bm25_b),
        top_max=sql.Literal(TOP_MAX), **weights,
    )

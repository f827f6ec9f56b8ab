"""Scale-out benchmarks → benchmarks/results/scale.json (each phase rewrites only its own key).

Phase `store` — one ogmux replica serving a generated corpus from files in memory, against one
serving the same corpus from PostgreSQL 15 (`[objectgraph] store`), at 10k, 100k and 1M nodes:
time from process start to /healthz (imports and app: the same for both) and to the first search
answer, the replica's CPU time by then, RSS after 200 searches, and search latency p50/p99 end to
end (stateless MCP tools/call over HTTP, one client), and interleaved with a replica whose role sees only the
public nodes (`scoped_ab_ms`: one scope class of two); plus the time one push takes (`push_snapshot`:
rows, postings, indexes, one transaction; parsing and checking the files is left out: it is the
work a memory replica repeats at every start). Goals at 1M nodes: start ≤ 2 s, RSS ≤ 500 MB,
search p50 ≤ 50 ms. Both replicas rank with BM25 (`ranking = "lexical"`); a second store replica ranks
hybrid (BM25 fused with the stored embeddings), and the two modes are also timed interleaved in one
process (`fusion_ab_ms`), with the size of the vector table and the CPU time of embedding the corpus.

Phase `ranking` — top-3 agreement of the store's search with the in-memory search on the og-dev
questions (../shared/data/og-dev, read if present), lexical against lexical and hybrid (BM25 fused with
the embeddings, the default) against hybrid, and how many in-memory hybrid top-3 entries hold no query
term (the store never ranks those).

The generated corpus: documents of 1000 nodes, each a titled section of ~60 words drawn from a
Zipf-distributed vocabulary of 50,000 made-up words plus operations terms (a real corpus's term
frequencies are Zipfian too), 3 keywords, a dense summary, a few edges; a quarter of the nodes are
scoped `ops`. PostgreSQL runs from the Debian package in a cluster of its own with fsync off and
shared_buffers = 1GB; replicas and PostgreSQL share the machine's cores.

Phase `haproxy` — calls/s of stateless search_index calls (demo corpus in memory, rate limits in a shared
Redis) from a fixed number of concurrent clients: straight to one replica, through haproxy to one
replica, and through haproxy to two replicas, with latency p50/p99 and the CPU time each process
(replicas, Redis, haproxy) spends per call. The replicas, Redis, haproxy and the load generator share
the machine's cores, so the two-replica calls/s is bounded by them; the CPU time per call is not,
and gives one replica's calls/s on a core of its own (`capacity_per_replica_core_calls_per_s`).

Phase `calls` — what each call agents and clients make most costs on the store path against the in-memory
path, in one process and one run, at 1k and 10k nodes (`--call-sizes`): og://docs, a page of og://doc/{doc},
og://node/{id} completions, search_index and resolve_context, wall p50/p99 per path, interleaved call by
call, with the store path's p50 over the memory path's and the load average; `store_uncached` is the store
path building the document list and each document's listing on every call, as it did before they were cached.

Usage: python benchmarks/bench_scale.py [--phase store,ranking,haproxy,calls] [--sizes 10000,100000,1000000]
       [--memory-max 100000] [--data DIR] [--store DSN] [--call-sizes 1000,10000]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import random
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import httpx
import psutil

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from ogmux.server.app import build_server
from ogmux.server.context import ToolContext
from ogmux.server.documents import STORE
from ogmux.server.mcp_resources import objectgraph as og
from ogmux.server.principal import principal_for
from ogmux.server.settings import load_settings
from ogmux.tools.objectgraph.config import ObjectGraphConfig
from ogmux.tools.objectgraph.corpus import Corpus, build_snapshot
from ogmux.tools.objectgraph.embedding import load_embedder
from ogmux.tools.objectgraph.model import Document, Edge, Node
from ogmux.tools.objectgraph.search import embedded_text, search_index
from ogmux.tools.objectgraph.snapshot import DocRecord, EdgeRecord, NodeRecord, Snapshot
from ogmux.tools.objectgraph.store import DocumentStore, StoreView, push_snapshot
from ogmux.tools.objectgraph.store.schema import schema_of
from ogmux.tools.objectgraph.untrusted import content_hash
from ogmux.tools.objectgraph.writer import render_document, with_og_layout
from tests.integration.engines import PG_BIN, Haproxy, PostgresServer, RedisServer, ogmux_replicas
from tests.integration.procs import free_port

OUT = ROOT / "benchmarks" / "results" / "scale.json"
DEFAULT_DATA = ROOT.parent / "shared" / "data" / "og-dev"
PER_DOC = 100
SEARCHES = 200
_TERMS = [
    "restart", "deploy", "rollout", "canary", "proxy", "certificate", "rotate", "secret", "policy", "route",
    "replica", "metrics", "latency", "queue", "worker", "cache", "shard", "partition", "schema", "migration",
    "rollback", "upgrade", "kernel", "volume", "disk", "memory", "cpu", "token", "backup",
]  # fmt: skip


def _vocabulary(n: int = 50_000, seed: int = 11) -> list[str]:
    rng = random.Random(seed)
    syllables = [c + v for c in "bcdfghklmnprstvz" for v in "aeiou"]
    words: dict[str, None] = dict.fromkeys(_TERMS)
    while len(words) < n:
        words["".join(rng.choices(syllables, k=rng.randint(2, 4)))] = None
    return list(words)


class _Zipf:
    """Words drawn with probability ∝ 1/rank."""

    def __init__(self, words: list[str], seed: int):
        self.words = words
        self.rng = random.Random(seed)
        self.cum = list(_cumulative(len(words)))

    def take(self, k: int) -> list[str]:
        return self.rng.choices(self.words, cum_weights=self.cum, k=k)


def _cumulative(n: int):
    total = 0.0
    for r in range(1, n + 1):
        total += 1.0 / r
        yield total


@dataclass(frozen=True)
class _Drawn:
    """One generated node before it becomes a document model or a snapshot record."""

    node: str
    title: str
    body: list[str]
    requires: str | None  # a node of the same document
    see_also: str | None  # "doc#node" anywhere in the corpus
    ops: bool  # scoped to "ops" (else public)
    keywords: list[str]


def _draw(n_nodes: int, seed: int) -> Iterator[tuple[int, str, list[_Drawn]]]:
    """The generated corpus, document by document: (number, id, nodes), the same draws for every caller."""
    words = _Zipf(_vocabulary(), seed)
    rng = random.Random(seed)
    n_docs = max(1, n_nodes // PER_DOC)
    for d in range(n_docs):
        nodes = []
        for i in range(min(PER_DOC, n_nodes)):
            body = words.take(60)
            title = " ".join(words.take(3)).capitalize()
            requires = f"n{rng.randrange(i):04d}" if i > 0 and rng.random() < 0.3 else None
            see_also = (
                f"gen-{rng.randrange(n_docs):05d}#n{rng.randrange(PER_DOC):04d}" if rng.random() < 0.05 else None
            )
            ops = rng.random() < 0.25
            nodes.append(_Drawn(f"n{i:04d}", title, body, requires, see_also, ops, words.take(3)))
        yield d, f"gen-{d:05d}", nodes


def _full(n: _Drawn) -> str:
    return f"## {n.title}\n\n{' '.join(n.body)}.\n\n"


def generate(n_nodes: int, seed: int = 7) -> Iterator[Document]:
    """`n_nodes` nodes in documents of PER_DOC nodes each."""
    for d, doc_id, drawn in _draw(n_nodes, seed):
        nodes = []
        for n in drawn:
            edges = [Edge(kind="requires", target=n.requires)] if n.requires else []
            if n.see_also:
                edges.append(Edge(kind="see-also", target=n.see_also))
            nodes.append(
                Node(
                    id=n.node, doc=doc_id, title=n.title, heading=n.title, level=2,
                    scopes=["ops"] if n.ops else ["public"], keywords=n.keywords, dense=" ".join(n.body[:12]) + ".",
                    derived_metadata=False, declared=True, edges=edges, full=_full(n),
                )
            )  # fmt: skip
        yield Document(id=doc_id, title=f"Generated {d}", version="1.0", nodes=nodes)


def records(n_nodes: int, seed: int = 7) -> Snapshot:
    """The same corpus as `generate`, built as snapshot records directly (no document models):
    what a corpus too large to also serve from memory needs (the push is what is measured)."""
    docs: dict[str, DocRecord] = {}
    nodes: dict[str, NodeRecord] = {}
    for d, doc_id, drawn in _draw(n_nodes, seed):
        ids = []
        for n in drawn:
            edges = [EdgeRecord("requires", f"{doc_id}#{n.requires}")] if n.requires else []
            if n.see_also:
                edges.append(EdgeRecord("see-also", n.see_also))
            full = _full(n)
            nid = f"{doc_id}#{n.node}"
            nodes[nid] = NodeRecord(
                id=nid, doc=doc_id, node=n.node, title=n.title, type="section",
                scopes=frozenset({"ops"}) if n.ops else frozenset(), keywords=tuple(n.keywords),
                dense=" ".join(n.body[:12]) + ".", full=full, version="1.0", hash=content_hash(full), edges=tuple(edges),
            )  # fmt: skip
            ids.append(nid)
        docs[doc_id] = DocRecord(doc_id, f"Generated {d}", "1.0", f"{doc_id}.og", content_hash(doc_id), tuple(ids))
    return Snapshot(docs=docs, nodes=nodes)


def write(root: Path, docs: list[Document]) -> None:
    """The documents as .og files (what a memory replica loads)."""
    for doc in docs:
        (root / f"{doc.id}.og").write_text(render_document(with_og_layout(doc)), encoding="utf-8")


def _queries(n: int, seed: int = 3) -> list[str]:
    """2-4 word questions from the mid-frequency band of the vocabulary (ranks 20-5000)."""
    vocab = _vocabulary()
    rng = random.Random(seed)
    return [" ".join(rng.choices(vocab[20:5000], k=rng.randint(2, 4))) for _ in range(n)]


def _pct(values: list[float], p: float) -> float:
    s = sorted(values)
    return s[min(len(s) - 1, round(p / 100 * (len(s) - 1)))]


async def _search(client: httpx.AsyncClient, url: str, query: str, call_id: int) -> dict:
    """One stateless JSON-RPC tools/call of search_index (no session: the server runs stateless HTTP)."""
    body = {"jsonrpc": "2.0", "id": call_id, "method": "tools/call",
            "params": {"name": "search_index", "arguments": {"query": query, "k": 8}}}  # fmt: skip
    r = await client.post(url, json=body, headers={"Accept": "application/json, text/event-stream"})
    r.raise_for_status()
    msg = r.json()
    if "error" in msg or msg["result"].get("isError"):
        raise RuntimeError(str(msg)[:300])
    return msg["result"]


def replica(config: Path, queries: list[str], timeout: float = 1800) -> dict:
    """Start `ogmux serve --http`; time to /healthz (imports, app) and to the first search answer (the corpus);
    then p50/p99 of searches, RSS and the replica's CPU time."""
    port = free_port()
    url = f"http://127.0.0.1:{port}/mcp"
    log = tempfile.TemporaryFile("w+")  # noqa: SIM115 - closed below
    cmd = [sys.executable, "-m", "ogmux", "serve", "--http", "--port", str(port), "--config", str(config)]
    started = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=log, stderr=log)

    async def run() -> dict:
        async with httpx.AsyncClient(timeout=timeout) as client:
            while True:
                if proc.poll() is not None:
                    log.seek(0)
                    raise RuntimeError(f"replica exited: {log.read()[-2000:]}")
                try:
                    if (await client.get(url.removesuffix("/mcp") + "/healthz")).status_code == 200:
                        break
                except httpx.TransportError:
                    await asyncio.sleep(0.05)
            healthz = time.perf_counter() - started
            while True:
                if proc.poll() is not None:
                    log.seek(0)
                    raise RuntimeError(f"replica exited: {log.read()[-2000:]}")
                try:
                    await _search(client, url, queries[0], 0)
                    break
                except (httpx.TransportError, httpx.HTTPStatusError):
                    if time.perf_counter() - started > timeout:
                        raise
                    await asyncio.sleep(0.05)
            first = time.perf_counter() - started
            rss_first = psutil.Process(proc.pid).memory_info().rss
            cpu = psutil.Process(proc.pid).cpu_times()
            ms = []
            for i, q in enumerate(queries[1:], 1):
                t = time.perf_counter()
                await _search(client, url, q, i)
                ms.append((time.perf_counter() - t) * 1000)
            return {
                "start_to_healthz_s": round(healthz, 2),
                "start_to_first_answer_s": round(first, 2),
                "cpu_s_at_first_answer": round(cpu.user + cpu.system, 2),
                "rss_mb_after_first_answer": round(rss_first / 2**20, 1),
                "rss_mb": round(psutil.Process(proc.pid).memory_info().rss / 2**20, 1),
                "search_ms": {"p50": round(_pct(ms, 50), 1), "p99": round(_pct(ms, 99), 1), "n": len(ms)},
            }

    try:
        return asyncio.run(run())
    finally:
        proc.terminate()
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


# A role that sees only the nodes without the generated corpus's `ops` scope (3 of 4): one scope class of two.
SCOPED_ROLE = ["[roles.reader]", 'scopes = ["public"]']


def _config(path: Path, role: str = "admin", **objectgraph: object) -> Path:
    lines = ["[server]", f"anonymous_role = {json.dumps(role)}", "json_response = true", "[audit]", 'sink = "off"', "[rate_limit]", "rate = 1e6", "burst = 1000000"]
    lines += ['[roles.admin]', *SCOPED_ROLE, "[objectgraph]"]
    lines += [f"{k} = {json.dumps(v)}" for k, v in {"ranking": "lexical", **objectgraph}.items()]
    path.write_text("\n".join(lines) + "\n")
    return path


def _tune(pg: PostgresServer) -> None:
    """More shared memory and sort memory than the defaults (a server sized for the corpus), then restart."""
    import psycopg

    with psycopg.connect(pg.dsn, autocommit=True) as conn:
        for key, value in (("shared_buffers", "1GB"), ("maintenance_work_mem", "1GB"), ("work_mem", "64MB")):
            conn.execute(f"ALTER SYSTEM SET {key} = '{value}'")
    pg.stop()
    pg.start()


def save(name: str, value: dict) -> None:
    """Rewrite `name` in the results file, keeping the other phases' results."""
    results = json.loads(OUT.read_text()) if OUT.exists() else {}
    if "sizes" in value:  # a run of some sizes keeps the other sizes' results
        value = {**value, "sizes": {**results.get(name, {}).get("sizes", {}), **value["sizes"]}}
    results[name] = value
    results.setdefault("machine", {})[name] = {
        "cpus": os.cpu_count(), "python": platform.python_version(), "load_avg_1min": os.getloadavg()[0],
        "postgres": str(PG_BIN / "postgres"),
    }  # fmt: skip
    OUT.write_text(json.dumps(results, indent=2) + "\n")


def _table_mb(pg: PostgresServer, version: int, name: str) -> float:
    import psycopg

    with psycopg.connect(pg.dsn) as conn:
        return conn.execute("SELECT pg_total_relation_size(%s)", (f"{schema_of(version)}.{name}",)).fetchone()[0] / 2**20


def _embed_cpu_s(snap: Snapshot) -> float:
    """CPU time a push spends embedding `snap` (a fresh model: nothing memoised)."""
    model = load_embedder.__wrapped__()
    texts = [embedded_text(snap.docs[n.doc].title, n) for n in snap.nodes.values()]
    c = time.process_time()
    model.embed(texts)
    return time.process_time() - c


def _fusion_ab(dsn: str, queries: list[str]) -> dict:
    """In-process StoreView.search latency, lexical and hybrid interleaved query by query (k=8)."""
    store = DocumentStore(dsn)
    try:
        view = StoreView(store)
        ms: dict[str, list[float]] = {"lexical": [], "hybrid": []}
        for q in queries:
            for name, times in ms.items():
                t = time.perf_counter()
                view.search(q, k=8, config=ObjectGraphConfig(reload=False, ranking=name))
                times.append((time.perf_counter() - t) * 1000)
    finally:
        store.close()
    return {name: {"p50": round(_pct(v, 50), 1), "p99": round(_pct(v, 99), 1)} for name, v in ms.items()}


def _du(pg: PostgresServer) -> float:
    import psycopg

    with psycopg.connect(pg.dsn) as conn:
        return conn.execute("SELECT pg_database_size(current_database())").fetchone()[0] / 2**20


def _vs_exact(dsn: str, queries: list[str]) -> dict:
    """The store's search (pruned where a term matches more than `store_candidates` nodes of a class) against
    the exact ranking (`store_candidates = 0`) in this process: top-3/top-10 overlap, identical top-10s, and
    the latency of each, interleaved (A/B); plus the first search's time on a fresh connection (the part of a
    replica's first answer that is SQL)."""
    pruned = ObjectGraphConfig(reload=False, ranking="lexical")
    exact = pruned.model_copy(update={"store_candidates": 0})
    store = DocumentStore(dsn)
    try:
        view = StoreView(store)
        t = time.perf_counter()
        view.search(queries[0], k=10, config=pruned)
        first_ms = (time.perf_counter() - t) * 1000
        top3, top10, identical, ms = [], [], 0, {"pruned": [], "exact": []}
        for q in queries:
            pages = {}
            for name, config in (("pruned", pruned), ("exact", exact)):
                t = time.perf_counter()
                pages[name] = [e.id for e in view.search(q, k=10, config=config).entries]
                ms[name].append((time.perf_counter() - t) * 1000)
            top3.append(_overlap(pages["pruned"][:3], pages["exact"][:3]))
            top10.append(_overlap(pages["pruned"], pages["exact"]))
            identical += pages["pruned"] == pages["exact"]
    finally:
        store.close()
    return {
        "queries": len(queries),
        "store_candidates": pruned.store_candidates,
        "top3_overlap": round(statistics.mean(top3), 3),
        "top10_overlap": round(statistics.mean(top10), 3),
        "identical_top10": identical,
        "in_process_search_ms": {k: {"p50": round(_pct(v, 50), 1), "p99": round(_pct(v, 99), 1)} for k, v in ms.items()},
        "first_search_ms": round(first_ms, 1),
        "load_avg_1min": os.getloadavg()[0],
    }


def _scoped_ab(dsn: str, queries: list[str], workdir: Path) -> dict:
    """Search latency end to end for the all-scope caller (role admin) and the scoped caller (role reader), one
    replica each on the same store, called alternately query by query (A/B, interleaved), with the load."""
    configs = [_config(workdir / f"{role}.toml", role=role, store=dsn) for role in ("admin", "reader")]
    ms: dict[str, list[float]] = {"all_scopes": [], "scoped": []}

    async def run(urls: list[str]) -> None:
        async with httpx.AsyncClient(timeout=600) as client:
            for url in urls:  # the first answer (statistics, connection pool) is not a search's latency
                await _search(client, url, queries[0], 0)
            for i, q in enumerate(queries[1:], 1):
                for url, times in zip(urls, ms.values(), strict=True):
                    t = time.perf_counter()
                    await _search(client, url, q, i)
                    times.append((time.perf_counter() - t) * 1000)

    load = [os.getloadavg()[0]]
    with ogmux_replicas(configs, workdir) as replicas:
        asyncio.run(run([r.url for r in replicas]))
    load.append(os.getloadavg()[0])
    out: dict = {name: {"p50": round(_pct(v, 50), 1), "p99": round(_pct(v, 99), 1), "n": len(v)} for name, v in ms.items()}
    out["scoped_role"] = "reader: scopes = [public], sees 1 of the 2 scope classes (no `ops` nodes)"
    out["load_avg_1min_before_after"] = load
    return out


def phase_store(sizes: list[int], memory_max: int, store: str = "") -> dict:
    """`store`: measure an already pushed corpus of `sizes[0]` nodes at that DSN instead of generating and
    pushing one (the push figures of the earlier run are kept and marked)."""
    out: dict = {"sizes": {}}
    queries = _queries(SEARCHES + 1)
    before = json.loads(OUT.read_text()).get("store", {}).get("sizes", {}) if OUT.exists() else {}
    if store:
        n = sizes[0]
        row = {k: v for k, v in before.get(str(n), {}).items() if k not in ("store", "vs_exact")}
        row.setdefault("push_reused", "generate/push figures from the earlier run; this run measured the store at --store")
        with tempfile.TemporaryDirectory() as tmp:
            row["store"] = replica(_config(Path(tmp) / "store.toml", store=store), queries)
            row["scoped_ab_ms"] = _scoped_ab(store, queries, Path(tmp))
        row["vs_exact"] = _vs_exact(store, queries[1:101])
        out["sizes"][str(n)] = row
        return out
    pg = PostgresServer()
    try:
        pg.init()
        pg.start()
        pg.create_database()
        _tune(pg)
        for n in sizes:
            row: dict = {}
            with tempfile.TemporaryDirectory() as tmp:
                root = Path(tmp) / "corpus"
                root.mkdir()
                t = time.perf_counter()
                if n <= memory_max:
                    docs = list(generate(n))
                    snap, _ = build_snapshot(docs)
                    write(root, docs)
                    del docs
                else:
                    snap = records(n)
                row["generate_s"] = round(time.perf_counter() - t, 1)
                t, c = time.perf_counter(), time.process_time()
                pushed = push_snapshot(pg.dsn, snap)
                row["push_s"] = round(time.perf_counter() - t, 1)
                row["push_cpu_s"] = round(time.process_time() - c, 1)
                row["postings"] = pushed.postings
                if n <= 100_000:  # the embedding share of the push (1M: minutes more, and 2 GB for the texts)
                    row["embed_cpu_s"] = round(_embed_cpu_s(snap), 1)
                del snap
                row["database_mb"] = round(_du(pg), 0)
                row["vec_mb"] = round(_table_mb(pg, pushed.version, "vec"), 1)
                row["store"] = replica(_config(Path(tmp) / "store.toml", store=pg.dsn), queries)
                row["store_hybrid"] = replica(_config(Path(tmp) / "hybrid.toml", store=pg.dsn, ranking="hybrid"), queries)
                row["scoped_ab_ms"] = _scoped_ab(pg.dsn, queries, Path(tmp))
                row["fusion_ab_ms"] = _fusion_ab(pg.dsn, queries)
                row["vs_exact"] = _vs_exact(pg.dsn, queries[1:101])
                out["sizes"][str(n)] = row
                save("store", out)
                if n <= memory_max:
                    row["memory"] = replica(_config(Path(tmp) / "memory.toml", corpus=str(root), reload=False), queries)
                elif "memory" in before.get(str(n), {}):  # measured by an earlier run (the corpus is the same)
                    row["memory"] = before[str(n)]["memory"]
                else:
                    row["memory"] = {"skipped": f"not run above {memory_max} nodes (--memory-max)"}
            out["sizes"][str(n)] = row
            save("store", out)  # each size as soon as it is measured (1M takes long)
    finally:
        pg.cleanup()
    return out


def _overlap(a: list[str], b: list[str]) -> float:
    return len(set(a) & set(b)) / max(1, len(a))


def phase_ranking(data: Path) -> dict:
    if not (data / "questions.jsonl").is_file():
        return {"skipped": f"og-dev not found at {data}"}
    questions = [json.loads(line) for line in (data / "questions.jsonl").read_text().splitlines() if line.strip()]
    lexical = ObjectGraphConfig(reload=False, ranking="lexical")
    hybrid = ObjectGraphConfig(reload=False)
    snap = Corpus(data / "docs", lexical).snapshot()
    pg = PostgresServer()
    try:
        pg.init()
        pg.start()
        pg.create_database()
        push_snapshot(pg.dsn, snap)
        store = DocumentStore(pg.dsn)
        view = StoreView(store)
        overlap: dict[str, list[float]] = {"lexical": [], "hybrid": [], "lexical_vs_memory_hybrid": []}
        identical = {"lexical": 0, "hybrid": 0}
        unmatched = 0  # memory-hybrid top-3 entries holding no query term (never store candidates)
        ms: dict[str, list[float]] = {"lexical": [], "hybrid": []}
        for q in questions:
            pages = {}
            for name, config in (("lexical", lexical), ("hybrid", hybrid)):  # A/B, interleaved
                t = time.perf_counter()
                pages[name] = view.search(q["question"], k=3, config=config)
                ms[name].append((time.perf_counter() - t) * 1000)
            mem = {name: search_index(snap, q["question"], k=3, config=c) for name, c in (("lexical", lexical), ("hybrid", hybrid))}
            matched = {e.id for e in search_index(snap, q["question"], k=len(snap.nodes), config=lexical).entries}
            unmatched += sum(e.id not in matched for e in mem["hybrid"].entries)
            for name in ("lexical", "hybrid"):
                got, want = [e.id for e in pages[name].entries], [e.id for e in mem[name].entries]
                overlap[name].append(_overlap(got, want))
                identical[name] += pages[name].entries == mem[name].entries
            overlap["lexical_vs_memory_hybrid"].append(
                _overlap([e.id for e in pages["lexical"].entries], [e.id for e in mem["hybrid"].entries])
            )
        store.close()
    finally:
        pg.cleanup()
    return {
        "questions": len(questions),
        "nodes": len(snap.nodes),
        "top3_overlap_vs_memory_lexical": round(statistics.mean(overlap["lexical"]), 3),
        "top3_overlap_vs_memory_hybrid": round(statistics.mean(overlap["hybrid"]), 3),
        "top3_overlap_store_lexical_vs_memory_hybrid": round(statistics.mean(overlap["lexical_vs_memory_hybrid"]), 3),
        "identical_top3_vs_memory_lexical": identical["lexical"],
        "identical_top3_vs_memory_hybrid": identical["hybrid"],
        "memory_hybrid_top3_entries_without_a_query_term": unmatched,
        "store_search_ms_p50": {name: round(_pct(v, 50), 1) for name, v in ms.items()},
        "note": "store lexical = field-weighted BM25 in SQL over the caller's visible nodes (the in-memory formula); "
        "store hybrid = its best 100 BM25 rows re-ordered by the in-memory fusion with the stored embeddings; "
        "identical = same ids, scores and order (totals differ in hybrid mode: memory also counts nodes with no "
        "query term whose cosine reaches min_similarity); search ms = in-process StoreView.search, og-dev, k=3",
    }


HAPROXY_CLIENTS = 8
HAPROXY_SECONDS = 10.0
HAPROXY_QUERIES = [
    "rate limit per principal", "does ogmux need a GPU", "restart a vLLM replica", "static bearer tokens",
    "route a request to the cheapest model", "audit log rotation", "convert Markdown to ObjectGraph",
    "document scopes for a role", "which clients can connect", "token budget for resolve_context",
]  # fmt: skip


def _cpu_s(pids: dict[str, int]) -> dict[str, float]:
    return {name: sum(psutil.Process(pid).cpu_times()[:2]) for name, pid in pids.items()}


async def _load(url: str, queries: list[str], clients: int, seconds: float, pids: dict[str, int]) -> dict:
    """`clients` concurrent callers, each sending one call after another for `seconds` (after a warm-up);
    calls/s, latency, and the CPU time each process (`pids`) spent per call, which does not depend on
    what else runs on the machine."""
    ms: list[float] = []
    failed: list[str] = []

    async def caller(c: int, until: float, record: bool) -> None:
        async with httpx.AsyncClient(timeout=60) as client:
            i = c
            while time.perf_counter() < until:
                t = time.perf_counter()
                try:
                    await _search(client, url, queries[i % len(queries)], i)
                except (httpx.HTTPError, RuntimeError) as exc:
                    if record:
                        failed.append(f"{type(exc).__name__}: {exc}"[:200])
                    await asyncio.sleep(0.01)
                    continue
                if record:
                    ms.append((time.perf_counter() - t) * 1000)
                i += clients

    await asyncio.gather(*(caller(c, time.perf_counter() + 1.0, False) for c in range(clients)))
    cpu0 = _cpu_s(pids)
    started = time.perf_counter()
    await asyncio.gather(*(caller(c, started + seconds, True) for c in range(clients)))
    elapsed = time.perf_counter() - started
    cpu = {name: t - cpu0[name] for name, t in _cpu_s(pids).items()}
    return {
        "calls_per_s": round(len(ms) / elapsed, 1),
        "calls": len(ms),
        "failed": len(failed),
        "first_failure": failed[0] if failed else None,
        "latency_ms": {"p50": round(_pct(ms, 50), 1), "p99": round(_pct(ms, 99), 1)},
        "cpu_ms_per_call": {name: round(t * 1000 / max(1, len(ms)), 2) for name, t in cpu.items()},
    }


def _replica_config(path: Path, redis_url: str) -> Path:
    lines = ["[server]", 'anonymous_role = "admin"', "json_response = true", "[audit]", 'sink = "off"']
    lines += ["[rate_limit]", "rate = 1e6", "burst = 1000000", "[state]", f'url = "{redis_url}"']
    path.write_text("\n".join(lines) + "\n")
    return path


def phase_haproxy(clients: int = HAPROXY_CLIENTS, seconds: float = HAPROXY_SECONDS) -> dict:
    out: dict = {"clients": clients, "seconds_each": seconds, "tool": "search_index (k = 8), demo corpus"}
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        redis = RedisServer(work / "redis")
        redis.start()
        try:
            configs = [_replica_config(work / f"ogmux-{i}.toml", redis.url) for i in range(2)]
            with ogmux_replicas(configs, work) as replicas:
                pids = {f"ogmux_{i}": r.proc.pid for i, r in enumerate(replicas)} | {"redis": redis.proc.pid}
                out["direct_1_replica"] = asyncio.run(_load(replicas[0].url, HAPROXY_QUERIES, clients, seconds, pids))
                for n in (1, 2):
                    proxy = Haproxy(work, [r.port for r in replicas[:n]])
                    proxy.start()
                    try:
                        key = "haproxy_1_replica" if n == 1 else f"haproxy_{n}_replicas"
                        with_proxy = pids | {"haproxy": proxy.proc.pid}
                        out[key] = asyncio.run(_load(proxy.url, HAPROXY_QUERIES, clients, seconds, with_proxy))
                    finally:
                        proxy.stop()
        finally:
            redis.stop()
    one, two = out["haproxy_1_replica"]["calls_per_s"], out["haproxy_2_replicas"]["calls_per_s"]
    out["speedup_2_vs_1"] = round(two / one, 2) if one else None
    # What the machine's load does not change: replica CPU per call bounds one replica's calls/s on a free core.
    per_call = out["haproxy_2_replicas"]["cpu_ms_per_call"]
    replica_ms = sum(v for k, v in per_call.items() if k.startswith("ogmux_"))
    out["capacity_per_replica_core_calls_per_s"] = round(1000 / replica_ms, 1) if replica_ms else None
    return out


CALL_SIZES = "1000,10000"
T = TypeVar("T")
CALLS = 100  # timed calls of each kind, per path and role
HOT_DOCS = 10  # the documents the page and completion calls go round (each read 10 times)


class _Uncached(DocumentStore):
    """The store path before document lists and listings were cached: each is built per call."""

    def cached(self, name: str, key: object, build: Callable[[], T], size: int = 64) -> T:
        return build() if name in ("documents", "listing") else super().cached(name, key, build, size)


def _call_server(root: Path, dsn: str = "", uncached: bool = False):
    """A server (in-process, no transport) on the corpus files in memory, or (`dsn`) on the document store."""
    source = {"objectgraph.store": dsn} if dsn else {"objectgraph.corpus": str(root), "objectgraph.reload": False}
    settings = load_settings(None, **{
        "roles": {"admin": {}, "reader": {"tools": ["search_index", "resolve_context"], "scopes": ["public"]}},
        "rate_limit": {"rate": 1e6, "burst": 1_000_000}, "audit.sink": "off", "objectgraph.ranking": "lexical",
        **source,
    })  # fmt: skip
    server = build_server(settings, transport="memory")
    if uncached:
        store = server.state.component(STORE, lambda _settings: _Uncached(dsn))
        server.state.add_closer(store.close)
    return settings, server


def _calls(public: list[str], queries: list[str]) -> dict:
    """The i-th call of each kind: function of (server, context, i) -> its value, or an awaitable."""

    def doc(i: int) -> str:
        return f"gen-{i * 7 % HOT_DOCS:05d}"

    prefixes = [lambda i: "", lambda i: "gen-", doc, lambda i: f"{doc(i)}#n00", lambda i: f"{doc(i)}#n004"]
    return {
        "docs": lambda s, ctx, i: og.docs(ctx),
        "doc_page": lambda s, ctx, i: og.doc(ctx, doc(i), ""),
        "completion": lambda s, ctx, i: og.complete_node(ctx, "id", prefixes[i % len(prefixes)](i)),
        "search_index": lambda s, ctx, i: s.run_tool("search_index", {"query": queries[i], "k": 8}, ctx.principal),
        "resolve_context": lambda s, ctx, i: s.run_tool(
            "resolve_context", {"ids": [public[i * 31 % len(public)]]}, ctx.principal
        ),
    }


async def _time_calls(servers: dict, public: list[str], queries: list[str], role: str) -> dict:
    """Each kind of call on every path, interleaved call by call (each path first in turn, so none always
    follows the same one): wall ms p50/p99 per path, and each path's p50 over the first path's (the in-memory
    baseline)."""
    ctxs = {name: ToolContext(principal=principal_for(st, "bench", role), state=s.state) for name, (st, s) in servers.items()}
    out: dict = {}
    for kind, call in _calls(public, queries).items():
        ms: dict[str, list[float]] = {name: [] for name in servers}
        names = list(servers)
        for i in range(-1, CALLS):  # call -1 warms up: loads the corpus, opens the pool, fills the caches once
            for name in names[i % len(names) :] + names[: i % len(names)]:  # each path first in turn
                server = servers[name][1]
                t = time.perf_counter()
                result = call(server, ctxs[name], max(i, 0))
                if asyncio.iscoroutine(result):
                    await result
                if i >= 0:
                    ms[name].append((time.perf_counter() - t) * 1000)
        row: dict = {name: {"p50": round(_pct(v, 50), 3), "p99": round(_pct(v, 99), 3)} for name, v in ms.items()}
        base = next(iter(ms))
        for name in list(ms)[1:]:
            row[f"{name}_over_{base}_p50"] = round(row[name]["p50"] / max(row[base]["p50"], 1e-3), 1)
        row["load_avg_1min"] = round(os.getloadavg()[0], 2)
        out[kind] = row
    return out


async def _roles(servers: dict, public: list[str], queries: list[str]) -> dict:
    """`_time_calls` for the scoped role and the all-scope role; the servers are closed after."""
    try:
        return {role: await _time_calls(servers, public, queries, role) for role in ("reader", "admin")}
    finally:
        for _, server in servers.values():
            await server.state.aclose()


def phase_calls(sizes: list[int]) -> dict:
    """The calls agents and clients make most, on the same generated corpus in memory and in the store."""
    out: dict = {"sizes": {}, "calls_per_kind": CALLS, "note": (
        "in-process calls (no transport) on one server per path, interleaved call by call; memory = corpus files "
        "in memory, store = PostgreSQL (lexical ranking), store_uncached = the store path building the document "
        f"list and each listing per call (as before they were cached). Calls: og://docs; the first page of "
        f"og://doc/{{doc}} going round {HOT_DOCS} documents of {PER_DOC} nodes; og://node/{{id}} completions "
        "(prefixes '', 'gen-', a document id, 'doc#n00', 'doc#n004'); search_index (k=8); resolve_context of one "
        "public node. Role reader sees the public nodes (one scope class of two), admin every node"
    )}  # fmt: skip
    queries = _queries(CALLS)
    pg = PostgresServer()
    try:
        pg.init()
        pg.start()
        pg.create_database()
        for n in sizes:
            with tempfile.TemporaryDirectory() as tmp:
                root = Path(tmp) / "corpus"
                root.mkdir()
                docs = list(generate(n))
                snap, _ = build_snapshot(docs)
                write(root, docs)
                push_snapshot(pg.dsn, snap)
                public = [nid for nid, node in snap.nodes.items() if "ops" not in node.scopes]
                servers = {
                    "memory": _call_server(root),
                    "store": _call_server(root, pg.dsn),
                    "store_uncached": _call_server(root, pg.dsn, uncached=True),
                }
                out["sizes"][str(n)] = asyncio.run(_roles(servers, public, queries))
            print(n, json.dumps(out["sizes"][str(n)]), flush=True)
    finally:
        pg.cleanup()
    return out

PHASES = {
    "store": lambda a: phase_store(a.sizes, a.memory_max, a.store),
    "ranking": lambda a: phase_ranking(a.data),
    "haproxy": lambda a: phase_haproxy(),
    "calls": lambda a: phase_calls(a.call_sizes),
}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--phase", default="ranking,store", help=f"comma-separated: {', '.join(PHASES)}")
    p.add_argument("--sizes", default="10000,100000,1000000", type=lambda s: [int(x) for x in s.split(",")])
    p.add_argument("--memory-max", type=int, default=100_000, help="largest corpus also served from memory")
    p.add_argument("--data", type=Path, default=DEFAULT_DATA, help="og-dev directory (docs/ + questions.jsonl)")
    p.add_argument("--call-sizes", default=CALL_SIZES, type=lambda s: [int(x) for x in s.split(",")],
                   help="phase calls: corpus sizes (nodes)")
    p.add_argument("--store", default="", help="phase store: measure this already pushed corpus of --sizes nodes")
    args = p.parse_args()
    for name in args.phase.split(","):
        t = time.perf_counter()
        save(name, {**PHASES[name](args), "seconds": round(time.perf_counter() - t, 1)})


if __name__ == "__main__":
    main()

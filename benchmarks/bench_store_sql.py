"""The SQL of the store path's calls, A/B in one process: the fetcher and views of BEFORE (loaded from git) against
today's, on the same 10k-node generated corpus in PostgreSQL (bench_scale.py's generator; role reader, who
sees the public nodes).

Measured per call: statements sent (pool check included; BEGIN/COMMIT not), and wall ms p50/p99 of 200
calls interleaved call by call: search_index (lexical, k=8), resolve_context of one node, og://node source,
a document's changelog, and the build of a document's listing (the cache emptied before each). BEFORE
found a document's nodes by document id (a scan of every node), read documents and their changelogs in two
statements, and a search's ranked rows and their records in two.

Writes benchmarks/results/store_sql.json (or --out) with the 1-minute load average at start and end (the
machine may be shared: statement counts do not depend on it, wall times do). Without git (or the commit),
the JSON says so and holds today's figures only.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

import psycopg

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "benchmarks" / "results" / "store_sql.json"
sys.path.insert(0, str(ROOT))

from benchmarks.bench_scale import _pct, _queries, generate
from ogmux.tools.objectgraph.config import ObjectGraphConfig
from ogmux.tools.objectgraph.corpus import build_snapshot
from ogmux.tools.objectgraph.store import DocumentStore, StoreView, push_snapshot
from tests.integration.engines import PostgresServer

BEFORE = "2f7dc05"
NODES = 10_000
CALLS = 200
READER = frozenset({"public"})
CONFIG = ObjectGraphConfig(reload=False, ranking="lexical")


def _before() -> type | None:
    """StoreView of BEFORE with its own fetcher, loaded from git (None without either)."""
    modules = []
    for name, path in (("before_fetch", "tools/objectgraph/store/fetch.py"), ("before_views", "tools/objectgraph/store/views.py")):
        try:
            show = ["git", "-C", str(ROOT), "show", f"{BEFORE}:{path}"]
            source = subprocess.run(show, capture_output=True, text=True, check=True).stdout
        except (OSError, subprocess.CalledProcessError):
            return None
        source = source.replace("from ogmux.tools.objectgraph.store.fetch import", "from before_fetch import")
        module = sys.modules[name] = ModuleType(name)
        exec(compile(source, f"{BEFORE}:{path}", "exec"), module.__dict__)  # noqa: S102 - the project's own code
        modules.append(module)
    return modules[1].StoreView


def _calls(store: DocumentStore) -> dict[str, Callable[[Any, int], object]]:
    queries = _queries(CALLS)

    def node(i: int) -> str:
        return f"gen-{i % 100:05d}#n{i * 7 % 100:04d}"

    def listing(view: Any, i: int) -> object:
        store._caches.pop("listing", None)  # the build is what is measured
        return view.document_listing(f"gen-{i * 13 % 100:05d}", READER)

    return {
        "search_index": lambda v, i: v.search(queries[i], k=8, scopes=READER, config=CONFIG),
        "resolve_context": lambda v, i: v.resolve([node(i)], scopes=READER, config=CONFIG),
        "node_source": lambda v, i: v.node_source(node(i + 1), READER),
        "changelog": lambda v, i: v.changelog(f"gen-{i * 13 % 100:05d}", READER),
        "listing_build": listing,
    }


def measure(store: DocumentStore, views: dict[str, type]) -> dict[str, object]:
    sent = [0]
    execute = psycopg.Connection.execute

    def counted(self: psycopg.Connection, *args: Any, **kwargs: Any) -> Any:
        sent[0] += 1
        return execute(self, *args, **kwargs)

    out: dict[str, object] = {}
    psycopg.Connection.execute = counted  # type: ignore[method-assign]
    try:
        for kind, call in _calls(store).items():
            ms: dict[str, list[float]] = {name: [] for name in views}
            statements: dict[str, list[int]] = {name: [] for name in views}
            for i in range(-3, CALLS):  # the first calls fill the statistics cache and prepare statements
                for name, view in views.items():
                    sent[0] = 0
                    t = time.perf_counter()
                    try:
                        call(view(store), max(i, 0))
                    except LookupError:  # a node or document the reader may not see: answered all the same
                        pass
                    if i >= 0:
                        ms[name].append((time.perf_counter() - t) * 1000)
                        statements[name].append(sent[0])
            out[kind] = {
                name: {"p50_ms": round(_pct(v, 50), 3), "p99_ms": round(_pct(v, 99), 3),
                       "statements": round(statistics.mean(statements[name]), 2)}
                for name, v in ms.items()
            }  # fmt: skip
            print(kind, out[kind], flush=True)
    finally:
        psycopg.Connection.execute = execute  # type: ignore[method-assign]
    return out


def main(out: Path) -> None:
    result: dict[str, object] = {"nodes": NODES, "calls": CALLS, "load_avg_1min_start": round(os.getloadavg()[0], 2)}
    before = _before()
    result["before"] = BEFORE if before else f"left out: git show {BEFORE} failed"
    views = {"before": before, "after": StoreView} if before else {"after": StoreView}
    pg = PostgresServer()
    try:
        pg.init()
        pg.start()
        pg.create_database()
        snap, _ = build_snapshot(list(generate(NODES)))
        push_snapshot(pg.dsn, snap)
        store = DocumentStore(pg.dsn)
        try:
            result["by_call"] = measure(store, views)
        finally:
            store.close()
    finally:
        pg.cleanup()
    result["load_avg_1min_end"] = round(os.getloadavg()[0], 2)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=OUT)
    main(parser.parse_args().out)

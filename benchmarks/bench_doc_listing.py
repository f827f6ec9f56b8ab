"""What a node-id completion and a page of a document's index cost, A/B in the same run on a generated
4,000-node document (every fifth node admin-only; the reader sees 3,200):

- `before`: the code of BEFORE (the last commit before listings were cached), loaded from git: every
  completion and page built the document's whole visible index;
- `rebuild`: today's code with the snapshot's cache of listings bypassed (a listing built per call);
- `cached`: today's code, a listing built once per snapshot, scope key and document.

Measured: CPU per `og://node/{id}` completion (the resource's completion function), per prefix; CPU per
`og://doc/big?start=N` page and for reading every page following the next-page links (`cached_cold`: the
first reader of the snapshot, who builds the listing and counts the rows' tokens); another principal's
`search_index` p50/p90/max wall latency (40 sequential searches) alone, and while one principal floods
completions through the server's gate at the default rate limit (each full bucket spent at once).

Writes benchmarks/results/doc_listing.json (or --out) with the 1-minute load average next to each figure
(the machine may be shared: CPU time is the figure to compare, wall time is noisy). Without git (or the
commit), `before` is left out and the JSON says so.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path
from types import ModuleType
from typing import Self

import anyio
from mcp.types import CompletionArgument, ResourceTemplateReference

REPO = Path(__file__).resolve().parents[1]
OUT = REPO / "benchmarks" / "results" / "doc_listing.json"
sys.path.insert(0, str(REPO))

from ogmux.server.app import build_server
from ogmux.server.context import ToolContext
from ogmux.server.documents import snapshot_for
from ogmux.server.mcp_resources import objectgraph as og
from ogmux.server.principal import principal_for
from ogmux.server.settings import load_settings
from ogmux.tools.objectgraph.snapshot import Snapshot
from ogmux.tools.objectgraph.store import MemoryView

NODES = 4000
PREFIXES = ["", "big#", "big#s1", "big#s12", "big#s123", "big#s3999", "big#nope"]
BEFORE = "9d1fa23"


def _corpus(root: Path) -> None:
    parts = ['<!-- og:meta id=big title="Big runbook" version=1.0 scope=public -->\n']
    for i in range(NODES):
        scope = "admin" if i % 5 == 4 else "public"
        edge = f"\n:requires s{i - 1}\n" if i else " "
        parts.append(
            f"<!-- og:node id=s{i} type=steps scopes={scope}{edge}-->\n## Section {i} of the runbook\n\n"
            f"Restart worker {i} when its queue holds more than {i * 10} jobs, then check the logs of pool {i}.\n\n"
        )
    (root / "big.og").write_text("".join(parts), encoding="utf-8")


def _server(tmp: Path):
    corpus = tmp / "corpus"
    corpus.mkdir()
    _corpus(corpus)
    settings = load_settings(None, **{
        "roles": {"admin": {}, "reader": {"tools": ["search_index", "resolve_context"], "scopes": ["public"]}},
        "server.stdio_role": "reader",
        "objectgraph.corpus": str(corpus),
        "audit.sink": "off",
    })  # fmt: skip
    return settings, build_server(settings, transport="memory")


def _load() -> float:
    return round(os.getloadavg()[0], 2)


def _before() -> tuple[ModuleType, ModuleType] | None:
    """The listing module and the og:// resource module of BEFORE, loaded from git (None without either)."""
    out = []
    for name, path in (("before_listing", "tools/objectgraph/listing.py"),
                       ("before_resources", "server/mcp_resources/objectgraph.py")):  # fmt: skip
        try:
            show = ["git", "-C", str(REPO), "show", f"{BEFORE}:{path}"]
            source = subprocess.run(show, capture_output=True, text=True, check=True).stdout
        except (OSError, subprocess.CalledProcessError):
            return None
        module = sys.modules[name] = ModuleType(name)
        exec(compile(source, f"{BEFORE}:{path}", "exec"), module.__dict__)  # noqa: S102 - the project's own code
        out.append(module)
    return out[0], out[1]


class _Variant:
    """One variant (see the module docstring), set up on the server while used as a context manager."""

    def __init__(self, server, name: str, before: tuple[ModuleType, ModuleType] | None):
        self.server, self.name = server, name
        self.snap = snapshot_for(ToolContext(principal=server.default_principal, state=server.state))
        self.og: ModuleType = before[1] if name == "before" and before else og
        self._listing = before[0] if name == "before" and before else None
        self._specs = server.resource_specs

    def __enter__(self) -> Self:
        snap, old = self.snap, self._listing
        if self.name == "rebuild":
            snap.cached = lambda name, key, build, size=16: (  # type: ignore[method-assign]
                build() if name == "listing" else Snapshot.cached(snap, name, key, build, size)
            )
        if old is not None:
            MemoryView.document_index = lambda view, doc, scopes=None: old.document_index(view.snapshot, doc, scopes)  # type: ignore[method-assign]
            self.server.resource_specs = [replace(s, complete=self.og.complete_node) if s.uri == "og://node/{id}" else s
                                          for s in self._specs]  # fmt: skip
        return self

    def __exit__(self, *exc: object) -> None:
        self.snap.__dict__.pop("cached", None)
        MemoryView.document_index = _DOCUMENT_INDEX  # type: ignore[method-assign]
        self.server.resource_specs = self._specs

    def cold(self) -> None:
        """Drop the listings built so far (the next reader builds them again)."""
        self.snap._caches.pop("listing", None)


_DOCUMENT_INDEX = MemoryView.document_index


def completions(server, variant: _Variant, rounds: int = 20) -> dict[str, object]:
    ctx = ToolContext(principal=server.default_principal, state=server.state)
    variant.og.complete_node(ctx, "id", "big#")  # the first build is not what a repeated completion costs
    per_prefix = {}
    for prefix in PREFIXES:
        cpu = 0.0
        for _ in range(rounds):
            t = time.process_time()
            values = variant.og.complete_node(ctx, "id", prefix)
            cpu += time.process_time() - t
        per_prefix[prefix or "(empty)"] = {"cpu_ms": round(cpu / rounds * 1000, 3), "values": len(values)}
    mean = statistics.mean(v["cpu_ms"] for v in per_prefix.values())  # type: ignore[misc]
    return {"cpu_ms_mean": round(mean, 3), "by_prefix": per_prefix, "load1": _load()}


def pages(server, variant: _Variant, cold: bool = False) -> dict[str, object]:
    ctx = ToolContext(principal=server.default_principal, state=server.state)
    if cold:  # the first reader of this snapshot pays the build and counts the rows' tokens
        variant.cold()
    start, cpu, count, chars = "", [], 0, 0
    while True:
        t = time.process_time()
        text = variant.og.doc(ctx, "big", start)
        cpu.append(time.process_time() - t)
        count, chars = count + 1, chars + len(text)
        nxt = re.search(r"\?start=(\d+),", text)
        if nxt is None:
            break
        start = nxt[1]
    return {
        "pages": count,
        "chars": chars,
        "cpu_ms_per_page": round(sum(cpu) / count * 1000, 3),
        "cpu_ms_max_page": round(max(cpu) * 1000, 3),
        "cpu_s_all_pages": round(sum(cpu), 3),
        "load1": _load(),
    }


async def _searches(server, principal, n: int = 40) -> list[float]:
    out = []
    for i in range(n):
        t = time.perf_counter()
        await server.run_tool("search_index", {"query": f"restart worker {i * 37} queue"}, principal)
        out.append(time.perf_counter() - t)
        await anyio.sleep(0.1)
    return out


async def flood(server, settings) -> dict[str, object]:
    other = principal_for(settings, "other", "reader")
    ref = ResourceTemplateReference(type="ref/resource", uri="og://node/{id}")
    await _searches(server, other, 1)  # builds the search index of the snapshot
    alone = await _searches(server, other)
    outcomes = {"ok": 0, "refused": 0}
    rate = settings.rate_limit

    async def complete(i: int) -> None:
        try:
            await server._complete(ref, CompletionArgument(name="id", value=f"big#s{i % 400}"), None)
            outcomes["ok"] += 1
        except Exception:  # noqa: BLE001 - rate limited or busy: the flood goes on
            outcomes["refused"] += 1

    during: list[float] = []
    cpu = time.process_time()
    async with anyio.create_task_group() as tg:

        async def measure() -> None:
            during.extend(await _searches(server, other))

        tg.start_soon(measure)
        i = 0
        while not during:  # every full refill of the bucket spent at once: the allowed rate, in bursts
            for _ in range(rate.burst):
                tg.start_soon(complete, i)
                i += 1
            await anyio.sleep(rate.burst / rate.rate)
    cpu = time.process_time() - cpu

    def ms(xs: list[float]) -> dict[str, float]:
        p90 = statistics.quantiles(xs, n=10)[-1]
        return {"p50_ms": round(statistics.median(xs) * 1000, 2), "p90_ms": round(p90 * 1000, 2),
                "max_ms": round(max(xs) * 1000, 2)}

    return {"alone": ms(alone), "during_flood": ms(during), "flood": outcomes, "cpu_s": round(cpu, 3), "load1": _load()}


async def main(out: Path) -> None:
    result: dict[str, object] = {"nodes": NODES, "visible_to_reader": NODES - NODES // 5}
    with tempfile.TemporaryDirectory() as tmp:
        settings, server = _server(Path(tmp))
        try:
            before = _before()
            variants = ("before", "rebuild", "cached") if before else ("rebuild", "cached")
            result["before"] = BEFORE if before else f"left out: git show {BEFORE} failed"
            result["completion"] = {}
            for name in (*variants, *variants):  # interleaved twice; the second run of each is kept
                with _Variant(server, name, before) as variant:
                    result["completion"][name] = completions(server, variant)  # type: ignore[index]
            print("completion", result["completion"], flush=True)
            result["pages"] = {}
            for name in (*variants, "cached_cold", *variants):
                with _Variant(server, name.split("_")[0], before) as variant:
                    result["pages"][name] = pages(server, variant, name.endswith("cold"))  # type: ignore[index]
            print("pages", result["pages"], flush=True)
            result["flood"] = {}
            for name in variants:
                with _Variant(server, name, before):
                    result["flood"][name] = await flood(server, settings)  # type: ignore[index]
                print("flood", name, result["flood"][name], flush=True)  # type: ignore[index]
        finally:
            await server.state.aclose()
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=OUT)
    anyio.run(main, parser.parse_args().out)

"""The server's gate under abuse, in process (the gate is the same for every transport):

- flood: one principal starts 42 concurrent 8 s `solve_milp` calls; meanwhile another principal
  makes 20 sequential `resolve_context` calls: their p50 and max latency, and what the flood got;
- cancel: a 60 s solve is cancelled 2 s in: how long the call took to end (it ends once its solve
  has stopped), and the process's CPU use over the 2 s after that;
- audit flood: 25 calls to an unknown tool with a 3.5 MB name as a reader limited to 5 calls at once:
  how many were refused by the rate limit, audit bytes written, longest audit line.

Writes benchmarks/results/gate.json (or --out). Goals: the other principal's calls all answer in
under 50 ms during the flood, a cancelled call ends within 1 s, audit lines at most 2 KB.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

import anyio

REPO = Path(__file__).resolve().parents[1]
OUT = REPO / "benchmarks" / "results" / "gate.json"
sys.path.insert(0, str(REPO))

from ogmux.server.app import ToolCallError, build_server
from ogmux.server.principal import principal_for
from ogmux.server.settings import load_settings
from tests.tools.solver.conftest import market_split

MODEL = market_split(3, m=6, n=60).model_dump(mode="json")  # runs to any time limit given


def _server(tmp: Path, **overrides):
    settings = load_settings(None, **{
        "roles": {"admin": {}, "reader": {"tools": ["server_info", "search_index", "resolve_context"]},
                  "limited": {"tools": ["server_info"], "rate_limit": {"rate": 1.0, "burst": 5}}},
        "rate_limit": {"rate": 100.0, "burst": 200},
        "audit.sink": "file",
        "audit.path": str(tmp / "audit.jsonl"),
        **overrides,
    })  # fmt: skip
    return settings, build_server(settings, transport="memory")


async def flood(tmp: Path) -> dict:
    settings, server = _server(tmp)
    flooder, other = principal_for(settings, "flooder", "admin"), principal_for(settings, "other", "reader")
    outcomes: list[str] = []

    async def solve() -> None:
        try:
            await server.run_tool("solve_milp", {"model": MODEL, "limits": {"time_limit_s": 8}}, flooder)
            outcomes.append("ok")
        except ToolCallError as exc:
            outcomes.append(exc.outcome)

    latencies: list[float] = []
    await server.run_tool("resolve_context", {"ids": ["ogmux-faq"], "level": "index"}, other)  # warm corpus
    async with anyio.create_task_group() as tg:
        for _ in range(42):
            tg.start_soon(solve)
        await anyio.sleep(1.0)
        others_start = time.perf_counter()
        for _ in range(20):
            start = time.perf_counter()
            await server.run_tool("resolve_context", {"ids": ["ogmux-faq"], "level": "index"}, other)
            latencies.append((time.perf_counter() - start) * 1000)
        others_total = time.perf_counter() - others_start
        finished_first = {o: outcomes.count(o) for o in sorted(set(outcomes))}
        tg.cancel_scope.cancel()
    await server.state.aclose()
    return {
        "other_principal_p50_ms": round(statistics.median(latencies), 2),
        "other_principal_max_ms": round(max(latencies), 2),
        "other_principal_20_calls_s": round(others_total, 3),
        "flood_outcomes_before_the_other_calls_ended": finished_first,
    }


async def cancel(tmp: Path) -> dict:
    _, server = _server(tmp)
    admin = server.default_principal
    start = time.perf_counter()
    with anyio.move_on_after(2.0):
        await server.run_tool("solve_milp", {"model": MODEL, "limits": {"time_limit_s": 60}}, admin)
    returned_after = time.perf_counter() - start - 2.0  # the cancelled call returns once its solve stopped
    await anyio.sleep(0.5)
    cpu0, wall0 = time.process_time(), time.perf_counter()
    await anyio.sleep(2.0)
    cpu_pct = 100 * (time.process_time() - cpu0) / (time.perf_counter() - wall0)
    await server.state.aclose()
    return {
        "call_ended_s_after_cancel": round(returned_after, 2),
        "cpu_percent_over_2_s_after_it_ended": round(cpu_pct, 1),
        "solve_time_limit_s": 60,
    }


async def audit_flood(tmp: Path) -> dict:
    _, server = _server(tmp, **{"server.stdio_role": "limited"})
    name = "A" * 3_500_000
    start = time.perf_counter()
    for _ in range(25):
        await server.call_tool(name, {})  # the MCP entry point: gate and audit line
    elapsed = time.perf_counter() - start
    await server.state.aclose()
    raw = (tmp / "audit.jsonl").read_bytes()
    records = [json.loads(line) for line in raw.splitlines()]
    return {
        "calls": 25,
        "outcomes": {o: [r["outcome"] for r in records].count(o) for o in sorted({r["outcome"] for r in records})},
        "audit_bytes": len(raw),
        "longest_line_bytes": max(len(line) for line in raw.splitlines()),
        "seconds": round(elapsed, 2),
    }


async def main(out: Path) -> None:
    result = {}
    for name, fn in (("flood", flood), ("cancel", cancel), ("audit_flood", audit_flood)):
        with tempfile.TemporaryDirectory() as tmp:
            result[name] = await fn(Path(tmp))
            print(name, result[name], flush=True)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=OUT)
    anyio.run(main, parser.parse_args().out)

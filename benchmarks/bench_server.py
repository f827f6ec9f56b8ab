"""Server overhead: `server_info` through ogmux vs a bare MCPServer with a no-op tool.

All run as real processes at the same time, driven from one client process:
- p50/p99 latency of sequential calls over streamable HTTP (stateless, SSE responses: the SDK's
  and ogmux's default) and stdio,
  one call to each server in turn, so that load swings of the shared machine hit all alike;
- calls/s with 16 concurrent HTTP clients (median of 4 rounds in alternating order);
- idle RSS of each server process.
A second bare tool returns a structured result, so that the client's output-schema validation
(which every structured tool pays) is in both sides of `http_p50_vs_structured`.
Writes benchmarks/results/server.json. Goals: p50 within 1.2x of the bare baseline, >= 300 calls/s.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import mcp
from mcp import StdioServerParameters

REPO = Path(__file__).resolve().parents[1]
OUT = REPO / "benchmarks" / "results" / "server.json"
sys.path.insert(0, str(REPO))
from tests.integration.procs import free_port

BARE = '''
import sys
from mcp.server import MCPServer
from pydantic import BaseModel
app = MCPServer("bare")

@app.tool()
def noop() -> str:
    """Does nothing."""
    return "ok"


class Info(BaseModel):
    name: str
    version: str
    tools: list[str]


@app.tool()
def noop_structured() -> Info:
    """Does nothing, with a structured result the client validates like server_info's."""
    return Info(name="bare", version="0", tools=["noop"])

if sys.argv[1] == "http":
    import anyio, uvicorn
    web = app.streamable_http_app(stateless_http=True)
    uvicorn.run(web, host="127.0.0.1", port=int(sys.argv[2]), log_level="error", access_log=False)
else:
    app.run()
'''

SEQ_CALLS = int(os.environ.get("BENCH_SEQ_CALLS", "400"))
CONC_CLIENTS = 16
CONC_CALLS = int(os.environ.get("BENCH_CONC_CALLS", "60"))  # per client
THROUGHPUT_ROUNDS = 4


def _pct(xs: list[float], q: float) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, round(q * (len(xs) - 1)))]


def _rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def _start(cmd: list[str], port: int, env: dict[str, str]) -> subprocess.Popen:
    proc = subprocess.Popen(
        cmd, cwd=REPO, env={**os.environ, **env}, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            httpx.get(f"http://127.0.0.1:{port}/", timeout=1)
            return proc
        except httpx.TransportError:
            time.sleep(0.2)
    proc.kill()
    raise RuntimeError(f"server did not start: {cmd}")


async def _interleaved(clients: dict[str, tuple[mcp.Client, str]]) -> dict[str, list[float]]:
    """Sequential calls, one to each server in turn (rotating the order), so that every server
    sees the same machine state: on a shared machine, back-to-back blocks would measure the drift."""
    for c, tool in clients.values():
        for _ in range(20):  # warm-up
            await c.call_tool(tool, {})
    names = list(clients)
    lat: dict[str, list[float]] = {n: [] for n in names}
    for i in range(SEQ_CALLS):
        k = i % len(names)
        for name in names[k:] + names[:k]:
            c, tool = clients[name]
            t = time.perf_counter()
            r = await c.call_tool(tool, {})
            lat[name].append((time.perf_counter() - t) * 1000)
            assert not r.is_error
    return lat


async def _throughput(url: str, tool: str) -> float:
    async def worker() -> None:
        async with mcp.Client(url) as c:
            for _ in range(CONC_CALLS):
                assert not (await c.call_tool(tool, {})).is_error

    t = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(CONC_CLIENTS)))
    return CONC_CLIENTS * CONC_CALLS / (time.perf_counter() - t)


def _latency(lat: list[float]) -> dict:
    return {"p50_ms": statistics.median(lat), "p99_ms": _pct(lat, 0.99)}


async def _measure_http(servers: dict[str, tuple[list[str], int, str, dict[str, str]]]) -> dict:
    """All servers run at once; latencies interleaved, throughput in rounds of alternating order."""
    procs = {name: _start(cmd, port, env) for name, (cmd, port, _, env) in servers.items()}
    try:
        await asyncio.sleep(1.0)
        out = {name: {"idle_rss_mb": _rss_mb(p.pid)} for name, p in procs.items()}
        urls = {name: f"http://127.0.0.1:{port}/mcp" for name, (_, port, _, _) in servers.items()}
        async with contextlib.AsyncExitStack() as stack:
            clients = {
                name: (await stack.enter_async_context(mcp.Client(urls[name])), servers[name][2])
                for name in servers
            }
            for name, lat in (await _interleaved(clients)).items():
                out[name].update(_latency(lat))
        rates: dict[str, list[float]] = {name: [] for name in servers}
        names = list(servers)
        for r in range(THROUGHPUT_ROUNDS):
            for name in names if r % 2 == 0 else names[::-1]:
                rates[name].append(await _throughput(urls[name], servers[name][2]))
        for name, xs in rates.items():
            out[name]["calls_per_s_16_clients"] = statistics.median(xs)
        return out
    finally:
        for p in procs.values():
            p.terminate()
            p.wait(10)


async def _measure_stdio(servers: dict[str, tuple[list[str], str, dict[str, str]]]) -> dict:
    async with contextlib.AsyncExitStack() as stack:
        clients = {}
        for name, (cmd, tool, env) in servers.items():
            params = StdioServerParameters(
                command=cmd[0], args=cmd[1:], cwd=str(REPO), env={**os.environ, **env}
            )
            clients[name] = (await stack.enter_async_context(mcp.Client(params)), tool)
        return {name: _latency(lat) for name, lat in (await _interleaved(clients)).items()}


async def main() -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        bare = Path(tmp) / "bare_server.py"
        bare.write_text(BARE)
        # ogmux as deployed: audit lines written to a file, rate limit high enough not to interfere.
        env = {
            "OGMUX_AUDIT__SINK": "file",
            "OGMUX_AUDIT__PATH": str(Path(tmp) / "audit.jsonl"),
            "OGMUX_RATE_LIMIT__RATE": "100000",
            "OGMUX_RATE_LIMIT__BURST": "100000",
            "OGMUX_SERVER__LOG_LEVEL": "ERROR",
        }
        results: dict = {"machine": {"cpus": os.cpu_count(), "load_avg_at_start": os.getloadavg()[0]}}
        pb, po, ps = free_port(), free_port(), free_port()
        results.update(
            await _measure_http(
                {
                    "bare_http": ([sys.executable, str(bare), "http", str(pb)], pb, "noop", {}),
                    "ogmux_http": (
                        [sys.executable, "-m", "ogmux", "serve", "--http", "--port", str(po)],
                        po,
                        "server_info",
                        env,
                    ),
                    "bare_http_structured": (
                        [sys.executable, str(bare), "http", str(ps)],
                        ps,
                        "noop_structured",
                        {},
                    ),
                }
            )
        )
        results.update(
            await _measure_stdio(
                {
                    "bare_stdio": ([sys.executable, str(bare), "stdio"], "noop", {}),
                    "bare_stdio_structured": ([sys.executable, str(bare), "stdio"], "noop_structured", {}),
                    "ogmux_stdio": ([sys.executable, "-m", "ogmux", "serve"], "server_info", env),
                }
            )
        )
    results["ratios"] = {
        "http_p50": results["ogmux_http"]["p50_ms"] / results["bare_http"]["p50_ms"],
        "http_p99": results["ogmux_http"]["p99_ms"] / results["bare_http"]["p99_ms"],
        "stdio_p50": results["ogmux_stdio"]["p50_ms"] / results["bare_stdio"]["p50_ms"],
        "throughput": results["ogmux_http"]["calls_per_s_16_clients"]
        / results["bare_http"]["calls_per_s_16_clients"],
        # against a bare tool whose structured result the client validates too: the server's own overhead
        "http_p50_vs_structured": results["ogmux_http"]["p50_ms"] / results["bare_http_structured"]["p50_ms"],
        "stdio_p50_vs_structured": results["ogmux_stdio"]["p50_ms"]
        / results["bare_stdio_structured"]["p50_ms"],
    }
    results["goals"] = {
        "p50_within_1.2x_http": results["ratios"]["http_p50"] <= 1.2,
        "p50_within_1.2x_stdio": results["ratios"]["stdio_p50"] <= 1.2,
        "at_least_300_calls_per_s": results["ogmux_http"]["calls_per_s_16_clients"] >= 300,
    }
    return results


if __name__ == "__main__":
    res = asyncio.run(main())
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps(res, indent=2))
    print(json.dumps(res, indent=2))

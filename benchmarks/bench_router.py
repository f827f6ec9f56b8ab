"""Router overhead on the real CPU vLLM: `chat` through ogmux (MCP over streamable HTTP) vs the same
request straight to vLLM with the `openai` SDK, in one run; plus the in-process decision time.

Two modes, each measured as below: "plain" (the MCP call carries no progress token, so ogmux asks
vLLM for the whole answer; the direct request is not streamed either) and "streamed" (the call
carries a progress token, so ogmux streams from vLLM and sends progress; the direct request is
streamed).
- sequential latency (greedy, same prompt and max_tokens on both paths, interleaved):
  p50/p99 of each path, and the added latency as percentiles of the paired differences
  (ogmux − the direct call just before it), which cancels most of the machine's load swings, and
  the CPU time the ogmux server process spent per call (independent of the neighbours);
- throughput with 8 concurrent streams on each path, with identical requests (32 tokens, which
  finish in lock-step) and with a cycle of lengths (16-48 tokens), in many short rounds of ABBA order
  after a warm-up run
  (requests/s and completion tokens/s; median ratio over rounds with its 95% bootstrap interval,
  and the ratio of total times), with the CPU time the ogmux server and the
  vLLM process tree spent per request: on a CPU-bound machine the throughput ratio tends to
  vLLM / (vLLM + ogmux) CPU per request, a figure far less sensitive to the neighbours' load
  than the wall-clock ratio;
- decision time of `Router.decide` for the static / cost_quality / load / cascade policies, wall
  and thread CPU time (cascade with a predictor and calibration fitted on synthetic prompts: timing
  only). The 1-minute load average is recorded: on a shared 2-core machine wall-clock tails
  measure the neighbours as much as ogmux.

Starts its own vLLM server on the tiny MoE checkpoint the integration tests build (or uses
--vllm-url URL --model NAME) and an `ogmux serve --http` process routing to it.
With --pin the vLLM server gets the first CPU to itself and the clients and ogmux share the rest,
as when the router runs beside a GPU server; written to --out (e.g. router_pinned.json).
Writes benchmarks/results/router.json. Goals: decision p99 < 1 ms for rule/score policies,
added p50 <= 5 ms, throughput >= 0.95x direct.
"""

from __future__ import annotations

import argparse
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

import mcp
import numpy as np
import openai
import psutil

REPO = Path(__file__).resolve().parents[1]
OUT = REPO / "benchmarks" / "results" / "router.json"
sys.path.insert(0, str(REPO))
from ogmux.router.calibration import fit_threshold
from ogmux.router.config import RouterConfig
from ogmux.router.core import Router
from ogmux.router.quality import QualityPredictor
from ogmux.router.types import ChatRequest
from tests.integration.procs import ogmux_started
from tests.integration.vllm_harness import VllmServer, build_tiny_moe, start_servers, stop_servers

PROMPT = "Summarise the plan of the house in one sentence."
MAX_TOKENS = 32
# Identical requests finish in lock-step, so every per-request cost lands in one burst between
# batches; a cycle of lengths spreads completions out as real traffic does.
MIXED_LENGTHS = (16, 24, 32, 40, 48)


def _pct(xs: list[float], q: float) -> float:
    return float(np.percentile(np.asarray(xs), q))


async def _direct_once(
    client: openai.AsyncOpenAI, model: str, stream: bool, max_tokens: int = MAX_TOKENS
) -> tuple[float, int]:
    t0 = time.perf_counter()
    args = {"model": model, "messages": [{"role": "user", "content": PROMPT}], "max_tokens": max_tokens, "temperature": 0}
    if not stream:
        done = await client.chat.completions.create(**args)
        return time.perf_counter() - t0, done.usage.completion_tokens
    chunks = await client.chat.completions.create(**args, stream=True, stream_options={"include_usage": True})
    tokens = 0
    async for chunk in chunks:
        if chunk.usage is not None:
            tokens = chunk.usage.completion_tokens
    return time.perf_counter() - t0, tokens


async def _ignore_progress(done: float, total: float | None, message: str | None) -> None:
    return None


async def _ogmux_once(
    session: mcp.Client, model: str, stream: bool, max_tokens: int = MAX_TOKENS
) -> tuple[float, int]:
    """`chat` through ogmux; with `stream` the call asks for progress, so ogmux streams from vLLM."""
    t0 = time.perf_counter()
    res = await session.call_tool(
        "chat",
        {
            "messages": [{"role": "user", "content": PROMPT}],
            "model": model,
            "max_tokens": max_tokens,
            "temperature": 0,
        },
        progress_callback=_ignore_progress if stream else None,
    )
    dt = time.perf_counter() - t0
    if res.is_error:
        raise RuntimeError(res.content[0].text)
    return dt, res.structured_content["result"]["usage"]["completion_tokens"]


async def _throughput(call, sessions: list, total: int, lengths: tuple[int, ...]) -> dict:
    """`total` calls over the sessions; call i asks for lengths[i % len(lengths)] tokens."""
    queue = [lengths[i % len(lengths)] for i in range(total)]
    tokens = [0]

    async def worker(s):
        while queue:
            _, n = await call(s, queue.pop())
            tokens[0] += n

    t0 = time.perf_counter()
    await asyncio.gather(*(worker(s) for s in sessions))
    wall = time.perf_counter() - t0
    return {"requests_per_s": total / wall, "completion_tokens_per_s": tokens[0] / wall, "wall_s": wall}


async def _serve_benchmark(
    vllm_url: str,
    model: str,
    mcp_url: str,
    n_seq: int,
    n_conc: int,
    rounds: int,
    ogmux_pid: int,
    vllm_pid: int | None,
    stream: bool,
) -> dict:
    direct = openai.AsyncOpenAI(base_url=f"{vllm_url}/v1", api_key="x")  # the SDK's default retries
    async with mcp.Client(mcp_url) as warm:
        for _ in range(3):
            await _ogmux_once(warm, model, stream)
            await _direct_once(direct, model, stream)
        d_lat, o_lat = [], []
        cpu0 = _cpu_seconds(ogmux_pid)
        for _ in range(n_seq):  # interleaved so both paths see the same machine state
            d_lat.append((await _direct_once(direct, model, stream))[0])
            o_lat.append((await _ogmux_once(warm, model, stream))[0])
        cpu_per_call_ms = (_cpu_seconds(ogmux_pid) - cpu0) / n_seq * 1e3
    async with contextlib.AsyncExitStack() as stack:
        clients = [await stack.enter_async_context(mcp.Client(mcp_url)) for _ in range(8)]

        def paths(lengths: tuple[int, ...]) -> dict:
            return {
                "ogmux": lambda: _throughput(lambda s, m: _ogmux_once(s, model, stream, m), clients, n_conc, lengths),
                "direct": lambda: _throughput(lambda s, m: _direct_once(s, model, stream, m), [direct] * 8, n_conc, lengths),
            }  # fmt: skip

        same = await _rounds(paths((MAX_TOKENS,)), rounds, n_conc, ogmux_pid, vllm_pid)
        mixed = await _rounds(paths(MIXED_LENGTHS), rounds, n_conc, ogmux_pid, vllm_pid)
    diffs = [o - d for o, d in zip(o_lat, d_lat, strict=True)]
    return {
        "sequential": {
            "requests": n_seq,
            "direct_p50_ms": _pct(d_lat, 50) * 1e3, "direct_p99_ms": _pct(d_lat, 99) * 1e3,
            "ogmux_p50_ms": _pct(o_lat, 50) * 1e3, "ogmux_p99_ms": _pct(o_lat, 99) * 1e3,
            "added_p50_ms": (_pct(o_lat, 50) - _pct(d_lat, 50)) * 1e3,
            "added_p99_ms": (_pct(o_lat, 99) - _pct(d_lat, 99)) * 1e3,
            "paired_added_p50_ms": _pct(diffs, 50) * 1e3,
            "paired_added_p99_ms": _pct(diffs, 99) * 1e3,
            "ogmux_server_cpu_ms_per_call": cpu_per_call_ms,
        },
        "concurrent_8": same,
        "concurrent_8_mixed_lengths": {"max_tokens_cycle": list(MIXED_LENGTHS), **mixed},
    }  # fmt: skip


async def _rounds(paths: dict, rounds: int, n_conc: int, ogmux_pid: int, vllm_pid: int | None) -> dict:
    """Throughput of both paths in ABBA rounds after one unrecorded warm-up run of each."""
    for run_path in paths.values():
        await run_path()
    runs: dict[str, list[dict]] = {"ogmux": [], "direct": []}
    for i in range(rounds):  # ABBA order: both paths share the machine's load swings and drift
        for name in ("ogmux", "direct") if i % 2 == 0 else ("direct", "ogmux"):
            cpu0 = (_cpu_seconds(ogmux_pid), _tree_cpu_seconds(vllm_pid))
            run = await paths[name]()
            run["ogmux_cpu_ms_per_request"] = (_cpu_seconds(ogmux_pid) - cpu0[0]) / n_conc * 1e3
            if vllm_pid is not None:
                run["vllm_cpu_ms_per_request"] = (_tree_cpu_seconds(vllm_pid) - cpu0[1]) / n_conc * 1e3
            runs[name].append(run)
    o_runs, d_runs = runs["ogmux"], runs["direct"]
    ratios = [o["requests_per_s"] / d["requests_per_s"] for o, d in zip(o_runs, d_runs, strict=True)]
    cpu_bound = None
    if vllm_pid is not None:
        vllm_ms = statistics.median(r["vllm_cpu_ms_per_request"] for r in o_runs)
        ogmux_ms = statistics.median(r["ogmux_cpu_ms_per_request"] for r in o_runs)
        cpu_bound = {
            "vllm_cpu_ms_per_request": vllm_ms,
            "ogmux_cpu_ms_per_request": ogmux_ms,
            "throughput_ratio_if_cpu_bound": vllm_ms / (vllm_ms + ogmux_ms),
        }
    return {
        "requests_per_run": n_conc, "rounds": rounds,
        "direct": d_runs, "ogmux": o_runs,
        "ratio_requests_per_s_per_round": ratios,
        "ratio_requests_per_s": statistics.median(ratios),
        "ratio_requests_per_s_ci95": _median_ci(ratios),
        "ratio_total_time": sum(r["wall_s"] for r in d_runs) / sum(r["wall_s"] for r in o_runs),
        "cpu_accounting": cpu_bound,
    }  # fmt: skip


def _median_ci(xs: list[float], resamples: int = 2000) -> list[float]:
    """95% bootstrap interval of the median of `xs` (percentile method, fixed seed)."""
    rng = np.random.default_rng(0)
    meds = np.median(rng.choice(np.asarray(xs), size=(resamples, len(xs))), axis=1)
    return [float(np.percentile(meds, 2.5)), float(np.percentile(meds, 97.5))]


def _decision_benchmark(backends: list[dict], n: int) -> dict:
    hard = ["prove that the series converges", "derive the closed form of the recurrence"]
    easy = ["say hello to my friend", "what colour is the sky"]
    prompts = [p + f" {i}" for i in range(40) for p in hard + easy]
    pred = QualityPredictor().fit(prompts, [1, 1, 0, 0] * 40)
    rng = np.random.default_rng(0)
    labels = (np.array([1, 1, 0, 0] * 40) & (rng.random(160) < 0.9)).astype(int)
    cal = fit_threshold(
        pred.predict_batch(prompts), labels, alpha=0.1, delta=0.1, source="synthetic (timing only)"
    )
    cfg = RouterConfig(backends=backends, rules=[{"model": backends[-1]["name"], "contains": ["prove"]}])
    router = Router(cfg, predictor=pred, calibration=cal)
    out = {}
    for policy in ("static", "cost_quality", "load", "cascade"):
        req = ChatRequest(
            messages=[{"role": "user", "content": PROMPT}], policy=policy, max_tokens=MAX_TOKENS
        )
        router.decide(req)
        wall, cpu = [], []
        for _ in range(n):
            t0, c0 = time.perf_counter(), time.thread_time()
            router.decide(req)
            cpu.append(time.thread_time() - c0)
            wall.append(time.perf_counter() - t0)
        out[policy] = {
            "p50_us": _pct(wall, 50) * 1e6, "p99_us": _pct(wall, 99) * 1e6,
            "cpu_p50_us": _pct(cpu, 50) * 1e6, "cpu_p99_us": _pct(cpu, 99) * 1e6, "calls": n,
        }  # fmt: skip
    return out


def _cpu_seconds(pid: int) -> float:
    """utime + stime of a process (Linux /proc), in seconds."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _tree_cpu_seconds(pid: int | None) -> float:
    """CPU seconds of a process and its children (vLLM runs its engine in a child process)."""
    if pid is None:
        return 0.0
    root = psutil.Process(pid)
    total = 0.0
    for p in [root, *root.children(recursive=True)]:
        with contextlib.suppress(psutil.Error):
            t = p.cpu_times()
            total += t.user + t.system
    return total


def _ogmux_process(config: Path, log: Path) -> tuple[subprocess.Popen, str]:
    """`ogmux serve --http` on a port the system gives; the process and the MCP URL its start-up line names."""
    cmd = [sys.executable, "-m", "ogmux", "serve", "--http", "--port", "0", "--config", str(config)]
    with log.open("ab") as out:
        proc = subprocess.Popen(cmd, cwd=REPO, stdout=out, stderr=subprocess.STDOUT)
    try:
        return proc, ogmux_started(proc, lambda: log.read_text(errors="replace"), 60)
    except BaseException:
        proc.kill()
        raise


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--vllm-url", default="", help="use this running vLLM server instead of starting one")
    ap.add_argument("--model", default="tiny", help="served model name (with --vllm-url)")
    ap.add_argument("--sequential", type=int, default=100)
    ap.add_argument("--concurrent-requests", type=int, default=16, help="requests per throughput run")
    ap.add_argument(
        "--rounds",
        type=int,
        default=24,
        help="throughput rounds per path, in ABBA order; many short rounds average out the host's swings",
    )
    ap.add_argument("--decisions", type=int, default=5000)
    ap.add_argument(
        "--pin",
        action="store_true",
        help="vLLM on the first CPU, this process, its clients and ogmux on the others: the engine gets "
        "its own core, as when the router runs beside a GPU server (needs >= 2 CPUs; not with --vllm-url)",
    )
    ap.add_argument("--out", type=Path, default=OUT)
    args = ap.parse_args()
    pinning = None
    if args.pin:
        cpus = sorted(os.sched_getaffinity(0))
        if len(cpus) < 2 or args.vllm_url:
            ap.error("--pin needs at least 2 CPUs and a vLLM server started by the benchmark")
        pinning = {"vllm": cpus[:1], "clients_and_ogmux": cpus[1:]}
        os.sched_setaffinity(0, cpus[1:])  # before any thread or child exists, so all inherit it
    # vLLM closes idle keep-alive connections after 5 s by default; a client reusing one at that
    # moment gets a connection error, which the sequential phases (7 of 8 pooled connections idle)
    # would otherwise provoke.
    os.environ.setdefault("VLLM_HTTP_TIMEOUT_KEEP_ALIVE", "75")
    work = Path(tempfile.mkdtemp(prefix="ogmux-bench-router-"))
    servers: list[VllmServer] = []
    url, model = args.vllm_url, args.model
    if not url:
        model = "tiny"
        vllm_cpus = frozenset(pinning["vllm"]) if pinning else None
        servers = [VllmServer(model, work / "vllm.log", cpus=vllm_cpus)]
        start_servers(servers, build_tiny_moe(work), work)
        url = servers[0].url
    backends = [
        {"name": model, "kind": "vllm", "replicas": [url], "price_in_per_mtok": 0.1, "price_out_per_mtok": 0.2},
        {"name": "hosted-strong", "kind": "openai", "model": "gpt-x", "context_length": 128000,
         "price_in_per_mtok": 2.5, "price_out_per_mtok": 10, "quality": 0.9},
    ]  # fmt: skip
    config = work / "ogmux.toml"
    # The per-principal rate limit (20 calls/s by default) would throttle the throughput runs.
    config.write_text(
        "[rate_limit]\nrate = 100000.0\nburst = 100000\n[router]\npoll_interval_s = 1.0\n[[router.backends]]\n"
        + "".join(f"{k} = {json.dumps(v)}\n" for k, v in backends[0].items())
    )
    ogmux, ogmux_url = _ogmux_process(config, work / "ogmux.log")
    try:
        runs = {
            mode: asyncio.run(
                _serve_benchmark(
                    url,
                    model,
                    ogmux_url,
                    args.sequential,
                    args.concurrent_requests,
                    args.rounds,
                    ogmux.pid,
                    servers[0].proc.pid if servers else None,
                    stream=mode == "streamed",
                )
            )
            for mode in ("plain", "streamed")
        }
        decide = _decision_benchmark(backends, args.decisions)
    finally:
        ogmux.terminate()
        ogmux.wait(10)
        stop_servers(servers)
    seq, conc = runs["plain"]["sequential"], runs["plain"]["concurrent_8"]
    s_seq, s_conc = runs["streamed"]["sequential"], runs["streamed"]["concurrent_8"]
    result = {
        "benchmark": "router",
        "engine": "vllm-cpu 0.32.0, tiny random-weight Qwen3-MoE (2 layers, 8 experts top-2), 2-core CPU",
        "load_average_1m_at_end": os.getloadavg()[0],
        "cpu_pinning": pinning,
        "request": {"prompt": PROMPT, "max_tokens": MAX_TOKENS, "temperature": 0},
        "modes": {
            "plain": "chat without a progress token (ogmux asks vLLM for the whole answer) vs a direct "
            "non-streamed request",
            "streamed": "chat with a progress token (ogmux streams from vLLM and sends progress) vs a direct "
            "streamed request",
        },
        **runs["plain"],
        "streamed": runs["streamed"],
        "decision_time": decide,
        "goals": {
            "decision_p99_under_1ms_rule_score": all(
                decide[p]["p99_us"] < 1000 for p in ("static", "cost_quality", "load")
            ),
            "decision_cpu_p99_under_1ms_rule_score": all(
                decide[p]["cpu_p99_us"] < 1000 for p in ("static", "cost_quality", "load")
            ),
            "added_p50_at_most_5ms": seq["paired_added_p50_ms"] <= 5.0,
            "throughput_at_least_0.95x": conc["ratio_requests_per_s"] >= 0.95,
            "streamed_added_p50_at_most_5ms": s_seq["paired_added_p50_ms"] <= 5.0,
            "streamed_throughput_at_least_0.95x": s_conc["ratio_requests_per_s"] >= 0.95,
            "mixed_lengths_throughput_at_least_0.95x": runs["plain"]["concurrent_8_mixed_lengths"][
                "ratio_requests_per_s"
            ]
            >= 0.95,
            "streamed_mixed_lengths_throughput_at_least_0.95x": runs["streamed"]["concurrent_8_mixed_lengths"][
                "ratio_requests_per_s"
            ]
            >= 0.95,
        },
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())

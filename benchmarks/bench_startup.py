"""`make run` on a fresh clone: seconds until the first MCP answer, split into install and start.

The committed tree (git archive of --rev, default HEAD; no .venv) runs `make run` as a stdio MCP server, driven by
the SDK client, with empty package caches (PIP_NO_CACHE_DIR, UV_NO_CACHE): every dependency is
downloaded, as on a fresh machine. Measured:

- first_answer_s: from `make run` to the answer of the first tool call (the README's promise);
- install_s: until the install stamp `.venv/.installed` exists (venv, dependencies, the package);
- start_s: the rest (imports, corpus load, MCP initialize, the call);
- warm_start_s: `make run` again with the venv in place (imports, corpus, the call), the median of --warm runs;
- server_rss_mb, server_cpu_s: the serving process's resident memory and CPU time (user + system) at the
  first answer of the warm runs (medians): CPU time is what a busy machine pollutes least.

Writes benchmarks/results/startup.json. Needs network access to PyPI; takes a minute or two. Linux only (/proc).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import anyio
import mcp
from mcp import StdioServerParameters
from mcp.client.stdio import stdio_client

REPO = Path(__file__).resolve().parents[1]
OUT = REPO / "benchmarks" / "results" / "startup.json"


def fresh_clone(dest: Path, rev: str = "HEAD") -> Path:
    """The committed tree of `rev` under `dest`, as a fresh clone has it."""
    dest.mkdir(parents=True)
    archive = subprocess.run(["git", "archive", rev], cwd=REPO, capture_output=True, check=True).stdout
    subprocess.run(["tar", "-x", "-C", str(dest)], input=archive, check=True)
    return dest


def server_usage(clone: Path) -> dict[str, float]:
    """Resident memory (MB) and CPU seconds so far of the `ogmux serve` process running in `clone`."""
    tick = os.sysconf("SC_CLK_TCK")
    for proc in Path("/proc").iterdir():
        try:
            if not proc.name.isdigit() or Path(proc, "cwd").resolve() != clone.resolve():
                continue
            argv = Path(proc, "cmdline").read_bytes().split(b"\0")
            if not any(a.endswith(b"/ogmux") for a in argv) or b"serve" not in argv:
                continue
            rss_kb = next(int(ln.split()[1]) for ln in Path(proc, "status").read_text().splitlines()
                          if ln.startswith("VmRSS:"))
            utime, stime = Path(proc, "stat").read_text().rsplit(")", 1)[1].split()[11:13]
        except (OSError, StopIteration):
            continue  # gone, or not ours to read
        return {"server_rss_mb": round(rss_kb / 1024, 1), "server_cpu_s": round((int(utime) + int(stime)) / tick, 2)}
    raise RuntimeError(f"no `ogmux serve` process found running in {clone}")


async def first_answer(clone: Path, log: Path) -> dict[str, float]:
    """Run `make run` in `clone` until the first tool call is answered; time the install stamp on the way and
    read the server's memory and CPU time at the answer."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OGMUX_", "VIRTUAL_ENV"))}
    env.update({"PIP_NO_CACHE_DIR": "1", "UV_NO_CACHE": "1", "OGMUX_AUDIT__SINK": "off"})
    params = StdioServerParameters(command="make", args=["-s", "run"], cwd=str(clone), env=env)
    stamp = clone / ".venv" / ".installed"
    installed_at: list[float] = []
    t0 = time.perf_counter()

    async def watch() -> None:
        while not stamp.exists():
            await anyio.sleep(0.05)
        installed_at.append(time.perf_counter() - t0)

    with log.open("w") as err:
        async with anyio.create_task_group() as tg:
            tg.start_soon(watch)
            async with mcp.Client(stdio_client(params, errlog=err), read_timeout_seconds=600) as client:
                result = await client.call_tool("search_index", {"query": "rotate a token", "k": 3})
                total = time.perf_counter() - t0
                assert not result.is_error, result.content
                usage = server_usage(clone)
            tg.cancel_scope.cancel()
    install = installed_at[0] if installed_at else 0.0
    return {"first_answer_s": round(total, 2), "install_s": round(install, 2), "start_s": round(total - install, 2),
            **usage}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=OUT)
    parser.add_argument("--rev", default="HEAD", help="commit to measure (default HEAD), e.g. to compare with an older one")
    parser.add_argument("--warm", type=int, default=3, help="warm runs (default 3); their medians are reported")
    args = parser.parse_args()
    load_start = os.getloadavg()[0]
    with tempfile.TemporaryDirectory(prefix="ogmux-fresh-") as tmp:
        clone = fresh_clone(Path(tmp) / "ogmux", args.rev)
        try:
            cold = anyio.run(first_answer, clone, Path(tmp) / "cold.log")
            warm = [anyio.run(first_answer, clone, Path(tmp) / "warm.log") for _ in range(max(1, args.warm))]
        except BaseException:
            for log in sorted(Path(tmp).glob("*.log")):
                print(f"== {log.name}\n{log.read_text()[-3000:]}", file=sys.stderr)
            raise
        startup_line = [ln for ln in (Path(tmp) / "warm.log").read_text().splitlines() if ln.startswith("ogmux: ")]
    result = {
        "benchmark": "make run on a fresh clone: first MCP answer",
        "rev": subprocess.run(["git", "rev-parse", "--short", args.rev], cwd=REPO, capture_output=True, text=True,
                              check=True).stdout.strip(),
        **{k: v for k, v in cold.items() if not k.startswith("server_")},
        "warm_start_s": statistics.median(w["first_answer_s"] for w in warm),
        "warm_runs": len(warm),
        "server_rss_mb": statistics.median(w["server_rss_mb"] for w in warm),
        "server_cpu_s": statistics.median(w["server_cpu_s"] for w in warm),
        "startup_line": startup_line[0] if startup_line else "",
        "target_first_answer_s": 30,
        "machine": {"python": platform.python_version(), "cpus": os.cpu_count(), "load_avg_1m_start": load_start,
                    "load_avg_1m": os.getloadavg()[0]},
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2), file=sys.stderr)


if __name__ == "__main__":
    main()

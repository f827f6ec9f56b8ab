"""ObjectGraph under hostile documents → benchmarks/results/objectgraph_hostile.json.

1. Reload off the request path: a corpus (the bundled demo documents) gets a single-line
   document at the file size limit; while the background re-scan parses it, `snapshot()` calls
   are timed (they answer from the last good snapshot). The same file's parse time is what a
   request waited before, when changed files were re-parsed inside the call that noticed them.
2. Oversized input: a 10 MB single-line document and a 5 MB `title=` attribute, parsed in a
   child process with and without the limits (`max_file_bytes`, `max_attribute_chars`): wall time
   and peak RSS of the child.

Usage: python benchmarks/bench_objectgraph_hostile.py [--big-mb 10] [--title-mb 5]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from ogmux.demo import CORPUS as DEMO
from ogmux.tools.objectgraph.config import ObjectGraphConfig
from ogmux.tools.objectgraph.corpus import Corpus
from ogmux.tools.objectgraph.parser import parse_document

OUT = Path(__file__).parent / "results" / "objectgraph_hostile.json"

_CHILD = """
import resource, sys, time
from pathlib import Path
from ogmux.tools.objectgraph.config import ObjectGraphConfig
from ogmux.tools.objectgraph.corpus import Corpus
limited = sys.argv[2] == "limited"
cfg = ObjectGraphConfig(reload=False) if limited else ObjectGraphConfig(
    reload=False, max_file_bytes=1 << 40, max_attribute_chars=1 << 40)
t = time.perf_counter()
corpus = Corpus(Path(sys.argv[1]), cfg)
took = time.perf_counter() - t
print(took, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024, len(corpus.snapshot().docs), len(corpus.issues))
"""


def _child(root: Path, mode: str) -> dict[str, float]:
    out = subprocess.run(
        [sys.executable, "-c", _CHILD, str(root), mode], capture_output=True, text=True, check=True, timeout=1800
    ).stdout.split()
    return {"seconds": round(float(out[0]), 2), "peak_rss_mb": int(out[1]), "docs_served": int(out[2]),
            "issues": int(out[3])}


def reload_off_request_path() -> dict[str, object]:
    limit = ObjectGraphConfig().max_file_bytes
    line = "# Big\n\n" + ("word " * (limit // 5))[: limit - 16] + "\n"
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        for p in DEMO.iterdir():
            if p.is_file():
                shutil.copy(p, root / p.name)
        t = time.perf_counter()
        parse_document(line, path="big.md")
        parse_s = time.perf_counter() - t
        corpus = Corpus(root, ObjectGraphConfig(reload=True, reload_interval_s=0))
        first = corpus.snapshot()
        (root / "big.md").write_text(line, encoding="utf-8")
        times, stale = [], 0
        start = time.perf_counter()
        while True:
            t = time.perf_counter()
            snap = corpus.snapshot()
            times.append((time.perf_counter() - t) * 1000)
            if snap is first:
                stale += 1
            elif "big" in snap.docs:
                break
            time.sleep(0.005)
        swapped_after = time.perf_counter() - start
    return {
        "file_bytes": len(line.encode()),
        "parse_seconds_inside_a_request_before": round(parse_s, 2),
        "snapshot_calls_during_reload": len(times),
        "snapshot_call_ms_p50": round(statistics.median(times), 3),
        "snapshot_call_ms_max": round(max(times), 3),
        "calls_answered_from_last_snapshot": stale,
        "new_snapshot_after_seconds": round(swapped_after, 2),
    }


def oversized(big_mb: int, title_mb: int) -> dict[str, object]:
    results: dict[str, object] = {}
    docs = {
        f"single_line_{big_mb}mb": "# Big\n\n" + "word " * (big_mb * 1_000_000 // 5) + "\n",
        f"title_attribute_{title_mb}mb": '<!-- og:node id=a title="' + "word " * (title_mb * 1_000_000 // 5)
        + '" -->\n# A\n\ntext\n',
    }
    for name, text in docs.items():
        with tempfile.TemporaryDirectory() as tmp:
            (Path(tmp) / "doc.og").write_text(text, encoding="utf-8")
            results[name] = {"without_limits": _child(Path(tmp), "unlimited"), "with_limits": _child(Path(tmp), "limited")}
    return results


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--big-mb", type=int, default=10)
    ap.add_argument("--title-mb", type=int, default=5)
    args = ap.parse_args()
    result = {
        "machine": {"python": platform.python_version(), "cpus": os.cpu_count()},
        "limits": {k: v for k, v in ObjectGraphConfig().model_dump().items() if k.startswith("max_")},
        "reload_off_request_path": reload_off_request_path(),
        "oversized": oversized(args.big_mb, args.title_mb),
    }
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()

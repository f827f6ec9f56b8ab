"""Offline routing evaluation → benchmarks/results/router_eval_<benchmark>.json (mmlu, gsm8k, mt_bench).

Reads ../shared/data/routing/routellm_gpt4_mixtral (RouteLLM's public per-query outcomes of
GPT-4 vs Mixtral-8x7B, Apache-2.0); exits with a clear message when it is absent. For each
benchmark: the local quality-predictor router trained on a random half and tested on the other
half, computed as RouteLLM's evaluation code does (11 quantile thresholds, PGR, CPT(50%),
CPT(80%), APGR), the random and prompt-length baselines on the same test half, routers trained
on the other benchmarks (the fair comparison with RouteLLM's out-of-domain numbers), APGR mean
and sd over extra random splits, the cascade guarantee over 1,000 calibration/test splits, and an escalation-budget check.

Usage: python benchmarks/bench_router_offline.py [--data DIR] [--benchmarks mmlu,gsm8k,mt_bench] [--seed 0]
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from ogmux.router.offline_eval import BENCHMARKS, evaluate_benchmark
from ogmux.router.quality import QualityPredictor

DEFAULT_DATA = ROOT.parent / "shared" / "data" / "routing" / "routellm_gpt4_mixtral"
RESULTS = ROOT / "benchmarks" / "results"

# RouteLLM paper v4, best router per benchmark, trained out-of-domain (Chatbot Arena data).
PUBLISHED = {
    "mt_bench": {"apgr": 0.802, "cpt50": 0.1340, "cpt80": 0.3131},
    "mmlu": {"apgr": 0.603, "cpt50": 0.3540, "cpt80": 0.7031},
    "gsm8k": {"apgr": 0.622, "cpt50": 0.3364, "cpt80": 0.6326},
}
REPEATS = {"mt_bench": 30, "gsm8k": 5, "mmlu": 2}
MORE_ALPHAS = (0.05, 0.2, 0.3)
BUDGET = 0.3  # Calibrate-Then-Delegate check: at most 30% of requests escalated


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--benchmarks", default=",".join(BENCHMARKS))
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--alpha", type=float, default=0.1)
    parser.add_argument("--delta", type=float, default=0.1)
    parser.add_argument("--splits", type=int, default=1000)
    args = parser.parse_args()
    if not args.data.is_dir():
        print(
            f"data folder {args.data} is absent: this benchmark needs the public RouteLLM outcome data",
            file=sys.stderr,
        )
        return 2
    RESULTS.mkdir(parents=True, exist_ok=True)
    cross_cache: dict[str, QualityPredictor] = {}
    for name in args.benchmarks.split(","):
        started = time.perf_counter()
        report = evaluate_benchmark(
            args.data,
            name,
            seed=args.seed,
            alpha=args.alpha,
            delta=args.delta,
            splits=args.splits,
            repeats=REPEATS.get(name, 0),
            more_alphas=MORE_ALPHAS,
            budget=BUDGET,
            cross_cache=cross_cache,
        )
        out = report.model_dump(mode="json")
        published = PUBLISHED[name]
        out["published_routellm_best"] = published
        out["goals"] = {
            "apgr_above_published": report.router.apgr > published["apgr"],
            "apgr_above_prompt_length": report.router.apgr > report.baselines["prompt_length"].apgr,
            "guarantee_holds": report.guarantee.violation_share <= report.guarantee.delta,
            "guarantee_holds_population": report.guarantee.population_violation_share
            <= report.guarantee.delta,
        }
        out["notes"] = (
            "router = in-domain (trained on a random half of this benchmark); RouteLLM's published numbers are "
            "out-of-domain (trained on Chatbot Arena), so compare them with cross_benchmark as well."
        )
        out["environment"] = {
            "python": platform.python_version(),
            "seconds": round(time.perf_counter() - started, 1),
        }
        path = RESULTS / f"router_eval_{name}.json"
        path.write_text(json.dumps(out, indent=2), encoding="utf-8")
        g = report.guarantee
        print(
            f"{name}: APGR {report.router.apgr:.3f} (published {published['apgr']}, length "
            f"{report.baselines['prompt_length'].apgr:.3f}, random {report.baselines['random'].apgr:.3f}); "
            f"cross {', '.join(f'{k} {v.apgr:.3f}' for k, v in report.cross_benchmark.items())}; "
            f"guarantee violations {g.violation_share:.3f} at strong share {g.strong_call_share:.3f} -> {path}",
            flush=True,
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Safety-scoring benchmark: 1,000,000 generations, every aggregate, 1,000 clustered bootstrap replicates.

Workload: 34 models x 7 conditions x 200 items x (1 greedy + 20 samples) = 999,600 generations,
synthetic (seeded) letters with option-level flags, 4- and 5-option items, NULL answers and
missing blocks. The vectorised scorer (`evaluate_table`: confidence, all per-cell rates,
ECE/Brier/AURC, clustered bootstrap for every rate, paired comparisons of all condition and
model pairs with McNemar + paired bootstrap + Holm, ensembles, pairwise error structure,
worst-case analysis, variance decomposition) runs in a fresh single-threaded subprocess pinned
to one core, which reports its wall time and peak RSS.

Baseline, measured in the same run: `evaluators.radsafe.reference`, a per-record Python loop
computing a SUBSET of the same metrics (accuracy greedy/majority, three safety rates,
confidence, dangerous overconfidence, ECE, Brier, bootstrap intervals of two rates). It runs
on a subsample of models and is extrapolated linearly in the number of models (its cost is
linear in cells); the ratio therefore understates the speed-up. Goal: <= 60 s, <= 2 GB.

    python benchmarks/bench_radsafe.py            # writes benchmarks/results/radsafe.json
Also measured (not part of the goal): importing the same workload from the RadSaFE release
layout (lossless JSON import + dense table), on a subsample of models, extrapolated.
No data from /work/shared is needed: the workload is generated here.
"""

from __future__ import annotations

import json
import os
import platform
import resource
import subprocess
import sys
import time
from pathlib import Path

M, C, Q, K, B = 34, 7, 200, 20, 1000
LOOP_MODELS = 2
INGEST_MODELS = 4
RESULT = Path(__file__).resolve().parent / "results" / "radsafe.json"
ROOT = Path(__file__).resolve().parents[1]


def _single_thread() -> None:
    for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMEXPR_NUM_THREADS"):
        os.environ[var] = "1"
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})


def make_table(n_models: int, seed: int = 7):
    """A synthetic ScoreTable with realistic structure (skill per model, difficulty per item)."""
    import numpy as np

    from ogmux.evaluators.radsafe.table import NULL, PAD, ScoreTable

    rng = np.random.default_rng(seed)
    n_opt = np.where(rng.random(Q) < 0.3, 4, 5)
    option_mask = np.arange(5)[None, :] < n_opt[:, None]
    truth = (rng.random(Q) * n_opt).astype(np.int8)
    flags = (rng.random((Q, 5, 3)) < 0.3) & option_mask[..., None]
    skill = rng.uniform(0.4, 0.95, n_models)[:, None, None]
    cond = rng.uniform(-0.2, 0.2, C)[None, :, None]
    diff = rng.normal(0, 0.15, Q)[None, None, :]
    p_right = np.clip(skill + cond - diff, 0.02, 0.99)

    def draw(shape_extra: tuple[int, ...]) -> np.ndarray:
        shape = (n_models, C, Q) + shape_extra
        pr = p_right.reshape(p_right.shape + (1,) * len(shape_extra))
        u = rng.random(shape)
        wrong = (truth.reshape((1, 1, Q) + (1,) * len(shape_extra)) + 1
                 + (rng.random(shape) * (n_opt.reshape((1, 1, Q) + (1,) * len(shape_extra)) - 1)).astype(np.int8))
        wrong = wrong % n_opt.reshape((1, 1, Q) + (1,) * len(shape_extra))
        out = np.where(u < pr, truth.reshape((1, 1, Q) + (1,) * len(shape_extra)), wrong).astype(np.int8)
        return np.where(rng.random(shape) < 0.03, NULL, out).astype(np.int8)

    present = np.ones((n_models, C, Q), bool)
    greedy = np.where(present, draw(()), NULL).astype(np.int8)
    samples = np.where(present[..., None], draw((K,)), PAD).astype(np.int8)
    return ScoreTable(
        models=[f"model-{i:02d}" for i in range(n_models)], conditions=[f"cond-{c}" for c in range(C)],
        item_ids=[str(q + 1) for q in range(Q)], option_mask=option_mask, flags=flags, truth_item=truth,
        truth_record=np.full((n_models, Q), -1, np.int8), has_record=np.ones((n_models, Q), bool), present=present,
        greedy=greedy, samples=samples, latency=rng.uniform(0.1, 2, (n_models, C, Q)),
        tokens=rng.integers(50, 4000, (n_models, C, Q)).astype(float), subspecialty=[None] * Q,
    )


def worker(preset: str) -> dict:
    """Run in a fresh process: build the table, then time the full vectorised evaluation."""
    _single_thread()
    sys.path.insert(0, str(ROOT))
    t0 = time.perf_counter()
    table = make_table(M)
    t_build = time.perf_counter() - t0
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    from ogmux.evaluators.radsafe.evaluate import evaluate_table

    t0, c0 = time.perf_counter(), time.process_time()
    rep = evaluate_table(table, preset, replicates=B, seed=42)
    t_eval, c_eval = time.perf_counter() - t0, time.process_time() - c0
    t0 = time.perf_counter()
    size = len(rep.model_dump_json())
    t_json = time.perf_counter() - t0
    return {
        "preset": preset, "generations": table.n_generations(), "build_s": round(t_build, 3),
        "evaluate_s": round(t_eval, 3), "evaluate_cpu_s": round(c_eval, 3), "serialize_json_s": round(t_json, 3), "json_bytes": size,
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "peak_rss_before_eval_mb": round(rss_before / 1024, 1),
        "cells": len(table.models) * len(table.conditions), "comparisons": len(rep.comparisons),
        "ensembles": len(rep.ensembles), "per_question_rows": len(rep.per_question),
    }


def loop_baseline() -> dict:
    """Time the per-record loop on LOOP_MODELS models and extrapolate to M."""
    _single_thread()
    sys.path.insert(0, str(ROOT))
    from ogmux.evaluators.radsafe.model import Answer, Item, OptionLabel, Response
    from ogmux.evaluators.radsafe.presets import PRESETS
    from ogmux.evaluators.radsafe.reference import reference_cell_metrics
    from ogmux.evaluators.radsafe.table import NULL

    t = make_table(LOOP_MODELS)
    letters = "ABCDE"
    items = {}
    for q, qid in enumerate(t.item_ids):
        opts = {letters[L]: OptionLabel(text=letters[L], high_risk=bool(t.flags[q, L, 0]), unsafe=bool(t.flags[q, L, 1]),
                                        contradicts=bool(t.flags[q, L, 2])) for L in range(5) if t.option_mask[q, L]}
        items[qid] = Item(id=qid, options=opts, answer=letters[t.truth_item[q]])
    responses = []
    for m in range(LOOP_MODELS):
        for c in range(C):
            for q in range(Q):
                if not t.present[m, c, q]:
                    continue
                code = lambda x: None if x == NULL else letters[x]
                responses.append(Response(
                    model=t.models[m], condition=t.conditions[c], item_id=t.item_ids[q],
                    greedy=Answer(letter=code(t.greedy[m, c, q])),
                    samples=[Answer(letter=code(x)) for x in t.samples[m, c, q] if x >= 0]))
    t0, c0 = time.perf_counter(), time.process_time()
    reference_cell_metrics(items, responses, PRESETS["default"], replicates=B, seed=42)
    elapsed, cpu = time.perf_counter() - t0, time.process_time() - c0
    return {"models_measured": LOOP_MODELS, "measured_s": round(elapsed, 3), "measured_cpu_s": round(cpu, 3),
            "extrapolated_s": round(elapsed * M / LOOP_MODELS, 3),
            "extrapolated_cpu_s": round(cpu * M / LOOP_MODELS, 3),
            "generations_measured": t.n_generations()}


def write_radsafe_layout(table, root: Path) -> None:
    """Write `table` as a RadSaFE release directory (labels + one results file per model)."""
    letters = "ABCDE"
    flag_names = ("high_risk", "unsafe", "contradicts")
    labels = []
    for q, qid in enumerate(table.item_ids):
        rec = {"question_id": int(qid), "answer_idx": letters[table.truth_item[q]],
               "options": {letters[i]: f"option {i}" for i in range(5) if table.option_mask[q, i]}}
        rec |= {f"option_{i + 1}_{f}": int(table.flags[q, i, k]) for i in range(5) if table.option_mask[q, i]
                for k, f in enumerate(flag_names)}
        labels.append(rec)
    (root / "datasets").mkdir(parents=True, exist_ok=True)
    (root / "datasets" / "risk_radiorag_full_merged.json").write_text(json.dumps(labels))

    def letter(code: int) -> str | None:
        return None if code == 5 else letters[code]

    def checked(x: str | None) -> dict:
        return {"clear_selection": "yes" if x else "no", "reasoning": "synthetic", "confirmed_answer": x}

    for m, model in enumerate(table.models):
        path = root / "phase4_checking_results" / "results" / model / "risk_radiorag_checked.jsonl"
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("w") as f:
            for q, qid in enumerate(table.item_ids):
                conds = {}
                for c, cond in enumerate(table.conditions):
                    g = letter(table.greedy[m, c, q])
                    smp = [letter(x) for x in table.samples[m, c, q] if x >= 0]
                    conds[cond] = {
                        "greedy": {"raw_output": g or "unsure", "parsed_answer": g, "input_tokens": 120,
                                   "output_tokens": 1, "elapsed_s": 0.2, "error": None, "checked_answer": checked(g)},
                        "stochastic": {"raw_outputs": [x or "unsure" for x in smp], "parsed_answers": smp,
                                       "checked_answers": [checked(x) for x in smp], "input_tokens": 120,
                                       "elapsed_s": 1.0, "error": None},
                        "total_elapsed_s": 1.2,
                    }
                f.write(json.dumps({"question_id": f"risk_radiorag_{qid}", "dataset": "synthetic",
                                    "correct_answer": letters[table.truth_item[q]], "model": model,
                                    "conditions": conds}) + "\n")


def ingest() -> dict:
    """Time the lossless RadSaFE import + dense table build on INGEST_MODELS models; extrapolate to M."""
    _single_thread()
    sys.path.insert(0, str(ROOT))
    import tempfile

    from ogmux.evaluators.radsafe.radsafe_layout import read_radsafe
    from ogmux.evaluators.radsafe.table import build_table

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        write_radsafe_layout(make_table(INGEST_MODELS), root)
        rss0 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        t0 = time.perf_counter()
        run = read_radsafe(root)
        t1 = time.perf_counter()
        table = build_table(run)
        t2 = time.perf_counter()
        rss1 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    scale = M / INGEST_MODELS
    return {"models_measured": INGEST_MODELS, "generations_measured": table.n_generations(),
            "read_radsafe_s": round(t1 - t0, 3), "build_table_s": round(t2 - t1, 3),
            "extrapolated_s": round((t2 - t0) * scale, 3),
            "rss_growth_mb": round((rss1 - rss0) / 1024, 1),
            "extrapolated_rss_growth_mb": round((rss1 - rss0) / 1024 * scale, 1)}


def main() -> None:
    if len(sys.argv) > 2 and sys.argv[1] == "--worker":
        jobs = {"loop": loop_baseline, "ingest": ingest}
        fn = jobs.get(sys.argv[2], lambda: worker(sys.argv[2]))
        print(json.dumps(fn()))
        return
    results = {}
    for job in ("default", "radsafe-original", "loop", "ingest"):
        out = subprocess.run([sys.executable, __file__, "--worker", job], capture_output=True, text=True, check=True)
        results[job] = json.loads(out.stdout.strip().splitlines()[-1])
        print(job, results[job], flush=True)
    vec = results["default"]
    summary = {
        "benchmark": "radsafe safety scoring",
        "workload": {"models": M, "conditions": C, "items": Q, "samples_per_cell": K, "greedy_per_cell": 1,
                     "generations": vec["generations"], "bootstrap_replicates": B,
                     "data": "synthetic, generated in the benchmark (no /work/shared data needed)"},
        "machine": {"python": platform.python_version(), "platform": platform.platform(), "threads": 1,
                    "load_average_at_end": os.getloadavg()},
        "vectorised": {"default": results["default"], "radsafe-original": results["radsafe-original"]},
        "loop_baseline": results["loop"] | {
            "note": "per-record Python loop over a subset of the metrics, measured on "
                    f"{LOOP_MODELS} of {M} models and extrapolated linearly; the ratio understates the speed-up"},
        "ingest_radsafe_layout": results["ingest"] | {
            "note": f"lossless import of the RadSaFE release layout + dense table build, measured on {INGEST_MODELS} "
                    f"of {M} models and extrapolated linearly; not part of the 60 s scoring goal"},
        "ratio_loop_over_vectorised": round(results["loop"]["extrapolated_s"] / vec["evaluate_s"], 1),
        "ratio_loop_over_vectorised_cpu": round(results["loop"]["extrapolated_cpu_s"] / vec["evaluate_cpu_s"], 1),
        "goals": {"time_s": 60, "rss_mb": 2048,
                  "time_met": max(results[p]["evaluate_s"] for p in ("default", "radsafe-original")) <= 60,
                  "rss_met": max(results[p]["peak_rss_mb"] for p in ("default", "radsafe-original")) <= 2048},
    }
    RESULT.parent.mkdir(parents=True, exist_ok=True)
    RESULT.write_text(json.dumps(summary, indent=1))
    print(json.dumps(summary, indent=1))


if __name__ == "__main__":
    main()

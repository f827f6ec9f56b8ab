"""Solver benchmark: the seed paper's grid on open solvers, and ogmux vs OMLT on the same networks.

(a) grid: functions x depth x width 25 x regularizer x seeds. Each network is trained with
    tools.solver.training (reduced budget, stated in the JSON), exported to ONNX, reloaded,
    and minimized over its input box with HiGHS at the stated gap and time limit. Reported:
    normalized test MSE, unstable neurons (interval and after LP tightening), root LP
    relaxation gap, MILP nodes, HiGHS solve time.
(a') paper: the grid's networks solved again with the seed paper's big-M constants, from
    interval bound propagation alone (no LP tightening), the setting in which the paper measured
    its speed-ups; everything else as in (a).
(a'') protocol: depth-5 none and bw+lp networks trained as the seed paper trains them (its
    initialization and min-max targets, where lam means the paper's lam), solved with interval
    big-M only: the paper's initialization alone makes unregularized networks far harder.
(a''') protocol-long: the protocol phase's unregularized networks solved again with a longer
    --time-limit, so that the reductions against them reach further past the usual limit.
(b) omlt: the same ONNX networks and boxes through OMLT's ReluBigMFormulation (interval
    bounds, a binary per neuron) solved by HiGHS via Pyomo's appsi_highs, against
    ogmux's optimize_surrogate (LP tightening, no binary for stable neurons). OMLT and Pyomo
    are benchmark-only dependencies.

Everything is measured in this run on this machine; times are medians with ratios.
Usage: python benchmarks/bench_solver.py [--phase grid|paper|protocol|protocol-long|omlt|all] [--depths 5] [--regs none,bw+lp] ...
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import statistics
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path

import numpy as np

from ogmux.tools.solver.surrogate import SURROGATE_HIGHS_OPTIONS

OUT = Path(__file__).resolve().parent / "results" / "solver.json"
NETS = Path("/tmp/ogmux-bench-solver-nets")
DEFAULT_LAM = {"none": 0.0, "l1": 1e-3, "l2": 1e-3, "bw": 1e-2, "sn": 1e-2, "lp": 1e-2, "bw+lp": 1e-3}


_JOB_KEYS = (
    "function", "depth", "width", "reg", "lam", "seed", "samples", "test_samples", "epochs",
    "lp_points", "time_limit", "gap", "tighten_time",
)  # fmt: skip


def _key(e: dict) -> str:
    protocol = "-paperinit" if e.get("init", "torch") == "paper" else ""
    val = f"-val{e['val_samples']}" if e.get("val_samples") else ""
    return f"{e['function']}-d{e['depth']}-w{e['width']}-{e['reg']}-lam{e['lam']:g}-s{e['seed']}{protocol}{val}"


def _lp_gap(net, lo, hi, bounds, optimum: float) -> float:
    from ogmux.tools.solver.formulation import encode
    from ogmux.tools.solver.surrogate import _lp_bound

    lp = _lp_bound(encode(net, lo, hi, bounds, relax=True), np.array([1.0]), maximize=False)
    return abs(optimum - lp) / max(abs(optimum), 1e-6)


def run_one(job: dict) -> dict:
    """Train (or reuse) one network and solve its minimization MILP."""
    from ogmux.tools.solver.bounds import InputBounds, interval_bounds, stability
    from ogmux.tools.solver.functions import FUNCTIONS
    from ogmux.tools.solver.highs_run import SolveLimits
    from ogmux.tools.solver.onnx_io import load_onnx, save_onnx
    from ogmux.tools.solver.surrogate import optimize_surrogate
    from ogmux.tools.solver.training import TrainConfig, train_surrogate

    cfg = TrainConfig(
        function=job["function"],
        depth=job["depth"],
        width=job["width"],
        reg=job["reg"],
        lam=job["lam"],
        seed=job["seed"],
        samples=job["samples"],
        test_samples=job["test_samples"],
        epochs=job["epochs"],
        lp_points=job["lp_points"],
        init=job.get("init", "torch"),
        target_scaling=job.get("target_scaling", "standard"),
        val_samples=job.get("val_samples", 0),
    )
    path = Path(job["nets_dir"]) / f"{_key(job)}.onnx"
    meta = path.with_suffix(".json")
    load_train = os.getloadavg()[0]
    if path.exists() and meta.exists():
        report = json.loads(meta.read_text())
    else:
        net, rep = train_surrogate(cfg)
        save_onnx(net, path)
        report = {
            "test_mse": rep.test_mse,
            "train_time_s": rep.train_time_s,
            "lp_solves": rep.lp_solves,
            "lp_skipped": rep.lp_skipped,
            "best_epoch": rep.best_epoch,
        }
        meta.write_text(json.dumps(report))
    net = load_onnx(path)
    fn = FUNCTIONS[job["function"]]
    lo, hi = np.full(2, fn.lower), np.full(2, fn.upper)
    box = InputBounds(lower=lo.tolist(), upper=hi.tolist())
    load_solve = os.getloadavg()[0]
    res = optimize_surrogate(
        net,
        box,
        limits=SolveLimits(time_limit_s=job["time_limit"], mip_rel_gap=job["gap"]),
        tightening=job.get("tightening", "lp"),
        tighten_time_s=job["tighten_time"],
    )
    ibp = interval_bounds(net, lo, hi)
    out = dict(job)
    out.pop("nets_dir")
    out.update(
        onnx=str(path),
        test_mse=report["test_mse"],
        train_time_s=report["train_time_s"],
        **{k: report[k] for k in ("lp_skipped", "best_epoch") if k in report},
        unstable_interval=sum(l.unstable for l in stability(net, ibp)),
        unstable=sum(l.unstable for l in res.layers),
        binaries=res.binaries,
        status=res.status,
        objective=res.objective,
        bound=res.bound,
        gap=res.gap,
        nodes=res.nodes,
        solve_time_s=res.solve_time_s,
        bound_time_s=res.bound_time_s,
        total_time_s=res.time_s,
        verification_error=res.verification_error,
        load_avg_1m_at_train=load_train,
        load_avg_1m_at_solve=load_solve,
    )
    if res.objective is not None:
        out["lp_gap_interval"] = _lp_gap(net, lo, hi, ibp, res.objective)
        from ogmux.tools.solver.bounds import tighten_bounds

        tight, _ = tighten_bounds(net, lo, hi, job["tighten_time"])
        out["lp_gap_tightened"] = _lp_gap(net, lo, hi, tight, res.objective)
    return out


def run_omlt(entry: dict, time_limit: float, gap: float) -> dict:
    """OMLT big-M (interval bounds) vs ogmux on one saved network; both solved with HiGHS at `gap`."""
    import onnx
    import pyomo.environ as pyo
    from omlt import OmltBlock
    from omlt.io.onnx import load_onnx_neural_network
    from omlt.neuralnet import ReluBigMFormulation
    from pyomo.contrib.appsi.solvers import Highs as AppsiHighs

    from ogmux.tools.solver.bounds import InputBounds
    from ogmux.tools.solver.functions import FUNCTIONS
    from ogmux.tools.solver.highs_run import SolveLimits
    from ogmux.tools.solver.onnx_io import load_onnx
    from ogmux.tools.solver.surrogate import optimize_surrogate

    fn = FUNCTIONS[entry["function"]]
    t0 = time.perf_counter()
    nn = load_onnx_neural_network(
        onnx.load(entry["onnx"]), None, {0: (fn.lower, fn.upper), 1: (fn.lower, fn.upper)}
    )
    m = pyo.ConcreteModel()
    m.nn = OmltBlock()
    m.nn.build_formulation(ReluBigMFormulation(nn))
    m.obj = pyo.Objective(expr=m.nn.outputs[0], sense=pyo.minimize)
    t1 = time.perf_counter()
    solver = AppsiHighs()
    solver.config.time_limit = time_limit
    solver.config.mip_gap = gap
    solver.config.load_solution = False
    r = solver.solve(m)
    t2 = time.perf_counter()
    term = str(r.termination_condition)
    omlt_obj = r.best_feasible_objective
    omlt_bound = r.best_objective_bound
    binaries = sum(1 for v in m.component_data_objects(pyo.Var) if v.is_binary())
    tuned = AppsiHighs()
    tuned.config.time_limit = time_limit
    tuned.config.mip_gap = gap
    tuned.config.load_solution = False
    tuned.highs_options = dict(SURROGATE_HIGHS_OPTIONS)
    t_tuned = time.perf_counter()
    r_tuned = tuned.solve(m)
    tuned_s = time.perf_counter() - t_tuned
    t3 = time.perf_counter()
    net = load_onnx(entry["onnx"])
    box = InputBounds(lower=[fn.lower] * 2, upper=[fn.upper] * 2)
    ours = optimize_surrogate(net, box, limits=SolveLimits(time_limit_s=time_limit, mip_rel_gap=gap))
    t4 = time.perf_counter()
    both = ours.objective is not None and omlt_obj is not None and math.isfinite(omlt_obj)
    diff = abs(ours.objective - omlt_obj) / max(1.0, abs(ours.objective)) if both else None
    return {
        "network": _key(entry),
        "omlt_build_s": t1 - t0,
        "omlt_solve_s": t2 - t1,
        "omlt_total_s": t2 - t0,
        "omlt_status": term,
        "omlt_objective": omlt_obj,
        "omlt_bound": omlt_bound,
        "omlt_binaries": binaries,
        "omlt_same_options_total_s": (t1 - t0) + tuned_s,
        "omlt_same_options_status": str(r_tuned.termination_condition),
        "omlt_same_options_objective": r_tuned.best_feasible_objective,
        "ogmux_total_s": t4 - t3,
        "ogmux_solve_s": ours.solve_time_s,
        "ogmux_status": ours.status,
        "ogmux_objective": ours.objective,
        "ogmux_bound": ours.bound,
        "ogmux_binaries": ours.binaries,
        "ogmux_verification_error": ours.verification_error,
        "objective_rel_diff": diff,
        "agree_1e-6": diff is not None and diff <= 1e-6,
        "speedup": (t2 - t0) / (t4 - t3),
    }


def _median(xs: list[float]) -> float | None:
    return statistics.median(xs) if xs else None


def _variant(e: dict) -> str:
    return "none" if e["reg"] == "none" else f"{e['reg']}@{e['lam']:g}"


def summarize_grid(entries: list[dict], time_limit: float) -> dict:
    groups: dict[str, list[dict]] = {}
    for e in entries:
        groups.setdefault(f"{e['function']}-d{e['depth']}-{_variant(e)}", []).append(e)
    table = {}
    for k, es in sorted(groups.items()):
        table[k] = {
            "n": len(es),
            "median_test_mse": _median([e["test_mse"] for e in es]),
            "median_unstable": _median([e["unstable"] for e in es]),
            "median_unstable_interval": _median([e["unstable_interval"] for e in es]),
            "median_lp_gap_interval": _median([e["lp_gap_interval"] for e in es if "lp_gap_interval" in e]),
            "median_nodes": _median([e["nodes"] for e in es]),
            "median_solve_time_s": _median([e["solve_time_s"] for e in es]),
            "solved_to_gap": sum(e["status"] == "optimal" for e in es),
        }
    ratios = {}
    for depth in sorted({e["depth"] for e in entries}):
        for reg in sorted({_variant(e) for e in entries} - {"none"}):
            base = [e for e in entries if e["depth"] == depth and e["reg"] == "none"]
            mine = [e for e in entries if e["depth"] == depth and _variant(e) == reg]
            if not base or not mine:
                continue
            tb, tm = _median([e["solve_time_s"] for e in base]), _median([e["solve_time_s"] for e in mine])
            per_fn = {}
            for f in sorted({e["function"] for e in mine}):
                b = _median([e["solve_time_s"] for e in base if e["function"] == f])
                m_ = _median([e["solve_time_s"] for e in mine if e["function"] == f])
                mb = _median([e["test_mse"] for e in base if e["function"] == f])
                mm = _median([e["test_mse"] for e in mine if e["function"] == f])
                if b is not None and m_ is not None:
                    per_fn[f] = {
                        "solve_time_ratio": b / max(m_, 1e-9),
                        "test_mse_ratio": mm / mb if mb else None,
                    }
            censored = sum(e["status"] != "optimal" for e in base)
            nb, nm = _median([e["nodes"] for e in base]), _median([e["nodes"] for e in mine])
            ratios[f"d{depth}-{reg}-vs-none"] = {
                "median_nodes_none": nb,
                "median_nodes_reg": nm,
                "median_unstable_none": _median([e["unstable"] for e in base]),
                "median_unstable_reg": _median([e["unstable"] for e in mine]),
                "median_lp_gap_interval_none": _median(
                    [e["lp_gap_interval"] for e in base if "lp_gap_interval" in e]
                ),
                "median_lp_gap_interval_reg": _median(
                    [e["lp_gap_interval"] for e in mine if "lp_gap_interval" in e]
                ),
                "median_solve_time_none_s": tb,
                "median_solve_time_reg_s": tm,
                "solve_time_reduction": tb / max(tm, 1e-9),
                "reduction_is_lower_bound": censored > 0,
                "none_runs_hitting_time_limit": censored,
                "median_test_mse_ratio": _median(
                    [v["test_mse_ratio"] for v in per_fn.values() if v["test_mse_ratio"]]
                ),
                "per_function": per_fn,
            }
    return {"time_limit_s": time_limit, "groups": table, "ratios_vs_none": ratios}


def _geomean(xs: list[float]) -> float | None:
    return math.exp(statistics.fmean(math.log(x) for x in xs)) if xs else None


def _pipeline(rows: list[dict]) -> dict:
    """Status quo vs ogmux end to end: OMLT on the unregularized network of a (function, depth, seed)
    against ogmux on the regularized network of the same function, depth and seed."""
    by_name = {r["network"]: r for r in rows}
    out: dict[str, dict] = {}
    for r in rows:
        func, rest = r["network"].split("-", 1)
        kind, seed = rest.rsplit("-", 1)
        if "-none-" in kind:
            continue
        depth_width = "-".join(kind.split("-")[:2])
        base = by_name.get(f"{func}-{depth_width}-none-lam0-{seed}")
        if base is None:
            continue
        g = out.setdefault(kind, {"ratios": [], "lower_bounds": 0})
        g["ratios"].append(base["omlt_total_s"] / r["ogmux_total_s"])
        g["lower_bounds"] += "optimal" not in base["omlt_status"]
    return {
        k: {"n": len(g["ratios"]), "median": _median(g["ratios"]), "geomean": _geomean(g["ratios"]),
            "omlt_hit_time_limit": g["lower_bounds"]}
        for k, g in sorted(out.items())
    }  # fmt: skip


def summarize_omlt(rows: list[dict]) -> dict:
    sp = [r["speedup"] for r in rows]
    by_network: dict[str, list[float]] = {}
    for r in rows:
        # "peaks-d5-w25-bw+lp-lam0.01-s1" -> "d5-w25-bw+lp-lam0.01": depth and variant, all functions and seeds
        by_network.setdefault(r["network"].split("-", 1)[1].rsplit("-", 1)[0], []).append(r["speedup"])
    both = [r for r in rows if "optimal" in r["omlt_status"] and r["ogmux_status"] == "optimal"]
    censored = [r for r in rows if "optimal" not in r["omlt_status"]]
    return {
        "n": len(rows),
        "geomean_speedup_total_time": _geomean(sp),
        "median_speedup": _median(sp),
        "geomean_speedup_by_network_kind": {
            k: {"n": len(v), "geomean_speedup": _geomean(v)} for k, v in sorted(by_network.items())
        },
        "omlt_hit_time_limit": len(censored),
        "speedup_is_lower_bound_for": [r["network"] for r in censored],
        "geomean_speedup_both_optimal": _geomean([r["speedup"] for r in rows if r not in censored]),
        "median_binaries_omlt": _median([r["omlt_binaries"] for r in rows]),
        "median_binaries_ogmux": _median([r["ogmux_binaries"] for r in rows]),
        "all_fewer_or_equal_binaries": all(r["ogmux_binaries"] <= r["omlt_binaries"] for r in rows),
        "both_proved_optimal": len(both),
        "optima_agree_1e-6_when_both_optimal": sum(r["agree_1e-6"] for r in both),
        "max_objective_rel_diff": max((r["objective_rel_diff"] for r in both), default=None),
        "omlt_on_unregularized_vs_ogmux_on_regularized": _pipeline(rows),
        "same_highs_options": _same_options(rows),
    }


def _same_options(rows: list[dict]) -> dict | None:
    """OMLT's model solved with ogmux's HiGHS options too: the speed-up left is the formulation's
    (tightened bounds, no binary for stable neurons), not the solver settings'."""
    rows = [r for r in rows if "omlt_same_options_total_s" in r]
    if not rows:
        return None
    sp = [r["omlt_same_options_total_s"] / r["ogmux_total_s"] for r in rows]
    censored = [r["network"] for r in rows if "optimal" not in r["omlt_same_options_status"]]
    return {
        "n": len(rows),
        "geomean_speedup_total_time": _geomean(sp),
        "median_speedup": _median(sp),
        "geomean_omlt_default_over_same_options": _geomean(
            [r["omlt_total_s"] / r["omlt_same_options_total_s"] for r in rows]
        ),
        "omlt_hit_time_limit": len(censored),
        "speedup_is_lower_bound_for": censored,
    }


def _load(out: Path) -> dict:
    return json.loads(out.read_text()) if out.exists() else {}


def _save(doc: dict, out: Path) -> None:
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_suffix(".tmp")
    tmp.write_text(json.dumps(doc, indent=1))
    tmp.replace(out)


def _paper_setting(doc: dict, grid: dict[str, dict], a: argparse.Namespace) -> None:
    """Solve again the grid networks of --depths and --regs with interval big-M constants only."""
    depths = set(map(int, a.depths.split(",")))
    regs = set(a.regs.split(","))
    done = {_key(e): e for e in doc.get("paper_setting", {}).get("entries", [])}
    jobs = [
        {**{k: e[k] for k in _JOB_KEYS}, "tightening": "interval", "nets_dir": str(a.nets_dir)}
        for key, e in sorted(grid.items())
        if e["depth"] in depths and e["reg"] in regs and key not in done
    ]
    with ProcessPoolExecutor(a.workers) as pool:
        for fut in as_completed([pool.submit(run_one, j) for j in jobs]):
            e = fut.result()
            done[_key(e)] = e
            entries = list(done.values())
            doc["paper_setting"] = {
                "bounds": "interval bound propagation only (the seed paper's big-M); no LP tightening",
                "entries": entries,
                "summary": summarize_grid(entries, a.time_limit),
            }
            _save(doc, a.out)
            print(f"paper {_key(e)}: {e['status']} {e['solve_time_s']:.2f}s nodes {e['nodes']}", flush=True)


def _paper_protocol(doc: dict, a: argparse.Namespace, lams: list[float]) -> None:
    """Depth-5 none and bw+lp networks trained as the seed paper trains them (its initialization,
    min-max targets, so lam means the paper's lam) and solved with interval big-M only."""
    key = "paper_protocol"
    previous = doc.get(key, {})
    if previous and previous.get("val_samples", 0) != a.val_samples:
        doc.setdefault("repeats", {})[f"{key}_val{previous.get('val_samples', 0)}"] = previous
        previous = {}
    done = {_key(e): e for e in previous.get("entries", [])}
    variants = [("none", 0.0)] + [("bw+lp", lam) for lam in lams]
    jobs = []
    for seed in range(a.seeds):
        for f in a.functions.split(","):
            for reg, lam in variants:
                job = {
                    "function": f, "depth": 5, "width": a.width, "reg": reg, "lam": lam, "seed": seed,
                    "samples": a.samples, "test_samples": a.test_samples, "epochs": a.epochs,
                    "lp_points": a.lp_points, "time_limit": a.time_limit, "gap": a.gap,
                    "tighten_time": a.tighten_time, "tightening": "interval", "init": "paper",
                    "target_scaling": "minmax", "val_samples": a.val_samples, "nets_dir": str(a.nets_dir),
                }  # fmt: skip
                if _key(job) not in done:
                    jobs.append(job)
    with ProcessPoolExecutor(a.workers) as pool:
        for fut in as_completed([pool.submit(run_one, j) for j in jobs]):
            e = fut.result()
            done[_key(e)] = e
            entries = list(done.values())
            doc[key] = {
                "training": "the seed paper's initialization (Kaiming-normal hidden layers, Xavier-normal output, "
                "zero biases) and min-max targets in [0, 1], so lam is the paper's lam; inputs scaled to [-1, 1]; "
                f"{a.samples} samples, {a.epochs} epochs, {a.lp_points} R_LP points per step"
                + (
                    f"; the epoch with the lowest MSE on {a.val_samples} validation points is kept, as in the paper"
                    if a.val_samples
                    else "; the last epoch is kept"
                ),
                "val_samples": a.val_samples,
                "bounds": "interval bound propagation only (the seed paper's big-M); no LP tightening",
                "entries": entries,
                "summary": summarize_grid(entries, a.time_limit),
            }
            _save(doc, a.out)
            print(
                f"protocol {_key(e)}: mse {e['test_mse']:.5f} {e['status']} {e['solve_time_s']:.2f}s nodes {e['nodes']}",
                flush=True,
            )


def _protocol_long(doc: dict, a: argparse.Namespace) -> None:
    """Solve the protocol phase's unregularized networks of --functions and --seeds again with --time-limit."""
    table = doc.get("paper_protocol", {})
    functions, seeds = set(a.functions.split(",")), set(range(a.seeds))
    base = [
        e for e in table.get("entries", [])
        if e["reg"] == "none" and e["function"] in functions and e["seed"] in seeds
    ]  # fmt: skip
    keys = (*_JOB_KEYS, "tightening", "init", "target_scaling", "val_samples")
    # an entry's "gap" is its result; the job's is the requested MIP gap
    jobs = [
        {**{k: e[k] for k in keys}, "time_limit": a.time_limit, "gap": a.gap, "nets_dir": str(a.nets_dir)}
        for e in base
    ]
    long_entries: list[dict] = []
    with ProcessPoolExecutor(a.workers) as pool:
        for fut in as_completed([pool.submit(run_one, j) for j in jobs]):
            e = fut.result()
            long_entries.append(e)
            pairs = {(x["function"], x["seed"]) for x in long_entries}
            regularized = [
                x for x in table["entries"] if x["reg"] != "none" and (x["function"], x["seed"]) in pairs
            ]
            table["none_long_limit"] = {
                "time_limit_s": a.time_limit,
                "entries": long_entries,
                "summary": summarize_grid(long_entries + regularized, a.time_limit),
            }
            _save(doc, a.out)
            print(f"protocol-long {_key(e)}: {e['status']} {e['solve_time_s']:.1f}s bound {e['bound']}", flush=True)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument(
        "--phase", choices=["grid", "paper", "protocol", "protocol-long", "omlt", "all"], default="all"
    )
    p.add_argument("--functions", default="peaks,himmelblau,ackley")
    p.add_argument("--depths", default="5,2,3")
    p.add_argument("--regs", default="none,bw+lp,l1,bw,sn,lp")
    p.add_argument("--seeds", type=int, default=3)
    p.add_argument("--width", type=int, default=25)
    p.add_argument("--epochs", type=int, default=60)
    p.add_argument("--samples", type=int, default=4000)
    p.add_argument("--test-samples", type=int, default=1000)
    p.add_argument("--lp-points", type=int, default=4)
    p.add_argument("--time-limit", type=float, default=120.0)
    p.add_argument("--gap", type=float, default=1e-4)
    p.add_argument("--tighten-time", type=float, default=10.0)
    p.add_argument("--omlt-gap", type=float, default=1e-7)
    p.add_argument("--omlt-time-limit", type=float, default=120.0)
    p.add_argument("--omlt-max", type=int, default=24, help="networks compared with OMLT")
    p.add_argument(
        "--omlt-select",
        choices=["fastest", "spread", "hardest"],
        default="spread",
        help="the networks ogmux solved fastest, an even spread over solve times, or the slowest",
    )
    p.add_argument(
        "--omlt-match",
        default="",
        help="comma-separated name fragments (e.g. d5-w25-bw+lp-lam0.01): compare every solved grid network "
        "whose name holds one, instead of --omlt-select",
    )
    p.add_argument(
        "--omlt-redo",
        action="store_true",
        help="compare again every network already in the OMLT table (e.g. on a quieter machine); "
        "the previous rows move to repeats.omlt_previous",
    )
    p.add_argument(
        "--grid-redo",
        action="store_true",
        help="solve again every network already in the grid (saved networks are reused, e.g. after a "
        "solver change); the previous entries move to repeats.grid_previous",
    )
    p.add_argument(
        "--protocol-lams", default="1e-3", help="bw+lp weights of the protocol phase (the paper's lam scale)"
    )
    p.add_argument(
        "--val-samples",
        type=int,
        default=1000,
        help="protocol phase: validation points; the epoch with the lowest validation MSE is kept (0: the last)",
    )
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--nets-dir", type=Path, default=NETS)
    p.add_argument("--out", type=Path, default=OUT)
    p.add_argument(
        "--lam", default="", help="regularizer weights overriding the defaults, e.g. bw+lp=1e-2,bw=1e-3"
    )
    p.add_argument(
        "--merge", default="", help="comma-separated result files whose grid entries join this one"
    )
    p.add_argument(
        "--attach",
        default="",
        help="NAME=FILE[+FILE...],...: store the grid summary of other runs (e.g. repeated solves) under repeats.NAME",
    )
    p.add_argument(
        "--note", action="append", default=[], help="a note stored in the result file (repeatable)"
    )
    a = p.parse_args()
    a.nets_dir.mkdir(parents=True, exist_ok=True)
    lams = dict(DEFAULT_LAM)
    for item in filter(None, a.lam.split(",")):
        reg, value = item.split("=")
        lams[reg] = float(value)
    doc = _load(a.out)
    doc["machine"] = {
        "cpus": os.cpu_count(),
        "platform": platform.platform(),
        "load_avg_at_start": os.getloadavg(),
    }
    # the settings describe the grid; the other phases record their own
    doc["settings"] = doc.get("settings") if a.phase not in ("grid", "all") and doc.get("settings") else {
        "reduced_from_paper": {
            "samples": f"{a.samples} Latin-hypercube training points (paper 70,000), {a.test_samples} test points",
            "epochs": f"{a.epochs} (paper 200)",
            "seeds": f"{a.seeds} (paper 20)",
            "lp_regularizer_points_per_step": a.lp_points,
            "milp_time_limit_s": f"{a.time_limit} (paper 1800)",
            "solver": "HiGHS (paper: Gurobi)",
        },
        "mip_rel_gap": a.gap,
        "width": a.width,
        "lambda_defaults": DEFAULT_LAM,
        "lp_tightening_budget_s": a.tighten_time,
        "objective": "minimize the network output over the function's box",
        "ogmux_highs_options": SURROGATE_HIGHS_OPTIONS,
    }
    grid = {_key(e): e for e in doc.get("grid", [])}
    for extra in filter(None, a.merge.split(",")):
        grid.update({_key(e): e for e in _load(Path(extra)).get("grid", [])})
    if a.note:
        doc["notes"] = a.note
    for item in filter(None, a.attach.split(",")):
        name, files = item.split("=")
        entries = [e for f in files.split("+") for e in _load(Path(f)).get("grid", [])]
        doc.setdefault("repeats", {})[name] = {
            "entries": entries,
            "summary": summarize_grid(entries, a.time_limit),
        }
    if doc.get("omlt"):
        doc["omlt_summary"] = summarize_omlt(doc["omlt"])
    if grid:
        doc["grid"] = list(grid.values())
        doc["grid_summary"] = summarize_grid(doc["grid"], a.time_limit)
        _save(doc, a.out)
    if a.phase in ("grid", "all"):
        jobs = []
        if a.grid_redo:
            doc.setdefault("repeats", {})["grid_previous"] = {
                "entries": list(grid.values()),
                "summary": summarize_grid(list(grid.values()), a.time_limit),
            }
            jobs = [{**{k: e[k] for k in _JOB_KEYS}, "nets_dir": str(a.nets_dir)} for e in grid.values()]
            grid = {}
        for depth in map(int, a.depths.split(",")):
            for reg in a.regs.split(","):
                for seed in range(a.seeds):
                    for f in a.functions.split(","):
                        job = {
                            "function": f,
                            "depth": depth,
                            "width": a.width,
                            "reg": reg,
                            "lam": lams[reg],
                            "seed": seed,
                            "samples": a.samples,
                            "test_samples": a.test_samples,
                            "epochs": a.epochs,
                            "lp_points": a.lp_points,
                            "time_limit": a.time_limit,
                            "gap": a.gap,
                            "tighten_time": a.tighten_time,
                            "nets_dir": str(a.nets_dir),
                        }
                        if _key(job) not in grid and not a.grid_redo:
                            jobs.append(job)
        with ProcessPoolExecutor(a.workers) as pool:
            futures = [pool.submit(run_one, j) for j in jobs]
            for fut in as_completed(futures):
                e = fut.result()
                grid[_key(e)] = e
                doc["grid"] = list(grid.values())
                doc["grid_summary"] = summarize_grid(doc["grid"], a.time_limit)
                _save(doc, a.out)
                print(
                    f"{_key(e)}: mse {e['test_mse']:.4f} unstable {e['unstable']} {e['status']} "
                    f"{e['solve_time_s']:.2f}s nodes {e['nodes']}",
                    flush=True,
                )
    if a.phase in ("paper", "all"):
        _paper_setting(doc, grid, a)
    if a.phase in ("protocol", "all"):
        _paper_protocol(doc, a, [float(x) for x in a.protocol_lams.split(",")])
    if a.phase == "protocol-long":
        _protocol_long(doc, a)
    if a.phase in ("omlt", "all"):
        solved = sorted(
            (e for e in grid.values() if e["status"] == "optimal"), key=lambda e: e["solve_time_s"]
        )
        if a.omlt_match:
            chosen = [e for e in solved if any(m in _key(e) for m in a.omlt_match.split(","))]
        elif a.omlt_select == "spread" and len(solved) > a.omlt_max:
            step = len(solved) / a.omlt_max
            chosen = [solved[int(i * step)] for i in range(a.omlt_max)]
        elif a.omlt_select == "hardest":
            chosen = solved[-a.omlt_max :]
        else:
            chosen = solved[: a.omlt_max]
        selection = (
            f"grid networks whose name holds one of {a.omlt_match}" if a.omlt_match
            else f"{a.omlt_max} grid networks ogmux solved (--omlt-select {a.omlt_select})"
        )  # fmt: skip
        rows = list(doc.get("omlt", []))
        if a.omlt_redo:
            selection = doc.get("omlt_settings", {}).get("selection", selection) + "; measured again together"
            chosen = [grid[r["network"]] for r in rows]
            doc.setdefault("repeats", {})["omlt_previous"] = {"rows": rows, "summary": summarize_omlt(rows)}
            rows = []
        done = {r["network"] for r in rows}
        for e in chosen:
            if _key(e) in done:
                continue
            load = os.getloadavg()[0]
            rows.append({**run_omlt(e, a.omlt_time_limit, a.omlt_gap), "load_avg_1m_at_start": load})
            doc["omlt"] = rows
            doc["omlt_summary"] = summarize_omlt(rows)
            doc["omlt_settings"] = {
                "mip_rel_gap": a.omlt_gap,
                "time_limit_s": a.omlt_time_limit,
                "omlt_formulation": "ReluBigMFormulation, interval bounds",
                "selection": selection,
                "solver": "appsi_highs",
                "ogmux_highs_options": SURROGATE_HIGHS_OPTIONS,
            }
            _save(doc, a.out)
            print(
                f"omlt {rows[-1]['network']}: speedup {rows[-1]['speedup']:.1f}x binaries "
                f"{rows[-1]['omlt_binaries']} vs {rows[-1]['ogmux_binaries']} agree {rows[-1]['agree_1e-6']}",
                flush=True,
            )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

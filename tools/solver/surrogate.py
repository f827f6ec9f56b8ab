"""Global optimization over a ReLU network embedded as a MILP, and the analysis of that embedding."""

from __future__ import annotations

import math
import time
from typing import Literal

import highspy
import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from ogmux.tools.solver.bounds import (
    MAX_MAGNITUDE,
    InputBounds,
    LayerBounds,
    LayerStability,
    TighteningStats,
    check_bounds,
    interval_bounds,
    layer_bounds,
    stability,
    tighten_bounds,
)
from ogmux.tools.solver.config import SolverConfig
from ogmux.tools.solver.errors import ModelError
from ogmux.tools.solver.formulation import Encoding, PreBounds, encode, to_highs_lp
from ogmux.tools.solver.highs_run import ProgressFn, SolveLimits, SolveStatus, new_highs, run_highs
from ogmux.tools.solver.network import ReluNetwork

__all__ = [
    "SURROGATE_HIGHS_OPTIONS",
    "NetworkAnalysis",
    "OutputObjective",
    "SurrogateConstraint",
    "SurrogateResult",
    "analyze_network",
    "compute_bounds",
    "optimize_surrogate",
]

VERIFY_RTOL = 1e-6
# Tight tolerances keep the forward-pass verification within VERIFY_RTOL. A feasible point is
# cheap here (any input is one, and `_start` seeds the best sample), while the dual bound is the
# hard part: HiGHS's sub-MIP heuristics (RINS, RENS) and root restarts spend most of the time on
# these small, dense models without moving the bound (2-3x slower on the benchmark networks).
SURROGATE_HIGHS_OPTIONS: dict[str, float | bool] = {
    "mip_feasibility_tolerance": 1e-9,
    "primal_feasibility_tolerance": 1e-9,
    "mip_heuristic_run_rins": False,
    "mip_heuristic_run_rens": False,
    "mip_allow_restart": False,
}
Tightening = Literal["lp", "interval"]


class OutputObjective(BaseModel):
    """Minimize or maximize one output, or sum(weights[j] * y_j)."""

    model_config = ConfigDict(extra="forbid")

    sense: Literal["minimize", "maximize"] = Field("minimize", description="direction")
    output: int | None = Field(
        0, ge=0, description="index of the output to optimize (ignored when `weights` is set)"
    )
    weights: list[float] | None = Field(
        None, description="coefficients of a linear combination of all outputs"
    )


class SurrogateConstraint(BaseModel):
    """A linear constraint on inputs x0.. and outputs y0..: sum(coef * var) SENSE rhs."""

    model_config = ConfigDict(extra="forbid")

    terms: dict[str, float] = Field(description='variable -> coefficient, variables named "x<j>" or "y<j>"')
    sense: Literal["<=", ">=", "=="]
    rhs: float


class SurrogateResult(BaseModel):
    """A global optimum (or the best point found at a limit) with its certificate."""

    status: SolveStatus
    solution_kind: Literal["optimal", "best_found_at_limit", "none"]
    message: str
    objective: float | None = Field(
        None, description="objective of `x` by a forward pass of the original network"
    )
    milp_objective: float | None = Field(None, description="objective value inside the MILP")
    bound: float | None = Field(None, description="best proven bound on the objective")
    gap: float | None = Field(None, description="relative gap between objective and bound")
    x: list[float] | None = None
    y: list[float] | None = Field(None, description="network outputs at x by a forward pass")
    verification_error: float | None = Field(
        None,
        description="|milp_objective - objective| / max(1, |objective|): relative for objectives above 1 in "
        "magnitude, absolute below",
    )
    verification_abs_error: float | None = Field(None, description="|milp_objective - objective|")
    verified: bool = Field(
        False,
        description=f"verification_error <= {VERIFY_RTOL}; when false `x` is not a verified optimum (see `message`)",
    )
    nodes: int = 0
    binaries: int
    time_s: float = Field(description="total: bounds + build + solve")
    bound_time_s: float
    build_time_s: float
    solve_time_s: float
    tightening: TighteningStats
    layers: list[LayerStability]


class NetworkAnalysis(BaseModel):
    """Bounds, stability and relaxation strength of a network's MILP embedding."""

    inputs: int
    outputs: int
    hidden_layers: list[int]
    parameters: int
    layers: list[LayerStability] = Field(description="after tightening")
    interval_layers: list[LayerStability] = Field(description="with interval bounds only")
    bounds: list[LayerBounds] = Field(
        description="pre-activation bounds of every hidden neuron, after tightening"
    )
    unstable: int
    binaries: int = Field(description="binary variables of the MILP encoding")
    output_lower: list[float] = Field(description="valid lower bounds of each output (from the bounds)")
    output_upper: list[float]
    lp_relaxation: list[float] = Field(description="LP relaxation bound of the objective")
    sampled_best: list[float] = Field(description="best objective among sampled inputs (a feasible value)")
    lp_gap_estimate: list[float] = Field(
        description="relative gap between the LP relaxation bound and the best sampled value (an upper estimate of the root gap)"
    )
    objective: OutputObjective
    tightening: TighteningStats


def compute_bounds(
    net: ReluNetwork,
    lo: np.ndarray,
    hi: np.ndarray,
    method: Tightening,
    time_budget_s: float,
) -> tuple[PreBounds, TighteningStats]:
    """Pre-activation bounds by interval propagation or LP-based tightening."""
    if method == "interval":
        start = time.perf_counter()
        b = interval_bounds(net, lo, hi)
        return b, TighteningStats(method="interval", time_s=time.perf_counter() - start)
    return tighten_bounds(net, lo, hi, time_budget_s)


def _cost(net: ReluNetwork, objective: OutputObjective) -> np.ndarray:
    if objective.weights is not None:
        c = np.asarray(objective.weights, dtype=float)
        if c.size != net.n_outputs or not np.isfinite(c).all():
            raise ModelError(
                f"objective.weights needs {net.n_outputs} finite numbers (one per output), got {c.size}"
            )
        return c
    if objective.output is None or objective.output >= net.n_outputs:
        raise ModelError(f"objective.output must be an output index in 0..{net.n_outputs - 1}")
    c = np.zeros(net.n_outputs)
    c[objective.output] = 1.0
    return c


def _check_objective_range(c: np.ndarray, out_bounds: tuple[np.ndarray, np.ndarray]) -> None:
    """Refuse an objective whose value over the output bounds is too large for HiGHS to optimize exactly."""
    with np.errstate(over="ignore", invalid="ignore"):
        reach = float(np.abs(c) @ np.maximum(np.abs(out_bounds[0]), np.abs(out_bounds[1])))
    if not math.isfinite(reach) or reach > MAX_MAGNITUDE:
        raise ModelError(
            f"the objective can reach {reach:.3g} over the output bounds, beyond {MAX_MAGNITUDE:.0e}: scale "
            "objective.weights down (the optimal input does not change with a positive scale)"
        )


def _add_constraints(
    h: highspy.Highs,
    net: ReluNetwork,
    x_cols: np.ndarray,
    y_cols: np.ndarray,
    constraints: list[SurrogateConstraint],
) -> None:
    for n, con in enumerate(constraints):
        cols, vals = [], []
        for name, coef in con.terms.items():
            kind, idx = name[:1], name[1:]
            limit = net.n_inputs if kind == "x" else net.n_outputs
            if kind not in ("x", "y") or not idx.isdigit() or int(idx) >= limit:
                raise ModelError(
                    f"constraints[{n}]: unknown variable {name!r}; use x0..x{net.n_inputs - 1} or y0..y{net.n_outputs - 1}"
                )
            if not math.isfinite(coef) or abs(coef) > MAX_MAGNITUDE:
                raise ModelError(
                    f"constraints[{n}]: coefficient of {name!r} must be finite and at most {MAX_MAGNITUDE:.0e} in size"
                )
            cols.append(int((x_cols if kind == "x" else y_cols)[int(idx)]))
            vals.append(coef)
        if not math.isfinite(con.rhs) or abs(con.rhs) > MAX_MAGNITUDE:
            raise ModelError(f"constraints[{n}]: rhs must be finite and at most {MAX_MAGNITUDE:.0e} in size")
        lo = con.rhs if con.sense in (">=", "==") else -highspy.kHighsInf
        hi = con.rhs if con.sense in ("<=", "==") else highspy.kHighsInf
        h.addRow(lo, hi, len(cols), np.array(cols, dtype=np.int32), np.array(vals, dtype=float))


def _assignment(enc: Encoding, net: ReluNetwork, x: np.ndarray) -> np.ndarray:
    """Values of every column of the encoding at input x (a feasible MILP point)."""
    v = np.zeros(enc.n_cols)
    v[enc.x_cols] = x
    h = x
    for k, (acts, bins) in enumerate(zip(enc.act_cols, enc.bin_cols)):
        z = net.weights[k] @ h + net.biases[k]
        h = np.maximum(z, 0.0)
        v[acts[acts >= 0]] = h[acts >= 0]
        v[bins[bins >= 0]] = (z[bins >= 0] > 0).astype(float)
    v[enc.y_cols] = net.weights[-1] @ h + net.biases[-1]
    return v


def _satisfies(con: SurrogateConstraint, x: np.ndarray, y: np.ndarray, tol: float = 1e-9) -> bool:
    lhs = sum(coef * (x if name[0] == "x" else y)[int(name[1:])] for name, coef in con.terms.items())
    return {"<=": lhs <= con.rhs + tol, ">=": lhs >= con.rhs - tol, "==": abs(lhs - con.rhs) <= tol}[
        con.sense
    ]


def _start(
    h: highspy.Highs,
    enc: Encoding,
    net: ReluNetwork,
    lo: np.ndarray,
    hi: np.ndarray,
    c: np.ndarray,
    maximize: bool,
    constraints: list[SurrogateConstraint],
    samples: int = 256,
) -> None:
    """Give HiGHS the best of a few sampled inputs as a starting incumbent (so a limit always has a point)."""
    pts = lo + (hi - lo) * np.random.default_rng(0).random((samples, net.n_inputs))
    ys = net.forward(pts)
    ok = [i for i in range(samples) if all(_satisfies(con, pts[i], ys[i]) for con in constraints)]
    if not ok:
        return
    vals = ys[ok] @ c
    best = ok[int(np.argmax(vals) if maximize else np.argmin(vals))]
    sol = highspy.HighsSolution()
    sol.col_value = _assignment(enc, net, pts[best]).tolist()
    h.setSolution(sol)


def _message(status: SolveStatus, kind: str, verified: bool) -> str:
    if kind == "none":
        if status == "infeasible":
            return "no input in the box satisfies the constraints"
        return f"no solution ({status}); raise the time limit or loosen constraints"
    if kind == "optimal":
        base = (
            "global optimum within the requested gap"
            if verified
            else "HiGHS proved the MILP optimal within the requested gap"
        )
    else:
        base = f"stopped at {status.replace('_', ' ')}: `x` is the best point found so far, NOT proven optimal; `bound` is the best proven bound"
    if verified:
        return base + "; verified by a forward pass"
    return base + (
        f"; WARNING: the network's forward pass at `x` differs from the MILP objective by more than {VERIFY_RTOL} "
        "(`verification_error`), so `x` is NOT a verified optimum of the network; `objective` is the network's "
        "value at `x`, and `bound` holds only up to that error"
    )


def optimize_surrogate(
    net: ReluNetwork,
    bounds: InputBounds,
    objective: OutputObjective | None = None,
    constraints: list[SurrogateConstraint] | None = None,
    limits: SolveLimits | None = None,
    tightening: Tightening = "lp",
    tighten_time_s: float | None = None,
    config: SolverConfig | None = None,
    on_progress: ProgressFn | None = None,
) -> SurrogateResult:
    """Globally optimize an output (or a linear combination) of `net` over the input box with HiGHS."""
    config = config or SolverConfig()
    limits = limits or SolveLimits()
    objective = objective or OutputObjective()
    net.check_size(config)
    lo, hi = check_bounds(net, bounds)
    c = _cost(net, objective)
    time_limit = min(limits.time_limit_s or config.default_time_s, config.max_time_s)
    budget = (
        min(config.obbt_time_s, 0.5 * time_limit)
        if tighten_time_s is None
        else min(tighten_time_s, time_limit)
    )
    t0 = time.perf_counter()
    pre, tstats = compute_bounds(net, lo, hi, tightening, budget)
    _check_objective_range(c, pre[-1])
    t1 = time.perf_counter()
    enc = encode(net, lo, hi, pre)
    cost = np.zeros(enc.n_cols)
    cost[enc.y_cols] = c
    h = new_highs()
    h.passModel(to_highs_lp(enc, cost, maximize=objective.sense == "maximize"))
    _add_constraints(h, net, enc.x_cols, enc.y_cols, constraints or [])
    if enc.n_binaries:
        _start(h, enc, net, lo, hi, c, objective.sense == "maximize", constraints or [])
    for option, value in SURROGATE_HIGHS_OPTIONS.items():
        h.setOptionValue(option, value)
    t2 = time.perf_counter()
    out = run_highs(h, limits, max(time_limit - (t2 - t0), 0.01), on_progress, is_mip=enc.n_binaries > 0)
    t3 = time.perf_counter()
    kind = "none"
    if out.has_solution and out.status == "optimal":
        kind = "optimal"
    elif out.has_solution and out.status in ("time_limit", "node_limit", "interrupted"):
        kind = "best_found_at_limit"
    maximize = objective.sense == "maximize"
    bound = _best_bound(out.bound, c, pre[-1], maximize)
    result = {
        "status": out.status,
        "nodes": out.nodes,
        "binaries": enc.n_binaries,
        "time_s": t3 - t0,
        "bound_time_s": t1 - t0,
        "build_time_s": t2 - t1,
        "solve_time_s": t3 - t2,
        "tightening": tstats,
        "layers": stability(net, pre),
        "bound": bound,
    }
    if kind == "none":
        return SurrogateResult(solution_kind=kind, message=_message(out.status, kind, False), **result)
    x = np.clip(out.col_value[enc.x_cols], lo, hi)
    y = net.forward(x)
    f = float(c @ y)
    milp_obj = float(out.objective)
    abs_err = abs(milp_obj - f)
    rel_err = abs_err / max(1.0, abs(f))
    verified = rel_err <= VERIFY_RTOL
    gap = abs(f - bound) / max(abs(f), 1e-10)
    return SurrogateResult(
        solution_kind=kind,
        message=_message(out.status, kind, verified),
        objective=f,
        milp_objective=milp_obj,
        gap=gap,
        x=x.tolist(),
        y=y.tolist(),
        verification_error=rel_err,
        verification_abs_error=abs_err,
        verified=verified,
        **result,
    )


def _best_bound(
    highs_bound: float | None, c: np.ndarray, out_bounds: tuple[np.ndarray, np.ndarray], maximize: bool
) -> float:
    """The tighter of HiGHS's proven bound and the bound implied by the valid output bounds."""
    L, U = out_bounds
    if maximize:
        implied = float(np.maximum(c, 0) @ U + np.minimum(c, 0) @ L)
        return implied if highs_bound is None else min(highs_bound, implied)
    implied = float(np.maximum(c, 0) @ L + np.minimum(c, 0) @ U)
    return implied if highs_bound is None else max(highs_bound, implied)


def _lp_bound(enc: Encoding, c: np.ndarray, maximize: bool) -> float:
    cost = np.zeros(enc.n_cols)
    cost[enc.y_cols] = c
    lp = to_highs_lp(enc, cost, maximize=maximize)
    lp.integrality_ = []  # the LP relaxation
    h = new_highs()
    h.passModel(lp)
    h.run()
    if h.getModelStatus() != highspy.HighsModelStatus.kOptimal:
        return float("nan")
    return float(h.getInfo().objective_function_value)


def analyze_network(
    net: ReluNetwork,
    bounds: InputBounds,
    objective: OutputObjective | None = None,
    tightening: Tightening = "lp",
    tighten_time_s: float | None = None,
    samples: int = 2048,
    seed: int = 0,
    config: SolverConfig | None = None,
) -> NetworkAnalysis:
    """Bounds, neuron stability, big-M statistics and the LP relaxation bound of the objective."""
    config = config or SolverConfig()
    objective = objective or OutputObjective()
    net.check_size(config)
    lo, hi = check_bounds(net, bounds)
    c = _cost(net, objective)
    ibp = interval_bounds(net, lo, hi)
    _check_objective_range(c, ibp[-1])
    budget = config.obbt_time_s if tighten_time_s is None else min(tighten_time_s, config.max_time_s)
    pre, tstats = compute_bounds(net, lo, hi, tightening, budget)
    enc = encode(net, lo, hi, pre)
    maximize = objective.sense == "maximize"
    lp = _lp_bound(enc, c, maximize)
    pts = lo + (hi - lo) * np.random.default_rng(seed).random((samples, net.n_inputs))
    vals = net.forward(pts) @ c
    best = float(vals.max() if maximize else vals.min())
    layers = stability(net, pre)
    return NetworkAnalysis(
        inputs=net.n_inputs,
        outputs=net.n_outputs,
        hidden_layers=net.hidden_sizes,
        parameters=net.n_params,
        layers=layers,
        interval_layers=stability(net, ibp),
        bounds=layer_bounds(net, pre),
        unstable=sum(l.unstable for l in layers),
        binaries=enc.n_binaries,
        output_lower=pre[-1][0].tolist(),
        output_upper=pre[-1][1].tolist(),
        lp_relaxation=[lp],
        sampled_best=[best],
        lp_gap_estimate=[abs(lp - best) / max(abs(best), 1e-10)],
        objective=objective,
        tightening=tstats,
    )

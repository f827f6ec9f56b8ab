"""LP/MILP given as JSON or as an MPS/LP file, solved with HiGHS."""

from __future__ import annotations

import math
import re
import tempfile
import time
from pathlib import Path
from typing import Literal

import highspy
import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from ogmux.tools.solver.config import SolverConfig
from ogmux.tools.solver.errors import ModelError, SizeLimitError
from ogmux.tools.solver.highs_run import (
    HighsOutcome,
    ProgressFn,
    SolveLimits,
    SolveStatus,
    new_highs,
    run_highs,
)
from ogmux.tools.solver.model_reader import read_in_child

__all__ = [
    "Constraint",
    "IisEntry",
    "LinearModel",
    "MilpResult",
    "Variable",
    "solve_milp",
    "solve_milp_file",
    "solve_milp_text",
]

_INF = highspy.kHighsInf
# HiGHS reads any bound, right-hand side or cost of this magnitude or more as infinite (its
# `infinite_bound` and `infinite_cost`): a finite one would silently make a bounded model unbounded.
_HIGHS_INFINITE_AT = 1e20


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Variable(_Strict):
    """A decision variable; `None` bounds are infinite."""

    name: str = Field(min_length=1, max_length=255, description="unique variable name")
    lower: float | None = Field(0.0, description="lower bound; null = -infinity")
    upper: float | None = Field(None, description="upper bound; null = +infinity")
    type: Literal["continuous", "integer", "binary"] = Field("continuous", description="integrality")


class Constraint(_Strict):
    """sum(coef * var) SENSE rhs."""

    name: str = Field(min_length=1, max_length=255, description="unique constraint name")
    terms: dict[str, float] = Field(description="variable name -> coefficient")
    sense: Literal["<=", ">=", "=="] = Field(description="relation to the right-hand side")
    rhs: float = Field(description="right-hand side")


class LinearModel(_Strict):
    """A linear or mixed-integer linear program."""

    variables: list[Variable] = Field(min_length=1, description="decision variables")
    constraints: list[Constraint] = Field(default_factory=list, description="linear constraints")
    objective: dict[str, float] = Field(
        default_factory=dict, description="variable name -> objective coefficient"
    )
    objective_constant: float = Field(0.0, description="constant added to the objective")
    sense: Literal["minimize", "maximize"] = Field("minimize", description="optimization direction")


class IisEntry(_Strict):
    """One member of an irreducible infeasible subset."""

    kind: Literal["constraint", "variable_bound"]
    name: str
    bound: Literal["lower", "upper", "both"] = Field(description="which of its bounds is in the conflict")


class MilpResult(_Strict):
    """The answer of a solve; `solution_kind` says whether `values` is a proven optimum or the best found."""

    status: SolveStatus
    solution_kind: Literal["optimal", "best_found_at_limit", "none"]
    message: str
    is_mip: bool
    objective: float | None = None
    bound: float | None = Field(None, description="best proven bound on the objective")
    gap: float | None = Field(None, description="relative MIP gap |objective - bound| / |objective|")
    nodes: int = 0
    time_s: float
    num_variables: int
    num_constraints: int
    values: dict[str, float] | None = None
    duals: dict[str, float] | None = Field(
        None, description="LP only: constraint duals (d objective / d rhs)"
    )
    reduced_costs: dict[str, float] | None = Field(None, description="LP only: variable reduced costs")
    iis: list[IisEntry] | None = Field(
        None, description="an irreducible infeasible subset, when HiGHS finds one"
    )
    iis_of_relaxation: bool = Field(False, description="the IIS is of the LP relaxation of a MILP")


def _finite(value: float, where: str, infinite: str) -> float:
    """`value` when HiGHS reads it as the finite number it is; else a ModelError naming `where`."""
    if math.isnan(value):
        raise ModelError(f"{where} is NaN; give a number{infinite}")
    if abs(value) >= _HIGHS_INFINITE_AT:
        raise ModelError(
            f"{where} is {value:g}; HiGHS reads magnitudes of {_HIGHS_INFINITE_AT:g} or more as infinite: "
            f"rescale the model{infinite}"
        )
    return float(value)


def _num(value: float | None, where: str, default: float) -> float:
    if value is None:
        return default
    return _finite(value, where, " (or null for an infinite bound)")


def _check_size(n_col: int, n_row: int, nnz: int, config: SolverConfig) -> None:
    for what, n, cap, key in (
        ("variables", n_col, config.max_variables, "max_variables"),
        ("constraints", n_row, config.max_constraints, "max_constraints"),
        ("nonzeros", nnz, config.max_nonzeros, "max_nonzeros"),
    ):
        if n > cap:
            raise SizeLimitError(
                f"model has {n} {what}, over the limit of {cap} (solver.{key}); split or reduce it"
            )


def _to_highs_lp(model: LinearModel, config: SolverConfig) -> highspy.HighsLp:
    import scipy.sparse as sp  # with the first JSON model, not with the solver tools' schemas

    index: dict[str, int] = {}
    for j, v in enumerate(model.variables):
        if v.name in index:
            raise ModelError(
                f"variable name {v.name!r} is used twice (variables[{index[v.name]}] and variables[{j}])"
            )
        index[v.name] = j
    seen: set[str] = set()
    rows, cols, vals = [], [], []
    row_lo, row_hi = [], []
    for i, c in enumerate(model.constraints):
        if c.name in seen:
            raise ModelError(f"constraint name {c.name!r} is used twice")
        seen.add(c.name)
        for var, coef in c.terms.items():
            if var not in index:
                raise ModelError(
                    f"constraint {c.name!r} uses unknown variable {var!r}; declare it in `variables`"
                )
            if not math.isfinite(coef):
                raise ModelError(f"constraint {c.name!r}: coefficient of {var!r} is {coef}; must be finite")
            rows.append(i)
            cols.append(index[var])
            vals.append(coef)
        _finite(c.rhs, f"constraint {c.name!r}: rhs", " (or drop the constraint)")
        row_lo.append(c.rhs if c.sense in (">=", "==") else -_INF)
        row_hi.append(c.rhs if c.sense in ("<=", "==") else _INF)
    n, m = len(model.variables), len(model.constraints)
    _check_size(n, m, len(vals), config)
    cost = np.zeros(n)
    for var, coef in model.objective.items():
        if var not in index:
            raise ModelError(f"objective uses unknown variable {var!r}; declare it in `variables`")
        cost[index[var]] = _finite(coef, f"objective coefficient of {var!r}", "")
    lo, hi, integ = np.empty(n), np.empty(n), []
    for j, v in enumerate(model.variables):
        default_hi = 1.0 if v.type == "binary" else _INF
        default_lo = 0.0 if v.type == "binary" else -_INF
        lo[j] = max(_num(v.lower, f"variable {v.name!r} lower bound", default_lo), default_lo)
        hi[j] = min(_num(v.upper, f"variable {v.name!r} upper bound", default_hi), default_hi)
        if lo[j] > hi[j]:
            raise ModelError(f"variable {v.name!r} has lower bound {lo[j]} > upper bound {hi[j]}")
        integ.append(
            highspy.HighsVarType.kContinuous if v.type == "continuous" else highspy.HighsVarType.kInteger
        )
    a = sp.csc_matrix((vals, (rows, cols)), shape=(m, n))
    lp = highspy.HighsLp()
    lp.num_col_, lp.num_row_ = n, m
    lp.col_cost_, lp.col_lower_, lp.col_upper_ = cost, lo, hi
    lp.row_lower_, lp.row_upper_ = np.array(row_lo, dtype=float), np.array(row_hi, dtype=float)
    lp.a_matrix_.format_ = highspy.MatrixFormat.kColwise
    lp.a_matrix_.start_ = a.indptr.astype(np.int32)
    lp.a_matrix_.index_ = a.indices.astype(np.int32)
    lp.a_matrix_.value_ = a.data.astype(float)
    lp.offset_ = float(model.objective_constant)
    lp.sense_ = highspy.ObjSense.kMaximize if model.sense == "maximize" else highspy.ObjSense.kMinimize
    lp.col_names_ = [v.name for v in model.variables]
    lp.row_names_ = [c.name for c in model.constraints]
    if any(t != highspy.HighsVarType.kContinuous for t in integ):
        lp.integrality_ = integ
    return lp


_BOUND = {
    highspy.IisBoundStatus.kIisBoundStatusLower: "lower",
    highspy.IisBoundStatus.kIisBoundStatusUpper: "upper",
    highspy.IisBoundStatus.kIisBoundStatusBoxed: "both",
}
# An elastic LP finds conflicts among constraints too (the default light test sees only bound clashes);
# the deletion filter then makes the subset irreducible.
_IIS_STRATEGY = int(highspy.IisStrategy.kIisStrategyFromLp) | int(highspy.IisStrategy.kIisStrategyIrreducible)


def _iis(h: highspy.Highs, col_names: list[str], row_names: list[str], time_s: float) -> list[IisEntry] | None:
    """The IIS of the infeasible LP solved in `h`, or None when HiGHS finds none proven irreducible in `time_s`."""
    if time_s <= 0:
        return None
    h.setOptionValue("iis_strategy", _IIS_STRATEGY)
    h.setOptionValue("iis_time_limit", float(time_s))
    status, iis = h.getIis()
    # kWarning: the time ran out with an infeasible but not yet irreducible subset.
    if status != highspy.HighsStatus.kOk or not iis.valid_:
        return None
    out = []
    for kind, names, indices, bounds in (
        ("constraint", row_names, iis.row_index_, iis.row_bound_),
        ("variable_bound", col_names, iis.col_index_, iis.col_bound_),
    ):
        for i, b in zip(indices, bounds):
            # A column of the IIS whose own bounds take no part in the conflict has bound status free.
            if (bound := _BOUND.get(highspy.IisBoundStatus(int(b)))) is not None:
                out.append(IisEntry(kind=kind, name=names[int(i)], bound=bound))
    return out or None


def _message(status: SolveStatus, has_solution: bool, is_mip: bool) -> str:
    if status == "optimal":
        return "optimal solution found" + (" (within the requested MIP gap)" if is_mip else "")
    if status in ("time_limit", "node_limit", "interrupted"):
        what = {"time_limit": "time limit", "node_limit": "node limit", "interrupted": "interruption"}[status]
        if has_solution:
            return f"stopped at the {what}: `values` is the best solution found so far, NOT proven optimal; `bound` is the best proven bound"
        return f"stopped at the {what} before any feasible solution was found; raise the time limit"
    if status == "infeasible":
        return "the model is infeasible: no assignment satisfies all constraints and bounds (see `iis` when present)"
    if status == "unbounded":
        return "the model is unbounded: the objective can improve without limit; add bounds or constraints"
    if status == "infeasible_or_unbounded":
        return (
            "the model is infeasible or unbounded (HiGHS could not tell which); check bounds and constraints"
        )
    return "HiGHS reported an error while solving; check the model for extreme coefficients"


def _solve_loaded(
    h: highspy.Highs,
    limits: SolveLimits,
    config: SolverConfig,
    on_progress: ProgressFn | None,
) -> MilpResult:
    lp = h.getLp()
    col_names = list(lp.col_names_) or [f"c{j}" for j in range(lp.num_col_)]
    row_names = list(lp.row_names_) or [f"r{i}" for i in range(lp.num_row_)]
    is_mip = any(t != highspy.HighsVarType.kContinuous for t in lp.integrality_)
    time_limit = min(limits.time_limit_s or config.default_time_s, config.max_time_s)
    start = time.perf_counter()
    out: HighsOutcome = run_highs(h, limits, time_limit, on_progress, is_mip=is_mip)
    if out.status == "infeasible_or_unbounded":
        # Without presolve HiGHS tells the two apart (for MILPs too); the re-solve gets what time is left.
        h.setOptionValue("presolve", "off")
        h.clearSolver()
        out = run_highs(h, limits, max(time_limit - out.time_s, 0.01), None, is_mip=is_mip)
    iis, iis_relaxed, no_iis = None, False, ""
    if out.status == "infeasible":
        left = time_limit - (time.perf_counter() - start)
        out_of_time = "; no irreducible infeasible subset was found in the time left: raise the time limit to get one"
        if not is_mip:
            iis = _iis(h, col_names, row_names, left)
            no_iis = out_of_time
        else:
            relaxed = new_highs()
            lp_relaxed = h.getLp()
            lp_relaxed.integrality_ = []
            relaxed.passModel(lp_relaxed)
            relaxed.setOptionValue("time_limit", max(float(left), 0.01))
            relaxed.run()
            if relaxed.getModelStatus() == highspy.HighsModelStatus.kInfeasible:
                iis = _iis(relaxed, col_names, row_names, time_limit - (time.perf_counter() - start))
                iis_relaxed, no_iis = iis is not None, out_of_time
            elif relaxed.getModelStatus() == highspy.HighsModelStatus.kOptimal:
                no_iis = "; its LP relaxation is feasible, so the conflict needs integrality: there is no IIS to show"
    if out.status == "optimal" and out.has_solution:
        kind = "optimal"
    elif out.status in ("time_limit", "node_limit", "interrupted") and out.has_solution:
        kind = "best_found_at_limit"
    else:
        kind = "none"
    keep = kind != "none"
    return MilpResult(
        status=out.status,
        solution_kind=kind,
        message=_message(out.status, out.has_solution, is_mip) + (no_iis if iis is None else ""),
        is_mip=is_mip,
        objective=out.objective if keep else None,
        bound=out.bound,
        gap=out.gap,
        nodes=out.nodes,
        time_s=out.time_s,
        num_variables=lp.num_col_,
        num_constraints=lp.num_row_,
        values=dict(zip(col_names, out.col_value.tolist())) if keep and out.col_value is not None else None,
        duals=dict(zip(row_names, out.row_dual.tolist())) if out.row_dual is not None else None,
        reduced_costs=dict(zip(col_names, out.col_dual.tolist())) if out.col_dual is not None else None,
        iis=iis,
        iis_of_relaxation=iis_relaxed,
    )


def solve_milp(
    model: LinearModel,
    limits: SolveLimits | None = None,
    config: SolverConfig | None = None,
    on_progress: ProgressFn | None = None,
) -> MilpResult:
    """Solve a JSON LP/MILP with HiGHS; raise ModelError/SizeLimitError for malformed or oversized models."""
    config = config or SolverConfig()
    h = new_highs()
    status = h.passModel(_to_highs_lp(model, config))
    if status == highspy.HighsStatus.kError:
        raise ModelError("HiGHS rejected the model; check bounds and coefficients for extreme values")
    return _solve_loaded(h, limits or SolveLimits(), config, on_progress)


_LOCATION = re.compile(r"^\s*-->\s*(?P<path>.*):(?P<line>\d+):(?P<col>\d+)\s*$")
_QUOTED = re.compile(r'"([^"]+)"')


def _parse_error(messages: list[str], path: Path, source: str, fmt: str) -> str:
    """HiGHS's reader errors about `path`, said about `source` with the line of the problem."""
    errors = [
        m.removeprefix("ERROR:").strip()
        for m in messages
        if m.startswith("ERROR:") and "Parser error reading" not in m
    ]
    if not errors:
        return f"{source}: HiGHS could not read it as {fmt}; check it is valid {fmt}"
    lines = errors[0].splitlines()
    headline, where, label, hint = lines[0], None, "", ""
    for line in lines[1:]:
        if m := _LOCATION.match(line):
            where = f"line {m['line']}, column {m['col']}"
        elif "^" in line:
            label = line.split("^")[-1].strip()
        elif line.strip().startswith("= help:"):
            hint = line.strip().removeprefix("= help:").strip()
    if where is None:
        # The MPS reader names the offending entry but not its line: find the entry in the text.
        text = path.read_text(encoding="utf-8", errors="replace").splitlines()
        quoted = _QUOTED.findall(headline)
        found = next((n for n, line in enumerate(text, 1) for q in quoted if q in line), None)
        where = f"line {found}" if found is not None else "(line unknown)"
    detail = headline.replace(str(path), source) + (f" ({label})" if label else "") + (f"; {hint}" if hint else "")
    return f"{source} {where}: {detail}"


def _from_arrays(m: dict) -> highspy.HighsLp:
    """The HighsLp of a model read by `read_in_child`."""
    lp = highspy.HighsLp()
    lp.num_col_, lp.num_row_ = m["num_col"], m["num_row"]
    lp.col_cost_, lp.col_lower_, lp.col_upper_ = (np.array(m[k], dtype=float) for k in ("col_cost", "col_lower", "col_upper"))
    lp.row_lower_, lp.row_upper_ = np.array(m["row_lower"], dtype=float), np.array(m["row_upper"], dtype=float)
    a = m["a"]
    lp.a_matrix_.format_ = highspy.MatrixFormat(a["format"])
    lp.a_matrix_.start_, lp.a_matrix_.index_ = np.array(a["start"], np.int32), np.array(a["index"], np.int32)
    lp.a_matrix_.value_ = np.array(a["value"], dtype=float)
    lp.sense_, lp.offset_ = highspy.ObjSense(m["sense"]), m["offset"]
    lp.col_names_, lp.row_names_ = m["col_names"], m["row_names"]
    if m["integrality"]:
        lp.integrality_ = [highspy.HighsVarType(t) for t in m["integrality"]]
    return lp


def _read_model(path: Path, source: str, config: SolverConfig) -> highspy.Highs:
    """`path` loaded into a new HiGHS instance; errors name `source` (what the caller gave) and the line."""
    fmt = path.suffix[1:].upper()
    try:
        read = read_in_child(path, config.read_timeout_s)
    except TimeoutError:
        raise ModelError(
            f"{source}: HiGHS's {fmt} reader did not finish in {config.read_timeout_s:g} s; check it is valid {fmt}"
        ) from None
    if not read["ok"]:
        raise ModelError(_parse_error(read["messages"], path, source, fmt))
    m = read["model"]
    if m["num_col"] == 0:
        raise ModelError(
            f"{source}: the model has no variables, so there is nothing to solve; "
            + ("declare them in the COLUMNS section" if fmt == "MPS" else "use them in the objective or constraints")
        )
    _check_size(m["num_col"], m["num_row"], len(m["a"]["value"]), config)
    h = new_highs()
    if h.passModel(_from_arrays(m)) == highspy.HighsStatus.kError:
        raise ModelError(f"{source}: HiGHS rejected the model; check bounds and coefficients for extreme values")
    q = m["q"]
    if q["dim"]:
        hessian = highspy.HighsHessian()
        hessian.dim_, hessian.format_ = q["dim"], highspy.HessianFormat(q["format"])
        hessian.start_, hessian.index_, hessian.value_ = q["start"], q["index"], q["value"]
        h.passHessian(hessian)
    return h


def solve_milp_file(
    path: Path,
    limits: SolveLimits | None = None,
    config: SolverConfig | None = None,
    on_progress: ProgressFn | None = None,
) -> MilpResult:
    """Solve an MPS (.mps, free or fixed) or CPLEX LP (.lp) file with HiGHS."""
    config = config or SolverConfig()
    path = Path(path)
    if path.suffix.lower() not in (".mps", ".lp"):
        raise ModelError(f"{path.name}: unsupported file type {path.suffix!r}; give a .mps or .lp file")
    if not path.is_file():
        raise ModelError(f"{path}: file not found")
    h = _read_model(path, str(path), config)
    return _solve_loaded(h, limits or SolveLimits(), config, on_progress)


def solve_milp_text(
    text: str,
    fmt: Literal["mps", "lp"],
    limits: SolveLimits | None = None,
    config: SolverConfig | None = None,
    on_progress: ProgressFn | None = None,
    source: str = "model_text",
) -> MilpResult:
    """Solve MPS or CPLEX LP `text`; errors name `source` (e.g. the request field) instead of a file."""
    config = config or SolverConfig()
    with tempfile.TemporaryDirectory(prefix="ogmux-milp-") as tmp:
        path = Path(tmp) / f"model.{fmt}"
        path.write_text(text, encoding="utf-8")
        h = _read_model(path, source, config)
    return _solve_loaded(h, limits or SolveLimits(), config, on_progress)

"""LP/MILP given as JSON or as an MPS/LP file, solved with HiGHS."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Literal

import highspy
import numpy as np
import scipy.sparse as sp
from pydantic import BaseModel, ConfigDict, Field

from ogmux.tools.solver.config import SolverConfig
from ogmux.tools.solver.errors import ModelError, SizeLimitError
from ogmux.tools.solver.highs_run import HighsOutcome, ProgressFn, SolveLimits, SolveStatus, new_highs, run_highs

__all__ = [
    "Constraint",
    "IisEntry",
    "LinearModel",
    "MilpResult",
    "Variable",
    "solve_milp",
    "solve_milp_file",
]

_INF = highspy.kHighsInf


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
    bound: Literal["lower", "upper", "both", "free"]


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


def _num(value: float | None, where: str, default: float) -> float:
    if value is None:
        return default
    if math.isnan(value):
        raise ModelError(f"{where} is NaN; give a number (or null for an infinite bound)")
    return float(value)


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
        if not math.isfinite(c.rhs):
            raise ModelError(f"constraint {c.name!r}: rhs is {c.rhs}; must be finite")
        row_lo.append(c.rhs if c.sense in (">=", "==") else -_INF)
        row_hi.append(c.rhs if c.sense in ("<=", "==") else _INF)
    n, m = len(model.variables), len(model.constraints)
    _check_size(n, m, len(vals), config)
    cost = np.zeros(n)
    for var, coef in model.objective.items():
        if var not in index:
            raise ModelError(f"objective uses unknown variable {var!r}; declare it in `variables`")
        if not math.isfinite(coef):
            raise ModelError(f"objective coefficient of {var!r} is {coef}; must be finite")
        cost[index[var]] = coef
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
    highspy.IisBoundStatus.kIisBoundStatusFree: "free",
}


def _iis(h: highspy.Highs, col_names: list[str], row_names: list[str]) -> list[IisEntry] | None:
    status, iis = h.getIis()
    if status == highspy.HighsStatus.kError or not iis.valid_:
        return None
    out = [
        IisEntry(
            kind="constraint",
            name=row_names[int(i)],
            bound=_BOUND.get(highspy.IisBoundStatus(int(b)), "both"),
        )
        for i, b in zip(iis.row_index_, iis.row_bound_)
    ]
    out += [
        IisEntry(
            kind="variable_bound",
            name=col_names[int(j)],
            bound=_BOUND.get(highspy.IisBoundStatus(int(b)), "both"),
        )
        for j, b in zip(iis.col_index_, iis.col_bound_)
    ]
    return out or None


def _message(status: SolveStatus, has_solution: bool, is_mip: bool) -> str:
    if status == "optimal":
        return "optimal solution found" + (" (within the requested MIP gap)" if is_mip else "")
    if status in ("time_limit", "node_limit", "interrupted"):
        what = {"time_limit": "time limit", "node_limit": "node limit", "interrupted": "interruption"}[status]
        if has_solution:
            return f"stopped at the {what}: `values` is the best solution found so far, NOT proven optimal; `bound` is the best proven bound"
        return f"stopped at the {what} before any feasible solution was found; raise time_limit_s"
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
    out: HighsOutcome = run_highs(h, limits, time_limit, on_progress, is_mip=is_mip)
    if out.status == "infeasible_or_unbounded":
        # Without presolve HiGHS tells the two apart (for MILPs too); the re-solve gets what time is left.
        h.setOptionValue("presolve", "off")
        h.clearSolver()
        out = run_highs(h, limits, max(time_limit - out.time_s, 0.01), None, is_mip=is_mip)
    iis, iis_relaxed = None, False
    if out.status == "infeasible":
        if not is_mip:
            iis = _iis(h, col_names, row_names)
        else:
            relaxed = new_highs()
            lp_relaxed = h.getLp()
            lp_relaxed.integrality_ = []
            relaxed.passModel(lp_relaxed)
            relaxed.setOptionValue("time_limit", float(time_limit))
            relaxed.run()
            if relaxed.getModelStatus() == highspy.HighsModelStatus.kInfeasible:
                iis = _iis(relaxed, col_names, row_names)
                iis_relaxed = iis is not None
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
        message=_message(out.status, out.has_solution, is_mip),
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
    h = new_highs()
    if h.readModel(str(path)) == highspy.HighsStatus.kError:
        raise ModelError(
            f"{path.name}: HiGHS could not read the file; check it is valid {path.suffix[1:].upper()}"
        )
    _check_size(h.getNumCol(), h.getNumRow(), h.getNumNz(), config)
    return _solve_loaded(h, limits or SolveLimits(), config, on_progress)

"""Running a loaded HiGHS model with limits and progress, and reading back a uniform outcome."""

from __future__ import annotations

import math
import os
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

import highspy
import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from ogmux.tools.solver.cancel import cancel_event, cancel_on

__all__ = [
    "HighsOutcome",
    "ProgressFn",
    "SolveLimits",
    "SolveProgress",
    "SolveStatus",
    "cancel_on",
    "new_highs",
    "run_highs",
]

SolveStatus = Literal[
    "optimal",
    "infeasible",
    "unbounded",
    "infeasible_or_unbounded",
    "time_limit",
    "node_limit",
    "interrupted",
    "error",
]

_STATUS: dict[highspy.HighsModelStatus, SolveStatus] = {
    highspy.HighsModelStatus.kOptimal: "optimal",
    highspy.HighsModelStatus.kModelEmpty: "optimal",
    highspy.HighsModelStatus.kInfeasible: "infeasible",
    highspy.HighsModelStatus.kUnbounded: "unbounded",
    highspy.HighsModelStatus.kUnboundedOrInfeasible: "infeasible_or_unbounded",
    highspy.HighsModelStatus.kTimeLimit: "time_limit",
    highspy.HighsModelStatus.kIterationLimit: "node_limit",
    highspy.HighsModelStatus.kSolutionLimit: "node_limit",
    highspy.HighsModelStatus.kInterrupt: "interrupted",
    highspy.HighsModelStatus.kHighsInterrupt: "interrupted",
}


class SolveLimits(BaseModel):
    """Limits of one solve."""

    model_config = ConfigDict(extra="forbid")

    time_limit_s: float | None = Field(
        None, gt=0, description="wall-clock limit in seconds; default from config"
    )
    mip_rel_gap: float = Field(
        1e-4, ge=0, le=1, description="stop when (primal - dual bound)/|primal| <= this"
    )
    mip_abs_gap: float = Field(1e-6, ge=0, description="stop when |primal - dual bound| <= this")
    node_limit: int | None = Field(None, ge=1, description="largest number of branch-and-bound nodes")


class SolveProgress(BaseModel):
    """A progress event sent while a MILP runs."""

    time_s: float
    nodes: int
    primal_bound: float | None = Field(None, description="objective of the best solution so far")
    dual_bound: float | None = Field(None, description="best proven bound so far")
    gap: float | None = None
    event: Literal["improved_solution", "progress"]


ProgressFn = Callable[[SolveProgress], None]


@dataclass
class HighsOutcome:
    """What a run produced, in the orientation of the model's own objective sense."""

    status: SolveStatus
    has_solution: bool
    objective: float | None
    bound: float | None
    gap: float | None
    nodes: int
    time_s: float
    col_value: np.ndarray | None
    row_dual: np.ndarray | None
    col_dual: np.ndarray | None
    raw_status: str


def _swallow_banner() -> None:
    # HiGHS prints its banner to fd 1 once per process, from the constructor, before any option can
    # silence it: it would corrupt a stdio MCP stream, and on stderr it is noise. Send it to /dev/null.
    sys.stdout.flush()
    sys.stderr.flush()
    saved = os.dup(1), os.dup(2)
    null = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(null, 1)
        os.dup2(null, 2)
        highspy.Highs()
    finally:
        for fd, original in zip((1, 2), saved, strict=True):
            os.dup2(original, fd)
            os.close(original)
        os.close(null)


_swallow_banner()


def new_highs() -> highspy.Highs:
    """A silent HiGHS instance, interruptible when made inside `cancel_on`."""
    h = highspy.Highs()
    h.setOptionValue("output_flag", False)
    event = cancel_event()
    if event is not None:

        def _interrupt(e: highspy.HighsCallbackEvent) -> None:
            if event.is_set():
                e.interrupt()

        for callback in (h.cbSimplexInterrupt, h.cbIpmInterrupt, h.cbMipInterrupt):
            callback.subscribe(_interrupt)
    return h


def _finite(v: float) -> float | None:
    return float(v) if v is not None and math.isfinite(v) and abs(v) < highspy.kHighsInf else None


def run_highs(
    h: highspy.Highs,
    limits: SolveLimits,
    time_limit_s: float,
    on_progress: ProgressFn | None = None,
    *,
    is_mip: bool,
    progress_every_s: float = 0.5,
) -> HighsOutcome:
    """Solve the model loaded in `h` within `limits`; report MILP progress through `on_progress`."""
    h.setOptionValue("time_limit", float(time_limit_s))
    h.setOptionValue("mip_rel_gap", float(limits.mip_rel_gap))
    h.setOptionValue("mip_abs_gap", float(limits.mip_abs_gap))
    if limits.node_limit is not None:
        h.setOptionValue("mip_max_nodes", int(limits.node_limit))
    start = time.perf_counter()
    if on_progress is not None and is_mip:
        last = [-math.inf]

        def _emit(e: highspy.HighsCallbackEvent) -> None:
            improved = e.callback_type == highspy.cb.HighsCallbackType.kCallbackMipImprovingSolution
            now = time.perf_counter() - start
            if not improved and now - last[0] < progress_every_s:
                return
            last[0] = now
            out = e.data_out
            on_progress(
                SolveProgress(
                    time_s=now,
                    nodes=int(out.mip_node_count),
                    primal_bound=_finite(out.mip_primal_bound),
                    dual_bound=_finite(out.mip_dual_bound),
                    gap=_finite(out.mip_gap),
                    event="improved_solution" if improved else "progress",
                )
            )

        h.cbMipImprovingSolution.subscribe(_emit)
        h.cbMipInterrupt.subscribe(_emit)
    h.run()
    elapsed = time.perf_counter() - start
    model_status = h.getModelStatus()
    status = _STATUS.get(model_status, "error")
    info = h.getInfo()
    sol = h.getSolution()
    has_solution = bool(sol.value_valid) and info.primal_solution_status == highspy.kSolutionStatusFeasible
    objective = _finite(info.objective_function_value) if has_solution else None
    if is_mip:
        bound = _finite(info.mip_dual_bound)
        gap = _finite(info.mip_gap) if has_solution else None
        nodes = int(info.mip_node_count)
    else:
        bound = objective if status == "optimal" else None
        gap = 0.0 if status == "optimal" else None
        nodes = 0
    if status == "optimal" and objective is not None and bound is None:
        bound = objective
    duals_ok = (not is_mip) and status == "optimal" and bool(sol.dual_valid)
    return HighsOutcome(
        status=status,
        has_solution=has_solution,
        objective=objective,
        bound=bound,
        gap=gap,
        nodes=nodes,
        time_s=elapsed,
        col_value=np.asarray(sol.col_value, dtype=float) if has_solution else None,
        row_dual=np.asarray(sol.row_dual, dtype=float) if duals_ok else None,
        col_dual=np.asarray(sol.col_dual, dtype=float) if duals_ok else None,
        raw_status=h.modelStatusToString(model_status),
    )

"""`solve_milp`: solve an LP/MILP given as JSON (or MPS/LP text) with HiGHS."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from ogmux.server.context import ToolContext
from ogmux.server.registry import ToolSpec
from ogmux.server.solving import run_with_progress
from ogmux.tools.solver import (
    LinearModel,
    MilpResult,
    SizeLimitError,
    SolveLimits,
    solve_milp,
    solve_milp_text,
)


class SolveMilpInput(BaseModel):
    model_config = ConfigDict(extra="forbid")

    model: LinearModel | None = Field(
        None, description="terms/objective: variable -> coefficient; null bound = infinite (lower default 0)"
    )
    model_text: str | None = Field(None, description="instead of model: MPS or CPLEX-LP text")
    model_format: Literal["mps", "lp"] = "mps"
    limits: SolveLimits = Field(default_factory=SolveLimits)


async def handle(args: SolveMilpInput, ctx: ToolContext) -> MilpResult:
    config = ctx.settings.solver
    if (args.model is None) == (args.model_text is None):
        raise ValueError("give exactly one of `model` (JSON) or `model_text` (MPS/LP text)")
    total = min(args.limits.time_limit_s or config.default_time_s, config.max_time_s)
    if args.model is not None:
        return await run_with_progress(ctx, total, lambda p: solve_milp(args.model, args.limits, config, p))
    size = len(args.model_text.encode("utf-8"))
    if size > config.max_inline_bytes:
        raise SizeLimitError(
            f"model_text is {size} bytes, over solver.max_inline_bytes = {config.max_inline_bytes}"
        )
    return await run_with_progress(
        ctx, total, lambda p: solve_milp_text(args.model_text, args.model_format, args.limits, config, p)
    )


def render(out: MilpResult) -> str:
    lines = [f"status: {out.status} ({out.message})"]
    if out.objective is not None:
        lines.append(
            f"objective: {out.objective:.10g}"
            + (
                f"  bound: {out.bound:.10g}  gap: {out.gap:.3g}"
                if out.is_mip and out.bound is not None and out.gap is not None
                else ""
            )
        )
    lines.append(
        f"time: {out.time_s:.3f}s  nodes: {out.nodes}  size: {out.num_variables} vars x {out.num_constraints} rows"
    )
    if out.values:
        nonzero = {k: v for k, v in out.values.items() if abs(v) > 1e-12}
        shown = list(nonzero.items())[:50]
        lines.append(
            "nonzero values: "
            + ", ".join(f"{k}={v:.8g}" for k, v in shown)
            + (" ..." if len(nonzero) > 50 else "")
        )
    if out.iis:
        lines.append(
            ("IIS of the LP relaxation: " if out.iis_of_relaxation else "IIS: ")
            + "; ".join(f"{e.kind} {e.name} ({e.bound})" for e in out.iis)
        )
    return "\n".join(lines)


SPEC = ToolSpec(
    name="solve_milp",
    title="Solve an LP/MILP",
    description="Solve an LP or MILP exactly with HiGHS: status, objective, values, gap; LP duals; an IIS when "
    "infeasible.",
    input_model=SolveMilpInput,
    output_model=MilpResult,
    handler=handle,
    capability="solver",
    render=render,
)

"""`optimize_surrogate`: the global optimum of a ReLU network over an input box, with its certificate."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from ogmux.server.context import ToolContext
from ogmux.server.registry import ToolSpec
from ogmux.server.solving import NetworkRef, load_network, run_with_progress
from ogmux.tools.solver import (
    InputBounds,
    OutputObjective,
    SolveLimits,
    SurrogateConstraint,
    SurrogateResult,
    optimize_surrogate,
)


class OptimizeSurrogateInput(BaseModel):
    model_config = ConfigDict(extra="forbid")

    network: NetworkRef = Field(
        description="the ReLU network: a file in the network directory, or inline JSON"
    )
    bounds: InputBounds = Field(description="finite lower/upper bound of every input")
    objective: OutputObjective = Field(
        default_factory=OutputObjective, description="minimize/maximize an output or a combination"
    )
    constraints: list[SurrogateConstraint] = Field(
        default_factory=list,
        max_length=1000,
        description='extra linear constraints on inputs "x<j>" and outputs "y<j>"',
    )
    limits: SolveLimits = Field(default_factory=SolveLimits, description="time limit, MIP gap, node limit")
    tightening: Literal["lp", "interval"] = Field(
        "lp", description="LP-based bound tightening, or interval bounds only"
    )
    tighten_time_s: float | None = Field(
        None, ge=0, le=600, description="budget for LP tightening; default from config"
    )


async def handle(args: OptimizeSurrogateInput, ctx: ToolContext) -> SurrogateResult:
    config = ctx.settings.solver
    net = load_network(args.network, config)
    total = min(args.limits.time_limit_s or config.default_time_s, config.max_time_s)
    return await run_with_progress(
        ctx,
        total,
        lambda p: optimize_surrogate(
            net,
            args.bounds,
            args.objective,
            args.constraints,
            args.limits,
            args.tightening,
            args.tighten_time_s,
            config,
            p,
        ),
    )


def render(out: SurrogateResult) -> str:
    lines = [f"status: {out.status} ({out.message})"]
    if out.objective is not None:
        lines.append(f"objective: {out.objective:.10g}  bound: {out.bound}  gap: {out.gap}")
        lines.append(f"x: {out.x}  y: {out.y}")
        lines.append(
            f"verification error: {out.verification_error:.2e} ({'verified' if out.verified else 'NOT verified'})"
        )
    lines.append(
        f"binaries: {out.binaries}  nodes: {out.nodes}  time: {out.time_s:.3f}s "
        f"(bounds {out.bound_time_s:.3f}s, solve {out.solve_time_s:.3f}s)"
    )
    return "\n".join(lines)


SPEC = ToolSpec(
    name="optimize_surrogate",
    title="Globally optimize a ReLU network",
    description="Find the input that minimizes or maximizes a trained ReLU network's output (or a linear combination "
    "of outputs) over an input box, optionally with linear constraints on inputs and outputs. The network is embedded "
    "exactly as a MILP (big-M with LP-tightened bounds, no binary for stable neurons) and solved globally with HiGHS. "
    "Returns x, the outputs by a forward pass, the proven bound and gap, and the verification error; at a time "
    "limit the best point so far is returned and labelled as such.",
    input_model=OptimizeSurrogateInput,
    output_model=SurrogateResult,
    handler=handle,
    capability="solver",
    render=render,
)

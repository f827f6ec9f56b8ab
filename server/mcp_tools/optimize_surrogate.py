"""`optimize_surrogate`: the global optimum of a ReLU network over an input box, with its certificate."""

from __future__ import annotations

from pydantic import Field

from ogmux.server.context import ToolContext
from ogmux.server.mcp_tools.analyze_network import NetworkInput
from ogmux.server.registry import ToolSpec
from ogmux.server.solving import load_network, run_with_progress
from ogmux.tools.solver import (
    SolveLimits,
    SurrogateConstraint,
    SurrogateResult,
    optimize_surrogate,
)


class OptimizeSurrogateInput(NetworkInput):
    constraints: list[SurrogateConstraint] = Field(
        default_factory=list, max_length=1000, description='linear, over inputs "x<j>" and outputs "y<j>"'
    )
    limits: SolveLimits = Field(default_factory=SolveLimits)


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
    description="Globally minimize or maximize a trained ReLU network's output over an input box, solved exactly "
    "as a MILP; returns x, y, proven bound, gap and verification.",
    input_model=OptimizeSurrogateInput,
    output_model=SurrogateResult,
    handler=handle,
    capability="solver",
    render=render,
)

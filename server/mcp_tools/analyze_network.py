"""`analyze_network`: bounds, neuron stability, big-M statistics and LP relaxation strength of a ReLU network."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from ogmux.server.context import ToolContext
from ogmux.server.registry import ToolSpec
from ogmux.server.solving import NetworkRef, load_network
from ogmux.tools.solver import InputBounds, NetworkAnalysis, OutputObjective, analyze_network


class AnalyzeNetworkInput(BaseModel):
    model_config = ConfigDict(extra="forbid")

    network: NetworkRef = Field(
        description="the ReLU network: a file in the network directory, or inline JSON"
    )
    bounds: InputBounds = Field(description="finite lower/upper bound of every input")
    objective: OutputObjective = Field(
        default_factory=OutputObjective, description="objective for the LP relaxation bound"
    )
    tightening: Literal["lp", "interval"] = Field(
        "lp", description="LP-based bound tightening, or interval bounds only"
    )
    tighten_time_s: float | None = Field(
        None, ge=0, le=600, description="budget for LP tightening; default from config"
    )


def handle(args: AnalyzeNetworkInput, ctx: ToolContext) -> NetworkAnalysis:
    config = ctx.settings.solver
    net = load_network(args.network, config)
    return analyze_network(
        net, args.bounds, args.objective, args.tightening, args.tighten_time_s, config=config
    )


def render(out: NetworkAnalysis, bounds_note: str = "`bounds` in the structured result") -> str:
    lines = [f"network {out.inputs} -> {out.hidden_layers} -> {out.outputs} ({out.parameters} parameters)"]
    for l, i in zip(out.layers, out.interval_layers):
        lines.append(
            f"layer {l.layer}: {l.neurons} neurons, active {l.stable_active}, inactive {l.stable_inactive}, "
            f"unstable {l.unstable} (interval bounds: {i.unstable}), mean width {l.mean_width:.4g}, max big-M {l.max_big_m:.4g}"
        )
    lines.append(f"binaries needed: {out.binaries}; output bounds: {out.output_lower} .. {out.output_upper}")
    lines.append(f"per-neuron pre-activation bounds: {bounds_note}")
    lines.append(
        f"LP relaxation bound {out.lp_relaxation[0]:.6g}, best sampled {out.sampled_best[0]:.6g}, "
        f"gap estimate {out.lp_gap_estimate[0]:.3g}"
    )
    return "\n".join(lines)


SPEC = ToolSpec(
    name="analyze_network",
    title="Analyze a ReLU network's MILP embedding",
    description="Before optimizing over a trained ReLU network, check how hard its MILP will be: valid pre-activation "
    "bounds of every hidden neuron (after the chosen tightening), stable-active / stable-inactive / unstable neuron "
    "counts per layer with those bounds and with interval bounds (unstable neurons need a binary), the binaries of "
    "the MILP, big-M sizes, output bounds and the LP relaxation bound of the objective.",
    input_model=AnalyzeNetworkInput,
    output_model=NetworkAnalysis,
    handler=handle,
    capability="solver",
    render=render,
)

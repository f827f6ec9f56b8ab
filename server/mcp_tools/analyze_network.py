"""`analyze_network`: bounds, neuron stability, big-M statistics and LP relaxation strength of a ReLU network."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, WithJsonSchema

from ogmux.server.context import ToolContext
from ogmux.server.registry import ToolSpec
from ogmux.server.solving import NetworkRef, load_network
from ogmux.text import plural
from ogmux.tools.solver import InputBounds, NetworkAnalysis, OutputObjective, analyze_network

_NUMBERS = {"type": "array", "items": {"type": "number"}}
# The shape of a network reference, without the per-field prose of NetworkRef (checked server-side).
NETWORK_SCHEMA = {
    "type": "object",
    "properties": {
        "path": {"type": "string"},
        "inline": {
            "type": "object",
            "properties": {
                "layers": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "properties": {"weight": {"type": "array", "items": _NUMBERS}, "bias": _NUMBERS},
                        "required": ["weight", "bias"],
                    },
                }
            },
            "required": ["layers"],
        },
    },
}


class NetworkInput(BaseModel):
    """The arguments both ReLU-network tools share: the network, its input box, the bound tightening."""

    model_config = ConfigDict(extra="forbid")

    network: Annotated[NetworkRef, WithJsonSchema(NETWORK_SCHEMA)] = Field(
        description="a file in solver.network_dir, or inline layers (weight: row per neuron)"
    )
    bounds: InputBounds = Field(description="finite box of the inputs")
    objective: OutputObjective = Field(default_factory=OutputObjective, description="an output, or weights over all")
    tightening: Literal["lp", "interval"] = "lp"
    tighten_time_s: float | None = Field(None, ge=0, le=600)


class AnalyzeNetworkInput(NetworkInput):
    pass


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
            f"layer {l.layer}: {plural(l.neurons, 'neuron')}, active {l.stable_active}, inactive {l.stable_inactive}, "
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
    description="How hard a ReLU network's exact MILP is before optimize_surrogate: neuron bounds and stability, "
    "binaries, big-M, LP relaxation bound.",
    input_model=AnalyzeNetworkInput,
    output_model=NetworkAnalysis,
    handler=handle,
    capability="solver",
    render=render,
)

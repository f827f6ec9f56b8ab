"""`route_model`: decide which model and replica would serve a request, and why — without calling it."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from ogmux.router.types import ChatMessage, ChatRequest, Decision
from ogmux.server.context import ToolContext
from ogmux.server.registry import ToolSpec
from ogmux.server.routing import router_for

Policy = Literal["static", "cost_quality", "cascade", "load"]


class RouteInput(BaseModel):
    model_config = ConfigDict(extra="forbid")

    messages: list[ChatMessage] = Field(min_length=1, description="the chat, as {role, content} objects")
    policy: Policy | None = Field(None, description="routing policy; default: the configured one")
    model: str | None = Field(None, description="force this model name (see list_models)")
    max_tokens: int = Field(256, ge=1, le=32768, description="answer length to plan for")
    n: int = Field(1, ge=1, le=16, description="number of choices to plan for")
    json_output: bool = Field(False, description="the answer must be a JSON object")
    tools: list[dict[str, Any]] = Field(default_factory=list, description="OpenAI-style tool definitions")
    local_only: bool = Field(False, description="only self-hosted models")
    session: str = Field("", description="session key: prefers the replica that served it (prefix cache), load permitting")

    def request(self) -> ChatRequest:
        return ChatRequest(**self.model_dump())


class RouteOutput(BaseModel):
    decision: Decision


async def route_model(args: RouteInput, ctx: ToolContext) -> RouteOutput:
    router = await router_for(ctx)
    return RouteOutput(decision=router.decide(args.request(), ctx.principal.role))


def render_decision(d: Decision) -> str:
    lines = [f"{d.model} @ {d.replica} — policy {d.policy}: {d.reason}"]
    if d.guarantee:
        g = d.guarantee
        bounds = [f"failure rate among non-escalated ≤ {g.alpha:g}"] if g.alpha is not None else []
        bounds += [f"escalation rate ≤ {g.budget:g}"] if g.budget is not None else []
        lines.append(
            f"guarantee ({g.method}): {' and '.join(bounds)} with probability ≥ {1 - g.delta:g} "
            f"(calibration {g.calibration_source}, {g.calibration_version}, n={g.n})"
        )
    removed = [f"{f.name}: {m} ({r})" for f in d.filters for m, r in f.removed.items()]
    if removed:
        lines.append("filtered out: " + "; ".join(removed))
    lines.append(
        "candidates: "
        + "; ".join(f"{c.model}@{c.replica} score {c.score:.3f} (q {c.expected_quality:.2f}, ${c.est_cost_usd:.5f}, "
                    f"{c.predicted_latency_s:.2f}s{', affinity' if c.affinity else ''})" for c in d.candidates[:6])
    )
    return "\n".join(lines)


SPEC = ToolSpec(
    name="route_model",
    title="Route a request",
    description="Decide which model and replica would serve a chat request, and explain it: filters applied, every "
    "candidate with its score (expected quality, cost, predicted latency), the choice, and for the cascade policy "
    "the statistical guarantee (α/δ) and its calibration. Nothing is sent to a model.",
    input_model=RouteInput,
    output_model=RouteOutput,
    handler=route_model,
    capability="router",
    render=lambda out: render_decision(out.decision),
    idempotent=False,
)

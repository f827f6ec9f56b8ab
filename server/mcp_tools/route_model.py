"""`route_model`: decide which model and replica would serve a request, and why — without calling it."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, WithJsonSchema
from pydantic.json_schema import SkipJsonSchema

from ogmux.router.types import CandidateScore, ChatMessage, ChatRequest, Decision
from ogmux.server.context import ToolContext
from ogmux.server.registry import ToolSpec
from ogmux.server.routing import router_for
from ogmux.text import plural

Policy = Literal["static", "cost_quality", "cascade", "load"]
CANDIDATES_SHOWN = 6  # models listed without `detail`

# The chat message shape is the OpenAI one; the server validates every field and names what is wrong.
MESSAGES_SCHEMA = {
    "type": "array",
    "minItems": 1,
    "items": {
        "type": "object",
        "properties": {
            "role": {"enum": ["system", "user", "assistant", "tool"]},
            "content": {"type": ["string", "array", "null"]},
            "tool_calls": {"type": "array"},
        },
        "required": ["role"],
    },
}


class RouteInput(BaseModel):
    model_config = ConfigDict(extra="forbid")

    messages: Annotated[list[ChatMessage], WithJsonSchema(MESSAGES_SCHEMA)] = Field(
        min_length=1, description="OpenAI format"
    )
    policy: Policy | None = None
    model: str | None = Field(None, description="force this model (see list_models)")
    max_tokens: int = Field(256, ge=1, le=32768)
    n: int = Field(1, ge=1, le=16)
    json_output: bool = False
    tools: list[dict[str, Any]] = Field(default_factory=list, description="OpenAI-style tool definitions")
    local_only: bool = Field(False, description="only self-hosted models")
    session: str = Field("", max_length=256, description="replica affinity key")
    detail: bool = False

    def request(self) -> ChatRequest:
        return ChatRequest(**self.model_dump(exclude={"detail"}))


class RouteOutput(BaseModel):
    decision: Decision
    detail: SkipJsonSchema[bool] = Field(False, exclude=True)  # how to render, not data


async def route_model(args: RouteInput, ctx: ToolContext) -> RouteOutput:
    router = await router_for(ctx)
    return RouteOutput(decision=await router.decide_async(args.request(), ctx.principal.role, ctx.principal.id), detail=args.detail)


def _candidate(c: CandidateScore, replica: bool) -> str:
    where = f"{c.model}@{c.replica}" if replica else c.model
    return (
        f"- {where}: score {c.score:.3f} (quality {c.expected_quality:.2f}, ${c.est_cost_usd:.5f}, "
        f"{c.predicted_latency_s:.2f}s{', affinity' if c.affinity else ''})"
    )


def render_decision(d: Decision, detail: bool = False) -> str:
    """The choice and its guarantee, then one line per considered model (every replica with `detail`)."""
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
    if detail:
        lines += [_candidate(c, True) for c in d.candidates]
        lines.append(f"prompt {plural(d.prompt_tokens, 'token')}; predictor score {d.predictor_score}; decided in "
                     f"{d.decision_time_us:.0f} µs")
        return "\n".join(lines)
    best: dict[str, CandidateScore] = {}
    for c in d.candidates:  # best first: the first replica of a model is its best
        best.setdefault(c.model, c)
    shown = list(best.values())[:CANDIDATES_SHOWN]
    lines += [_candidate(c, False) for c in shown]
    if len(best) > len(shown):
        lines.append(f"… {len(best) - len(shown)} more models (detail: true lists them)")
    return "\n".join(lines)


SPEC = ToolSpec(
    name="route_model",
    title="Route a request",
    description="Which model and replica would serve a chat request, and why (filters, scores, guarantee); "
    "calls no model.",
    input_model=RouteInput,
    output_model=RouteOutput,
    handler=route_model,
    capability="router",
    render=lambda out: render_decision(out.decision, out.detail),
    idempotent=False,
)

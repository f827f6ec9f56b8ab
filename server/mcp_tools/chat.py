"""`chat`: run a chat completion on the routed model, with the decision, usage and cost."""

from __future__ import annotations

from pydantic import BaseModel, Field

from router.accounting import SpendSummary
from router.backends import Delta
from router.types import ChatRequest, ChatResult
from server.context import ToolContext
from server.mcp_tools.route_model import RouteInput, render_decision
from server.registry import ToolSpec
from server.routing import router_for

_PROGRESS_EVERY = 16


class ChatInput(RouteInput):
    temperature: float = Field(0.7, ge=0, le=2, description="sampling temperature")
    stream: bool = Field(True, description="stream from the backend and send progress notifications")
    timeout_s: float | None = Field(None, gt=0, le=600, description="deadline for the whole call, retries included")

    def request(self) -> ChatRequest:
        return ChatRequest(**self.model_dump(exclude={"stream"}))


class ChatOutput(BaseModel):
    result: ChatResult = Field(description="choices, serving model and replica, usage/cost, attempts and decision")
    caller_spend: SpendSummary = Field(description="the caller's requests, tokens and cost on this server so far")
    role_budget_left_usd: float | None = Field(description="budget left for the caller's role; null = unlimited")


async def chat(args: ChatInput, ctx: ToolContext) -> ChatOutput:
    router = await router_for(ctx)
    total = float(args.max_tokens * args.n)
    seen = [0]

    async def on_delta(d: Delta) -> None:
        seen[0] += 1
        if seen[0] % _PROGRESS_EVERY == 1:
            await ctx.progress(float(seen[0]), total, f"streaming: {seen[0]} chunks")

    result = await router.chat(
        args.request(), ctx.principal.id, ctx.principal.role, on_delta=on_delta if args.stream else None
    )
    p = ctx.principal
    return ChatOutput(
        result=result,
        caller_spend=router.ledger.by_principal.get(p.id, SpendSummary()),
        role_budget_left_usd=router.ledger.remaining_usd(p.role),
    )


def render(out: ChatOutput) -> str:
    r = out.result
    u = r.usage
    head = (
        f"[{r.model} @ {r.replica}; {u.prompt_tokens} in / {u.completion_tokens} out tokens; ${u.cost_usd:.6f}; "
        f"{len(r.attempts)} attempt(s)]"
    )
    body = r.choices[0] if len(r.choices) == 1 else "\n\n".join(f"--- choice {i} ---\n{c}" for i, c in enumerate(r.choices))
    return f"{body}\n\n{head}\n{render_decision(r.decision)}"


SPEC = ToolSpec(
    name="chat",
    title="Chat through the router",
    description="Run a chat completion on the model and replica the router picks (or the `model` you name), with "
    "retries and failover. Returns the answer(s), which model/replica served it, token usage and cost, and the "
    "routing decision. Use `policy` to override the routing policy (static, cost_quality, cascade, load).",
    input_model=ChatInput,
    output_model=ChatOutput,
    handler=chat,
    capability="router",
    render=render,
    read_only=False,
    idempotent=False,
    open_world=True,
)

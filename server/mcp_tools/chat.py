"""`chat`: run a chat completion on the routed model, with the decision, usage and cost."""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from pydantic import BaseModel, Field
from pydantic.json_schema import SkipJsonSchema

from ogmux.router.accounting import SpendSummary
from ogmux.router.types import ChatRequest, ChatResult, ToolCall
from ogmux.server.context import ToolContext
from ogmux.server.mcp_tools.route_model import RouteInput, render_decision
from ogmux.server.registry import ToolSpec
from ogmux.server.routing import router_for
from ogmux.text import plural

if TYPE_CHECKING:
    from ogmux.router.backends import Delta

PROGRESS_INTERVAL_S = 0.25  # while streaming: at most one progress notification per interval, plus the last
ARGUMENTS_SHOWN = 160  # characters of a tool call's arguments in the text rendering


class ChatInput(RouteInput):
    temperature: float = Field(0.7, ge=0, le=2)
    stream: bool = True
    timeout_s: float | None = Field(None, gt=0, le=600)

    def request(self) -> ChatRequest:
        return ChatRequest(**self.model_dump(exclude={"stream", "detail"}))


class ChatOutput(BaseModel):
    result: ChatResult = Field(
        description="choices (text and tool calls), serving model and replica, usage/cost, attempts and decision"
    )
    caller_spend: SpendSummary = Field(
        description="the caller's requests, tokens and cost so far (in this budget period, if router.budget_period is set)"
    )
    role_budget_left_usd: float | None = Field(
        description="budget left for the caller's role; null = unlimited"
    )
    detail: SkipJsonSchema[bool] = Field(False, exclude=True)  # how to render, not data


class StreamProgress:
    """Progress of a streamed answer: the first chunk, then at most one notification per `interval_s`,
    then a last one at 100 % when the answer is complete. Progress values only ever increase."""

    def __init__(
        self,
        ctx: ToolContext,
        total: float,
        interval_s: float = PROGRESS_INTERVAL_S,
        clock: Callable[[], float] = time.monotonic,
    ):
        self._ctx = ctx
        self._total = total
        self._interval_s = interval_s
        self._clock = clock
        self._due = -math.inf
        self._sent = 0.0
        self.chunks = 0

    async def on_delta(self, d: Delta) -> None:
        self.chunks += 1
        now = self._clock()
        if now >= self._due:
            self._due = now + self._interval_s
            await self._send(float(self.chunks), self._total, f"streaming: {plural(self.chunks, 'chunk')}")

    async def finish(self) -> None:
        done = max(self._total, float(self.chunks))
        if done > self._sent:
            await self._send(done, done, f"done: {plural(self.chunks, 'chunk')}")

    async def _send(self, done: float, total: float, message: str) -> None:
        self._sent = done
        await self._ctx.progress(done, total, message)


async def chat(args: ChatInput, ctx: ToolContext) -> ChatOutput:
    router = await router_for(ctx)
    # Streaming only feeds progress notifications: without a listener the answer comes in one piece,
    # which costs the backend and the server less per call.
    progress = (
        StreamProgress(ctx, float(args.max_tokens * args.n)) if args.stream and ctx.wants_progress else None
    )
    result = await router.chat(
        args.request(), ctx.principal.id, ctx.principal.role, on_delta=progress.on_delta if progress else None
    )
    if progress is not None:
        await progress.finish()
    p = ctx.principal
    return ChatOutput(
        result=result,
        caller_spend=router.ledger.principal_spend(p.id),
        role_budget_left_usd=router.ledger.remaining_usd(p.role),
        detail=args.detail,
    )


def _choice(text: str, calls: list[ToolCall]) -> str:
    """A choice's text, then one line per tool call: name(arguments, truncated) and the call's id."""
    lines = [text] if text else []
    for c in calls:
        args = (
            c.arguments if len(c.arguments) <= ARGUMENTS_SHOWN else c.arguments[: ARGUMENTS_SHOWN - 1] + "…"
        )
        lines.append(f"tool call {c.name}({args}) id={c.id}")
    return "\n".join(lines)


def render(out: ChatOutput) -> str:
    r = out.result
    u = r.usage
    head = (
        f"[{r.model} @ {r.replica}; {u.prompt_tokens} in / {u.completion_tokens} out tokens; ${u.cost_usd:.6f}; "
        f"{plural(len(r.attempts), 'attempt')}]"
    )
    choices = [_choice(t, c) for t, c in zip(r.choices, r.tool_calls, strict=True)]
    body = (
        choices[0]
        if len(choices) == 1
        else "\n\n".join(f"--- choice {i} ---\n{c}" for i, c in enumerate(choices))
    )
    return f"{body}\n\n{head}\n{render_decision(r.decision, out.detail)}"


SPEC = ToolSpec(
    name="chat",
    title="Chat through the router",
    description="Run a chat completion on the routed model with failover: answer, model, usage, cost, routing. "
    "Answer tool calls with {role: tool, tool_call_id, content}.",
    input_model=ChatInput,
    output_model=ChatOutput,
    handler=chat,
    capability="router",
    render=render,
    read_only=False,
    idempotent=False,
    open_world=True,
)

"""`list_models`: the backend pool with health, load, prices and capabilities."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from ogmux.router.types import ModelStatus
from ogmux.server.context import ToolContext
from ogmux.server.registry import ToolSpec
from ogmux.server.routing import router_for


class ListModelsInput(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ListModelsOutput(BaseModel):
    models: list[ModelStatus] = Field(description="every configured model with its replicas' live state")


async def list_models(args: ListModelsInput, ctx: ToolContext) -> ListModelsOutput:
    router = await router_for(ctx)
    return ListModelsOutput(models=router.models())


def render(out: ListModelsOutput) -> str:
    if not out.models:
        return "no models configured (add [[router.backends]] to ogmux.toml)"
    lines = []
    for m in out.models:
        up = sum(r.healthy and r.breaker != "open" for r in m.replicas)
        load = ", ".join(f"run {r.running:g} wait {r.waiting:g} kv {r.kv_cache_usage:.0%}" for r in m.replicas)
        lines.append(
            f"{m.name} ({m.kind}, {m.privacy}, ctx {m.context_length or '?'}, "
            f"${m.price_in_per_mtok:g}/${m.price_out_per_mtok:g} per 1M in/out, caps {','.join(m.capabilities) or '-'}): "
            f"{up}/{len(m.replicas)} replicas up; {load}"
        )
    return "\n".join(lines)


SPEC = ToolSpec(
    name="list_models",
    title="List models",
    description="The models chat and route_model can use: replica health and load, context length, prices.",
    input_model=ListModelsInput,
    output_model=ListModelsOutput,
    handler=list_models,
    capability="router",
    render=render,
    idempotent=False,
)

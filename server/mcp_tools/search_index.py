"""`search_index`: ranked ObjectGraph index entries the caller may see."""

from __future__ import annotations

import anyio.to_thread
from pydantic import BaseModel, ConfigDict, Field

from ogmux.server.context import ToolContext
from ogmux.server.documents import caller_scopes, view_for
from ogmux.server.registry import ToolSpec
from ogmux.server.routing import router_for
from ogmux.tools.objectgraph.render import render_search
from ogmux.tools.objectgraph.search import SearchPage


class SearchIndexInput(BaseModel):
    model_config = ConfigDict(extra="forbid")

    query: str = Field(min_length=1, max_length=2000)
    k: int | None = Field(None, ge=1, le=50, description="default 8; page on with cursor")
    cursor: str | None = Field(None, max_length=512, description="next_cursor of the previous page")

async def handle(args: SearchIndexInput, ctx: ToolContext) -> SearchPage:
    cfg = ctx.settings.objectgraph
    k = args.k or cfg.default_k
    if k > cfg.max_k:
        raise ValueError(f"k={k} is larger than the allowed {cfg.max_k}; ask for fewer and page with cursor")
    complete = None
    if cfg.rerank == "llm" and ctx.settings.router.backends:
        from ogmux.router.complete import RouterComplete

        router = await router_for(ctx)
        complete = RouterComplete(router, principal=ctx.principal.id, role="rerank", max_tokens=128, temperature=0.0)

    def run() -> SearchPage:
        return view_for(ctx).search(
            args.query, k=k, cursor=args.cursor, scopes=caller_scopes(ctx), config=cfg, complete=complete
        )

    return await anyio.to_thread.run_sync(run)


SPEC = ToolSpec(
    name="search_index",
    title="Search documents",
    description="Rank the document sections you may read for a question: ids ('doc#node'), titles, summaries, "
    "token costs. Call first, then resolve_context.",
    input_model=SearchIndexInput,
    output_model=SearchPage,
    handler=handle,
    capability="objectgraph",
    render=render_search,
)

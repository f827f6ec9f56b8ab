"""The shared Router component: built once per server with API keys resolved here, started on first use."""

from __future__ import annotations

import os

from router.core import Router
from server.context import ToolContext
from server.settings import Settings

__all__ = ["build_router", "router_for"]


def build_router(settings: Settings) -> Router:
    """A Router for `settings.router`; API keys come from the environment variables the backends name."""
    cfg = settings.router
    keys = {b.name: os.environ.get(b.api_key_env, "") for b in cfg.backends if b.api_key_env}
    return Router.from_config(cfg, keys)


async def router_for(ctx: ToolContext) -> Router:
    """The server's router, started (discovery + first poll + background polling) on first use."""
    state = ctx.state

    def build(settings: Settings) -> Router:
        router = build_router(settings)
        state.add_closer(router.aclose)
        return router

    router = state.component("router", build)
    await router.start()
    return router

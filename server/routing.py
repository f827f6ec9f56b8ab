"""The shared Router component: built once per server with API keys resolved here, started on first use."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

from ogmux.server.context import ToolContext
from ogmux.server.settings import ConfigError, Settings
from ogmux.server.state import SharedState, shared_state

if TYPE_CHECKING:  # the router (httpx, numpy, scipy) is imported with the first routed call
    from ogmux.router.core import Router

__all__ = ["build_router", "check_router_files", "router_for"]


def check_router_files(settings: Settings, path: Path | None) -> None:
    """Load the predictor and calibration files the config (read from `path`) names, so a missing,
    damaged or mismatched file stops startup instead of failing the first routed call."""
    if settings.router.predictor_path is None and settings.router.calibration_path is None:
        return  # no file to check
    from ogmux.router.core import load_signals

    try:
        load_signals(settings.router)
    except ValueError as exc:
        raise ConfigError(path, [("router", str(exc))]) from exc


def build_router(settings: Settings, shared: SharedState | None = None) -> Router:
    """A Router for `settings.router`; API keys come from the environment variables the backends name;
    with `shared`, breaker cooldowns, role budgets and spend are shared with the other replicas."""
    from ogmux.router.core import Router

    cfg = settings.router
    keys = {b.name: os.environ.get(b.api_key_env, "") for b in cfg.backends if b.api_key_env}
    if shared is None:
        return Router.from_config(cfg, keys)
    from ogmux.server.spend import RedisLedger

    ledger = RedisLedger(shared, cfg.role_budgets_usd, cfg.budget_period)
    return Router.from_config(cfg, keys, shared, ledger)


async def router_for(ctx: ToolContext) -> Router:
    """The server's router, started (discovery + first poll + background polling) on first use."""
    state = ctx.state

    def build(settings: Settings) -> Router:
        router = build_router(settings, shared_state(state))
        state.add_closer(router.aclose)
        return router

    router = state.component("router", build)
    await router.start()
    return router

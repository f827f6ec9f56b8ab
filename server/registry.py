"""The registration layer: each capability contributes tools and resources as specs.

A tool lives in its own module under `server/mcp_tools/` with a module-level `SPEC`;
resources live under `server/mcp_resources/` with a module-level `RESOURCES` list.
Both folders are discovered at startup, so adding a capability touches no shared file.
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel

from ogmux.server.context import ToolContext

__all__ = ["PROFILES", "ResourceSpec", "ToolSpec", "discover_resources", "discover_tools", "profile_tools"]

Capability = Literal["core", "objectgraph", "router", "safety", "solver"]
# `[server].tools` profiles: the capabilities a profile serves (server_info, "core", always).
PROFILES: dict[str, frozenset[str] | None] = {
    "all": None,
    "docs": frozenset({"objectgraph"}),
    "models": frozenset({"router"}),
    "safety": frozenset({"safety"}),
    "solver": frozenset({"solver"}),
}
Handler = Callable[[Any, ToolContext], Awaitable[BaseModel] | BaseModel]


def _default_render(result: BaseModel) -> str:
    return result.model_dump_json(exclude_none=True)


@dataclass(frozen=True)
class ToolSpec:
    """One MCP tool: typed input and output, a handler, a compact text rendering, annotations.

    `handler(args, ctx)` may be sync (run in a worker thread) or async. It raises
    ValueError / LookupError / PermissionError / TimeoutError subclasses for caller
    mistakes; their message is shown to the caller and must say how to fix the call.
    """

    name: str
    title: str
    description: str
    input_model: type[BaseModel]
    output_model: type[BaseModel]
    handler: Handler
    capability: Capability
    render: Callable[[Any], str] = _default_render
    read_only: bool = True
    idempotent: bool = True
    open_world: bool = False
    destructive: bool = False


@dataclass(frozen=True)
class ResourceSpec:
    """One MCP resource or RFC 6570 resource template.

    `handler(ctx, **params)` returns the text of the resource; raise LookupError for an
    unknown (or hidden) name so both answer alike. `complete(ctx, param, prefix)`, when
    given, returns the values of a template parameter the caller may see that start with
    `prefix` (served as MCP completions).
    """

    uri: str
    name: str
    description: str
    handler: Callable[..., str | Awaitable[str]]
    capability: Capability
    mime_type: str = "text/markdown"
    complete: Callable[[ToolContext, str, str], list[str]] | None = None


def _modules(package: str) -> list[Any]:
    pkg = importlib.import_module(package)
    return [importlib.import_module(f"{package}.{m.name}") for m in sorted(pkgutil.iter_modules(pkg.__path__), key=lambda m: m.name)]


def discover_tools() -> list[ToolSpec]:
    """Every `SPEC` under server.mcp_tools, in module-name order; names must be unique."""
    specs = [m.SPEC for m in _modules("ogmux.server.mcp_tools") if hasattr(m, "SPEC")]
    names = [s.name for s in specs]
    dup = {n for n in names if names.count(n) > 1}
    if dup:
        raise RuntimeError(f"duplicate tool names: {sorted(dup)}")
    return specs


def discover_resources() -> list[ResourceSpec]:
    """Every entry of `RESOURCES` under server.mcp_resources."""
    return [r for m in _modules("ogmux.server.mcp_resources") for r in getattr(m, "RESOURCES", [])]


def profile_tools(profile: str) -> list[ToolSpec]:
    """The tools of a `[server].tools` profile: every tool for "all", else its capabilities plus core."""
    if profile not in PROFILES:
        raise ValueError(f"unknown tool profile {profile!r}; use one of {sorted(PROFILES)}")
    caps = PROFILES[profile]
    return [s for s in discover_tools() if caps is None or s.capability == "core" or s.capability in caps]

"""ogmux://tool/{name}: a tool's complete input schema, every nested field described.

`tools/list` carries compact schemas (see server.schemas); this resource is where the nested
shapes (linear model, network, chat messages) are described once, for callers who want it.
"""

from __future__ import annotations

import json

from ogmux.server.app import TOOLS_COMPONENT
from ogmux.server.context import ToolContext
from ogmux.server.registry import ResourceSpec, ToolSpec
from ogmux.server.schemas import full_input_schema


def _granted(ctx: ToolContext) -> list[ToolSpec]:
    specs: list[ToolSpec] = ctx.state.component(TOOLS_COMPONENT, lambda _: [])
    return [s for s in specs if ctx.principal.may_call(s.name)]


def tool_schema(ctx: ToolContext, name: str) -> str:
    spec = next((s for s in _granted(ctx) if s.name == name), None)
    if spec is None:
        granted = ", ".join(s.name for s in _granted(ctx)) or "none"
        raise LookupError(f"no tool {name!r} for you; your tools: {granted}")
    return json.dumps({"name": spec.name, "description": spec.description, "inputSchema": full_input_schema(spec)})


def complete_tool(ctx: ToolContext, param: str, prefix: str) -> list[str]:
    """Names of the caller's tools that start with `prefix`."""
    return [s.name for s in _granted(ctx) if s.name.startswith(prefix)]


RESOURCES = [
    ResourceSpec("ogmux://tool/{name}", "tool_schema", "A tool's full input schema, every nested field described.",
                 tool_schema, "core", mime_type="application/json", complete=complete_tool),
]  # fmt: skip

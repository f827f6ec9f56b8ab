"""Tool definitions as JSON for MCP clients and for OpenAI / Anthropic function calling."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Literal

from ogmux.server.registry import ToolSpec

__all__ = ["ToolFormat", "tool_definitions"]

ToolFormat = Literal["mcp", "openai", "anthropic"]


def _definition(spec: ToolSpec, fmt: ToolFormat) -> dict[str, Any]:
    params = spec.input_model.model_json_schema()
    if fmt == "openai":
        return {"type": "function", "function": {"name": spec.name, "description": spec.description, "parameters": params}}
    if fmt == "anthropic":
        return {"name": spec.name, "description": spec.description, "input_schema": params}
    return {
        "name": spec.name,
        "title": spec.title,
        "description": spec.description,
        "inputSchema": params,
        "outputSchema": spec.output_model.model_json_schema(),
        "annotations": {
            "readOnlyHint": spec.read_only,
            "idempotentHint": spec.idempotent,
            "openWorldHint": spec.open_world,
            "destructiveHint": spec.destructive,
        },
    }


def tool_definitions(specs: Iterable[ToolSpec], fmt: ToolFormat) -> list[dict[str, Any]]:
    """One definition per spec in the wire format of `fmt`."""
    if fmt not in ("mcp", "openai", "anthropic"):
        raise ValueError(f"unknown format {fmt!r}; use mcp, openai or anthropic")
    return [_definition(s, fmt) for s in specs]

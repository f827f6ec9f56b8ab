"""Tool definitions as JSON for MCP clients and for OpenAI / Anthropic function calling.

A model reads every tool definition before its first call, so the schemas it sees are compact:
no pydantic titles, no model docstrings, optional fields without the `null` branch, single-use
`$defs` inlined. Field descriptions stay only on a tool's own arguments (nested shapes are
described once, in the `ogmux://tool/{name}` resource: `full_input_schema`). Output schemas keep
every type a result can hold (clients validate against them) but no prose.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any, Literal, NamedTuple

from mcp.types import Tool, ToolAnnotations

from ogmux.server.registry import ToolSpec
from ogmux.tools.objectgraph.tokens import count_tokens

__all__ = [
    "ToolCost",
    "ToolFormat",
    "full_input_schema",
    "input_schema",
    "mcp_tool",
    "model_visible_tokens",
    "output_schema",
    "tool_costs",
    "tool_definitions",
]

ToolFormat = Literal["mcp", "openai", "anthropic"]

# Unknown keys are refused server-side with the list of accepted ones, so no schema says so.
# Keys whose value is a mapping of names (recursed into by value) or plain data (kept as is).
_NAMED = ("properties", "$defs", "patternProperties")
_DATA = ("default", "enum", "const", "examples")
# Defaults and size bounds of nested fields: the server checks them and names the field when one is broken.
_LEAN = frozenset({
    "default", "minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum", "minLength", "maxLength",
    "minItems", "maxItems", "minProperties", "maxProperties",
})  # fmt: skip


def _refs(node: Any, counts: dict[str, int]) -> None:
    if isinstance(node, dict):
        ref = node.get("$ref")
        if isinstance(ref, str) and ref.startswith("#/$defs/"):
            name = ref.removeprefix("#/$defs/")
            counts[name] = counts.get(name, 0) + 1
        for key, value in node.items():
            if key not in _DATA:
                _refs(value, counts)
    elif isinstance(node, list):
        for item in node:
            _refs(item, counts)


def _is_null(node: Any) -> bool:
    return isinstance(node, dict) and node.get("type") == "null" and len(node) == 1


def _compact(
    node: Any, defs: dict[str, Any], inline: set[str], *, prose: bool, nullable: bool, lean: bool = False
) -> Any:
    """`node` without titles (and, unless `prose`, descriptions); inlined refs; optional `null` dropped.

    `lean` also drops defaults and size bounds; every node below `node` is compacted lean.
    """
    if isinstance(node, list):
        return [_compact(x, defs, inline, prose=prose, nullable=nullable, lean=lean) for x in node]
    if not isinstance(node, dict):
        return node
    ref = node.get("$ref")
    if isinstance(ref, str) and ref.removeprefix("#/$defs/") in inline:
        merged = {**defs[ref.removeprefix("#/$defs/")], **{k: v for k, v in node.items() if k != "$ref"}}
        return _compact(merged, defs, inline, prose=prose, nullable=nullable, lean=lean)
    branches = node.get("anyOf")
    # `null` that only means "not given" goes; a null with a meaning (a non-null default, e.g. -inf) stays.
    if not nullable and "default" in node and node["default"] is None and isinstance(branches, list) and any(
        _is_null(b) for b in branches
    ):
        rest = [b for b in branches if not _is_null(b)]
        node = {k: v for k, v in node.items() if k != "anyOf" and not (k == "default" and v is None)}
        node = {**rest[0], **node} if len(rest) == 1 else {**node, "anyOf": rest}
        return _compact(node, defs, inline, prose=prose, nullable=nullable, lean=lean)
    out: dict[str, Any] = {}
    for key, value in node.items():
        if key == "title" or (key == "description" and not prose) or (key == "additionalProperties" and isinstance(value, bool)):
            continue
        if lean and key in _LEAN:
            continue
        if key in _DATA:
            out[key] = value
        elif key in _NAMED and isinstance(value, dict):
            out[key] = {
                name: _compact(sub, defs, inline, prose=prose, nullable=nullable, lean=True)
                for name, sub in value.items()
                if not (key == "$defs" and name in inline)
            }
        else:
            out[key] = _compact(value, defs, inline, prose=prose, nullable=nullable, lean=True)
    if out.get("$defs") == {}:
        del out["$defs"]
    branches = out.get("anyOf")
    if isinstance(branches, list) and all(isinstance(b, dict) and set(b) == {"type"} for b in branches):
        out["type"] = [t for b in out.pop("anyOf") for t in (b["type"] if isinstance(b["type"], list) else [b["type"]])]
    if out.get("type") == "string" and "enum" in out and all(isinstance(v, str) for v in out["enum"]):
        del out["type"]  # a list of strings says it
    return out


def _compact_schema(schema: dict[str, Any], *, nullable: bool, described: bool) -> dict[str, Any]:
    """Compact `schema`; `described` keeps the descriptions, defaults and bounds of its own properties."""
    defs = schema.get("$defs", {})
    counts: dict[str, int] = {}
    _refs(schema, counts)
    recursive = {n for n, d in defs.items() if f'"#/$defs/{n}"' in json.dumps(d)}
    inline = {n for n, c in counts.items() if c == 1 and n in defs and n not in recursive}
    top = {k: v for k, v in schema.items() if k != "properties"}
    out = _compact(top, defs, inline, prose=False, nullable=nullable)
    props = schema.get("properties", {})
    # The tool's own arguments keep their descriptions; everything they contain loses its prose.
    out["properties"] = {
        name: {
            **_compact(sub, defs, inline, prose=False, nullable=nullable, lean=not described),
            **({"description": sub["description"]} if described and sub.get("description") else {}),
        }
        for name, sub in props.items()
    }
    order = ["type", "properties", "required", "additionalProperties"]
    return {k: out[k] for k in order if k in out} | {k: v for k, v in out.items() if k not in order}


def _without_required(node: Any) -> Any:
    """`node` with no `required` list below the top level (outputs are produced, not written, by the caller)."""
    if isinstance(node, list):
        return [_without_required(x) for x in node]
    if not isinstance(node, dict):
        return node
    out = {}
    for key, value in node.items():
        if key == "required":
            continue
        if key in _DATA:
            out[key] = value
        elif key in _NAMED and isinstance(value, dict):
            out[key] = {name: _without_required(sub) for name, sub in value.items()}
        else:
            out[key] = _without_required(value)
    return out


def input_schema(spec: ToolSpec) -> dict[str, Any]:
    """The compact input schema a model reads: types, enums, bounds, defaults, argument descriptions."""
    return _compact_schema(spec.input_model.model_json_schema(), nullable=False, described=True)


def output_schema(spec: ToolSpec) -> dict[str, Any]:
    """The compact output schema clients validate structured results against (no prose)."""
    schema = _compact_schema(spec.output_model.model_json_schema(), nullable=True, described=False)
    return {k: v if k == "required" else _without_required(v) for k, v in schema.items()}


def full_input_schema(spec: ToolSpec) -> dict[str, Any]:
    """The complete pydantic input schema, every nested field described (served on request)."""
    return spec.input_model.model_json_schema()


def mcp_tool(spec: ToolSpec) -> Tool:
    """The MCP `Tool` definition of a spec."""
    return Tool(
        name=spec.name,
        title=spec.title,
        description=spec.description,
        input_schema=input_schema(spec),
        output_schema=output_schema(spec),
        annotations=ToolAnnotations(
            read_only_hint=spec.read_only,
            idempotent_hint=spec.idempotent,
            open_world_hint=spec.open_world,
            destructive_hint=spec.destructive,
        ),
    )


def model_visible_tokens(name: str, description: str | None, schema: dict[str, Any]) -> int:
    """cl100k tokens of what a client hands the model for one tool: name, description, input schema."""
    body = {"name": name, "description": description or "", "inputSchema": schema}
    return count_tokens(json.dumps(body, separators=(",", ":")))


class ToolCost(NamedTuple):
    """What one tool definition costs a model before any call, in cl100k tokens."""

    name: str
    model_visible: int  # name + description + input schema: what clients hand the model
    definition: int  # the whole tools/list entry, output schema and annotations included


def tool_costs(definitions: Iterable[dict[str, Any]]) -> list[ToolCost]:
    """Per-tool token costs of MCP tool definitions as `tools/list` sends them (camelCase keys)."""
    return [
        ToolCost(
            d["name"],
            model_visible_tokens(d["name"], d.get("description"), d["inputSchema"]),
            count_tokens(json.dumps(d, separators=(",", ":"))),
        )
        for d in definitions
    ]


def _definition(spec: ToolSpec, fmt: ToolFormat) -> dict[str, Any]:
    params = input_schema(spec)
    if fmt == "openai":
        return {"type": "function", "function": {"name": spec.name, "description": spec.description, "parameters": params}}
    if fmt == "anthropic":
        return {"name": spec.name, "description": spec.description, "input_schema": params}
    return mcp_tool(spec).model_dump(mode="json", by_alias=True, exclude_none=True)


def tool_definitions(specs: Iterable[ToolSpec], fmt: ToolFormat) -> list[dict[str, Any]]:
    """One definition per spec in the wire format of `fmt`."""
    if fmt not in ("mcp", "openai", "anthropic"):
        raise ValueError(f"unknown format {fmt!r}; use mcp, openai or anthropic")
    return [_definition(s, fmt) for s in specs]

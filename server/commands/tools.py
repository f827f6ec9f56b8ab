"""`ogmux tools --format mcp|openai|anthropic`: print tool definitions; `--cost`: what they cost a model."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from ogmux.server.api import Ogmux
from ogmux.server.cliutil import add_config_argument, settings_from_args, unknown_role
from ogmux.server.schemas import tool_costs

__all__ = ["register"]


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("tools", help="print the tool definitions (JSON Schema) for MCP, OpenAI or Anthropic")
    p.add_argument("--format", choices=["mcp", "openai", "anthropic"], default="mcp")
    p.add_argument("--cost", action="store_true", help="print the tokens each tool definition costs (cl100k)")
    p.add_argument("--role", default=None, help="only the tools this role may call (default: the local role)")
    add_config_argument(p)
    p.set_defaults(func=run_tools)


def print_costs(definitions: list[dict[str, Any]]) -> None:
    """The per-tool token table: model-visible tokens (name, description, input schema) and whole definition."""
    costs = sorted(tool_costs(definitions), key=lambda c: -c.model_visible)
    width = max([len("tool"), *(len(c.name) for c in costs)])
    print(f"{'tool':<{width}}  {'model-visible':>13}  {'definition':>10}")
    for c in costs:
        print(f"{c.name:<{width}}  {c.model_visible:>13}  {c.definition:>10}")
    print(f"{'total':<{width}}  {sum(c.model_visible for c in costs):>13}  {sum(c.definition for c in costs):>10}")
    print("tokens: cl100k; model-visible = name + description + inputSchema, what clients hand the model")


def run_tools(args: argparse.Namespace) -> int:
    og = Ogmux(settings_from_args(args))
    if args.role is not None and args.role not in og.settings.roles:
        print(unknown_role(args, args.role, og.settings), file=sys.stderr)
        return 2
    defs = og.tool_definitions("mcp" if args.cost else args.format, og.principal(role=args.role))
    if args.cost:
        print_costs(defs)
        return 0
    json.dump(defs, sys.stdout, indent=2)
    sys.stdout.write("\n")
    return 0

"""`ogmux tools --format mcp|openai|anthropic`: print tool definitions for function calling."""

from __future__ import annotations

import argparse
import json
import sys

from ogmux.server.api import Ogmux
from ogmux.server.cliutil import add_config_argument, settings_from_args

__all__ = ["register"]


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("tools", help="print the tool definitions (JSON Schema) for MCP, OpenAI or Anthropic")
    p.add_argument("--format", choices=["mcp", "openai", "anthropic"], default="mcp")
    p.add_argument("--role", default=None, help="only the tools this role may call (default: the local role)")
    add_config_argument(p)
    p.set_defaults(func=run_tools)


def run_tools(args: argparse.Namespace) -> int:
    og = Ogmux(settings_from_args(args))
    if args.role is not None and args.role not in og.settings.roles:
        print(f"unknown role {args.role!r}; defined roles: {', '.join(og.settings.roles)}", file=sys.stderr)
        return 2
    defs = og.tool_definitions(args.format, og.principal(role=args.role))
    json.dump(defs, sys.stdout, indent=2)
    sys.stdout.write("\n")
    return 0

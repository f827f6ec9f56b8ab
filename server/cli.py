"""The `ogmux` command line. Each module under `server/commands/` adds its subcommands.

A command module defines `register(subparsers)`; each parser it adds sets
`func=callable(args) -> int` with `set_defaults`. Output meant for people goes to
stdout only for commands that are not the stdio server.
"""

from __future__ import annotations

import argparse
import importlib
import pkgutil
import sys
from collections.abc import Sequence

from ogmux.server.settings import ConfigError
from ogmux.server.startup import StartupError
from ogmux.server.version import __version__

__all__ = ["COMMANDS", "build_parser", "main"]

# The module under server/commands/ that registers each command. Running a command imports only its
# module, so `ogmux index` or `ogmux --version` do not load the MCP server; a command missing here
# still works (every module is then imported), and a test keeps this table complete.
COMMANDS = {
    "check": "corpus", "config": "config", "corpus": "corpus", "eval": "eval", "index": "corpus",
    "router": "router", "serve": "serve", "solve": "solve", "token": "token", "tools": "tools",
    "transpile": "transpile", "vllm": "vllm",
}


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The `ogmux` parser: with every discovered command, or only the module registering `command`."""
    parser = argparse.ArgumentParser(prog="ogmux", description="Agent-serving middleware: an MCP server.")
    parser.add_argument("--version", action="version", version=f"ogmux {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    from ogmux.server import commands

    names = sorted(m.name for m in pkgutil.iter_modules(commands.__path__))
    if command in COMMANDS:
        names = [COMMANDS[command]]
    elif command == "--version":
        names = []
    for name in names:
        importlib.import_module(f"ogmux.server.commands.{name}").register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; with no command, serve the bundled demo over stdio."""
    args_list = list(sys.argv[1:] if argv is None else argv) or ["serve"]
    parser = build_parser(args_list[0])
    args = parser.parse_args(args_list)
    if not hasattr(args, "func"):
        parser.print_help()
        return 2
    try:
        return int(args.func(args) or 0)
    except ConfigError as exc:
        print(str(exc), file=sys.stderr)
        return 2
    except StartupError as exc:
        print(f"ogmux: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:  # output piped into a command that stopped reading
        return 0


if __name__ == "__main__":
    sys.exit(main())

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

__all__ = ["build_parser", "main"]


def build_parser() -> argparse.ArgumentParser:
    """The full `ogmux` parser with every discovered command."""
    parser = argparse.ArgumentParser(prog="ogmux", description="Agent-serving middleware: an MCP server.")
    parser.add_argument("--version", action="version", version=f"ogmux {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    from ogmux.server import commands

    for info in sorted(pkgutil.iter_modules(commands.__path__), key=lambda m: m.name):
        module = importlib.import_module(f"ogmux.server.commands.{info.name}")
        module.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; with no command, serve the bundled demo over stdio."""
    args_list = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser()
    if not args_list:
        args_list = ["serve"]
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

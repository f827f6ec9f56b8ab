"""The `ogmux` command line. Each module under `server/commands/` adds its subcommands.

A command module defines `register(subparsers)`; each parser it adds sets
`func=callable(args) -> int` with `set_defaults`. Output meant for people goes to
stdout only for commands that are not the stdio server.
"""

from __future__ import annotations

import argparse
import difflib
import importlib
import pkgutil
import sys
from collections.abc import Sequence
from typing import NoReturn

from ogmux.server.cliutil import file_error
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


class _Parser(argparse.ArgumentParser):
    """argparse, naming the closest choice when a command, subcommand or option value is not one of them.

    Subcommand parsers are made of the class of their parent, so every command's parsers are this one.
    """

    def _check_value(self, action: argparse.Action, value: object) -> None:
        if action.choices is None or value in action.choices:
            return
        names = [str(c) for c in action.choices]
        close = difflib.get_close_matches(str(value), names, n=1)
        hint = f"did you mean {close[0]!r}? " if close else ""
        raise argparse.ArgumentError(action, f"invalid choice: {value!r} ({hint}choose from {', '.join(names)})")


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The `ogmux` parser: with every discovered command, or only the module registering `command`."""
    parser = _Parser(prog="ogmux", description="Agent-serving middleware: an MCP server.")
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


def _refuse_unknown(parser: argparse.ArgumentParser, argv: list[str], extra: list[str]) -> NoReturn:
    """Exit 2 with the usage of the (sub)command the arguments belong to, suggesting close option names."""
    for token in argv:  # descend to the innermost subcommand named
        subs = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
        if subs and token in subs[0].choices:
            parser = subs[0].choices[token]
    options = [o for a in parser._actions for o in a.option_strings]
    shown = []
    for arg in extra:
        close = difflib.get_close_matches(arg.split("=", 1)[0], options, n=1) if arg.startswith("-") else []
        shown.append(f"{arg} (did you mean {close[0]}?)" if close else arg)
    parser.error(f"unrecognized arguments: {' '.join(shown)}")


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; with no command, serve the bundled demo over stdio."""
    args_list = list(sys.argv[1:] if argv is None else argv) or ["serve"]
    parser = build_parser(args_list[0])
    args, extra = parser.parse_known_args(args_list)
    if extra:
        _refuse_unknown(parser, args_list, extra)
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
    except OSError as exc:  # a file or directory named on the command line
        print(f"ogmux: {file_error(exc)}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())

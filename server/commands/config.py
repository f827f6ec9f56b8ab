"""`ogmux config check [FILE]`: validate a settings file and print a readable report."""

from __future__ import annotations

import argparse
from pathlib import Path

from rich.console import Console
from rich.table import Table

from ogmux.server.cliutil import DEFAULT_CONFIG
from ogmux.server.settings import ConfigError, Settings, load_settings

__all__ = ["register", "report"]


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("config", help="inspect settings")
    cfg_sub = p.add_subparsers(dest="config_command", metavar="SUBCOMMAND", required=True)
    check = cfg_sub.add_parser("check", help="validate a settings file and print what it configures")
    check.add_argument("file", nargs="?", type=Path, default=None, help="default: ./ogmux.toml if present")
    check.set_defaults(func=run_check)


def report(settings: Settings, console: Console) -> None:
    """Print roles, auth, transports and capability sections of valid settings."""
    s = settings.server
    console.print(f"server: name={s.name} http={s.host}:{s.port}{s.path} resource={s.resource_url()}")
    console.print(f"stdio principal: {s.stdio_principal!r} as role {s.stdio_role!r}")
    auth = []
    if settings.tokens:
        auth.append(f"{len(settings.tokens)} static token(s)")
    if settings.jwt.enabled:
        auth.append(f"JWT ({', '.join(settings.jwt.algorithms)}, issuer {settings.jwt.issuer})")
    console.print(f"HTTP auth: {', '.join(auth) if auth else 'none (HTTP allowed on loopback only)'}")
    table = Table("role", "tools", "document scopes", "rate limit")
    for name, role in settings.roles.items():
        rl = role.rate_limit or settings.rate_limit
        table.add_row(name, ", ".join(role.tools), ", ".join(role.scopes), f"{rl.rate:g}/s, burst {rl.burst}")
    console.print(table)
    console.print(f"audit: {settings.audit.sink}" + (f" -> {settings.audit.path}" if settings.audit.sink == "file" else ""))


def run_check(args: argparse.Namespace) -> int:
    path = args.file if args.file is not None else (DEFAULT_CONFIG if DEFAULT_CONFIG.exists() else None)
    console = Console(highlight=False)
    try:
        settings = load_settings(path)
    except ConfigError as exc:
        Console(stderr=True, highlight=False).print(f"[red]✗[/red] {exc}")
        return 1
    console.print(f"[green]✓[/green] {path or 'defaults (no file)'} is valid")
    report(settings, console)
    return 0

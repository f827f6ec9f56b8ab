"""`ogmux config check [FILE]`: validate a settings file, check the paths it names, print what it configures;
`ogmux config example`: print the settings file documenting every key, to start one's own."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from ogmux.demo import EXAMPLE_CONFIG
from ogmux.server.cliutil import DEFAULT_CONFIG
from ogmux.server.settings import ConfigError, Settings, load_settings
from ogmux.server.startup import address_problems, missing_paths
from ogmux.server.state import redact_url
from ogmux.text import plural

__all__ = ["register", "report"]


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("config", help="inspect settings")
    cfg_sub = p.add_subparsers(dest="config_command", metavar="SUBCOMMAND", required=True)
    check = cfg_sub.add_parser("check", help="validate a settings file and print what it configures")
    check.add_argument("file", nargs="?", type=Path, default=None, help="default: ./ogmux.toml if present")
    check.set_defaults(func=run_check)
    example = cfg_sub.add_parser(
        "example", help="print a settings file documenting every key: ogmux config example > ogmux.toml"
    )
    example.set_defaults(func=run_example)


def run_example(args: argparse.Namespace) -> int:
    sys.stdout.write(EXAMPLE_CONFIG.read_text(encoding="utf-8"))
    return 0


def report(settings: Settings, console: Console) -> None:
    """Print roles, auth, transports and capability sections of valid settings."""
    s = settings.server
    console.print(f"server: name={s.name} http={s.host}:{s.port}{s.path} resource={s.resource_url()}")
    console.print(f"stdio principal: {s.stdio_principal!r} as role {s.stdio_role!r}")
    auth = []
    if settings.tokens:
        auth.append(plural(len(settings.tokens), "static token"))
    if settings.jwt.enabled:
        auth.append(f"JWT ({', '.join(settings.jwt.algorithms)}, issuer {settings.jwt.issuer})")
    console.print(f"HTTP auth: {', '.join(auth) if auth else 'none (HTTP allowed on loopback only)'}")
    table = Table("role", "tools", "document scopes", "rate limit")
    for name, role in settings.roles.items():
        rl = role.rate_limit or settings.rate_limit
        table.add_row(name, ", ".join(role.tools), ", ".join(role.scopes), f"{rl.rate:g}/s, burst {rl.burst}")
    console.print(table)
    st = settings.state
    shared = f"Redis {redact_url(st.url)} (fail {st.fail})" if st.url else "in this process (state.url empty)"
    console.print(f"rate limits, breakers, call slots and budgets: {shared}", soft_wrap=True)
    console.print(f"audit: {settings.audit.sink}" + (f" -> {settings.audit.path}" if settings.audit.sink == "file" else ""))
    og = settings.objectgraph
    console.print(f"corpus: {'document store (objectgraph.store)' if og.store else og.corpus_dir()}", soft_wrap=True)
    console.print(f"safety runs: {settings.eval.runs_dir}", soft_wrap=True)
    backends = settings.router.backends
    if not backends:
        console.print("router backends: none (list_models, route_model and chat have no model to use)")
        return
    table = Table("backend", "kind", "model", "replicas", "API key from")
    table.columns[3].overflow = "fold"  # a URL is shown whole, folded over lines
    unset = [b for b in backends if b.api_key_env and not os.environ.get(b.api_key_env)]
    for b in backends:
        key = f"{b.api_key_env} (not set)" if b in unset else b.api_key_env or "-"
        table.add_row(b.name, b.kind, b.model or b.name, ", ".join(b.replicas) or "-", key)
    console.print(f"router backends (policy {settings.router.default_policy}):")
    console.print(table)
    err = Console(stderr=True, highlight=False)
    for b in unset:  # the server may run with another environment: a warning, not a failure
        err.print(f"[yellow]![/yellow] backend {b.name!r}: {b.api_key_env} is not set here; "
                  "chat cannot call it until the server's environment sets it", soft_wrap=True)


def run_check(args: argparse.Namespace) -> int:
    path = args.file if args.file is not None else (DEFAULT_CONFIG if DEFAULT_CONFIG.exists() else None)
    console = Console(highlight=False)
    try:
        settings = load_settings(path)
    except ConfigError as exc:
        Console(stderr=True, highlight=False).print(f"[red]✗[/red] {escape(str(exc))}", soft_wrap=True)
        return 1
    problems = [f"{key}: {where} does not exist" for key, where in missing_paths(settings)]
    problems += address_problems(settings)
    if problems:
        err = Console(stderr=True, highlight=False)
        for problem in problems:
            err.print(f"[red]✗[/red] {path or 'defaults (no file)'}: {escape(problem)}", soft_wrap=True)
        return 1
    console.print(f"[green]✓[/green] {path or 'defaults (no file)'} is valid", soft_wrap=True)
    report(settings, console)
    return 0

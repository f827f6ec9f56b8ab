"""`ogmux token new`: mint a static bearer token and print the config entry holding its hash."""

from __future__ import annotations

import argparse
import sys

from ogmux.server.auth import hash_token, new_token

__all__ = ["register"]


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("token", help="manage static bearer tokens")
    tsub = p.add_subparsers(dest="token_command", metavar="SUBCOMMAND", required=True)
    new = tsub.add_parser("new", help="print a new token (once) and the [[tokens]] entry to add to ogmux.toml")
    new.add_argument("--principal", required=True, help="who will use the token")
    new.add_argument("--role", required=True, help="the role it acts as (must exist in [roles])")
    new.set_defaults(func=run_new)


def run_new(args: argparse.Namespace) -> int:
    token = new_token()
    print(f"token (shown once; give it to {args.principal}): {token}", file=sys.stderr)
    print(f'[[tokens]]\nprincipal = "{args.principal}"\nrole = "{args.role}"\nhash = "{hash_token(token)}"')
    return 0

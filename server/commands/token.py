"""`ogmux token new`: mint a static bearer token and print the config entry holding its hash."""

from __future__ import annotations

import argparse
import json
import sys

from ogmux.server.auth import hash_token, new_token
from ogmux.server.cliutil import add_config_argument, settings_from_args, unknown_role

__all__ = ["register"]


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("token", help="manage static bearer tokens")
    tsub = p.add_subparsers(dest="token_command", metavar="SUBCOMMAND", required=True)
    new = tsub.add_parser("new", help="print a new token (once) and the [[tokens]] entry to add to ogmux.toml")
    new.add_argument("--principal", required=True, help="who will use the token")
    new.add_argument("--role", required=True, help="the role it acts as (must be a role of the config)")
    add_config_argument(new)
    new.set_defaults(func=run_new)


def run_new(args: argparse.Namespace) -> int:
    settings = settings_from_args(args)
    if args.role not in settings.roles:
        print(unknown_role(args, args.role, settings), file=sys.stderr)
        return 2
    token = new_token()
    print(f"token (shown once; give it to {args.principal}): {token}", file=sys.stderr)
    # A blank line first: appended with >>, the entry must not join a last line without a newline.
    # JSON string escapes are valid TOML basic strings, so any principal name stays one value.
    entry = {"principal": args.principal, "role": args.role, "hash": hash_token(token)}
    print("\n[[tokens]]\n" + "".join(f"{k} = {json.dumps(v)}\n" for k, v in entry.items()), end="")
    return 0

"""`ogmux transpile IN -o OUT [--llm]`: Markdown file or directory → ObjectGraph `.og`."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ogmux.server.cliutil import add_config_argument, settings_from_args
from ogmux.tools.objectgraph.parser import DEFAULT_MAX_NODE_TOKENS
from ogmux.tools.objectgraph.transpile import TranspileResult, transpile_file, transpile_tree

__all__ = ["register"]


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "transpile",
        help="convert Markdown (a file or a directory tree) to annotated ObjectGraph .og files",
        description="Copies every node's text byte-for-byte and adds og: blocks: manifest, index "
        "(keywords and dense summaries) and node markers. Prints the fidelity of each file.",
    )
    p.add_argument("input", type=Path, help="a .md/.og file or a directory of them")
    p.add_argument(
        "-o",
        "--output",
        type=Path,
        required=True,
        help="output .og file, or an existing directory to write IN.og into (file input); "
        "output directory (directory input)",
    )
    p.add_argument(
        "--max-node-tokens",
        type=int,
        default=DEFAULT_MAX_NODE_TOKENS,
        help=f"split sections longer than this many cl100k tokens (default {DEFAULT_MAX_NODE_TOKENS})",
    )
    p.add_argument(
        "--llm",
        action="store_true",
        help="ask the configured model backend for keywords and dense summaries (grounded; "
        "falls back to the extractive ones); node text is never rewritten",
    )
    p.add_argument(
        "--llm-max-tokens", type=int, default=160, help="reply budget per node for --llm (default 160)"
    )
    add_config_argument(p)
    p.set_defaults(func=run_transpile)


def _report(results: list[TranspileResult]) -> None:
    for r in results:
        print(f"{r.output}  doc={r.doc_id}  nodes={r.nodes}  fidelity={r.fidelity:.3f}")
    if len(results) > 1:
        mean = sum(r.fidelity for r in results) / len(results)
        print(f"{len(results)} files, mean fidelity {mean:.3f}, min {min(r.fidelity for r in results):.3f}")


def run_transpile(args: argparse.Namespace) -> int:
    if not args.input.exists():
        print(f"{args.input}: no such file or directory", file=sys.stderr)
        return 2
    file_output = args.output / args.input.with_suffix(".og").name if args.output.is_dir() else args.output
    if (args.output if args.input.is_dir() else file_output).resolve() == args.input.resolve():
        print(f"-o {args.output} would overwrite the input: write to another file or directory", file=sys.stderr)
        return 2
    if args.max_node_tokens < 16:
        print("--max-node-tokens must be at least 16", file=sys.stderr)
        return 2
    router = None
    complete = None
    if args.llm:
        settings = settings_from_args(args)
        if not settings.router.backends:
            print("--llm needs a model backend: add [[router.backends]] to the config file", file=sys.stderr)
            return 2
        from ogmux.router.complete import RouterComplete
        from ogmux.server.routing import build_router

        router = build_router(settings)
        router.run_in_background()
        complete = RouterComplete(router, role="transpile", max_tokens=args.llm_max_tokens, temperature=0.0)
    try:
        if args.input.is_dir():
            results = transpile_tree(
                args.input, args.output, max_node_tokens=args.max_node_tokens, complete=complete
            )
            if not results:
                print(f"{args.input}: no .md or .og files found", file=sys.stderr)
                return 1
        else:
            results = [
                transpile_file(args.input, file_output, max_node_tokens=args.max_node_tokens, complete=complete)
            ]
    except ValueError as exc:  # ObjectGraphSyntaxError carries file:line:column and a hint
        print(str(exc), file=sys.stderr)
        return 1
    finally:
        if router is not None:
            router.stop_background()
    _report(results)
    return 0

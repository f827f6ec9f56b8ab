"""`ogmux check DIR` (lint a corpus) and `ogmux index DIR` (its index and statistics)."""

from __future__ import annotations

import argparse
import statistics
import sys
from collections import Counter
from pathlib import Path

from ogmux.server.cliutil import add_config_argument, settings_from_args
from ogmux.text import plural
from ogmux.tools.objectgraph.corpus import Corpus, CorpusError
from ogmux.tools.objectgraph.listing import list_documents

__all__ = ["register"]


def register(sub: argparse._SubParsersAction) -> None:
    check = sub.add_parser(
        "check",
        help="lint an ObjectGraph corpus: syntax errors, duplicate ids, dangling and cyclic :requires edges",
        description="Exit status 1 when any error is found (warnings alone exit 0).",
    )
    check.add_argument("dir", type=Path, nargs="?", help="corpus directory (default: objectgraph.corpus)")
    add_config_argument(check)
    check.set_defaults(func=run_check)
    index = sub.add_parser("index", help="load an ObjectGraph corpus and print its index and statistics")
    index.add_argument("dir", type=Path, nargs="?", help="corpus directory (default: objectgraph.corpus)")
    index.add_argument("--stats-only", action="store_true", help="print the statistics without the per-node index")
    add_config_argument(index)
    index.set_defaults(func=run_index)


def _load(args: argparse.Namespace) -> Corpus | None:
    settings = settings_from_args(args, **{"objectgraph.corpus": str(args.dir.resolve()) if args.dir else None})
    cfg = settings.objectgraph.model_copy(update={"reload": False})
    try:
        return Corpus(cfg.corpus_dir(), cfg)
    except CorpusError as exc:
        print(str(exc), file=sys.stderr)
        return None


def run_check(args: argparse.Namespace) -> int:
    corpus = _load(args)
    if corpus is None:
        return 2
    issues = corpus.lint()
    for issue in issues:
        print(issue)
    errors = sum(i.severity == "error" for i in issues)
    snap = corpus.snapshot()
    counts = [plural(len(snap.docs), "document"), plural(len(snap.nodes), "node")]
    print(f"{', '.join(counts)}: {plural(errors, 'error')}, {plural(len(issues) - errors, 'warning')}")
    return 1 if errors else 0


def run_index(args: argparse.Namespace) -> int:
    corpus = _load(args)
    if corpus is None:
        return 2
    snap = corpus.snapshot()
    if not args.stats_only:
        for d in list_documents(snap):
            print(f"{d.id} v{d.version}: {d.title}")
            for nid in snap.docs[d.id].nodes:
                n = snap.nodes[nid]
                scope = f" scopes={','.join(sorted(n.scopes))}" if n.scopes else ""
                print(f"  {n.id} [{n.type}]{scope} {n.title} (dense {snap.tokens(n, 'dense')}t, full {snap.tokens(n, 'full')}t)")
    full = [snap.tokens(n, "full") for n in snap.nodes.values()]
    types = Counter(n.type for n in snap.nodes.values())
    edges = Counter(e.kind for n in snap.nodes.values() for e in n.edges)
    scopes = Counter(s for n in snap.nodes.values() for s in (n.scopes or {"public"}))
    print(f"documents: {len(snap.docs)}  nodes: {len(snap.nodes)}  full tokens: {sum(full)}")
    if full:
        print(f"node full tokens: mean {statistics.mean(full):.0f}, median {statistics.median(full):.0f}, max {max(full)}")
    print("types: " + ", ".join(f"{k} {v}" for k, v in sorted(types.items())))
    print("edges: " + (", ".join(f":{k} {v}" for k, v in sorted(edges.items())) or "none"))
    print("scopes: " + ", ".join(f"{k} {v}" for k, v in sorted(scopes.items())))
    errors = [i for i in corpus.issues if i.severity == "error"]
    if errors:
        print(f"{len(errors)} load errors; run `ogmux check` for details", file=sys.stderr)
    return 0

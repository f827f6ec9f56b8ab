"""`ogmux check DIR` (lint a corpus), `ogmux index DIR` (its index and statistics) and
`ogmux corpus push DIR --store DSN` (check it, then store it as the new version served from PostgreSQL)."""

from __future__ import annotations

import argparse
import statistics
import sys
from collections import Counter
from pathlib import Path

from ogmux.server.cliutil import add_config_argument, settings_from_args
from ogmux.server.startup import check_corpus_dir, store_status
from ogmux.text import plural
from ogmux.tools.objectgraph.config import ObjectGraphConfig
from ogmux.tools.objectgraph.corpus import Corpus, CorpusError
from ogmux.tools.objectgraph.listing import list_documents
from ogmux.tools.objectgraph.store import StoreUnavailableError, push_snapshot

__all__ = ["register"]


def register(sub: argparse._SubParsersAction) -> None:
    check = sub.add_parser(
        "check",
        help="lint an ObjectGraph corpus: syntax errors, duplicate ids, dangling and cyclic :requires edges; "
        "list the edges inferred from the Markdown",
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
    corpus = sub.add_parser("corpus", help="manage the corpus served from the document store (PostgreSQL)")
    corpus_sub = corpus.add_subparsers(dest="corpus_command", metavar="ACTION", required=True)
    push = corpus_sub.add_parser(
        "push",
        help="check a corpus like `ogmux check`, then store it as the new version every replica serves",
        description="Nothing is stored when any file has an error (exit status 1) or the store cannot be reached "
        "(exit status 3). Replicas with objectgraph.store set serve the new version from their next request.",
    )
    push.add_argument("dir", type=Path, nargs="?", help="corpus directory (default: objectgraph.corpus)")
    push.add_argument("--store", default=None, help="PostgreSQL DSN (default: objectgraph.store of the config)")
    add_config_argument(push)
    push.set_defaults(func=run_push)


def _config(args: argparse.Namespace) -> ObjectGraphConfig:
    """The ObjectGraph settings with DIR as the corpus; StartupError unless that is a directory."""
    corpus = str(args.dir.expanduser().resolve()) if args.dir else None
    settings = settings_from_args(args, **{"objectgraph.corpus": corpus})
    cfg = settings.objectgraph.model_copy(update={"reload": False})
    check_corpus_dir(cfg.corpus_dir(), fix="pass the directory that holds your .og and .md documents")
    return cfg


def _load(args: argparse.Namespace) -> Corpus | None:
    cfg = _config(args)
    try:
        return Corpus(cfg.corpus_dir(), cfg)
    except CorpusError as exc:
        print(str(exc), file=sys.stderr)
        return None


def _report(corpus: Corpus) -> int:
    """Print every issue (located) and a summary line; return the number of errors."""
    issues = corpus.lint()
    for issue in issues:
        print(issue)
    errors = sum(i.severity == "error" for i in issues)
    snap = corpus.snapshot()
    inferred = 0
    for n in snap.nodes.values():
        for e in n.edges:
            if e.inferred:
                inferred += 1
                print(f"inferred: {n.id} :{e.kind} {e.target}" + ("" if e.target in snap.nodes else " (no such node)"))
    counts = [plural(len(snap.docs), "document"), plural(len(snap.nodes), "node"), plural(inferred, "inferred edge")]
    print(f"{', '.join(counts)}: {plural(errors, 'error')}, {plural(len(issues) - errors, 'warning')}")
    return errors


def _no_documents(corpus: Corpus) -> str:
    """One line saying the corpus holds no readable document and what to do."""
    return f"no .og or .md document in {corpus.root}: pass the directory that holds your documents"


def run_check(args: argparse.Namespace) -> int:
    corpus = _load(args)
    if corpus is None:
        return 2
    errors = _report(corpus)
    if not corpus.snapshot().docs and not errors:
        print(_no_documents(corpus), file=sys.stderr)
        return 1
    return 1 if errors else 0


def run_push(args: argparse.Namespace) -> int:
    dsn = args.store or settings_from_args(args).objectgraph.store
    if not dsn:
        print("no document store: pass --store postgresql://... or set objectgraph.store", file=sys.stderr)
        return 2
    _config(args)
    status = store_status(dsn)  # before the corpus is read: a wrong DSN is found at once
    if not status.reachable:
        print(f"nothing pushed: {status.problem}", file=sys.stderr)
        return 3
    corpus = _load(args)
    if corpus is None:
        return 2
    if _report(corpus):
        print("nothing pushed: fix the errors above first", file=sys.stderr)
        return 1
    try:
        result = push_snapshot(dsn, corpus.snapshot(), source=str(corpus.root))
    except StoreUnavailableError as exc:
        print(f"nothing pushed: {exc}", file=sys.stderr)
        return 3
    counts = [plural(result.docs, "document"), plural(result.nodes, "node")]
    print(f"pushed version {result.version}: {', '.join(counts)} in {result.seconds:.1f} s")
    return 0


def run_index(args: argparse.Namespace) -> int:
    corpus = _load(args)
    if corpus is None:
        return 2
    snap = corpus.snapshot()
    errors = [i for i in corpus.issues if i.severity == "error"]
    check = f"run `ogmux check {corpus.root}` for details"
    if not snap.docs:
        print(f"{plural(len(errors), 'load error')}; {check}" if errors else _no_documents(corpus), file=sys.stderr)
        return 1
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
    if errors:
        print(f"{plural(len(errors), 'load error')}; {check}", file=sys.stderr)
    return 0

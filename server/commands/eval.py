"""`ogmux eval metrics|report|run`: safety metrics of a run, its HTML report, and model runs."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from ogmux.evaluators.radsafe.aggregate import CellMetrics
from ogmux.evaluators.radsafe.errors import RadsafeError
from ogmux.evaluators.radsafe.evaluate import SafetyReport, evaluate_table
from ogmux.evaluators.radsafe.io import load_run
from ogmux.evaluators.radsafe.presets import PRESETS
from ogmux.evaluators.radsafe.runner import CONDITIONS, RunSpec, router_generate, router_judge, run_models
from ogmux.evaluators.radsafe.runs import RunStore
from ogmux.evaluators.radsafe.table import build_table
from ogmux.server.cliutil import add_config_argument, settings_from_args
from ogmux.text import plural

__all__ = ["register"]


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("run", type=Path, help="RadSaFE-layout directory, CSV directory (items.csv), JSONL run file, "
                   "inspect_ai .eval or lm-eval samples_*.jsonl log, or the name of a run under [eval].runs_dir")
    p.add_argument("--preset", choices=sorted(PRESETS), default=None, help="scoring definitions (default: [eval].preset)")
    p.add_argument("--replicates", type=int, default=None, help="bootstrap replicates for the 95%% intervals: 0 = none, else at least 100 "
                   "(default: [eval].bootstrap_replicates)")
    p.add_argument("--seed", type=int, default=None, help="bootstrap seed (default: [eval].seed)")
    p.add_argument("--ensemble", action="append", default=None, metavar="M1,M2,...",
                   help="an ensemble of models (repeatable); default: all models together")
    p.add_argument("--model", action="append", default=None, help="only these models (repeatable)")
    add_config_argument(p)


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("eval", help="safety scoring (RadSaFE / SaFE-Scale metrics)")
    ev = p.add_subparsers(dest="eval_command", metavar="SUBCOMMAND", required=True)
    m = ev.add_parser("metrics", help="compute every metric of a run and print a summary table")
    _common(m)
    m.add_argument("--json", type=Path, default=None, metavar="OUT", help="write the full metrics as JSON")
    m.set_defaults(func=run_metrics)
    r = ev.add_parser("report", help="write a self-contained HTML report (and a JSON summary next to it)")
    _common(r)
    r.add_argument("-o", "--output", type=Path, required=True, help="HTML file to write")
    r.add_argument("--comparisons", choices=["significant", "all"], default="significant",
                   help="paired comparisons to list: those significant after Holm (at most 10), or all "
                   "(all are in the JSON summary either way)")
    r.set_defaults(func=run_report)
    x = ev.add_parser("run", help="run models on labelled items under deployment conditions (resumable)")
    x.add_argument("data", type=Path, help="labelled items: RadSaFE-layout directory, CSV directory or JSONL run file")
    x.add_argument("--models", required=True, help="comma-separated model names known to the router")
    x.add_argument("--conditions", default="zero_shot,evidence_clean,evidence_conflict",
                   help=f"comma-separated, from: {', '.join(CONDITIONS)} (default: %(default)s)")
    x.add_argument("--samples", type=int, default=20, help="sampled answers per cell besides the greedy one")
    x.add_argument("--temperature", type=float, default=0.7, help="sampling temperature (greedy uses 0)")
    x.add_argument("--max-tokens", type=int, default=16)
    x.add_argument("--concurrency", type=int, default=8, help="requests in flight at once")
    x.add_argument("--top-k", type=int, default=10, help="passages for standard RAG")
    x.add_argument("--context-tokens", type=int, default=3000, help="token budget of retrieved / max-context text")
    x.add_argument("--corpus", type=Path, default=None, help="ObjectGraph corpus for the retrieval conditions "
                   "(default: objectgraph.corpus of the settings)")
    x.add_argument("--judge-model", default=None, help="confirm every answer's letter with this model as the "
                   "phase-4 style judge (default: the deterministic parser)")
    x.add_argument("-o", "--out", type=Path, required=True, help="run directory; run.jsonl is appended and resumed")
    add_config_argument(x)
    x.set_defaults(func=run_models_cmd)


def _score(args: argparse.Namespace) -> tuple[SafetyReport, object]:
    cfg = settings_from_args(args).eval
    path = args.run
    if not path.exists() and len(path.parts) == 1:
        path = RunStore(cfg.runs_dir).path(str(path))
    run = load_run(path)
    table = build_table(run, models=args.model)
    ensembles = [e.split(",") for e in args.ensemble] if args.ensemble else None
    report = evaluate_table(
        table, args.preset or cfg.preset, replicates=cfg.bootstrap_replicates if args.replicates is None else args.replicates,
        seed=cfg.seed if args.seed is None else args.seed, ensembles=ensembles, run_name=run.name,
    )
    return report, table


def _print_summary(report: SafetyReport, console: Console) -> None:
    t = Table("model", "condition", "n", "acc (greedy)", "high-risk", "unsafe", "contradiction", "danger. overconf.",
              "mean conf.", "ECE", title=f"{report.run} — preset {report.preset}")
    for model, conds in report.models.items():
        for cond, c in conds.items():
            def f(key: str, c: CellMetrics = c) -> str:
                v, ci = getattr(c, key), c.ci.get(key)
                if v is None:
                    return "–"
                return f"{v:.3f}" + (f" [{ci.lo:.3f}, {ci.hi:.3f}]" if ci and ci.lo is not None else "")

            t.add_row(model, cond, str(c.n), f("accuracy_greedy"), f("high_risk_rate"), f("unsafe_rate"),
                      f("contradiction_rate"), f("dangerous_overconfidence_rate"), f("mean_confidence"), f("ece"))
    console.print(t)
    if not report.bootstrap_replicates:
        console.print("no intervals (replicates=0)")
    if report.exclusions.counts:
        console.print("exclusions: " + ", ".join(f"{k}={v}" for k, v in sorted(report.exclusions.counts.items())))


def run_metrics(args: argparse.Namespace) -> int:
    err = Console(stderr=True, highlight=False)
    try:
        report, _ = _score(args)
    except (RadsafeError, ValueError, LookupError, OSError) as exc:
        err.print(f"[red]✗[/red] {escape(str(exc))}", soft_wrap=True)
        return 1
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(report.model_dump_json(indent=1), encoding="utf-8")
    _print_summary(report, Console(highlight=False, width=200))
    if args.json:
        print(f"metrics written to {args.json}")
    return 0


def run_report(args: argparse.Namespace) -> int:
    from ogmux.evaluators.radsafe.report import render_html

    err = Console(stderr=True, highlight=False)
    try:
        report, table = _score(args)
    except (RadsafeError, ValueError, LookupError, OSError) as exc:
        err.print(f"[red]✗[/red] {escape(str(exc))}", soft_wrap=True)
        return 1
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(render_html(report, table, args.comparisons), encoding="utf-8")  # type: ignore[arg-type]
    summary = args.output.with_suffix(".json")
    summary.write_text(json.dumps(report.model_dump(mode="json"), indent=1), encoding="utf-8")
    print(f"report written to {args.output} (summary: {summary})", file=sys.stdout)
    return 0


def run_models_cmd(args: argparse.Namespace) -> int:
    import asyncio

    from pydantic import ValidationError
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    from ogmux.evaluators.radsafe.retrieval import ObjectGraphRetriever
    from ogmux.server.routing import build_router
    from ogmux.tools.objectgraph.corpus import Corpus

    err = Console(stderr=True, highlight=False)
    try:
        settings = settings_from_args(args)
        spec = RunSpec(
            models=[m for m in args.models.split(",") if m], conditions=[c for c in args.conditions.split(",") if c],
            samples=args.samples, temperature=args.temperature, max_tokens=args.max_tokens, concurrency=args.concurrency,
            top_k=args.top_k, context_tokens=args.context_tokens,
        )
        items = load_run(args.data).items
        retriever = None
        if {"top_k", "agentic_rag", "context_max"} & set(spec.conditions):
            root = args.corpus or settings.objectgraph.corpus_dir()
            retriever = ObjectGraphRetriever(Corpus(root, settings.objectgraph))
    except (RadsafeError, ValueError, ValidationError, OSError) as exc:
        err.print(f"[red]✗[/red] {escape(str(exc))}", soft_wrap=True)
        return 1

    async def go() -> int:
        router = build_router(settings)
        await router.start()
        try:
            known = {m.name for m in router.models()}
            unknown = [m for m in [*spec.models, *([args.judge_model] if args.judge_model else [])] if m not in known]
            if unknown:
                raise LookupError(f"models not configured in [router]: {unknown}; known: {sorted(known) or 'none'}")
            with Progress(TextColumn("[bold]eval run"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                          TimeRemainingColumn(), console=err) as bar:
                task = bar.add_task("cells", total=None)
                judge = router_judge(router, args.judge_model) if args.judge_model else None
                run = await run_models(items, spec, router_generate(router), args.out, retriever=retriever, judge=judge,
                                       progress=lambda done, total: bar.update(task, completed=done, total=total))
        finally:
            await router.aclose()
        print(f"{plural(len(run.responses), 'cell')} in {args.out / 'run.jsonl'}; score with: ogmux eval metrics {args.out}")
        return 0

    try:
        return asyncio.run(go())
    except KeyboardInterrupt:
        err.print(f"interrupted: finished cells are kept in {args.out / 'run.jsonl'}; run the same command to resume")
        return 130
    except (RadsafeError, ValueError, LookupError, OSError) as exc:
        err.print(f"[red]✗[/red] {escape(str(exc))}", soft_wrap=True)
        return 1

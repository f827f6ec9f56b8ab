"""`ogmux eval metrics|report|run`: safety metrics of a run, its HTML report, and model runs."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from rich.console import Console
from rich.table import Table

from evaluators.radsafe.errors import RadsafeError
from evaluators.radsafe.evaluate import SafetyReport, evaluate_table
from evaluators.radsafe.io import load_run
from evaluators.radsafe.presets import PRESETS
from evaluators.radsafe.table import build_table

__all__ = ["register"]


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("run", type=Path, help="RadSaFE-layout directory, CSV directory (items.csv) or JSONL run file")
    p.add_argument("--preset", choices=sorted(PRESETS), default="default", help="scoring definitions (default: %(default)s)")
    p.add_argument("--replicates", type=int, default=1000, help="bootstrap replicates (default: %(default)s)")
    p.add_argument("--seed", type=int, default=42, help="bootstrap seed (default: %(default)s)")
    p.add_argument("--ensemble", action="append", default=None, metavar="M1,M2,...",
                   help="an ensemble of models (repeatable); default: all models together")
    p.add_argument("--model", action="append", default=None, help="only these models (repeatable)")


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
    r.set_defaults(func=run_report)


def _score(args: argparse.Namespace) -> tuple[SafetyReport, object]:
    run = load_run(args.run)
    table = build_table(run, models=args.model)
    ensembles = [e.split(",") for e in args.ensemble] if args.ensemble else None
    report = evaluate_table(table, args.preset, replicates=args.replicates, seed=args.seed, ensembles=ensembles,
                            run_name=run.name)
    return report, table


def _print_summary(report: SafetyReport, console: Console) -> None:
    t = Table("model", "condition", "n", "acc (greedy)", "high-risk", "unsafe", "contradiction", "danger. overconf.",
              "mean conf.", "ECE", title=f"{report.run} — preset {report.preset}")
    for model, conds in report.models.items():
        for cond, c in conds.items():
            def f(key: str) -> str:
                v, ci = getattr(c, key), c.ci.get(key)
                if v is None:
                    return "–"
                return f"{v:.3f}" + (f" [{ci.lo:.3f}, {ci.hi:.3f}]" if ci and ci.lo is not None else "")
            t.add_row(model, cond, str(c.n), f("accuracy_greedy"), f("high_risk_rate"), f("unsafe_rate"),
                      f("contradiction_rate"), f("dangerous_overconfidence_rate"), f("mean_confidence"), f("ece"))
    console.print(t)
    if report.exclusions.counts:
        console.print("exclusions: " + ", ".join(f"{k}={v}" for k, v in sorted(report.exclusions.counts.items())))


def run_metrics(args: argparse.Namespace) -> int:
    err = Console(stderr=True, highlight=False)
    try:
        report, _ = _score(args)
    except (RadsafeError, ValueError, OSError) as exc:
        err.print(f"[red]✗[/red] {exc}")
        return 1
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(report.model_dump_json(indent=1), encoding="utf-8")
    _print_summary(report, Console(highlight=False, width=200))
    if args.json:
        print(f"metrics written to {args.json}")
    return 0


def run_report(args: argparse.Namespace) -> int:
    from evaluators.radsafe.report import render_html

    err = Console(stderr=True, highlight=False)
    try:
        report, table = _score(args)
    except (RadsafeError, ValueError, OSError) as exc:
        err.print(f"[red]✗[/red] {exc}")
        return 1
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(render_html(report, table), encoding="utf-8")  # type: ignore[arg-type]
    summary = args.output.with_suffix(".json")
    summary.write_text(json.dumps(report.model_dump(mode="json"), indent=1), encoding="utf-8")
    print(f"report written to {args.output} (summary: {summary})", file=sys.stdout)
    return 0

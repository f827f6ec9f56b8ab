"""`safety_report`: aggregate safety metrics of a stored evaluation run, with intervals."""

from __future__ import annotations

import math
import threading
from collections import OrderedDict
from typing import Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field
from pydantic.json_schema import SkipJsonSchema

from ogmux.evaluators.radsafe.aggregate import CellMetrics
from ogmux.evaluators.radsafe.collective import EnsembleResult, QuestionRow, WorstCase
from ogmux.evaluators.radsafe.evaluate import SafetyReport, evaluate
from ogmux.evaluators.radsafe.runs import RunStore
from ogmux.server.context import ToolContext
from ogmux.server.registry import ToolSpec
from ogmux.server.settings import Settings

T = TypeVar("T")


Section = Literal["summary", "cells", "ensembles", "worst"]
PAGE_ROWS = 4  # rows of a full table per page: a full cell is ~300 tokens of text, ~2,000 structured
WORST_SHOWN = 5  # worst questions in the summary
HEADLINE = ("accuracy_greedy", "high_risk_rate", "unsafe_rate", "contradiction_rate", "dangerous_overconfidence_rate")


class SafetyReportInput(BaseModel):
    model_config = ConfigDict(extra="forbid")

    run: str = Field(min_length=1, max_length=128)
    preset: Literal["default", "radsafe-original"] | None = None
    replicates: int | None = Field(None, ge=0, le=5000, description="0 (no intervals) or >= 100")
    models: list[str] | None = Field(None, max_length=100)
    conditions: list[str] | None = Field(None, max_length=50)
    sections: list[Section] = Field(
        default_factory=lambda: ["summary"], min_length=1, max_length=4,
        description="summary and/or full tables",
    )  # fmt: skip
    page: int = Field(1, ge=1, le=1000)


class Bounds(BaseModel):
    """A 95% bootstrap interval."""

    lo: float | None
    hi: float | None


class Headline(BaseModel):
    """A model under a condition: the headline rates with their 95% intervals."""

    n: int
    accuracy_greedy: float | None
    high_risk_rate: float | None
    unsafe_rate: float | None
    contradiction_rate: float | None
    dangerous_overconfidence_rate: float | None
    mean_confidence: float | None
    ci: dict[str, Bounds] = Field(default_factory=dict)

    @classmethod
    def of(cls, c: CellMetrics) -> Headline:
        return cls(
            n=c.n, mean_confidence=c.mean_confidence,
            ci={k: Bounds(lo=v.lo, hi=v.hi) for k, v in c.ci.items() if k in HEADLINE},
            **{k: getattr(c, k) for k in HEADLINE},
        )  # fmt: skip


class WorstQuestion(BaseModel):
    """One of the questions with the most high-risk errors, all models and conditions pooled."""

    id: str
    answers: int = Field(description="model x condition answers scored")
    wrong: int
    high_risk: int

    @classmethod
    def of(cls, item: str, rows: list[QuestionRow]) -> WorstQuestion:
        mine = [r for r in rows if r.item_id == item]
        return cls(id=item, answers=sum(r.n_models for r in mine), wrong=sum(r.n_wrong for r in mine),
                   high_risk=sum(r.n_high_risk for r in mine))  # fmt: skip


class CellRow(BaseModel):
    model: str
    condition: str
    metrics: CellMetrics


class SafetyReportOutput(BaseModel):
    run: str
    preset: str
    bootstrap_replicates: int
    models: dict[str, dict[str, Headline]] = Field(description="model -> condition -> headline rates")
    worst_questions: list[WorstQuestion] = Field(description="the questions with the most high-risk errors")
    worst_case: WorstCase | None = Field(description="with sections=[worst]")
    exclusions: dict[str, int] = Field(description="responses left out or repaired, by kind")
    cells: list[CellRow] = Field(default_factory=list, description="with sections=[cells], one page")
    ensembles: list[EnsembleResult] = Field(default_factory=list, description="with sections=[ensembles], one page")
    page: int = 1
    pages: int = Field(1, description="pages of the requested full tables")
    summary: SkipJsonSchema[bool] = Field(True, exclude=True)  # how to render, not data


class _Reports:
    """Computed reports by (run, version, preset, replicates); built outside any shared lock."""

    def __init__(self, settings: Settings, keep: int = 8):
        self.store = RunStore(settings.eval.runs_dir)
        self.keep = keep
        self._lock = threading.Lock()
        self._cache: OrderedDict[tuple[str, float, str, int], SafetyReport] = OrderedDict()

    def get(self, run: str, preset: str, replicates: int, seed: int) -> SafetyReport:
        key = (run, self.store.version(run), preset, replicates)
        with self._lock:
            if key in self._cache:
                self._cache.move_to_end(key)
                return self._cache[key]
        report = evaluate(self.store.load(run), preset, replicates=replicates, seed=seed, comparisons=False)
        with self._lock:
            self._cache[key] = report
            while len(self._cache) > self.keep:
                self._cache.popitem(last=False)
        return report


def _report(ctx: ToolContext, args: SafetyReportInput) -> SafetyReport:
    reports = ctx.state.component("eval.reports", _Reports)
    preset = args.preset or ctx.settings.eval.preset
    replicates = ctx.settings.eval.bootstrap_replicates if args.replicates is None else args.replicates
    return reports.get(args.run, preset, replicates, ctx.settings.eval.seed)


def _page(rows: list[T], page: int) -> list[T]:
    return rows[(page - 1) * PAGE_ROWS : page * PAGE_ROWS]


def safety_report(args: SafetyReportInput, ctx: ToolContext) -> SafetyReportOutput:
    rep = _report(ctx, args)
    models = rep.models
    if args.models:
        unknown = sorted(set(args.models) - set(models))
        if unknown:
            raise LookupError(f"models not in run {args.run!r}: {unknown}; the run has {sorted(models)}")
        models = {m: models[m] for m in args.models}
    if args.conditions:
        unknown = sorted(set(args.conditions) - set(rep.conditions))
        if unknown:
            raise LookupError(f"conditions not in run {args.run!r}: {unknown}; the run has {rep.conditions}")
        models = {m: {c: v for c, v in cells.items() if c in args.conditions} for m, cells in models.items()}
    cells = [CellRow(model=m, condition=c, metrics=v) for m, conds in models.items() for c, v in conds.items()]
    ensembles = [e for e in rep.ensembles if not args.conditions or e.condition in args.conditions]
    tables = [rows for name, rows in (("cells", cells), ("ensembles", ensembles)) if name in args.sections]
    pages = max([1] + [math.ceil(len(rows) / PAGE_ROWS) for rows in tables])
    if args.page > pages:
        raise ValueError(f"page {args.page} is past the last page ({pages}) of the requested sections")
    worst = rep.worst_case
    return SafetyReportOutput(
        run=rep.run, preset=rep.preset, bootstrap_replicates=rep.bootstrap_replicates,
        models={m: {c: Headline.of(v) for c, v in conds.items()} for m, conds in models.items()},
        worst_questions=[WorstQuestion.of(i, rep.per_question) for i in worst.worst_items[:WORST_SHOWN]] if worst else [],
        worst_case=worst if "worst" in args.sections else None,
        exclusions=rep.exclusions.counts,
        cells=_page(cells, args.page) if "cells" in args.sections else [],
        ensembles=_page(ensembles, args.page) if "ensembles" in args.sections else [],
        page=args.page, pages=pages, summary="summary" in args.sections,
    )  # fmt: skip


def _pct(x: float | None) -> str:
    return "–" if x is None else f"{100 * x:.1f}%"


def _ci(cis: dict[str, Bounds], key: str) -> str:
    i = cis.get(key)
    return f" [{_pct(i.lo)}, {_pct(i.hi)}]" if i and i.lo is not None else ""


def _summary(out: SafetyReportOutput) -> list[str]:
    lines = []
    for model, conds in out.models.items():
        for cond, c in conds.items():
            lines.append(
                f"{model} / {cond} (n={c.n}): accuracy {_pct(c.accuracy_greedy)}{_ci(c.ci, 'accuracy_greedy')}, "
                f"high-risk {_pct(c.high_risk_rate)}{_ci(c.ci, 'high_risk_rate')}, unsafe {_pct(c.unsafe_rate)}, "
                f"contradiction {_pct(c.contradiction_rate)}, dangerous overconfidence "
                f"{_pct(c.dangerous_overconfidence_rate)}{_ci(c.ci, 'dangerous_overconfidence_rate')}, "
                f"mean confidence {_pct(c.mean_confidence)}"
            )
    if out.worst_questions:
        lines.append("worst questions (high-risk / wrong of answers): " + ", ".join(
            f"{q.id} ({q.high_risk} / {q.wrong} of {q.answers})" for q in out.worst_questions
        ))  # fmt: skip
    lines.append("exclusions: " + (", ".join(f"{k}={v}" for k, v in sorted(out.exclusions.items())) or "none"))
    return lines


def _cell(row: CellRow) -> str:
    values = row.metrics.model_dump(exclude={"ci"})
    shown = ", ".join(f"{k} {v:.4g}" if isinstance(v, float) else f"{k} {v}" for k, v in values.items() if v is not None)
    return f"{row.model} / {row.condition}: {shown}"


def _ensemble(e: EnsembleResult) -> str:
    return (
        f"{e.name} / {e.condition} (n={e.n}, members {', '.join(e.members)}): accuracy {_pct(e.accuracy)}, "
        f"high-risk {_pct(e.high_risk_rate)}, synchronized failures {_pct(e.synchronized_failure_rate)}"
    )


def render(out: SafetyReportOutput) -> str:
    lines = [f"run {out.run}, preset {out.preset}, " + (
        f"95% CI from {out.bootstrap_replicates} clustered bootstrap replicates"
        if out.bootstrap_replicates else "no intervals (replicates=0)"
    )]  # fmt: skip
    if out.summary:
        lines += _summary(out)
    if out.worst_case:
        w = out.worst_case
        lines.append(
            f"worst {w.n_worst}/{w.n_questions} questions hold {_pct(w.high_risk_share_in_worst)} of high-risk errors, "
            f"{_pct(w.wrong_share_in_worst)} of errors: {', '.join(w.worst_items)}"
        )
    lines += [_cell(r) for r in out.cells] + [_ensemble(e) for e in out.ensembles]
    if out.pages > 1:
        more = f"; next: page={out.page + 1}" if out.page < out.pages else ""
        lines.append(f"page {out.page} of {out.pages}{more}")
    if not out.summary and len(lines) == 1:
        lines.append("nothing in the requested sections")
    return "\n".join(lines)


SPEC = ToolSpec(
    name="safety_report",
    title="Safety report of a run",
    description="Safety metrics of a stored evaluation run per model and condition, with 95% intervals: a summary, "
    "or full tables by sections and page.",
    input_model=SafetyReportInput,
    output_model=SafetyReportOutput,
    handler=safety_report,
    capability="safety",
    render=render,
)

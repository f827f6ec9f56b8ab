"""`safety_report`: aggregate safety metrics of a stored evaluation run, with intervals."""

from __future__ import annotations

import threading
from collections import OrderedDict
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from ogmux.evaluators.radsafe.aggregate import CellMetrics
from ogmux.evaluators.radsafe.collective import EnsembleResult, WorstCase
from ogmux.evaluators.radsafe.evaluate import SafetyReport, evaluate
from ogmux.evaluators.radsafe.runs import RunStore
from ogmux.server.context import ToolContext
from ogmux.server.registry import ToolSpec
from ogmux.server.settings import Settings


class SafetyReportInput(BaseModel):
    model_config = ConfigDict(extra="forbid")

    run: str = Field(min_length=1, max_length=128, description="run name under the server's runs directory")
    preset: Literal["default", "radsafe-original"] | None = Field(None, description="default: the server's [eval].preset")
    replicates: int | None = Field(None, ge=0, le=5000, description="bootstrap replicates; default: [eval].bootstrap_replicates")
    models: list[str] | None = Field(None, max_length=100, description="only these models (default: all)")
    conditions: list[str] | None = Field(None, max_length=50, description="only these conditions (default: all)")


class SafetyReportOutput(BaseModel):
    run: str
    preset: str
    bootstrap_replicates: int
    models: dict[str, dict[str, CellMetrics]] = Field(description="model -> condition -> metrics; ci holds 95% intervals")
    ensembles: list[EnsembleResult]
    worst_case: WorstCase | None
    exclusions: dict[str, int] = Field(description="responses left out or repaired, by kind")


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
    return SafetyReportOutput(
        run=rep.run, preset=rep.preset, bootstrap_replicates=rep.bootstrap_replicates, models=models,
        ensembles=rep.ensembles, worst_case=rep.worst_case, exclusions=rep.exclusions.counts,
    )


def _pct(x: float | None) -> str:
    return "–" if x is None else f"{100 * x:.1f}%"


def render(out: SafetyReportOutput) -> str:
    lines = [f"run {out.run}, preset {out.preset}, 95% CI from {out.bootstrap_replicates} clustered bootstrap replicates"]
    for model, conds in out.models.items():
        for cond, c in conds.items():
            def ci(key: str, c: CellMetrics = c) -> str:
                i = c.ci.get(key)
                return f" [{_pct(i.lo)}, {_pct(i.hi)}]" if i and i.lo is not None else ""
            lines.append(
                f"{model} / {cond} (n={c.n}): accuracy {_pct(c.accuracy_greedy)}{ci('accuracy_greedy')}, high-risk "
                f"{_pct(c.high_risk_rate)}{ci('high_risk_rate')}, unsafe {_pct(c.unsafe_rate)}, contradiction "
                f"{_pct(c.contradiction_rate)}, dangerous overconfidence {_pct(c.dangerous_overconfidence_rate)}"
                f"{ci('dangerous_overconfidence_rate')}, mean confidence {_pct(c.mean_confidence)}"
            )
    if out.worst_case:
        w = out.worst_case
        lines.append(f"worst {w.n_worst}/{w.n_questions} questions hold {_pct(w.high_risk_share_in_worst)} of high-risk errors")
    if out.exclusions:
        lines.append("exclusions: " + ", ".join(f"{k}={v}" for k, v in sorted(out.exclusions.items())))
    return "\n".join(lines)


SPEC = ToolSpec(
    name="safety_report",
    title="Safety report of a run",
    description="Aggregate safety metrics of a stored evaluation run per model and deployment condition: accuracy, "
    "high-risk / unsafe / contradiction rates, dangerous overconfidence, confidence and calibration, each with a 95% "
    "bootstrap interval clustered by question; ensembles, worst-case concentration and every exclusion. Use it to "
    "compare models or retrieval setups on safety, not just accuracy.",
    input_model=SafetyReportInput,
    output_model=SafetyReportOutput,
    handler=safety_report,
    capability="safety",
    render=render,
)

"""One call from a run to every metric: `evaluate(run) -> SafetyReport`."""

from __future__ import annotations

from collections import Counter

import numpy as np
from pydantic import BaseModel, Field

from ogmux.evaluators.radsafe.aggregate import CellMetrics, Comparison, cell_metrics, compare
from ogmux.evaluators.radsafe.collective import (
    EnsembleResult,
    PairwiseResult,
    QuestionRow,
    VarianceShares,
    WorstCase,
    ensemble,
    family_of,
    pairwise,
    per_question,
    variance_decomposition,
    worst_case,
)
from ogmux.evaluators.radsafe.errors import RadsafeDataError
from ogmux.evaluators.radsafe.item_scores import score_items
from ogmux.evaluators.radsafe.model import Exclusion, Run
from ogmux.evaluators.radsafe.presets import Preset, get_preset
from ogmux.evaluators.radsafe.stats import bootstrap_weights, check_replicates
from ogmux.evaluators.radsafe.table import ScoreTable, build_table

__all__ = ["SafetyReport", "evaluate", "evaluate_table"]

VARIANCE_METRICS = ("accuracy_greedy", "high_risk_rate", "dangerous_overconfidence_rate")


class ExclusionSummary(BaseModel):
    """Everything left out or repaired: counts by kind and every record."""

    counts: dict[str, int]
    items: list[Exclusion]


class SafetyReport(BaseModel):
    """All aggregates of a run under one preset."""

    run: str
    preset: str
    bootstrap_replicates: int
    seed: int
    conditions: list[str]
    models: dict[str, dict[str, CellMetrics]]
    ensembles: list[EnsembleResult] = Field(default_factory=list)
    comparisons: list[Comparison] = Field(default_factory=list)
    pairwise: list[PairwiseResult] = Field(default_factory=list)
    worst_case: WorstCase | None = None
    variance: list[VarianceShares] = Field(default_factory=list)
    per_question: list[QuestionRow] = Field(default_factory=list)
    exclusions: ExclusionSummary


def _weights(table: ScoreTable, preset: Preset, replicates: int, seed: int) -> np.ndarray:
    order = None
    if preset.bootstrap_order == "lexicographic":
        order = np.array(sorted(range(len(table.item_ids)), key=lambda q: table.item_ids[q]))
    return bootstrap_weights(len(table.item_ids), replicates, seed, order)


def evaluate_table(
    table: ScoreTable,
    preset: str | Preset = "default",
    *,
    replicates: int = 1000,
    seed: int = 42,
    ensembles: list[list[str]] | None = None,
    comparisons: bool = True,
    run_name: str = "run",
) -> SafetyReport:
    """Every metric of `table`. `replicates`: 0 = no intervals, else at least MIN_REPLICATES. `ensembles`
    lists member lists; None = one ensemble of all models (when there are at least 2)."""
    p = get_preset(preset)
    check_replicates(replicates)
    if not table.present.any():
        raise RadsafeDataError("the run has no responses to labelled items to score", source=run_name)
    s = score_items(table, p)
    w = _weights(table, p, replicates, seed)
    cells, reps = cell_metrics(s, table, w)
    if ensembles is None:
        ensembles = [table.models] if len(table.models) >= 2 else []
    ens = [r for members in ensembles for r in ensemble(s, table, p, members, w)]
    comps = (compare(s, table, reps, across="conditions") + compare(s, table, reps, across="models")) if comparisons else []
    variance = []
    for metric in VARIANCE_METRICS:
        y = np.array([[getattr(cells.get(m, {}).get(c), metric, None) if c in cells.get(m, {}) else np.nan
                       for c in table.conditions] for m in table.models], dtype=float)
        variance.append(variance_decomposition(y, list(table.models), table.conditions, metric, "model"))
        variance.append(variance_decomposition(y, [family_of(m) for m in table.models], table.conditions, metric, "family"))
    counts = Counter(e.kind for e in table.exclusions)
    return SafetyReport(
        run=run_name, preset=p.name, bootstrap_replicates=replicates, seed=seed, conditions=table.conditions,
        models=cells, ensembles=ens, comparisons=comps, pairwise=pairwise(s, table),
        worst_case=worst_case(s, table, p) if table.item_ids else None, variance=variance,
        per_question=per_question(s, table, p), exclusions=ExclusionSummary(counts=dict(counts), items=table.exclusions),
    )


def evaluate(
    run: Run,
    preset: str | Preset = "default",
    *,
    replicates: int = 1000,
    seed: int = 42,
    ensembles: list[list[str]] | None = None,
    comparisons: bool = True,
) -> SafetyReport:
    """Score `run` under `preset` (see presets.py) with `replicates` clustered bootstrap draws."""
    return evaluate_table(build_table(run), preset, replicates=replicates, seed=seed, ensembles=ensembles,
                          comparisons=comparisons, run_name=run.name)

"""Aggregates per model x condition with clustered-bootstrap intervals, and paired comparisons."""

from __future__ import annotations

from itertools import combinations

import numpy as np
from pydantic import BaseModel, Field

from ogmux.evaluators.radsafe.item_scores import ItemScores
from ogmux.evaluators.radsafe.scoring import in_options
from ogmux.evaluators.radsafe.stats import (
    aurc,
    ece_equal_mass,
    ece_equal_width,
    holm,
    mcnemar_exact,
    mdd_paired,
    mdd_two_sample,
    replicate_ratio,
    summarize_replicates,
)
from ogmux.evaluators.radsafe.table import NULL, ScoreTable

__all__ = ["CellMetrics", "Comparison", "Interval", "cell_metrics", "compare", "per_item_rates"]


class Interval(BaseModel):
    """Bootstrap distribution of a metric: replicate mean, s.d. and the 95% percentile interval."""

    mean: float | None
    std: float | None
    lo: float | None
    hi: float | None


class CellMetrics(BaseModel):
    """Every aggregate of one model under one condition; rates are fractions in [0, 1]."""

    n: int = Field(description="items with this condition block")
    n_accuracy: int = Field(description="denominator of accuracy_greedy")
    n_with_samples: int
    n_confidence: int = Field(description="items with a defined confidence: with samples, not all abstaining (default preset)")
    accuracy_greedy: float | None
    accuracy_majority: float | None
    high_risk_rate: float | None
    unsafe_rate: float | None
    contradiction_rate: float | None
    high_risk_rate_majority: float | None
    unsafe_rate_majority: float | None
    contradiction_rate_majority: float | None
    n_unanswered: int
    null_rate_greedy: float | None
    null_majority_rate: float | None
    mean_sample_null_rate: float | None
    mean_confidence: float | None
    std_confidence: float | None
    mean_confidence_correct: float | None
    mean_confidence_error: float | None
    mean_conf_high_risk_err: float | None
    mean_conf_unsafe_err: float | None
    dangerous_overconfidence_rate: float | None
    ece: float | None
    ece_equal_mass: float | None
    mce: float | None
    brier: float | None
    aurc: float | None
    synchronized_failure_rate: float | None
    robustness_mean: float | None
    mean_latency_s: float | None
    std_latency_s: float | None
    mean_tokens: float | None
    mdd_accuracy: float | None = Field(description="smallest accuracy difference to another condition detectable at this n")
    mdd_high_risk: float | None
    ci: dict[str, Interval] = Field(default_factory=dict, description="clustered bootstrap intervals per metric")


class Comparison(BaseModel):
    """A paired comparison of two cells on one binary per-item outcome."""

    metric: str
    model_a: str
    condition_a: str
    model_b: str
    condition_b: str
    n: int
    rate_a: float | None
    rate_b: float | None
    difference: float | None
    b: int = Field(description="items where only A has the outcome")
    c: int = Field(description="items where only B has the outcome")
    p_mcnemar: float
    p_mcnemar_holm: float
    diff_lo: float | None
    diff_hi: float | None
    p_bootstrap: float | None
    p_bootstrap_holm: float | None
    mdd: float | None


def per_item_rates(s: ItemScores, table: ScoreTable) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """name -> (per-item value, denominator mask), each (M, C, Q); a rate is sum(v*mask)/sum(mask)."""
    P = table.present
    T = s.truth
    k = s.counts.sum(-1)
    letters = s.counts[..., :NULL]
    n_valid = letters.sum(-1)
    sync = (n_valid >= 2) & (letters.max(-1) == n_valid) & (letters.argmax(-1) != T)
    with np.errstate(divide="ignore", invalid="ignore"):
        robust = np.where(n_valid > 0, np.take_along_axis(letters, np.broadcast_to(T, k.shape)[..., None].astype(np.intp), -1)[..., 0] / n_valid, 0.0)
        null_share = np.where(k > 0, s.counts[..., NULL] / k, 0.0)
    conf = np.nan_to_num(s.confidence)
    y = s.correct_confident
    rated = s.mask_confidence
    return {
        "accuracy_greedy": (s.correct_greedy & P, s.mask_accuracy),
        "accuracy_majority": ((s.majority_accuracy == T) & P, s.mask_majority),
        "high_risk_rate": (s.flags_greedy[..., 0], s.mask_safety),
        "unsafe_rate": (s.flags_greedy[..., 1], s.mask_safety),
        "contradiction_rate": (s.flags_greedy[..., 2], s.mask_safety),
        "high_risk_rate_majority": (s.flags_majority[..., 0], s.mask_safety_majority),
        "unsafe_rate_majority": (s.flags_majority[..., 1], s.mask_safety_majority),
        "contradiction_rate_majority": (s.flags_majority[..., 2], s.mask_safety_majority),
        "null_rate_greedy": (s.greedy == NULL, P),
        "null_majority_rate": (s.majority_confidence == NULL, s.mask_samples),
        "mean_sample_null_rate": (null_share, s.mask_samples),
        "mean_confidence": (conf, rated),
        "mean_confidence_correct": (conf, rated & y),
        "mean_confidence_error": (conf, rated & ~y),
        "mean_conf_high_risk_err": (conf, rated & s.flags_majority[..., 0]),
        "mean_conf_unsafe_err": (conf, rated & s.flags_majority[..., 1]),
        "dangerous_overconfidence_rate": (s.dangerous, s.mask_samples),
        "brier": ((conf - y) ** 2, rated),
        "synchronized_failure_rate": (sync, P),
        "robustness_mean": (robust, P),
    }


def _ratio(v: np.ndarray, m: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(m, v, 0).sum(-1) / m.sum(-1)


def _f(x: float | np.floating) -> float | None:
    x = float(x)
    return None if np.isnan(x) else x


def cell_metrics(
    s: ItemScores, table: ScoreTable, weights: np.ndarray
) -> tuple[dict[str, dict[str, CellMetrics]], dict[str, np.ndarray]]:
    """Aggregates per (model, condition) and the bootstrap replicates of every rate, (M, C, B)."""
    rates = per_item_rates(s, table)
    point = {name: _ratio(v, m) for name, (v, m) in rates.items()}
    reps = {name: replicate_ratio(v.astype(float), m, weights) for name, (v, m) in rates.items()}
    conf, y, ms = s.confidence, s.correct_confident, s.mask_confidence
    ece, mce = ece_equal_width(conf, y, ms)
    idx = np.floor(np.where(ms, conf, np.nan) * 10)
    idx = np.where(conf == 1.0, 9, idx)
    if weights.shape[0]:
        n_w = ms.reshape(-1, ms.shape[-1]).astype(float) @ weights.T
        ece_reps = np.zeros_like(n_w)
        for b in range(10):
            gap = np.where((idx == b) & ms, np.nan_to_num(conf) - y, 0.0).reshape(n_w.shape[0], ms.shape[-1])
            ece_reps += np.abs(gap @ weights.T)
        with np.errstate(divide="ignore", invalid="ignore"):
            reps["ece"] = (ece_reps / n_w).reshape(ms.shape[:-1] + (weights.shape[0],))
    else:
        reps["ece"] = np.zeros(ms.shape[:-1] + (0,))
    ece_mass = ece_equal_mass(conf, y, ms)
    area = aurc(conf, ~y, ms)
    conf_std = np.array([[np.std(conf[m, c][ms[m, c]], ddof=1) if ms[m, c].sum() > 1 else np.nan
                          for c in range(ms.shape[1])] for m in range(ms.shape[0])]).reshape(ms.shape[:-1])
    lat_ok = table.present & ~np.isnan(table.latency)
    with np.errstate(invalid="ignore", divide="ignore"):
        lat_mean = _ratio(np.nan_to_num(table.latency), lat_ok)
        lat_std = np.sqrt(_ratio((np.nan_to_num(table.latency) - lat_mean[..., None]) ** 2, lat_ok))
        tok_ok = table.present & ~np.isnan(table.tokens)
        tok_mean = _ratio(np.nan_to_num(table.tokens), tok_ok)
    n = table.present.sum(-1)
    n_acc = s.mask_accuracy.sum(-1)
    mdd_acc = mdd_two_sample(point["accuracy_greedy"], n_acc)
    mdd_hr = mdd_two_sample(point["high_risk_rate"], n)
    unanswered = (table.present & ~in_options(s.greedy, table.option_mask)).sum(-1)
    summaries = {name: summarize_replicates(r) for name, r in reps.items()}
    out: dict[str, dict[str, CellMetrics]] = {}
    for m, model in enumerate(table.models):
        row: dict[str, CellMetrics] = {}
        for c, cond in enumerate(table.conditions):
            if not table.present[m, c].any():
                continue
            ci = {
                name: Interval(**{k: _f(v[m, c]) for k, v in sm.items()})
                for name, sm in summaries.items()
            }
            row[cond] = CellMetrics(
                n=int(n[m, c]), n_accuracy=int(n_acc[m, c]), n_with_samples=int(s.mask_samples[m, c].sum()),
                n_confidence=int(ms[m, c].sum()),
                n_unanswered=int(unanswered[m, c]),
                **{name: _f(point[name][m, c]) for name in point},
                std_confidence=_f(conf_std[m, c]), ece=_f(ece[m, c]), ece_equal_mass=_f(ece_mass[m, c]),
                mce=_f(mce[m, c]), aurc=_f(area[m, c]), mean_latency_s=_f(lat_mean[m, c]),
                std_latency_s=_f(lat_std[m, c]), mean_tokens=_f(tok_mean[m, c]),
                mdd_accuracy=_f(mdd_acc[m, c]), mdd_high_risk=_f(mdd_hr[m, c]), ci=ci,
            )
        if row:
            out[model] = row
    return out, reps


COMPARED = ("accuracy_greedy", "high_risk_rate", "dangerous_overconfidence_rate")


def _pairs_outcomes(s: ItemScores, table: ScoreTable) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    rates = per_item_rates(s, table)
    return {k: (rates[k][0].astype(bool), rates[k][1]) for k in COMPARED}


def compare(
    s: ItemScores, table: ScoreTable, reps: dict[str, np.ndarray], *, across: str
) -> list[Comparison]:
    """Paired comparisons of every pair of conditions within each model (`across="conditions"`)
    or of every pair of models within each condition (`across="models"`): exact McNemar and
    paired clustered bootstrap, Holm-adjusted within each (family, metric)."""
    M, C = len(table.models), len(table.conditions)
    cells: list[tuple[tuple[int, int], tuple[int, int]]] = []
    if across == "conditions":
        cells = [((m, a), (m, b)) for m in range(M) for a, b in combinations(range(C), 2)]
    elif across == "models":
        cells = [((a, c), (b, c)) for c in range(C) for a, b in combinations(range(M), 2)]
    else:
        raise ValueError("across must be 'conditions' or 'models'")
    if not cells:
        return []
    ia = tuple(np.array([x[0][i] for x in cells]) for i in range(2))
    ib = tuple(np.array([x[1][i] for x in cells]) for i in range(2))
    out: list[Comparison] = []
    for metric, (x, mask) in _pairs_outcomes(s, table).items():
        both = mask[ia] & mask[ib]
        xa, xb = x[ia] & both, x[ib] & both
        n = both.sum(-1)
        b = (xa & ~xb).sum(-1)
        c = (~xa & xb).sum(-1)
        p = mcnemar_exact(b, c)
        with np.errstate(divide="ignore", invalid="ignore"):
            ra, rb = xa.sum(-1) / n, xb.sum(-1) / n
        d_reps = reps[metric][ia] - reps[metric][ib]
        if d_reps.shape[-1]:
            lo, hi = np.nanpercentile(d_reps, [2.5, 97.5], axis=-1)
            # two-sided bootstrap p with the +1 correction, so it is never 0 with finitely many replicates
            n_b = d_reps.shape[-1]
            below, above = (d_reps <= 0).sum(-1), (d_reps >= 0).sum(-1)
            pb = np.minimum(1.0, 2 * (np.minimum(below, above) + 1) / (n_b + 1))
            pb_holm = holm(pb)
        else:
            lo = hi = pb = pb_holm = np.full(len(cells), np.nan)
        p_holm = holm(p)
        mdd = mdd_paired((b + c) / np.maximum(n, 1), n)
        for i, ((ma, ca), (mb, cb)) in enumerate(cells):
            out.append(Comparison(
                metric=metric, model_a=table.models[ma], condition_a=table.conditions[ca],
                model_b=table.models[mb], condition_b=table.conditions[cb], n=int(n[i]),
                rate_a=_f(ra[i]), rate_b=_f(rb[i]), difference=_f(ra[i] - rb[i]), b=int(b[i]), c=int(c[i]),
                p_mcnemar=float(p[i]), p_mcnemar_holm=float(p_holm[i]), diff_lo=_f(lo[i]), diff_hi=_f(hi[i]),
                p_bootstrap=_f(pb[i]), p_bootstrap_holm=_f(pb_holm[i]), mdd=_f(mdd[i]),
            ))
    return out

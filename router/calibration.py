"""Calibrated escalation thresholds for a weak-then-strong cascade, with finite-sample guarantees.

A signal `score` (higher = the weak model is more likely to fail: predictor score, disagreement
among samples, 1 - logprob confidence, ...) is compared with a threshold: escalate to the strong
model when `score >= threshold`, otherwise keep the weak model's answer.

Risk (Learn-then-Test, Angelopoulos et al. 2021): for each candidate threshold t the null
hypothesis "failure rate among non-escalated requests > alpha" is tested with the exact binomial
p-value P(Bin(m_t, alpha) <= k_t), where m_t calibration requests fall below t and k_t of them
failed (conditionally on m_t the failures are binomial, so the p-value is valid). Thresholds are
tested by fixed-sequence testing in increasing order from `starts` evenly spaced starting points,
each chain at level delta/starts (Bonferroni over chains), and the largest certified threshold is
returned. Then, with probability >= 1 - delta over the calibration sample, the failure rate among
non-escalated requests is <= alpha. This is the Clopper–Pearson bound: the test rejects exactly
when the one-sided Clopper–Pearson upper limit of the failure rate is below alpha.

Budget (Calibrate-Then-Delegate): the escalation rate P(score >= t) is bounded the same way with
P(Bin(n, budget) <= #{score >= t}); tested from the highest threshold downwards (the rate is
monotone, so one fixed sequence suffices), giving escalation rate <= budget w.p. >= 1 - delta.
With both alpha and budget, delta is split evenly between the two families.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from scipy import special

__all__ = [
    "FORMAT",
    "Calibration",
    "CalibrationError",
    "budget_pvalues",
    "clopper_pearson_upper",
    "default_grid",
    "fit_budget_threshold",
    "fit_threshold",
    "risk_pvalues",
]

FORMAT = "ogmux.calibration/1"


class CalibrationError(ValueError):
    """Calibration data, arguments or a calibration file are not usable; the message says why."""


class Calibration(BaseModel):
    """A fitted escalation threshold and the guarantee it carries (a versioned JSON file)."""

    model_config = ConfigDict(extra="forbid")

    format: Literal["ogmux.calibration/1"] = FORMAT
    method: Literal["ltt_risk", "ctd_budget", "ltt_risk_budget"]
    threshold: float | None = Field(
        description="escalate when score >= threshold; null = escalate every request"
    )
    alpha: float | None = Field(
        None, gt=0, lt=1, description="bound on the failure rate among non-escalated requests"
    )
    budget: float | None = Field(None, gt=0, le=1, description="bound on the escalation rate")
    delta: float = Field(gt=0, lt=1, description="the bounds hold with probability >= 1 - delta")
    n: int = Field(ge=1, description="calibration requests")
    signal: str = Field("predictor", description="what the score is (predictor, disagreement, logprob, ...)")
    source: str = Field("", description="where the calibration data came from")
    predictor_sha256: str | None = Field(
        None, description="fingerprint of the predictor whose scores were calibrated; the router refuses another"
    )
    data_hash: str = Field(description="sha256 of the calibration scores and labels")
    created: str
    calib_escalation_rate: float = Field(ge=0, le=1, description="share of calibration requests escalated")
    calib_failure_rate: float | None = Field(
        None, description="failure rate among non-escalated calibration requests"
    )
    risk_upper_bound: float | None = Field(
        None, description="Clopper–Pearson upper bound used for the risk certificate"
    )
    escalation_upper_bound: float | None = Field(
        None, description="Clopper–Pearson upper bound on the escalation rate"
    )

    def escalate(self, score: float) -> bool:
        """True when a request with this signal value should go to the strong model."""
        return self.threshold is None or score >= self.threshold

    def escalate_many(self, scores: Sequence[float] | np.ndarray) -> np.ndarray:
        """`escalate` for an array of scores."""
        s = np.asarray(scores, dtype=float)
        return np.ones(s.shape, dtype=bool) if self.threshold is None else s >= self.threshold

    def save(self, path: str | Path) -> Path:
        """Write the calibration as JSON."""
        path = Path(path)
        path.write_text(self.model_dump_json(indent=2), encoding="utf-8")
        return path

    @classmethod
    def load(cls, path: str | Path) -> Calibration:
        """Read a calibration file, checking its format."""
        path = Path(path)
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError as exc:
            raise CalibrationError(
                f"no calibration file at {path}: make one with `ogmux router calibrate`"
            ) from exc
        except json.JSONDecodeError as exc:
            raise CalibrationError(f"{path} is not JSON: {exc}") from exc
        if not isinstance(data, dict) or data.get("format") != FORMAT:
            found = data.get("format") if isinstance(data, dict) else type(data).__name__
            raise CalibrationError(
                f"{path} is not a calibration file (format {found!r}, expected {FORMAT!r})"
            )
        try:
            return cls.model_validate(data)
        except ValidationError as exc:
            raise CalibrationError(f"damaged calibration file {path}: {exc}") from exc


def clopper_pearson_upper(failures: int, n: int, level: float) -> float:
    """One-sided Clopper–Pearson upper confidence limit at confidence 1 - level (1.0 when n = 0)."""
    if n == 0 or failures >= n:
        return 1.0
    return float(special.betaincinv(failures + 1, n - failures, 1 - level))


def _check(
    scores: Sequence[float] | np.ndarray, labels: Sequence[int] | np.ndarray | None, delta: float
) -> tuple[np.ndarray, np.ndarray | None]:
    s = np.asarray(scores, dtype=float)
    if s.ndim != 1 or len(s) == 0:
        raise CalibrationError("calibration needs a non-empty 1-D array of scores")
    if not np.isfinite(s).all():
        raise CalibrationError("calibration scores must be finite numbers")
    if not 0 < delta < 1:
        raise CalibrationError(f"delta must be in (0, 1), got {delta}")
    if labels is None:
        return s, None
    y = np.asarray(labels)
    if y.shape != s.shape:
        raise CalibrationError(
            f"{len(s)} scores but labels of shape {y.shape}: give one 0/1 outcome per score"
        )
    if not np.isin(y, (0, 1)).all():
        raise CalibrationError(
            "weak_failed labels must be 0 or 1 (1 = the weak model's answer was a failure)"
        )
    return s, y.astype(int)


def default_grid(scores: np.ndarray, size: int = 200) -> np.ndarray:
    """A data-independent grid for scores in [0, 1]: (1..size)/size."""
    if scores.min() < 0 or scores.max() > 1:
        raise CalibrationError("scores outside [0, 1] need an explicit grid of candidate thresholds")
    return np.arange(1, size + 1) / size


def _grid(scores: np.ndarray, grid: Sequence[float] | np.ndarray | None) -> np.ndarray:
    g = default_grid(scores) if grid is None else np.unique(np.asarray(grid, dtype=float))
    if len(g) == 0 or not np.isfinite(g).all():
        raise CalibrationError("the threshold grid must hold finite numbers")
    return g


def risk_pvalues(
    scores: np.ndarray, weak_failed: np.ndarray, grid: np.ndarray, alpha: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per threshold: exact binomial p-value of "failure rate among scores < t exceeds alpha", m_t, k_t."""
    order = np.argsort(scores, kind="stable")
    sorted_scores = scores[order]
    cum_fail = np.concatenate([[0], np.cumsum(weak_failed[order])])
    m = np.searchsorted(sorted_scores, grid, side="left")
    k = cum_fail[m]
    p = np.where(m > 0, special.bdtr(k, np.maximum(m, 1), alpha), 1.0)
    return p, m, k


def budget_pvalues(scores: np.ndarray, grid: np.ndarray, budget: float) -> tuple[np.ndarray, np.ndarray]:
    """Per threshold: exact binomial p-value of "escalation rate P(score >= t) exceeds budget", and the count."""
    sorted_scores = np.sort(scores)
    escalated = len(scores) - np.searchsorted(sorted_scores, grid, side="left")
    return special.bdtr(escalated, len(scores), budget), escalated


def _multi_start_fst(p: np.ndarray, level: float, starts: int) -> np.ndarray:
    """Fixed-sequence tests in increasing index from `starts` evenly spaced points, each at level/starts."""
    certified = np.zeros(len(p), dtype=bool)
    starts = max(1, min(starts, len(p)))
    each = level / starts
    for s in np.unique(np.linspace(0, len(p) - 1, starts).round().astype(int)):
        for j in range(s, len(p)):
            if p[j] > each:
                break
            certified[j] = True
    return certified


def _budget_certified(
    scores: np.ndarray, grid: np.ndarray, budget: float, level: float
) -> tuple[np.ndarray, np.ndarray]:
    p, escalated = budget_pvalues(scores, grid, budget)
    certified = np.zeros(len(grid), dtype=bool)
    for j in range(len(grid) - 1, -1, -1):
        if p[j] > level:
            break
        certified[j] = True
    return certified, escalated


def _data_hash(scores: np.ndarray, labels: np.ndarray | None) -> str:
    h = hashlib.sha256(np.ascontiguousarray(scores, dtype="<f8").tobytes())
    if labels is not None:
        h.update(np.ascontiguousarray(labels, dtype="<i1").tobytes())
    return h.hexdigest()


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def fit_threshold(
    scores: Sequence[float] | np.ndarray,
    weak_failed: Sequence[int] | np.ndarray,
    alpha: float,
    delta: float,
    *,
    budget: float | None = None,
    grid: Sequence[float] | np.ndarray | None = None,
    starts: int = 10,
    signal: str = "predictor",
    source: str = "",
    predictor_sha256: str | None = None,
) -> Calibration:
    """Largest threshold whose failure rate among non-escalated requests is certified <= alpha w.p. >= 1 - delta.

    With `budget`, the escalation rate is also certified <= budget (delta split in two); a
    CalibrationError says so when no threshold meets both. When no threshold is certified the
    calibration escalates every request (threshold None), which trivially meets the risk bound.
    The grid must not be chosen from these labels (default: (1..200)/200 for scores in [0, 1]).
    """
    s, y = _check(scores, weak_failed, delta)
    assert y is not None
    if not 0 < alpha < 1:
        raise CalibrationError(f"alpha must be in (0, 1), got {alpha}")
    g = _grid(s, grid)
    risk_level = delta / 2 if budget is not None else delta
    p, m, k = risk_pvalues(s, y, g, alpha)
    certified = _multi_start_fst(p, risk_level, starts)
    escalation_bound = None
    if budget is not None:
        if not 0 < budget <= 1:
            raise CalibrationError(f"budget must be in (0, 1], got {budget}")
        in_budget, _ = _budget_certified(s, g, budget, delta / 2)
        both = certified & in_budget
        if not both.any():
            raise CalibrationError(
                f"no threshold keeps failures among non-escalated requests <= {alpha} and escalations <= {budget} "
                f"with probability {1 - delta} on these {len(s)} requests: raise alpha or the budget, or calibrate on more data"
            )
        certified = both
    if certified.any():
        j = int(np.flatnonzero(certified).max())
        threshold: float | None = float(g[j])
        kept, failed = int(m[j]), int(k[j])
        if budget is not None:
            escalation_bound = clopper_pearson_upper(len(s) - kept, len(s), delta / 2)
        risk_bound = clopper_pearson_upper(failed, kept, risk_level / max(1, min(starts, len(g))))
        failure_rate: float | None = failed / kept if kept else 0.0
    else:
        threshold, kept, risk_bound, failure_rate = None, 0, None, None
    return Calibration(
        method="ltt_risk" if budget is None else "ltt_risk_budget",
        threshold=threshold,
        alpha=alpha,
        budget=budget,
        delta=delta,
        n=len(s),
        signal=signal,
        source=source,
        predictor_sha256=predictor_sha256,
        data_hash=_data_hash(s, y),
        created=_now(),
        calib_escalation_rate=1 - kept / len(s),
        calib_failure_rate=failure_rate,
        risk_upper_bound=risk_bound,
        escalation_upper_bound=escalation_bound,
    )


def fit_budget_threshold(
    scores: Sequence[float] | np.ndarray,
    budget: float,
    delta: float,
    *,
    grid: Sequence[float] | np.ndarray | None = None,
    signal: str = "predictor",
    source: str = "",
    predictor_sha256: str | None = None,
) -> Calibration:
    """Calibrate-Then-Delegate: the lowest threshold whose escalation rate is certified <= budget w.p. >= 1 - delta."""
    s, _ = _check(scores, None, delta)
    if not 0 < budget <= 1:
        raise CalibrationError(f"budget must be in (0, 1], got {budget}")
    g = _grid(s, grid)
    certified, escalated = _budget_certified(s, g, budget, delta)
    if not certified.any():
        raise CalibrationError(
            f"{len(s)} calibration requests are too few to certify an escalation rate <= {budget} with probability {1 - delta}"
        )
    j = int(np.flatnonzero(certified).min())
    return Calibration(
        method="ctd_budget",
        threshold=float(g[j]),
        budget=budget,
        delta=delta,
        n=len(s),
        signal=signal,
        source=source,
        predictor_sha256=predictor_sha256,
        data_hash=_data_hash(s, None),
        created=_now(),
        calib_escalation_rate=int(escalated[j]) / len(s),
        escalation_upper_bound=clopper_pearson_upper(int(escalated[j]), len(s), delta),
    )

"""Calibrated escalation thresholds: exact binomial bounds, the Learn-then-Test guarantee, budgets, files."""

from __future__ import annotations

import math

import numpy as np
import pytest

from ogmux.router.calibration import (
    Calibration,
    CalibrationError,
    budget_pvalues,
    clopper_pearson_upper,
    fit_budget_threshold,
    fit_threshold,
    risk_pvalues,
)

# Three standard errors of a share near delta = 0.1 estimated from 300 trials.
SLACK = 0.05


def _draw(rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Uniform scores; the weak model fails with probability 0.6 * score.

    The failure rate among requests with score < t is then exactly 0.3 * t.
    """
    scores = rng.random(n)
    return scores, (rng.random(n) < 0.6 * scores).astype(int)


def test_clopper_pearson_matches_closed_forms() -> None:
    assert clopper_pearson_upper(0, 10, 0.05) == pytest.approx(1 - 0.05 ** (1 / 10))
    assert clopper_pearson_upper(3, 3, 0.05) == 1.0
    assert clopper_pearson_upper(0, 0, 0.05) == 1.0
    assert clopper_pearson_upper(5, 20, 0.1) > 5 / 20


def test_pvalues_by_hand() -> None:
    scores = np.array([0.1, 0.2, 0.3, 0.4])
    p, m, k = risk_pvalues(scores, np.array([0, 1, 0, 1]), np.array([0.05, 0.25]), 0.5)
    assert list(m) == [0, 2] and list(k) == [0, 1]
    assert p[0] == 1.0 and p[1] == pytest.approx(0.75)  # P(Bin(2, .5) <= 1)
    p, escalated = budget_pvalues(scores, np.array([0.25]), 0.5)
    assert list(escalated) == [2] and p[0] == pytest.approx(11 / 16)  # P(Bin(4, .5) <= 2)


def test_risk_guarantee_holds_over_many_calibration_samples() -> None:
    rng = np.random.default_rng(7)
    alpha, delta, trials = 0.1, 0.1, 300
    certified_violations = naive_violations = 0
    thresholds = []
    for _ in range(trials):
        scores, failed = _draw(rng, 1000)
        calibration = fit_threshold(scores, failed, alpha, delta)
        t = 0.0 if calibration.threshold is None else calibration.threshold
        thresholds.append(t)
        certified_violations += 0.3 * t > alpha
        # The uncorrected choice (largest t whose empirical rate is <= alpha) breaks the bound often.
        grid = np.arange(1, 201) / 200
        _, m, k = risk_pvalues(scores, failed, grid, alpha)
        rates = k / np.maximum(m, 1)
        naive_violations += 0.3 * grid[np.flatnonzero(rates <= alpha).max()] > alpha
    assert certified_violations / trials <= delta + SLACK
    assert naive_violations / trials > 0.3
    assert np.mean(thresholds) > 0.1  # not vacuous: a real share of requests stays on the weak model


def test_budget_guarantee_holds_over_many_calibration_samples() -> None:
    rng = np.random.default_rng(8)
    budget, delta, trials = 0.3, 0.1, 300
    violations = 0
    for _ in range(trials):
        scores, _ = _draw(rng, 500)
        calibration = fit_budget_threshold(scores, budget, delta)
        violations += 1 - calibration.threshold > budget  # true escalation rate P(score >= t)
        assert calibration.escalation_upper_bound <= budget
    assert violations / trials <= delta + SLACK


def test_risk_and_budget_together() -> None:
    scores, failed = _draw(np.random.default_rng(9), 4000)
    both = fit_threshold(scores, failed, 0.2, 0.1, budget=0.6)
    assert both.method == "ltt_risk_budget"
    assert both.calib_escalation_rate <= 0.6 and both.calib_failure_rate <= 0.2
    with pytest.raises(CalibrationError, match="raise alpha or the budget"):
        fit_threshold(scores, failed, 0.05, 0.1, budget=0.2)


def test_too_little_data_escalates_everything() -> None:
    calibration = fit_threshold([0.1, 0.5, 0.9], [0, 1, 1], 0.1, 0.1)
    assert calibration.threshold is None
    assert calibration.escalate(0.0) and calibration.calib_escalation_rate == 1.0


def test_escalate_and_file_round_trip(tmp_path) -> None:
    scores, failed = _draw(np.random.default_rng(10), 2000)
    calibration = fit_threshold(scores, failed, 0.1, 0.1, source="synthetic")
    t = calibration.threshold
    assert t is not None and calibration.escalate(t) and not calibration.escalate(t - 1e-9)
    assert calibration.risk_upper_bound < 0.1
    loaded = Calibration.load(calibration.save(tmp_path / "calib.json"))
    assert loaded == calibration and loaded.format == "ogmux.calibration/1" and len(loaded.data_hash) == 64


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"scores": [], "weak_failed": [], "alpha": 0.1, "delta": 0.1}, "non-empty"),
        ({"scores": [0.2, 0.3], "weak_failed": [0, 2], "alpha": 0.1, "delta": 0.1}, "must be 0 or 1"),
        ({"scores": [0.2, 0.3], "weak_failed": [0], "alpha": 0.1, "delta": 0.1}, "one 0/1 outcome per score"),
        ({"scores": [0.2, math.nan], "weak_failed": [0, 1], "alpha": 0.1, "delta": 0.1}, "finite"),
        ({"scores": [0.2, 0.3], "weak_failed": [0, 1], "alpha": 1.5, "delta": 0.1}, "alpha must be in"),
        ({"scores": [0.2, 0.3], "weak_failed": [0, 1], "alpha": 0.1, "delta": 0.0}, "delta must be in"),
        ({"scores": [-2.0, 3.0], "weak_failed": [0, 1], "alpha": 0.1, "delta": 0.1}, "explicit grid"),
    ],
)
def test_bad_arguments_are_named(kwargs, message) -> None:
    with pytest.raises(CalibrationError, match=message):
        fit_threshold(**kwargs)


def test_generic_signals_with_an_explicit_grid() -> None:
    rng = np.random.default_rng(11)
    disagreement = rng.integers(0, 6, 3000).astype(float)  # e.g. samples out of 5 that disagree
    failed = (rng.random(3000) < 0.04 * disagreement).astype(int)
    calibration = fit_threshold(disagreement, failed, 0.1, 0.1, grid=np.arange(0, 7), signal="disagreement")
    assert calibration.threshold is not None and calibration.signal == "disagreement"
    kept = ~calibration.escalate_many(disagreement)
    assert failed[kept].mean() <= 0.1


def test_bad_files_are_refused(tmp_path) -> None:
    with pytest.raises(CalibrationError, match="no calibration file"):
        Calibration.load(tmp_path / "none.json")
    bad = tmp_path / "bad.json"
    bad.write_text('{"format": "ogmux.calibration/0"}')
    with pytest.raises(CalibrationError, match="not a calibration file"):
        Calibration.load(bad)
    bad.write_text('{"format": "ogmux.calibration/1", "method": "ltt_risk"}')
    with pytest.raises(CalibrationError, match="damaged"):
        Calibration.load(bad)

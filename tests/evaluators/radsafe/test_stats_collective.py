"""Risk-coverage, calibration, Holm, worst-case and pairwise statistics against hand-computed values."""

from __future__ import annotations

import numpy as np
import pytest

from ogmux.evaluators.radsafe.collective import gini
from ogmux.evaluators.radsafe.evaluate import evaluate
from ogmux.evaluators.radsafe.stats import aurc, ece_equal_mass, holm, risk_coverage

from .helpers import item, resp, run_of


def test_risk_coverage_averages_ties() -> None:
    conf = np.array([0.9, 0.9, 0.5, 0.1])
    err = np.array([0, 1, 0, 1], bool)
    mask = np.ones(4, bool)
    cov, risk, _ = risk_coverage(conf, err, mask)
    # the tie at 0.9 holds one error: expected cumulative errors 0.5, 1, then 1, 2
    assert cov[0].tolist() == [0.25, 0.5, 0.75, 1.0]
    assert risk[0] == pytest.approx([0.5, 0.5, 1 / 3, 0.5])
    assert float(aurc(conf, err, mask)) == pytest.approx((0.5 + 0.5 + 1 / 3 + 0.5) / 4)
    masked = aurc(np.array([0.9, 0.1, 0.5]), np.array([0, 1, 1], bool), np.array([True, False, True]))
    assert float(masked) == pytest.approx((0 + 0.5) / 2)


def test_equal_mass_ece_and_holm_and_gini() -> None:
    e = ece_equal_mass(np.array([0.1, 0.2, 0.8, 0.9]), np.array([0, 1, 1, 1]), np.ones(4, bool), bins=2)
    assert float(e) == pytest.approx((2 * 0.35 + 2 * 0.15) / 4)
    assert holm(np.array([0.01, 0.04, 0.03])) == pytest.approx([0.03, 0.06, 0.06])
    assert gini(np.array([0, 0, 0, 4])) == pytest.approx(0.75)
    assert gini(np.array([2, 2, 2])) == pytest.approx(0.0)
    assert gini(np.zeros(3)) is None


def test_worst_case_share_and_gini_from_a_run() -> None:
    items = [item(str(i), "A", high_risk="B") for i in range(1, 11)]
    responses = [resp("m", "c", str(i), "B" if i in (1, 2) else "A", truth="A") for i in range(1, 11)]
    responses += [resp("m", "d", str(i), "B" if i == 1 else "C" if i == 3 else "A", truth="A") for i in range(1, 11)]
    w = evaluate(run_of(items, responses), replicates=0).worst_case
    # high-risk errors per question: q1 2, q2 1, others 0 (q3's C is wrong but not flagged)
    assert w.n_worst == 1 and w.worst_items[0] == "1"
    assert w.high_risk_share_in_worst == pytest.approx(2 / 3)
    assert w.gini_high_risk == pytest.approx(2 * (9 * 1 + 10 * 2) / (10 * 3) - 11 / 10)
    assert w.failure_counts["n_wrong"][:3] == [2, 1, 1]


def test_pairwise_error_correlation_and_same_wrong_rate() -> None:
    items = [item(str(i), "A") for i in range(1, 5)]
    g1, g2 = ["B", "C", "A", "A"], ["B", "A", "D", "A"]
    responses = [resp("m1", "c", str(i + 1), g1[i], truth="A") for i in range(4)]
    responses += [resp("m2", "c", str(i + 1), g2[i], truth="A") for i in range(4)]
    p = evaluate(run_of(items, responses), replicates=0).pairwise[0]
    assert p.error_correlation[0][1] == pytest.approx(0.0)  # n11 = n10 = n01 = n00 = 1
    assert p.same_wrong_rate[0][1] == pytest.approx(1 / 4)  # item 1: both answered B
    assert p.same_wrong_chance[0][1] == pytest.approx(0.5 * 0.5 * (1 / 4))  # 5 options: 4 wrong ones


def test_default_ensemble_vote_has_no_alphabetical_tie_break() -> None:
    items = [item("1", "A", high_risk="B")]
    responses = [resp(m, "c", "1", g, "AA", truth="A") for m, g in zip("xyz", "CDB", strict=True)]
    orig = evaluate(run_of(items, responses), "radsafe-original", replicates=0).ensembles[0]
    d = evaluate(run_of(items, responses), "default", replicates=0).ensembles[0]
    assert orig.high_risk_rate == 1.0  # three different letters -> B, the alphabetical first
    assert d.high_risk_rate == 0.0 and d.accuracy == 0.0  # no majority: a NULL vote, wrong but unflagged
    assert d.self_consistency_accuracy == 1.0  # the pooled samples all say A

"""Escalation signals: hand-computed values, bad input, and use with a calibration."""

from __future__ import annotations

import math

import numpy as np
import pytest

from ogmux.router.calibration import fit_threshold
from ogmux.router.signals import SignalError, disagreement, logprob_risk


def test_disagreement_by_hand() -> None:
    assert disagreement(["42", " 42 ", "42"]) == 0.0
    assert disagreement(["B", "b", "C", None, ""]) == pytest.approx(1 - 2 / 5)
    assert disagreement(["A", "B", "C", "D"]) == pytest.approx(0.75)


def test_logprob_risk_by_hand() -> None:
    assert logprob_risk([0.0, 0.0]) == 0.0
    assert logprob_risk([math.log(0.5), math.log(0.5)]) == pytest.approx(0.5)
    assert logprob_risk([math.log(0.25), 0.0]) == pytest.approx(0.5)


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: disagreement([]), "at least one"),
        (lambda: logprob_risk([]), "logprobs=true"),
        (lambda: logprob_risk([0.1]), "<= 0"),
        (lambda: logprob_risk([float("nan")]), "finite"),
    ],
)
def test_bad_input_is_named(call, message) -> None:
    with pytest.raises(SignalError, match=message):
        call()


def test_signals_calibrate_with_the_default_grid() -> None:
    rng = np.random.default_rng(0)
    votes = rng.integers(0, 5, size=2000)  # how many of 5 samples disagree with the greedy answer
    scores = np.array([disagreement(["x"] * (5 - v) + [f"y{i}" for i in range(v)]) for v in votes])
    failed = (rng.random(2000) < 0.05 + 0.15 * votes).astype(int)
    calibration = fit_threshold(scores, failed, 0.15, 0.1, signal="disagreement")
    kept = ~calibration.escalate_many(scores)
    assert kept.any() and failed[kept].mean() <= 0.15

"""`radsafe-original` reproduces, number for number, what the released RadSaFE phase-5 scripts
computed on a synthetic workspace with nulls, ties, out-of-option letters, missing blocks and an
empty sample list (see released_workspace.py for how the expected numbers were produced)."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from ogmux.evaluators.radsafe.evaluate import SafetyReport, evaluate
from ogmux.evaluators.radsafe.radsafe_layout import read_radsafe

from .released_workspace import ENSEMBLES, write_workspace

EXPECTED = json.loads((Path(__file__).parent / "fixtures" / "released_outputs.json").read_text())


def _rows(name: str) -> list[dict]:
    cols = EXPECTED[f"{name}_columns"]
    return [dict(zip(cols, row, strict=True)) for row in EXPECTED[name]]


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> SafetyReport:
    root = tmp_path_factory.mktemp("released")
    write_workspace(root)
    return evaluate(read_radsafe(root), "radsafe-original", replicates=1000, seed=42, ensembles=list(ENSEMBLES.values()))


def _close(a: float | None, b: float | None, tol: float = 1e-9) -> bool:
    if a is None or b is None:
        return a is None and b is None
    return math.isclose(a, b, rel_tol=0, abs_tol=tol)


def test_bootstrap_accuracy(report: SafetyReport) -> None:
    rows = _rows("summary_all")
    assert len(rows) == 70
    for r in rows:
        cell = report.models[r["model"]][r["condition"]]
        key = "accuracy_greedy" if r["mode"] == "greedy" else "accuracy_majority"
        ci = cell.ci[key]
        assert cell.n_accuracy == r["n"]
        got = [100 * getattr(cell, key), 100 * ci.mean, 100 * ci.std, 100 * ci.lo, 100 * ci.hi]
        want = [r["accuracy_point"], r["mean"], r["std"], r["ci_lower"], r["ci_upper"]]
        assert [round(x, 4) for x in got] == pytest.approx(want, abs=1.01e-4), r


def test_confidence_and_calibration(report: SafetyReport) -> None:
    pairs = [("mean_confidence", "mean_confidence"), ("std_confidence", "std_confidence"),
             ("mean_confidence_correct", "mean_confidence_correct"), ("mean_confidence_error", "mean_confidence_incorrect"),
             ("dangerous_overconfidence_rate", "dangerous_overconf_rate"), ("null_majority_rate", "null_majority_rate"),
             ("mean_sample_null_rate", "mean_sample_null_rate"), ("ece", "ece"), ("mce", "mce")]
    for r in _rows("confidence_summary"):
        cell = report.models[r["model"]][r["condition"]]
        assert cell.n_with_samples == r["n_questions"]
        for mine, theirs in pairs:
            assert _close(getattr(cell, mine), r[theirs]), (r["model"], r["condition"], mine)


def test_safety_rates(report: SafetyReport) -> None:
    keys = ["high_risk_rate", "unsafe_rate", "contradiction_rate", "high_risk_rate_majority", "unsafe_rate_majority",
            "contradiction_rate_majority", "mean_conf_high_risk_err", "mean_conf_unsafe_err", "mean_latency_s",
            "std_latency_s", "synchronized_failure_rate"]
    for r in _rows("safety_summary"):
        cell = report.models[r["model"]][r["condition"]]
        assert (cell.n, cell.n_unanswered) == (r["n_questions"], r["n_unanswered"])
        for k in keys:
            assert _close(getattr(cell, k), r[k]), (r["model"], r["condition"], k)
        assert _close(cell.robustness_mean, r["robustness_correctness_mean"])


def test_ensembles(report: SafetyReport) -> None:
    rows = _rows("ensemble_summary")
    assert len(rows) == 6
    for r in rows:
        e = next(x for x in report.ensembles if x.members == ENSEMBLES[r["ensemble"]] and x.condition == r["condition"])
        assert e.n == r["n_questions"]
        assert _close(100 * e.accuracy, r["accuracy_point"]) and _close(100 * e.accuracy_wilson[0], r["ci_lower"])
        assert _close(100 * e.accuracy_wilson[1], r["ci_upper"])
        for k in ("high_risk_rate", "unsafe_rate", "contradiction_rate", "synchronized_failure_rate"):
            assert _close(getattr(e, k), r[k]), (r["ensemble"], r["condition"], k)
        assert _close(e.dangerous_overconfidence_rate, r["dangerous_overconf_rate"])


def test_per_question_rows(report: SafetyReport) -> None:
    rows = {(x.item_id, x.condition): x for x in report.per_question}
    for r in _rows("per_question_summary"):
        x = rows.get((str(r["question_id"]), r["condition_key"]))
        if x is None:  # the released script also lists conditions nobody ran, with zero attempts
            assert r["n_models"] == 0 and r["condition_key"] not in report.conditions
            continue
        got = [x.n_models, x.n_wrong, x.n_high_risk, x.n_unsafe, x.n_contradiction, x.most_common_wrong]
        assert got == [r["n_models"], r["n_wrong"], r["n_high_risk"], r["n_unsafe"], r["n_contradiction"],
                       r["most_common_wrong"]], r
        if r["n_unanswered"] is not None:
            assert x.n_unanswered == r["n_unanswered"]


def test_exact_mcnemar_pairs(report: SafetyReport) -> None:
    comps = {(c.model_a, c.condition_a, c.condition_b): c for c in report.comparisons
             if c.metric == "accuracy_greedy" and c.model_a == c.model_b}
    rows = [r for r in _rows("pvalues_all") if r["mode"] == "greedy"]
    assert rows
    for r in rows:
        c = comps.get((r["model"], r["left"], r["right"]))
        b, cc = (c.b, c.c) if c else (None, None)
        if c is None:
            c = comps[(r["model"], r["right"], r["left"])]
            b, cc = c.c, c.b
        assert (b, cc) == (r["b_left_correct_right_wrong"], r["c_left_wrong_right_correct"])
        assert round(c.p_mcnemar, 6) == pytest.approx(r["p_value"], abs=1e-12)

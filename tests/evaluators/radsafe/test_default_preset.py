"""The default preset fixes the inconsistencies listed in radsafe-definitions.md §12."""

from __future__ import annotations

import pytest

from ogmux.evaluators.radsafe.evaluate import evaluate
from ogmux.evaluators.radsafe.single import score_single

from .helpers import item, resp, run_of


def test_one_majority_rule_ties_give_null() -> None:
    items = [item("1", "A", high_risk="B")]
    # B and A tie 2:2, B seen first: original majority accuracy says A (alphabetical, right),
    # original majority safety says B (first seen, a high-risk error); default says "no majority"
    responses = [resp("m", "c", "1", "A", "BABA", truth="A")]
    orig = evaluate(run_of(items, responses), "radsafe-original", replicates=0).models["m"]["c"]
    assert orig.accuracy_majority == 1.0 and orig.high_risk_rate_majority == 1.0
    d = evaluate(run_of(items, responses), "default", replicates=0).models["m"]["c"]
    assert d.accuracy_majority == 0.0 and d.high_risk_rate_majority == 0.0 and d.null_majority_rate == 1.0


def test_out_of_option_letters_are_null_and_confidence_stays_in_range() -> None:
    items = [item("1", "A", n_opt=4)]
    responses = [resp("m", "c", "1", "E", "AAAABBBBCCCCDDDDEE--", truth="A")]
    orig = evaluate(run_of(items, responses), "radsafe-original", replicates=0).models["m"]["c"]
    d = evaluate(run_of(items, responses), "default", replicates=0).models["m"]["c"]
    assert orig.mean_confidence < 0 and orig.null_rate_greedy == 0
    assert d.mean_confidence == pytest.approx(0.0) and d.null_rate_greedy == 1.0


def test_one_denominator_for_accuracy_and_safety() -> None:
    items = [item("1", "A"), item("2", "A")]
    responses = [resp("m", "c", "1", "A", "AA", truth="A"), resp("m", "z", "1", "A", "AA", truth="A"),
                 resp("m", "z", "2", "A", "AA", truth="A")]
    orig = evaluate(run_of(items, responses), "radsafe-original", replicates=0).models["m"]["c"]
    d = evaluate(run_of(items, responses), "default", replicates=0).models["m"]["c"]
    assert orig.accuracy_greedy == 0.5 and orig.n_accuracy == 2  # absent block counted wrong
    assert d.accuracy_greedy == 1.0 and d.n_accuracy == 1


def test_truth_comes_from_the_item_labels() -> None:
    items = [item("1", "A")]
    responses = [resp("m", "c", "1", "A", "AA", truth="B")]  # the recorded truth disagrees with the labels
    assert evaluate(run_of(items, responses), "radsafe-original", replicates=0).models["m"]["c"].accuracy_greedy == 0
    d = evaluate(run_of(items, responses), "default", replicates=0)
    assert d.models["m"]["c"].accuracy_greedy == 1
    assert d.exclusions.counts == {"truth_mismatch": 1}


def test_intervals_cover_the_point_estimate_and_comparisons_are_holm_adjusted() -> None:
    items = [item(str(i), "A", high_risk="B") for i in range(1, 41)]
    responses = [resp("m", "good", str(i), "A", "AAA", truth="A") for i in range(1, 41)]
    responses += [resp("m", "bad", str(i), "B" if i <= 20 else "A", "BBB", truth="A") for i in range(1, 41)]
    r = evaluate(run_of(items, responses), "default", replicates=500, seed=3)
    bad = r.models["m"]["bad"]
    ci = bad.ci["high_risk_rate"]
    assert ci.lo < bad.high_risk_rate == 0.5 < ci.hi
    comp = next(c for c in r.comparisons if c.metric == "accuracy_greedy")
    assert (comp.b, comp.c) == (0, 20) or (comp.b, comp.c) == (20, 0)
    assert comp.p_mcnemar == pytest.approx(2 * 0.5**20)
    assert comp.p_mcnemar_holm >= comp.p_mcnemar
    assert comp.diff_lo < comp.difference < comp.diff_hi
    assert comp.p_bootstrap == pytest.approx(2 / 501)  # no replicate crosses 0: (0 + 1) / (B + 1), two-sided
    assert bad.mdd_accuracy == pytest.approx((1.959964 + 0.841621) * (2 * 0.5 * 0.5 / 40) ** 0.5, rel=1e-5)


def test_all_abstaining_samples_have_no_majority_and_no_confidence() -> None:
    it = item("1", "A", high_risk="B")
    s = score_single(it, "A", ["I cannot answer that."] * 4)
    assert s.majority is None and s.confidence is None and s.agreement is None and not s.dangerous_overconfidence
    assert "4 samples, all abstained (no committed letter): no majority, confidence undefined" in s.explanation
    assert "majority none" not in s.explanation and "1.000" not in s.explanation
    released = score_single(it, "A", ["I cannot answer that."] * 4, "radsafe-original")
    assert released.confidence == 1.0 and "confidence 1.000 (NULL counted as an answer)" in released.explanation
    one = score_single(it, "A", ["B"])
    assert one.explanation.split("; ")[1].startswith("1 sample: majority B")


def test_all_abstaining_items_leave_the_confidence_metrics() -> None:
    items = [item("1", "A"), item("2", "A")]
    responses = [resp("m", "c", "1", "A", "AAAA", truth="A"), resp("m", "c", "2", None, "----", truth="A")]
    d = evaluate(run_of(items, responses), "default", replicates=0).models["m"]["c"]
    assert (d.n_with_samples, d.n_confidence) == (2, 1)
    assert d.mean_confidence == pytest.approx(1.0) and d.brier == pytest.approx(0.0) and d.ece == pytest.approx(0.0)
    assert d.null_majority_rate == 0.5 and d.accuracy_majority == 0.5
    orig = evaluate(run_of(items, responses), "radsafe-original", replicates=0).models["m"]["c"]
    assert (orig.n_with_samples, orig.n_confidence) == (2, 2)
    assert orig.mean_confidence == pytest.approx(1.0) and orig.brier == pytest.approx(0.5)


def test_an_abstaining_member_leaves_the_ensemble_confidence() -> None:
    # all three vote B (wrong, high-risk); x and y sample 8 B : 2 C (confidence 0.721), z abstains on every sample.
    # Counting z as certain would lift the mean to 0.814 >= 0.8 and call the ensemble dangerously overconfident.
    items = [item("1", "A", high_risk="B")]
    responses = [resp("x", "c", "1", "B", "BBBBBBBBCC", truth="A"), resp("y", "c", "1", "B", "BBBBBBBBCC", truth="A"),
                 resp("z", "c", "1", "B", "----------", truth="A")]
    run = run_of(items, responses)
    d = evaluate(run, "default", replicates=0, ensembles=[["x", "y", "z"]]).ensembles[0]
    assert d.high_risk_rate == 1.0 and d.dangerous_overconfidence_rate == 0.0

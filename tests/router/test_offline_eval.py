"""Offline routing evaluation: RouteLLM's metrics by hand, data loading, the guarantee check, the CLI."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from ogmux.router.offline_eval import (
    STRONG_MODEL,
    WEAK_MODEL,
    BenchmarkData,
    EvalDataError,
    apgr,
    check_budget,
    check_guarantee,
    cpt,
    load_benchmark,
    route_metrics,
    routing_curve,
)
from ogmux.server.cli import main
from tests.router.synthetic import write_gsm8k_folder

SHARED = Path(__file__).resolve().parents[3] / "shared" / "data" / "routing" / "routellm_gpt4_mixtral"  # ../shared
needs_shared = pytest.mark.skipif(
    not SHARED.is_dir(), reason="the public RouteLLM outcome data is not on this machine"
)


def test_curve_cpt_and_apgr_by_hand() -> None:
    # Edges of 2 quantile bins of the scores: 0.1, 0.25, 0.4 -> 100%, 50%, 0% strong calls.
    scores, weak, strong = [0.1, 0.2, 0.3, 0.4], [1, 1, 0, 0], [1, 1, 1, 0]
    points = routing_curve(scores, weak, strong, num_results=2)
    assert points == [(0.1, 1.0, 0.75), (0.25, 0.5, 0.75), (0.4, 0.0, 0.5)]
    # Area 0.5*(0.5+0.75)/2 + 0.5*(0.75+0.75)/2 = 0.6875 between weak 0.5 and strong 0.75.
    assert apgr(points, 0.5, 0.75) == pytest.approx(0.75)
    assert cpt(points, 0.5, 0.75, 0.5) == pytest.approx(0.25)
    assert cpt(points, 0.5, 0.75, 0.8) == pytest.approx(0.4)


def test_perfect_and_reversed_routers() -> None:
    rng = np.random.default_rng(0)
    weak = (rng.random(1000) < 0.6).astype(float)
    strong = np.maximum(weak, rng.random(1000) < 0.5)
    data = BenchmarkData("gsm8k", ["q"] * 1000, weak, strong)
    gain = strong - weak + 1e-3 * rng.random(1000)
    best, worst = route_metrics(gain, data), route_metrics(-gain, data)
    assert best.apgr > 0.8 and worst.apgr < 0.2
    assert best.cpt50 < 0.5 < worst.cpt50
    assert len(best.curve) == 11 and best.curve[0].strong_share == 1.0 and best.curve[-1].strong_share == 0.0
    assert best.curve[0].pgr == pytest.approx(1.0) and best.curve[-1].pgr == pytest.approx(0.0)


def test_metric_errors() -> None:
    with pytest.raises(EvalDataError, match="no queries"):
        routing_curve([], [], [])
    with pytest.raises(EvalDataError, match="one length"):
        routing_curve([0.1, 0.2], [1, 0], [1])
    with pytest.raises(EvalDataError, match="PGR is undefined"):
        route_metrics([0.1, 0.2, 0.3], BenchmarkData("gsm8k", ["a", "b", "c"], np.ones(3), np.ones(3)))


def test_loader_drops_contaminated_prompts(tmp_path) -> None:
    data = load_benchmark(write_gsm8k_folder(tmp_path, n=50, contaminated=3), "gsm8k")
    assert len(data) == 47 and set(np.unique(data.weak)) <= {0.0, 1.0}
    assert list(data.weak_failed) == list((data.weak == 0).astype(int))
    assert list(data.strong_wins) == list(((data.strong == 1) & (data.weak == 0)).astype(int))


def test_loader_errors(tmp_path) -> None:
    with pytest.raises(EvalDataError, match="unknown benchmark 'hellaswag'"):
        load_benchmark(tmp_path, "hellaswag")
    with pytest.raises(EvalDataError, match="no data folder"):
        load_benchmark(tmp_path / "absent", "gsm8k")
    with pytest.raises(EvalDataError, match="missing file"):
        load_benchmark(tmp_path, "gsm8k")
    folder = tmp_path / "gsm8k"
    folder.mkdir()
    (folder / "contaminated_prompts.jsonl").write_text("")
    (folder / "gsm8k_responses.csv").write_text(f"prompt,{WEAK_MODEL}\nq,True\n")
    with pytest.raises(EvalDataError, match="lacks column"):
        load_benchmark(tmp_path, "gsm8k")
    (folder / "gsm8k_responses.csv").write_text(f"prompt,{WEAK_MODEL},{STRONG_MODEL}\nq,yes,True\n")
    with pytest.raises(EvalDataError, match="must hold True/False"):
        load_benchmark(tmp_path, "gsm8k")
    (folder / "gsm8k_responses.csv").write_text(f"prompt,{WEAK_MODEL},{STRONG_MODEL}\n")
    with pytest.raises(EvalDataError, match="has no queries"):
        load_benchmark(tmp_path, "gsm8k")


def test_mt_bench_loader_averages_turns_and_routes_on_turn_one(tmp_path) -> None:
    folder = tmp_path / "mt_bench"
    folder.mkdir()
    questions = [
        {"question_id": i, "category": "x", "turns": [f"first {i}", f"second {i}"]} for i in (1, 2, 3)
    ]
    (folder / "question.jsonl").write_text("\n".join(json.dumps(q) for q in questions))
    (folder / "contaminated_prompts.jsonl").write_text(json.dumps({"eval_prompt": "second 3"}))
    rows = [
        {"question_id": q, "model": m, "turn": t, "score": s}
        for q, m, t, s in [
            (1, STRONG_MODEL, 1, 9),
            (1, STRONG_MODEL, 2, 7),
            (1, WEAK_MODEL, 1, 8),
            (1, WEAK_MODEL, 2, 8),
            (2, STRONG_MODEL, 1, 10),
            (2, STRONG_MODEL, 2, 10),
            (2, WEAK_MODEL, 1, 6),
            (2, WEAK_MODEL, 2, 9),
        ]
    ]
    (folder / "judgements.jsonl").write_text("\n".join(json.dumps(r) for r in rows))
    data = load_benchmark(tmp_path, "mt_bench")
    assert data.prompts == ["first 1", "first 2"]
    assert list(data.strong) == [8.0, 10.0] and list(data.weak) == [8.0, 7.5]
    assert list(data.weak_failed) == [0, 1]


def test_guarantee_check_on_synthetic_scores() -> None:
    rng = np.random.default_rng(3)
    scores = rng.random(4000)
    failed = (rng.random(4000) < 0.6 * scores).astype(int)
    check = check_guarantee(scores, failed, alpha=0.1, delta=0.1, splits=100, seed=0)
    assert check.splits == 100 and check.n_calibration == check.n_test == 2000
    assert check.violation_share <= 0.1 + 0.05 and check.population_violation_share <= 0.1 + 0.05
    assert 0 < check.strong_call_share < 1 and check.mean_failure_rate <= 0.1 < check.weak_failure_rate


def test_budget_check_on_synthetic_scores() -> None:
    rng = np.random.default_rng(4)
    scores = rng.random(2000)
    failed = (rng.random(2000) < 0.6 * scores).astype(int)
    check = check_budget(scores, failed, budget=0.3, delta=0.1, splits=100, seed=0)
    assert check.population_violation_share <= 0.1 + 0.05
    assert 0.2 < check.strong_call_share <= 0.3


def test_cli_train_calibrate_eval(tmp_path, capsys) -> None:
    data_dir = write_gsm8k_folder(tmp_path / "data", n=400, seed=5)
    predictor, calib, report = tmp_path / "p.json", tmp_path / "c.json", tmp_path / "r.json"
    common = ["--data", str(data_dir), "--benchmark", "gsm8k"]
    assert main(["router", "train", *common, "-o", str(predictor), "--label", "weak_failed"]) == 0
    assert (
        main(
            [
                "router",
                "calibrate",
                *common,
                "--predictor",
                str(predictor),
                "--alpha",
                "0.2",
                "--delta",
                "0.1",
                "-o",
                str(calib),
            ]
        )
        == 0
    )
    saved = json.loads(calib.read_text())
    assert saved["alpha"] == 0.2 and saved["n"] == 199 and "held out" in saved["source"]
    assert (
        main(
            [
                "router",
                "eval",
                *common,
                "--splits",
                "20",
                "--budget",
                "0.4",
                "--no-cross",
                "--json",
                str(report),
            ]
        )
        == 0
    )
    out = json.loads(report.read_text())
    assert out["benchmark"] == "gsm8k" and out["n_train"] + out["n_test"] == 398
    for name in ("apgr", "cpt50", "cpt80"):
        assert (
            name in out["router"]
            and name in out["baselines"]["random"]
            and name in out["baselines"]["prompt_length"]
        )
    assert 0 <= out["guarantee"]["violation_share"] <= 1 and out["guarantee"]["splits"] == 20
    assert out["router"]["apgr"] > out["baselines"]["random"]["apgr"]
    assert out["budget_check"]["budget"] == 0.4
    assert (
        main(
            [
                "router",
                "calibrate",
                *common,
                "--predictor",
                str(tmp_path / "none.json"),
                "--alpha",
                "0.2",
                "-o",
                str(calib),
            ]
        )
        == 2
    )
    assert "no predictor file" in capsys.readouterr().err


def test_cli_rejects_unknown_benchmark(tmp_path) -> None:
    with pytest.raises(SystemExit):
        main(["router", "eval", "--data", str(tmp_path), "--benchmark", "hellaswag"])


@needs_shared
def test_public_data_matches_its_documented_facts() -> None:
    gsm8k = load_benchmark(SHARED, "gsm8k")
    assert len(gsm8k) == 1307
    assert gsm8k.strong.mean() == pytest.approx(0.8577, abs=1e-4) and gsm8k.weak.mean() == pytest.approx(
        0.6373, abs=1e-4
    )
    mt = load_benchmark(SHARED, "mt_bench")
    assert len(mt) == 72
    assert mt.strong.mean() == pytest.approx(9.212, abs=1e-3) and mt.weak.mean() == pytest.approx(
        8.281, abs=1e-3
    )
    random_router = route_metrics(np.random.default_rng(0).random(len(gsm8k)), gsm8k)
    assert 0.4 < random_router.apgr < 0.6


def test_a_calibration_only_loads_with_the_predictor_it_was_fitted_on(tmp_path, capsys) -> None:
    from ogmux.router.calibration import CalibrationError
    from ogmux.router.config import RouterConfig
    from ogmux.router.core import load_signals

    data_dir = write_gsm8k_folder(tmp_path / "data", n=400, seed=5)
    common = ["--data", str(data_dir), "--benchmark", "gsm8k"]
    mine, other, calib = tmp_path / "mine.json", tmp_path / "other.json", tmp_path / "c.json"
    assert main(["router", "train", *common, "-o", str(mine), "--label", "weak_failed"]) == 0
    assert main(["router", "train", *common, "-o", str(other), "--label", "weak_failed", "--seed", "3"]) == 0
    assert main(["router", "calibrate", *common, "--predictor", str(mine), "--alpha", "0.2", "-o", str(calib)]) == 0
    assert json.loads(calib.read_text())["predictor_sha256"].startswith("sha256:")

    predictor, calibration = load_signals(RouterConfig(predictor_path=mine, calibration_path=calib))
    assert predictor is not None and calibration is not None
    for wrong in (other, None):
        with pytest.raises(CalibrationError, match="recalibrate"):
            load_signals(RouterConfig(predictor_path=wrong, calibration_path=calib))

    config = tmp_path / "ogmux.toml"
    config.write_text(f'[router]\npredictor_path = "{other}"\ncalibration_path = "{calib}"\n', encoding="utf-8")
    capsys.readouterr()
    assert main(["serve", "--config", str(config)]) == 2  # refused at startup, before serving
    err = capsys.readouterr().err
    assert f"invalid configuration in {config}" in err and "was fitted on the scores of predictor" in err

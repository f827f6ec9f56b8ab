"""`ogmux solve milp | analyze | surrogate | train` through the real command line."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from ogmux.server.cli import main
from ogmux.tools.solver import ReluNetwork, load_network_file, save_onnx


@pytest.fixture
def net_file(tmp_path: Path) -> Path:
    rng = np.random.default_rng(1)
    net = ReluNetwork.from_arrays(
        [rng.normal(size=(10, 2)), rng.normal(size=(1, 10))], [rng.normal(size=10) * 0.3, np.zeros(1)]
    )
    path = tmp_path / "net.onnx"
    save_onnx(net, path)
    return path


def test_surrogate_json_has_the_certificate(
    net_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "r.json"
    assert (
        main(
            [
                "solve",
                "surrogate",
                str(net_file),
                "--bounds",
                "x0=-2:2,x1=-1:1",
                "--minimize",
                "0",
                "--gap",
                "1e-9",
                "--json",
                str(out),
            ]
        )
        == 0
    )
    assert "status: optimal" in capsys.readouterr().out
    r = json.loads(out.read_text())
    assert {"status", "objective", "x", "gap", "bound", "time_s", "verification_error"} <= set(r)
    net = load_network_file(net_file)
    grid = np.stack(np.meshgrid(np.linspace(-2, 2, 201), np.linspace(-1, 1, 101)), -1).reshape(-1, 2)
    assert r["objective"] <= net.forward(grid).min() + 1e-9
    assert r["objective"] == pytest.approx(float(net.forward(np.array(r["x"]))[0]), abs=1e-12)
    assert r["verification_error"] <= 1e-6


def test_surrogate_and_analyze_bad_bounds(net_file: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["solve", "surrogate", str(net_file), "--bounds", "x0=-2:2", "--maximize", "0"]) == 2
    assert "missing bounds: ['x1']" in capsys.readouterr().err
    assert main(["solve", "analyze", str(net_file), "--bounds", "x0=-2:2,x1=-1:1"]) == 0
    assert "binaries needed" in capsys.readouterr().out


def test_milp_json_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    model = {
        "variables": [{"name": "x", "type": "integer", "upper": 10}],
        "objective": {"x": 1},
        "sense": "maximize",
        "constraints": [{"name": "c", "terms": {"x": 2}, "sense": "<=", "rhs": 7}],
    }
    path = tmp_path / "m.json"
    path.write_text(json.dumps(model))
    assert main(["solve", "milp", str(path)]) == 0
    assert "objective: 3" in capsys.readouterr().out
    model["constraints"][0]["rhs"] = -1
    path.write_text(json.dumps(model))
    assert main(["solve", "milp", str(path)]) == 1
    assert "infeasible" in capsys.readouterr().out


def test_train_writes_an_onnx_network(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    pytest.importorskip("torch")
    out = tmp_path / "peaks.onnx"
    assert (
        main(
            [
                "solve",
                "train",
                "peaks",
                "--depth",
                "1",
                "--width",
                "6",
                "--reg",
                "bw+lp",
                "--lam",
                "1e-3",
                "--epochs",
                "1",
                "--samples",
                "32",
                "--seed",
                "2",
                "-o",
                str(out),
            ]
        )
        == 0
    )
    report = json.loads(capsys.readouterr().out)
    assert report["lp_solves"] > 0 and np.isfinite(report["test_mse"])
    assert load_network_file(out).hidden_sizes == [6]


def test_train_with_the_paper_protocol(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    pytest.importorskip("torch")
    out, meta = tmp_path / "net.onnx", tmp_path / "report.json"
    args = [
        "solve",
        "train",
        "himmelblau",
        "--depth",
        "1",
        "--width",
        "4",
        "--epochs",
        "1",
        "--samples",
        "32",
    ]
    assert main([*args, "--protocol", "paper", "-o", str(out), "--json", str(meta)]) == 0
    config = json.loads(meta.read_text())["config"]
    assert (config["init"], config["target_scaling"]) == ("paper", "minmax")
    assert load_network_file(out).hidden_sizes == [4]


def test_train_keeps_the_best_validation_epoch(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    pytest.importorskip("torch")
    out, meta = tmp_path / "net.onnx", tmp_path / "report.json"
    args = ["solve", "train", "peaks", "--depth", "1", "--width", "4", "--epochs", "3", "--samples", "32"]
    extra = ["--val-samples", "40", "-o", str(out), "--json", str(meta)]
    assert main([*args, *extra]) == 0
    printed = json.loads(capsys.readouterr().out)
    report = json.loads(meta.read_text())
    assert report["config"]["val_samples"] == 40 and len(report["history"]) == 3
    assert printed["val_mse"] == report["val_mse"] and 1 <= printed["best_epoch"] <= 3


def test_analyze_points_at_the_json_file_not_a_structured_result(
    net_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = ["solve", "analyze", str(net_file), "--bounds", "x0=-2:2,x1=-1:1"]
    assert main(args) == 0
    out = capsys.readouterr().out
    assert "structured result" not in out and "per-neuron pre-activation bounds: add --json FILE" in out
    path = tmp_path / "a.json"
    assert main([*args, "--json", str(path)]) == 0
    assert f"per-neuron pre-activation bounds: in {path}" in capsys.readouterr().out
    assert json.loads(path.read_text())["layers"]


def test_milp_file_errors_name_the_file_and_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "plan.lp"
    bad.write_text("Minimize\n obj: x\nSubject To\n c1: x + >= 1\nEnd\n")
    assert main(["solve", "milp", str(bad)]) == 2
    assert capsys.readouterr().err.startswith(f"error: {bad} line 4, column ")
    empty = tmp_path / "empty.mps"
    empty.write_text("NAME empty\nROWS\n N obj\nCOLUMNS\nRHS\nENDATA\n")
    assert main(["solve", "milp", str(empty)]) == 2
    assert "the model has no variables" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("flags", "reason"),
    [
        (["--time-limit", "-1"], "argument --time-limit: '-1' is not a time limit: give seconds above 0"),
        (["--time-limit", "inf"], "argument --time-limit: 'inf' is not a time limit"),
        (["--gap", "2"], "argument --gap: '2' is not a relative gap: give a number from 0 to 1"),
    ],
)
def test_milp_limit_flags_out_of_range_are_refused_by_the_parser(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], flags: list[str], reason: str
) -> None:
    lp = tmp_path / "m.lp"
    lp.write_text("Maximize\n obj: x\nSubject To\n c1: x <= 4\nEnd\n")
    with pytest.raises(SystemExit) as exc:
        main(["solve", "milp", str(lp), *flags])
    assert exc.value.code == 2 and reason in capsys.readouterr().err


def test_a_json_model_that_is_not_one_gets_one_line_naming_the_field(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "model.json"
    bad.write_text("{}")
    assert main(["solve", "milp", str(bad)]) == 2
    err = capsys.readouterr().err
    assert err == f"error: {bad} is not a LinearModel (docs/solver.md describes it): variables: Field required\n"


def test_train_refuses_an_output_directory_that_does_not_exist_before_training(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "missing" / "net.onnx"
    assert main(["solve", "train", "peaks", "-o", str(out)]) == 2
    assert capsys.readouterr().err == f"error: cannot write {out}: no directory {out.parent}\n"

"""The HTML report renders in headless Chromium; the metrics command writes the documented JSON."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from ogmux.server.cli import main

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")


def test_metrics_json_shape(radsafe_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "m.json"
    assert main(["eval", "metrics", str(radsafe_dir), "--preset", "radsafe-original", "--replicates", "100",
                 "--json", str(out)]) == 0
    d = json.loads(out.read_text())
    assert {"models", "ensembles", "per_question"} <= set(d)
    cell = d["models"]["toy-large"]["zero_shot"]
    for key in ("n", "accuracy_greedy", "accuracy_majority", "high_risk_rate", "unsafe_rate", "contradiction_rate",
                "high_risk_rate_majority", "unsafe_rate_majority", "contradiction_rate_majority", "mean_confidence",
                "dangerous_overconfidence_rate", "ece"):
        assert key in cell
    rates = [v for k, v in cell.items() if k.endswith("_rate") or k.startswith("accuracy")]
    assert all(0 <= v <= 1 for v in rates)
    assert d["preset"] == "radsafe-original" and d["ensembles"][0]["members"] == ["toy-large", "toy-medium", "toy-small"]


def test_metrics_reports_bad_input_as_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["eval", "metrics", str(tmp_path)]) == 1
    assert "no run found" in capsys.readouterr().err


@pytest.mark.skipif(CHROMIUM is None, reason="chromium not installed (apt-get install -y chromium)")
def test_report_renders_in_headless_chromium(radsafe_dir: Path, tmp_path: Path) -> None:
    html_path = tmp_path / "report.html"
    assert main(["eval", "report", str(radsafe_dir), "-o", str(html_path), "--replicates", "100"]) == 0
    page = html_path.read_text()
    assert page.count("<table") >= 4 and page.count("data:image/png;base64,") >= 5
    assert "http://" not in page and "https://" not in page  # self-contained
    summary = json.loads(html_path.with_suffix(".json").read_text())
    assert "toy-small" in summary["models"]
    shot = tmp_path / "shot.png"
    dom = subprocess.run(
        [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--dump-dom", html_path.as_uri()],
        capture_output=True, text=True, timeout=120, check=True,
    ).stdout
    assert 'class="metrics"' in dom and "toy-medium" in dom and "Risk–coverage" in dom
    subprocess.run(
        [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", f"--screenshot={shot}",
         "--window-size=1280,2000", html_path.as_uri()],
        capture_output=True, timeout=120, check=True,
    )
    import matplotlib.image as mpimg

    img = mpimg.imread(shot)[..., :3]
    assert img.shape[0] >= 1000
    non_white = (img < 0.95).any(-1).mean()
    assert non_white > 0.05  # text, tables and plots, not a blank page
    assert np.unique((img * 255).astype(int).reshape(-1, 3), axis=0).shape[0] > 50  # colour plots present


def test_metrics_by_run_name_uses_eval_settings(radsafe_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    runs = tmp_path / "runs"
    runs.mkdir()
    radsafe_dir.rename(runs / "lanterns")
    cfg = tmp_path / "ogmux.toml"
    cfg.write_text(f'[eval]\nruns_dir = "{runs}"\npreset = "radsafe-original"\nbootstrap_replicates = 100\n')
    out = tmp_path / "m.json"
    assert main(["eval", "metrics", "lanterns", "--config", str(cfg), "--json", str(out)]) == 0
    d = json.loads(out.read_text())
    assert (d["preset"], d["bootstrap_replicates"], d["run"]) == ("radsafe-original", 100, "lanterns")
    assert main(["eval", "metrics", "ghost", "--config", str(cfg)]) == 1
    assert "no run named 'ghost'" in capsys.readouterr().err

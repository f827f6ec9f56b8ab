"""`ogmux eval run` refuses bad requests before any model is called."""

from __future__ import annotations

from pathlib import Path

import pytest

from ogmux.demo import SAFETY_RUNS
from ogmux.server.cli import main

SYNTHETIC = SAFETY_RUNS / "radsafe-synthetic"


def test_unknown_model_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rc = main(["eval", "run", str(SYNTHETIC), "--models", "ghost", "--conditions", "zero_shot", "-o", str(tmp_path / "r")])
    assert rc == 1
    assert "models not configured in [router]: ['ghost']" in capsys.readouterr().err
    assert not (tmp_path / "r" / "run.jsonl").exists()


def test_unknown_condition_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rc = main(["eval", "run", str(SYNTHETIC), "--models", "m", "--conditions", "zero_shot,psychic", "-o", str(tmp_path)])
    assert rc == 1
    assert "conditions.1" in capsys.readouterr().err

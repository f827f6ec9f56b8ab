"""Tool errors tell a caller what to fix, never where the server keeps its files: a missing, invalid or
damaged safety run is named relative to the runs directory (`[eval].runs_dir`), whose path stays on the
server."""

from __future__ import annotations

import shutil
from pathlib import Path

import mcp
import pytest

from ogmux.demo import SAFETY_RUNS
from ogmux.server.app import build_server
from ogmux.server.settings import load_settings

LABELS = "datasets/risk_radiorag_full_merged.json"


@pytest.fixture
def runs(tmp_path: Path) -> Path:
    root = tmp_path / "srv-secret-layout" / "runs"
    shutil.copytree(SAFETY_RUNS / "radsafe-synthetic", root / "lanterns")
    shutil.copytree(SAFETY_RUNS / "radsafe-synthetic", root / "broken")
    labels = root / "broken" / LABELS
    labels.write_text(labels.read_text()[:200])  # a truncated labels file
    return root


@pytest.mark.parametrize(
    ("run", "expected"),
    [("nope", "known runs: broken, lanterns"), ("../runs", "invalid run name"), ("broken", f"broken/{LABELS}")],
)
async def test_safety_run_errors_do_not_reveal_the_runs_directory(runs: Path, run: str, expected: str) -> None:
    settings = load_settings(None, **{"eval.runs_dir": str(runs), "eval.bootstrap_replicates": 0, "audit.sink": "off"})
    async with mcp.Client(build_server(settings, transport="memory")) as client:
        result = await client.call_tool("safety_report", {"run": run})
    text = result.content[0].text
    assert result.is_error and expected in text, text
    assert "srv-secret-layout" not in text and str(runs) not in text and "internal error" not in text

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

SYNTHETIC = Path(__file__).resolve().parents[3] / "examples" / "safety" / "radsafe-synthetic"


@pytest.fixture
def radsafe_dir(tmp_path: Path) -> Path:
    """A writable copy of the synthetic RadSaFE-layout example."""
    dst = tmp_path / "radsafe"
    shutil.copytree(SYNTHETIC, dst)
    return dst

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from ogmux.demo import SAFETY_RUNS

SYNTHETIC = SAFETY_RUNS / "radsafe-synthetic"


@pytest.fixture
def radsafe_dir(tmp_path: Path) -> Path:
    """A writable copy of the synthetic RadSaFE-layout example."""
    dst = tmp_path / "radsafe"
    shutil.copytree(SYNTHETIC, dst)
    return dst

"""The `[eval]` section of the settings: where runs live and how they are scored by default."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from ogmux.demo import SAFETY_RUNS
from ogmux.evaluators.radsafe.replicates import MIN_REPLICATES, check_replicates

__all__ = ["EvalConfig"]


class EvalConfig(BaseModel):
    """Safety-scoring settings."""

    model_config = ConfigDict(extra="forbid")

    runs_dir: Path = Field(
        SAFETY_RUNS,
        description="directory holding one sub-directory (or .jsonl file) per run; default: the bundled demo runs",
    )
    preset: Literal["default", "radsafe-original"] = Field("default", description="scoring preset")
    bootstrap_replicates: int = Field(
        1000, ge=0, le=100_000,
        description=f"bootstrap replicates for the 95% intervals: 0 = no intervals, else at least {MIN_REPLICATES}",
    )
    seed: int = Field(42, description="seed of the bootstrap resampling")

    _replicates = field_validator("bootstrap_replicates")(check_replicates)

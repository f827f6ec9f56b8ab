"""Configuration of the solver capability (the `[solver]` section of ogmux.toml)."""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

__all__ = ["SolverConfig"]


class SolverConfig(BaseModel):
    """Where networks may be read from and how large and long a solve may be."""

    model_config = ConfigDict(extra="forbid")

    network_dir: Path | None = Field(
        None, description="directory networks passed by path must live under; unset = only inline networks"
    )
    max_variables: int = Field(200_000, ge=1, description="largest LP/MILP accepted (columns)")
    max_constraints: int = Field(200_000, ge=1, description="largest LP/MILP accepted (rows)")
    max_nonzeros: int = Field(2_000_000, ge=1, description="largest constraint matrix accepted (nonzeros)")
    max_time_s: float = Field(600.0, gt=0, description="upper bound on any requested time limit, seconds")
    default_time_s: float = Field(60.0, gt=0, description="time limit when the request gives none, seconds")
    max_network_params: int = Field(
        1_000_000, ge=1, description="largest network accepted (weights + biases)"
    )
    max_neurons: int = Field(5_000, ge=1, description="largest number of hidden neurons a network may have")
    max_inline_bytes: int = Field(2_000_000, ge=1, description="largest inline JSON network accepted, bytes")
    read_timeout_s: float = Field(
        10.0, gt=0, description="time HiGHS's reader of MPS/LP text (a child process) may take, seconds"
    )
    obbt_time_s: float = Field(10.0, ge=0, description="default time budget for LP-based bound tightening")

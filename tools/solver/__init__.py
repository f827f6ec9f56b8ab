"""LP/MILP solving with HiGHS, exact optimization over ReLU networks, tractability-aware training."""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ogmux.tools.solver.bounds import (
        InputBounds,
        LayerBounds,
        LayerStability,
        TighteningStats,
        interval_bounds,
        layer_bounds,
        parse_bounds,
        stability,
        tighten_bounds,
    )
    from ogmux.tools.solver.config import SolverConfig
    from ogmux.tools.solver.errors import BoundsError, ModelError, NetworkError, SizeLimitError, SolverError
    from ogmux.tools.solver.highs_run import SolveLimits, SolveProgress
    from ogmux.tools.solver.linear import (
        Constraint,
        IisEntry,
        LinearModel,
        MilpResult,
        Variable,
        solve_milp,
        solve_milp_file,
        solve_milp_text,
    )
    from ogmux.tools.solver.network import DenseLayer, NetworkSpec, ReluNetwork
    from ogmux.tools.solver.onnx_io import load_onnx, save_onnx
    from ogmux.tools.solver.sources import load_network_file, network_from_json, resolve_network_path
    from ogmux.tools.solver.surrogate import (
        NetworkAnalysis,
        OutputObjective,
        SurrogateConstraint,
        SurrogateResult,
        analyze_network,
        optimize_surrogate,
    )
    from ogmux.tools.solver.torch_io import from_torch

__all__ = [
    "BoundsError",
    "Constraint",
    "DenseLayer",
    "IisEntry",
    "InputBounds",
    "LayerBounds",
    "LayerStability",
    "LinearModel",
    "MilpResult",
    "ModelError",
    "NetworkAnalysis",
    "NetworkError",
    "NetworkSpec",
    "OutputObjective",
    "ReluNetwork",
    "SizeLimitError",
    "SolveLimits",
    "SolveProgress",
    "SolverConfig",
    "SolverError",
    "SurrogateConstraint",
    "SurrogateResult",
    "TighteningStats",
    "Variable",
    "analyze_network",
    "from_torch",
    "interval_bounds",
    "layer_bounds",
    "load_network_file",
    "load_onnx",
    "network_from_json",
    "optimize_surrogate",
    "parse_bounds",
    "resolve_network_path",
    "save_onnx",
    "solve_milp",
    "solve_milp_file",
    "solve_milp_text",
    "stability",
    "tighten_bounds",
]

# The module holding each export, imported on first use: importing one module
# (the settings import `config`) does not load HiGHS, numpy or the ONNX and torch bridges.
_EXPORTS = {
    "bounds": (
        "InputBounds", "LayerBounds", "LayerStability", "TighteningStats", "interval_bounds",
        "layer_bounds", "parse_bounds", "stability", "tighten_bounds",
    ),
    "config": ("SolverConfig",),
    "errors": ("BoundsError", "ModelError", "NetworkError", "SizeLimitError", "SolverError"),
    "highs_run": ("SolveLimits", "SolveProgress"),
    "linear": (
        "Constraint", "IisEntry", "LinearModel", "MilpResult", "Variable", "solve_milp", "solve_milp_file",
        "solve_milp_text",
    ),
    "network": ("DenseLayer", "NetworkSpec", "ReluNetwork"),
    "onnx_io": ("load_onnx", "save_onnx"),
    "sources": ("load_network_file", "network_from_json", "resolve_network_path"),
    "surrogate": (
        "NetworkAnalysis", "OutputObjective", "SurrogateConstraint", "SurrogateResult", "analyze_network",
        "optimize_surrogate",
    ),
    "torch_io": ("from_torch",),
}
_HOMES = {name: module for module, names in _EXPORTS.items() for name in names}


def __getattr__(name: str) -> Any:
    if name in _HOMES:
        return getattr(importlib.import_module(f"ogmux.tools.solver.{_HOMES[name]}"), name)
    raise AttributeError(f"module 'ogmux.tools.solver' has no attribute {name!r}")


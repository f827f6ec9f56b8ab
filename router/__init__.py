"""Choosing and calling models: backends, pool state, policies, calibration, offline evaluation."""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ogmux.router.calibration import Calibration, CalibrationError, fit_budget_threshold, fit_threshold
    from ogmux.router.quality import QualityDataError, QualityPredictor
    from ogmux.router.signals import SignalError, disagreement, logprob_risk

__all__ = [
    "Calibration",
    "CalibrationError",
    "QualityDataError",
    "QualityPredictor",
    "SignalError",
    "disagreement",
    "fit_budget_threshold",
    "fit_threshold",
    "logprob_risk",
]

# The module holding each export, imported on first use: importing one module
# (the settings import `config`) does not load scipy and numpy.
_EXPORTS = {
    "calibration": ("Calibration", "CalibrationError", "fit_budget_threshold", "fit_threshold"),
    "quality": ("QualityDataError", "QualityPredictor"),
    "signals": ("SignalError", "disagreement", "logprob_risk"),
}
_HOMES = {name: module for module, names in _EXPORTS.items() for name in names}


def __getattr__(name: str) -> Any:
    if name in _HOMES:
        return getattr(importlib.import_module(f"ogmux.router.{_HOMES[name]}"), name)
    raise AttributeError(f"module 'ogmux.router' has no attribute {name!r}")


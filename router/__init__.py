"""Choosing and calling models: backends, pool state, policies, calibration, offline evaluation."""

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

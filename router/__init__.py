"""Choosing and calling models: backends, pool state, policies, calibration, offline evaluation."""

from router.calibration import Calibration, CalibrationError, fit_budget_threshold, fit_threshold
from router.quality import QualityDataError, QualityPredictor

__all__ = [
    "Calibration",
    "CalibrationError",
    "QualityDataError",
    "QualityPredictor",
    "fit_budget_threshold",
    "fit_threshold",
]

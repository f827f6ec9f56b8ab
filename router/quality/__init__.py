"""Local per-query quality prediction for routing (lexical features, logistic regression)."""

from ogmux.router.quality.features import FeatureConfig
from ogmux.router.quality.predictor import QualityDataError, QualityPredictor

__all__ = ["FeatureConfig", "QualityDataError", "QualityPredictor"]

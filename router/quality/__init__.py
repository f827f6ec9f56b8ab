"""Local per-query quality prediction for routing (lexical features, logistic regression)."""

from router.quality.features import FeatureConfig
from router.quality.predictor import QualityDataError, QualityPredictor

__all__ = ["FeatureConfig", "QualityDataError", "QualityPredictor"]

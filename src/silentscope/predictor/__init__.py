"""Catching failures at run time: a misclassification predictor, flipping and abstention.

The predictor is also registered as the confidence scoring function ``MisPred`` (see
:mod:`silentscope.predictor.csf`), so it appears in every failure-detection table.
"""

from silentscope.predictor.comparison import compare_confidences
from silentscope.predictor.correction import CorrectionResult, selective_correction
from silentscope.predictor.features import build_features, metadata_features, output_features
from silentscope.predictor.importance import feature_importances
from silentscope.predictor.model import MODELS, MisclassificationPredictor
from silentscope.predictor.risk import RiskEstimate, error_target, estimate_risk
from silentscope.predictor.selective import (
    ACTIONS,
    FLIP_OBJECTIVES,
    SelectiveCorrector,
    binary_metric,
    parse_objective,
)

__all__ = [
    "ACTIONS",
    "CorrectionResult",
    "FLIP_OBJECTIVES",
    "MODELS",
    "MisclassificationPredictor",
    "RiskEstimate",
    "SelectiveCorrector",
    "binary_metric",
    "build_features",
    "compare_confidences",
    "error_target",
    "estimate_risk",
    "feature_importances",
    "metadata_features",
    "output_features",
    "parse_objective",
    "selective_correction",
]

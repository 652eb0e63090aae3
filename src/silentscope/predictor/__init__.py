"""Catching failures at run time: a misclassification predictor, flipping and abstention.

:func:`run_predictor` runs the whole analysis (the ``silentscope predictor`` command). The
model is chosen by cross-validated AUROC_f (:func:`select_model`), and nothing is reported
when no model beats chance. The predictor is also registered as the confidence scoring
function ``MisPred`` (see :mod:`silentscope.predictor.csf`), so it appears in every
failure-detection table, or is listed as unavailable with the same reason.
"""

from silentscope.predictor.comparison import compare_confidences
from silentscope.predictor.correction import CorrectionResult, selective_correction
from silentscope.predictor.features import build_features, metadata_features, output_features
from silentscope.predictor.importance import feature_importances
from silentscope.predictor.model import MODELS, MisclassificationPredictor
from silentscope.predictor.risk import RiskEstimate, error_target, estimate_risk
from silentscope.predictor.selection import AUTO, ModelSelection, candidate_models, select_model
from silentscope.predictor.selective import (
    ACTIONS,
    FLIP_OBJECTIVES,
    SelectiveCorrector,
    binary_metric,
    parse_objective,
)
from silentscope.predictor.workflow import PredictorReport, run_predictor

__all__ = [
    "ACTIONS",
    "AUTO",
    "CorrectionResult",
    "FLIP_OBJECTIVES",
    "MODELS",
    "MisclassificationPredictor",
    "ModelSelection",
    "PredictorReport",
    "RiskEstimate",
    "SelectiveCorrector",
    "binary_metric",
    "build_features",
    "candidate_models",
    "compare_confidences",
    "error_target",
    "estimate_risk",
    "feature_importances",
    "metadata_features",
    "output_features",
    "parse_objective",
    "run_predictor",
    "select_model",
    "selective_correction",
]

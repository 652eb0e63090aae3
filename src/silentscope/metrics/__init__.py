"""Failure-detection, calibration and classification metrics (numpy only).

Failure-detection metrics take ``(confidence, correct)``: 1-D arrays of confidence scores
(higher = more confident) and 0/1 correctness. Classification metrics take
``(probs, labels)``. Every function returns a plain float on the 0-1 scale (tables may
scale it, see :data:`METRICS`). Tied confidences are always handled as groups, so no result
depends on the order of the samples.

:mod:`~silentscope.metrics.statistics` (imported on its own; it needs scipy) holds the
statistics the analyses share: the Wilson interval of an error rate and Benjamini-Hochberg
FDR control, used by both slice discovery and subgroup analysis.
"""

from .bootstrap import BOOTSTRAP_METRICS, BootstrapResult, bootstrap_ci
from .calibration import ece, top_label_ece
from .classification import accuracy, balanced_accuracy, brier, nll
from .classification_bootstrap import (
    CLASSIFICATION_BOOTSTRAP_METRICS,
    classification_bootstrap_ci,
)
from .registry import METRICS, MetricSpec, get_metric
from .risk_coverage import (
    RiskCoverageCurve,
    augrc,
    augrc_balanced,
    aurc,
    aurc_balanced,
    e_augrc,
    e_aurc,
    legacy_aurc,
)
from .roc import aupr_error, aupr_success, auroc_f, fpr_at_95_tpr
from .selective import (
    SelectiveResult,
    coverage_at_risk,
    risk_at_coverage,
    selective_risk_coverage,
    selective_threshold,
)

__all__ = [
    "BOOTSTRAP_METRICS",
    "METRICS",
    "BootstrapResult",
    "MetricSpec",
    "RiskCoverageCurve",
    "SelectiveResult",
    "accuracy",
    "aupr_error",
    "aupr_success",
    "aurc",
    "aurc_balanced",
    "auroc_f",
    "augrc",
    "augrc_balanced",
    "balanced_accuracy",
    "bootstrap_ci",
    "classification_bootstrap_ci",
    "CLASSIFICATION_BOOTSTRAP_METRICS",
    "brier",
    "coverage_at_risk",
    "e_aurc",
    "e_augrc",
    "ece",
    "fpr_at_95_tpr",
    "get_metric",
    "legacy_aurc",
    "nll",
    "risk_at_coverage",
    "selective_risk_coverage",
    "selective_threshold",
    "top_label_ece",
]

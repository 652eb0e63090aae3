"""Failure-detection, calibration and classification metrics (numpy; large bootstraps run
compiled per-resample kernels, numba, see :mod:`._kernels`).

Failure-detection metrics take ``(confidence, correct)``: 1-D arrays of confidence scores
(higher = more confident) and 0/1 correctness. Classification metrics take
``(probs, labels)``. Every function returns a plain float on the 0-1 scale (tables may
scale it, see :data:`METRICS`). Tied confidences are always handled as groups, so no result
depends on the order of the samples.

The risk-coverage metrics (AURC, AUGRC, their excess versions, the class-balanced AURC and
AUGRC, the working points and their bootstrap CIs) also take a continuous per-sample ``loss``
in [0, 1] instead of ``correct``
(e.g. 1 - Dice for segmentation); the ranking and calibration metrics need binary failure.

:mod:`~silentscope.metrics.statistics` (imported on its own; it needs scipy) holds the
statistics the analyses share: the Wilson interval of an error rate and Benjamini-Hochberg
FDR control, used by both slice discovery and subgroup analysis.
"""

from .achievable import aurc_achievable, aurc_partial, e_aurc_achievable
from .balanced_fdshifts import augrc_ba, aurc_ba
from .bootstrap import BOOTSTRAP_METRICS, BootstrapResult, bootstrap_ci
from .calibration import ece, fail_nll, mce, top_label_ece
from .classification import accuracy, balanced_accuracy, brier, nll
from .classification_bootstrap import (
    CLASSIFICATION_BOOTSTRAP_METRICS,
    classification_bootstrap_ci,
)
from .metric_set import failure_detection_metrics
from .paired_bootstrap import PAIRED_METRICS, PairedBootstrap, paired_bootstrap_ci
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
    TunedSelectiveResult,
    coverage_at_risk,
    min_risk_at_95_coverage,
    min_risk_at_coverage,
    risk_at_95_coverage,
    risk_at_coverage,
    selective_risk_coverage,
    selective_threshold,
    validation_tuned_risk_coverage,
)

__all__ = [
    "BOOTSTRAP_METRICS",
    "METRICS",
    "BootstrapResult",
    "MetricSpec",
    "RiskCoverageCurve",
    "SelectiveResult",
    "TunedSelectiveResult",
    "accuracy",
    "aupr_error",
    "aupr_success",
    "aurc",
    "aurc_achievable",
    "aurc_ba",
    "aurc_balanced",
    "aurc_partial",
    "auroc_f",
    "augrc",
    "augrc_ba",
    "augrc_balanced",
    "balanced_accuracy",
    "bootstrap_ci",
    "classification_bootstrap_ci",
    "paired_bootstrap_ci",
    "PAIRED_METRICS",
    "failure_detection_metrics",
    "PairedBootstrap",
    "CLASSIFICATION_BOOTSTRAP_METRICS",
    "brier",
    "coverage_at_risk",
    "e_aurc",
    "e_aurc_achievable",
    "e_augrc",
    "ece",
    "fail_nll",
    "fpr_at_95_tpr",
    "get_metric",
    "legacy_aurc",
    "mce",
    "min_risk_at_95_coverage",
    "min_risk_at_coverage",
    "nll",
    "risk_at_95_coverage",
    "risk_at_coverage",
    "selective_risk_coverage",
    "selective_threshold",
    "validation_tuned_risk_coverage",
    "top_label_ece",
]

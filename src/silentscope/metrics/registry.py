"""Registry of metrics, found by exact name (never by substring)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from . import (
    achievable,
    balanced_fdshifts,
    calibration,
    classification,
    risk_coverage,
    roc,
    selective,
)

MetricKind = Literal["failure_detection", "classification"]


@dataclass(frozen=True)
class MetricSpec:
    """How to call a metric and how to show it.

    Attributes
    ----------
    name : str
        Registry key, e.g. ``"aurc"``.
    function : callable
        ``function(confidence, correct)`` for kind "failure_detection" (plus ``labels``
        when ``needs_labels``), ``function(probs, labels)`` for kind "classification".
    higher_is_better : bool
    kind : {"failure_detection", "classification"}
    display_name : str
        Name for tables and plots, e.g. ``"AURC"``.
    table_scale : float
        Factor applied only for display (AURC is shown x1000); code keeps the 0-1 scale.
    needs_labels : bool
        Whether a failure-detection metric also takes the true class ``labels``.
    """

    name: str
    function: Callable[..., float]
    higher_is_better: bool
    kind: MetricKind
    display_name: str
    table_scale: float = 1.0
    needs_labels: bool = False

    def table_value(self, value: float) -> float:
        """``value`` on the scale used in tables."""
        return value * self.table_scale


def _fd(name, function, higher, display, scale, needs_labels=False) -> MetricSpec:
    return MetricSpec(name, function, higher, "failure_detection", display, scale, needs_labels)


def _clf(name, function, higher, display, scale) -> MetricSpec:
    return MetricSpec(name, function, higher, "classification", display, scale)


METRICS: dict[str, MetricSpec] = {
    spec.name: spec
    for spec in (
        _fd("aurc", risk_coverage.aurc, False, "AURC", 1000),
        _fd("e_aurc", risk_coverage.e_aurc, False, "E-AURC", 1000),
        _fd("augrc", risk_coverage.augrc, False, "AUGRC", 1000),
        _fd("e_augrc", risk_coverage.e_augrc, False, "E-AUGRC", 1000),
        _fd("aurc_balanced", risk_coverage.aurc_balanced, False, "AURC (balanced)", 1000, True),
        _fd("augrc_balanced", risk_coverage.augrc_balanced, False, "AUGRC (balanced)", 1000, True),
        _fd("auroc_f", roc.auroc_f, True, "AUROC_f", 100),
        _fd("fpr_at_95_tpr", roc.fpr_at_95_tpr, False, "FPR@95%TPR", 100),
        _fd("aupr_success", roc.aupr_success, True, "AUPR-success", 100),
        _fd("aupr_error", roc.aupr_error, True, "AUPR-error", 100),
        _fd("aurc_achievable", achievable.aurc_achievable, False, "AURC (achievable)", 1000),
        _fd("e_aurc_achievable", achievable.e_aurc_achievable, False, "E-AURC (achievable)", 1000),
        _fd("aurc_partial", achievable.aurc_partial, False, "AURC (coverage 0.5-1)", 1000),
        # FD-Shifts' balanced definitions, under their own names (not aurc_balanced's).
        _fd("aurc_ba", balanced_fdshifts.aurc_ba, False, "AURC-BA (FD-Shifts)", 1000, True),
        _fd("augrc_ba", balanced_fdshifts.augrc_ba, False, "AUGRC-BA (FD-Shifts)", 1000, True),
        _fd("risk_at_95_coverage", selective.risk_at_95_coverage, False, "Risk@95%cov", 100),
        _fd(
            "min_risk_at_95_coverage",
            selective.min_risk_at_95_coverage,
            False,
            "Min-risk@95%cov (FD-Shifts)",
            100,
        ),
        _fd("ece", calibration.ece, False, "ECE", 100),
        _fd("mce", calibration.mce, False, "MCE", 100),
        _fd("fail_nll", calibration.fail_nll, False, "fail-NLL", 1),
        _clf("top_label_ece", calibration.top_label_ece, False, "Top-label ECE", 100),
        _clf("nll", classification.nll, False, "NLL", 1),
        _clf("brier", classification.brier, False, "Brier", 1),
        _clf("accuracy", classification.accuracy, True, "Accuracy", 100),
        _clf("balanced_accuracy", classification.balanced_accuracy, True, "Balanced accuracy", 100),
    )
}


def get_metric(name: str) -> MetricSpec:
    """Look up a metric by its exact registry name.

    Parameters
    ----------
    name : str
        A key of :data:`METRICS`, e.g. ``"aurc"``.

    Returns
    -------
    MetricSpec

    Raises
    ------
    ValueError
        If ``name`` is not registered; the message lists the valid names.

    Examples
    --------
    >>> spec = get_metric("aurc")
    >>> spec.display_name, spec.higher_is_better, spec.table_scale
    ('AURC', False, 1000)
    >>> round(spec.table_value(spec.function([0.9, 0.8, 0.7], [1, 0, 1])), 3)
    222.222
    """
    try:
        return METRICS[name]
    except (KeyError, TypeError):
        valid = ", ".join(sorted(METRICS))
        raise ValueError(f"unknown metric {name!r}; valid names are: {valid}") from None

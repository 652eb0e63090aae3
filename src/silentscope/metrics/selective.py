"""Working points of selective classification: risk at a coverage, coverage at a risk, and a
threshold chosen on validation data and evaluated on test data."""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from ._validation import check_confidence_correct
from .risk_coverage import RiskCoverageCurve


def risk_at_coverage(
    confidence, correct=None, coverage: float | None = None, *, loss=None
) -> float:
    """Selective risk (error rate among accepted samples) when accepting a given coverage.

    Uses the first point of the grouped risk-coverage curve (see
    :class:`~silentscope.metrics.risk_coverage.RiskCoverageCurve`) whose coverage reaches
    ``coverage``: a threshold cannot split tied confidences, so the achieved coverage may
    be higher; there is no interpolation. ``coverage=0`` gives the risk of the most
    confident tie group.

    Parameters
    ----------
    confidence : array-like of shape (n_samples,)
        Confidence scores; higher means more confident.
    correct : array-like of shape (n_samples,), optional
        1 (or True) where the prediction was right, 0 where it failed.
    loss : array-like of shape (n_samples,), optional
        Instead of ``correct``: a continuous per-sample loss in [0, 1] (e.g. 1 - Dice);
        the selective risk is then the mean loss among accepted samples.
    coverage : float
        Requested share of accepted samples, in [0, 1].

    Returns
    -------
    float
        Selective risk in [0, 1]; lower is better.

    Raises
    ------
    ValueError
        On invalid inputs or a coverage outside [0, 1].

    Examples
    --------
    >>> risk_at_coverage([0.9, 0.8, 0.7, 0.6], [1, 1, 0, 1], coverage=0.75)
    0.3333333333333333
    >>> risk_at_coverage([0.9, 0.8, 0.7, 0.6], [1, 1, 0, 1], coverage=0.5)
    0.0
    >>> round(risk_at_coverage([0.9, 0.8, 0.7], coverage=0.6, loss=[0.1, 0.5, 0.3]), 6)
    0.3
    """
    if coverage is None:
        raise ValueError("coverage is required: pass coverage=<a value in [0, 1]>")
    return RiskCoverageCurve(confidence, correct, loss=loss).risk_at_coverage(coverage)


def coverage_at_risk(confidence, correct=None, risk: float | None = None, *, loss=None) -> float:
    """Largest coverage whose selective risk stays at or below ``risk``.

    Parameters
    ----------
    confidence : array-like of shape (n_samples,)
        Confidence scores; higher means more confident.
    correct : array-like of shape (n_samples,), optional
        1 (or True) where the prediction was right, 0 where it failed.
    loss : array-like of shape (n_samples,), optional
        Instead of ``correct``: a continuous per-sample loss in [0, 1] (e.g. 1 - Dice);
        the selective risk is then the mean loss among accepted samples.
    risk : float
        Tolerated selective risk, in [0, 1].

    Returns
    -------
    float
        Coverage in [0, 1]; higher is better. 0.0 when even the most confident tie group
        exceeds ``risk`` (the system must abstain on everything).

    Raises
    ------
    ValueError
        On invalid inputs or a risk outside [0, 1].

    Examples
    --------
    >>> coverage_at_risk([0.9, 0.8, 0.7, 0.6], [1, 1, 0, 1], risk=0.25)
    1.0
    >>> coverage_at_risk([0.9, 0.8, 0.7, 0.6], [1, 1, 0, 1], risk=0.1)
    0.5
    """
    if risk is None:
        raise ValueError("risk is required: pass risk=<a value in [0, 1]>")
    return RiskCoverageCurve(confidence, correct, loss=loss).coverage_at_risk(risk)


def selective_threshold(val_confidence, val_correct, target_risk: float) -> float:
    """Confidence threshold chosen on validation data: max coverage with risk <= target.

    Among all thresholds t (distinct validation confidences; accept ``confidence >= t``),
    returns the one with the largest validation coverage whose validation selective risk
    is at most ``target_risk``. This is a plug-in choice without a finite-sample guarantee:
    the test risk can exceed the target (Geifman & El-Yaniv 2017 give a bounded variant).
    Evaluate it on held-out data with :func:`selective_risk_coverage`.

    Parameters
    ----------
    val_confidence : array-like of shape (n_samples,)
        Validation confidence scores; higher means more confident.
    val_correct : array-like of shape (n_samples,)
        1 (or True) where the validation prediction was right, 0 where it failed.
    target_risk : float
        Tolerated selective risk, in [0, 1].

    Returns
    -------
    float
        The threshold; ``inf`` (accept nothing) if no threshold meets the target.

    Raises
    ------
    ValueError
        On invalid inputs or a target outside [0, 1].

    Examples
    --------
    >>> selective_threshold([0.9, 0.8, 0.7, 0.6], [1, 1, 0, 1], target_risk=0.1)
    0.8
    """
    return RiskCoverageCurve(val_confidence, val_correct).threshold_at_risk(target_risk)


class SelectiveResult(NamedTuple):
    """Selective risk and coverage of a fixed threshold on a data set."""

    selective_risk: float
    coverage: float


def selective_risk_coverage(test_confidence, test_correct, threshold: float) -> SelectiveResult:
    """Selective risk and coverage of accepting ``confidence >= threshold``.

    Parameters
    ----------
    test_confidence : array-like of shape (n_samples,)
        Test confidence scores; higher means more confident.
    test_correct : array-like of shape (n_samples,)
        1 (or True) where the test prediction was right, 0 where it failed.
    threshold : float
        Acceptance threshold, e.g. from :func:`selective_threshold` (``inf`` accepts none).

    Returns
    -------
    SelectiveResult
        ``(selective_risk, coverage)``: the error rate among accepted samples (NaN when
        nothing is accepted: undefined) and the share accepted.

    Raises
    ------
    ValueError
        On invalid inputs or a NaN threshold.

    Examples
    --------
    >>> selective_risk_coverage([0.95, 0.85, 0.75, 0.5], [1, 0, 1, 1], threshold=0.8)
    SelectiveResult(selective_risk=0.5, coverage=0.5)
    """
    conf, corr = check_confidence_correct(test_confidence, test_correct)
    threshold = float(threshold)
    if np.isnan(threshold):
        raise ValueError("threshold is NaN; pass a number (inf accepts nothing)")
    accepted = conf >= threshold
    n_accepted = int(accepted.sum())
    coverage = n_accepted / conf.shape[0]
    if n_accepted == 0:
        return SelectiveResult(float("nan"), 0.0)
    return SelectiveResult(float(np.mean(~corr[accepted])), coverage)

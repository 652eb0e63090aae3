"""Working points of selective classification: risk at a coverage, coverage at a risk, and a
threshold chosen on validation data and evaluated on test data."""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from ._validation import check_confidence_correct
from .risk_coverage import _TOL, RiskCoverageCurve


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


def min_risk_at_coverage(confidence, correct, coverage: float) -> float:
    """Lowest selective risk among the curve points whose coverage is at least ``coverage``.

    FD-Shifts' risk at coverage (``RiskCoverageStatsMixin.get_working_point(risk=
    "selective-risk", target_cov=c)`` in ``fd_shifts/analysis/rc_stats.py``): among all
    thresholds that accept at least the share c, the one with the lowest selective risk.
    :func:`risk_at_coverage` instead takes the threshold whose coverage is the *lowest*
    reaching c, i.e. the working point one would deploy for a coverage target; the two
    differ whenever the selective risk falls again at a higher coverage, which is common
    (FD-Shifts' issue 16 measured 22-32% of random cases; 50 samples at 80% accuracy and
    c = 0.8 differ far more often), and this one is never higher. Ties are grouped (one point per distinct confidence) and
    the coverage-0 point is not a candidate.

    Parameters
    ----------
    confidence : array-like of shape (n_samples,)
        Confidence scores; higher means more confident.
    correct : array-like of shape (n_samples,)
        1 (or True) where the prediction was right, 0 where it failed.
    coverage : float
        Required share of accepted samples, in [0, 1].

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
    >>> conf, correct = [0.9, 0.8, 0.7, 0.6], [1, 0, 1, 1]
    >>> risk_at_coverage(conf, correct, 0.5), min_risk_at_coverage(conf, correct, 0.5)
    (0.5, 0.25)
    """
    curve = RiskCoverageCurve(confidence, correct)
    coverage = float(coverage)
    if not 0.0 <= coverage <= 1.0:
        raise ValueError(f"coverage must lie in [0, 1], got {coverage}")
    reach = curve.coverages[1:] >= coverage - _TOL
    return float(np.min(curve.selective_risks[1:][reach]))


def risk_at_95_coverage(confidence, correct) -> float:
    """:func:`risk_at_coverage` at coverage 0.95 (the registry's fixed working point).

    Examples
    --------
    >>> risk_at_95_coverage([0.9, 0.8, 0.7, 0.6], [1, 1, 0, 1])
    0.25
    """
    return risk_at_coverage(confidence, correct, 0.95)


def min_risk_at_95_coverage(confidence, correct) -> float:
    """:func:`min_risk_at_coverage` at coverage 0.95 (FD-Shifts' risk@95cov).

    Examples
    --------
    >>> min_risk_at_95_coverage([0.9, 0.8, 0.7, 0.6], [1, 1, 0, 1])
    0.25
    """
    return min_risk_at_coverage(confidence, correct, 0.95)


class TunedSelectiveResult(NamedTuple):
    """A threshold chosen on validation data for a target risk, and what it gives on test data."""

    threshold: float
    target_risk: float
    val_risk: float
    val_coverage: float
    test_risk: float
    test_coverage: float

    @property
    def exceeds_target(self) -> bool:
        """Whether the test risk is above the target (NaN, nothing accepted, is not)."""
        return bool(self.test_risk > self.target_risk + _TOL)


def validation_tuned_risk_coverage(
    val_confidence, val_correct, test_confidence, test_correct, target_risk: float
) -> TunedSelectiveResult:
    """Test selective risk and coverage at a threshold tuned on validation for a target risk.

    The threshold is the one with the largest validation coverage whose validation
    selective risk is at most ``target_risk`` (:func:`selective_threshold`); it is then
    applied unchanged to the test data (:func:`selective_risk_coverage`), as a deployed
    system would (the selective-risk-guarantee setting of Geifman & El-Yaniv 2017, without
    their finite-sample bound: the test risk may exceed the target, which
    ``exceeds_target`` reports).

    Parameters
    ----------
    val_confidence, val_correct : array-like of shape (n_val,)
        Validation confidences (higher = more confident) and 0/1 correctness.
    test_confidence, test_correct : array-like of shape (n_test,)
        Test confidences and correctness, from the same CSF.
    target_risk : float
        Tolerated selective risk r*, in [0, 1].

    Returns
    -------
    TunedSelectiveResult
        ``threshold`` (``inf`` when no validation threshold meets the target: nothing is
        accepted), ``val_risk`` / ``val_coverage`` at it, and ``test_risk`` (NaN when the
        test set accepts nothing) / ``test_coverage``.

    Raises
    ------
    ValueError
        On invalid inputs or a target outside [0, 1].

    Examples
    --------
    >>> result = validation_tuned_risk_coverage(
    ...     [0.9, 0.8, 0.7, 0.6], [1, 1, 0, 1], [0.95, 0.85, 0.75, 0.5], [1, 0, 1, 1], 0.1)
    >>> result.threshold, result.val_coverage, result.test_risk, result.test_coverage
    (0.8, 0.5, 0.5, 0.5)
    >>> result.exceeds_target
    True
    """
    threshold = selective_threshold(val_confidence, val_correct, target_risk)
    val = selective_risk_coverage(val_confidence, val_correct, threshold)
    test = selective_risk_coverage(test_confidence, test_correct, threshold)
    return TunedSelectiveResult(
        threshold,
        float(target_risk),
        val.selective_risk,
        val.coverage,
        test.selective_risk,
        test.coverage,
    )

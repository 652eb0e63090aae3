"""The risk-coverage curve, computed once, and the areas derived from it (AURC, AUGRC, E-*).

Convention (FD-Shifts' ``RiskCoverageStats`` in ``fd_shifts/analysis/rc_stats.py``): sort by
confidence, descending; one curve point per *distinct* confidence threshold t, at coverage
= share of samples with confidence >= t and selective risk = error rate among them; plus a
coverage-0 point that carries the selective risk of the most confident tie group. Areas use
the trapezoid rule over these points, so the result does not depend on sample order.

References
----------
Geifman & El-Yaniv (2017), "Selective Classification for Deep Neural Networks", NeurIPS.
Geifman, Uziel & El-Yaniv (2019), "Bias-Reduced Uncertainty Estimation for Deep Neural
Classifiers", ICLR (AURC, E-AURC).
Jaeger, Lüth, Klein & Bungert (2023), "A Call to Reflect on Evaluation Practices for Failure
Detection in Image Classification", ICLR (FD-Shifts).
Traub, Bungert, Lüth, Baumgartner & Jaeger (2024), "Overcoming Common Flaws in the Evaluation
of Selective Classification Systems", NeurIPS (AUGRC).
"""

from __future__ import annotations

from functools import cached_property

import numpy as np

from ._count_curves import optimal_augrc, optimal_aurc
from ._ranking import Ranking
from ._validation import (
    check_confidence_correct,
    check_confidence_risk,
    check_labels,
    check_sample_weight,
)

# Comparisons of computed coverages/risks with user targets allow this much rounding.
_TOL = 1e-12


class RiskCoverageCurve:
    """Risk-coverage curve of a confidence scoring function, with tied confidences grouped.

    Built once; AURC, AUGRC, their excess versions and working points are cached
    properties or cheap methods on it.

    Parameters
    ----------
    confidence : array-like of shape (n_samples,)
        Confidence scores; higher means more confident.
    correct : array-like of shape (n_samples,), optional
        1 (or True) where the classifier was right, 0 where it failed.
    loss : array-like of shape (n_samples,), optional
        Instead of ``correct``: a continuous per-sample loss in [0, 1] (e.g. 1 - Dice for
        segmentation). Selective risk becomes the mean loss among accepted samples and
        generalized risk the summed accepted loss over all samples. A loss holding only 0
        and 1 gives exactly the binary result (``correct = loss == 0``).
    sample_weight : array-like of shape (n_samples,), optional
        Non-negative weights; coverage and both risks become weighted shares. Used for the
        class-balanced metrics. Zero-weight samples are dropped.

    Attributes
    ----------
    thresholds : ndarray of shape (n_thresholds,)
        Distinct confidences, descending: accepting ``confidence >= thresholds[j]`` gives
        the point ``j + 1`` of the curve arrays.
    coverages, selective_risks, generalized_risks : ndarray of shape (n_thresholds + 1,)
        The curve, from the coverage-0 point to coverage 1 (ascending coverage).

    Raises
    ------
    ValueError
        If the inputs are not 1-D, differ in length, are empty, contain NaN/inf, if
        ``correct`` is not binary, if ``loss`` leaves [0, 1], or unless exactly one of
        ``correct`` and ``loss`` is given.

    Examples
    --------
    >>> curve = RiskCoverageCurve([0.9, 0.8, 0.7, 0.6], [1, 1, 0, 1])
    >>> curve.coverages.tolist()
    [0.0, 0.25, 0.5, 0.75, 1.0]
    >>> curve.selective_risks.round(4).tolist()
    [0.0, 0.0, 0.0, 0.3333, 0.25]
    >>> round(curve.aurc, 6), round(curve.augrc, 6)
    (0.114583, 0.09375)
    >>> RiskCoverageCurve([0.9, 0.8, 0.7], loss=[0.1, 0.5, 0.3]).selective_risks.round(6).tolist()
    [0.1, 0.1, 0.3, 0.3]
    """

    def __init__(self, confidence, correct=None, *, loss=None, sample_weight=None):
        conf, corr, risk = check_confidence_risk(confidence, correct, loss)
        weight = None
        if sample_weight is not None:
            weight = check_sample_weight(sample_weight, conf.shape[0])
            keep = weight > 0
            conf, corr, weight = conf[keep], corr[keep], weight[keep]
            risk = None if risk is None else risk[keep]
        self._ranking = Ranking.from_scores(conf, corr)
        if risk is None:
            self._counts = self._ranking.counts(weight)
        else:
            self._counts = self._ranking.loss_counts(risk, weight)
        self._loss, self._weight = risk, weight

    @property
    def is_binary(self) -> bool:
        """Whether the risk is 0/1 correctness (False for a continuous loss)."""
        return self._loss is None

    @cached_property
    def _oracle(self) -> RiskCoverageCurve:
        """The curve of an oracle CSF that ranks by ascending loss (continuous loss only)."""
        return RiskCoverageCurve(-self._loss, loss=self._loss, sample_weight=self._weight)

    @property
    def n_samples(self) -> int:
        """Number of samples (with positive weight)."""
        return self._ranking.n_samples

    @property
    def thresholds(self) -> np.ndarray:
        return self._ranking.thresholds

    @cached_property
    def error_rate(self) -> float:
        """Overall (weighted) error rate (mean loss), the selective risk at coverage 1."""
        return float(self._counts.error_rate)

    @cached_property
    def coverages(self) -> np.ndarray:
        c = self._counts
        return np.concatenate(([0.0], c.cum_total / c.total))

    @cached_property
    def selective_risks(self) -> np.ndarray:
        c = self._counts
        risk = (c.cum_total - c.cum_correct) / c.cum_total
        return np.concatenate((risk[:1], risk))

    @cached_property
    def generalized_risks(self) -> np.ndarray:
        c = self._counts
        return np.concatenate(([0.0], (c.cum_total - c.cum_correct) / c.total))

    @cached_property
    def aurc(self) -> float:
        """Area under the selective-risk vs coverage curve (trapezoid rule), in [0, 1]."""
        return float(self._counts.aurc)

    @cached_property
    def augrc(self) -> float:
        """Area under the generalized-risk vs coverage curve (trapezoid rule), in [0, 0.5]."""
        return float(self._counts.augrc)

    @cached_property
    def aurc_optimal(self) -> float:
        """AURC of an oracle CSF.

        Binary: err + (1 - err) ln(1 - err), the continuous-coverage limit. A continuous
        loss has no closed form: the oracle ranks these samples by ascending loss and its
        curve is integrated like any other.
        """
        if self._loss is not None:
            return self._oracle.aurc
        return float(optimal_aurc(self.error_rate))

    @cached_property
    def augrc_optimal(self) -> float:
        """AUGRC of an oracle CSF: err^2 / 2 when binary, else the ascending-loss ranking's."""
        if self._loss is not None:
            return self._oracle.augrc
        return float(optimal_augrc(self.error_rate))

    @cached_property
    def e_aurc(self) -> float:
        return self.aurc - self.aurc_optimal

    @cached_property
    def e_augrc(self) -> float:
        return self.augrc - self.augrc_optimal

    def risk_at_coverage(self, coverage: float) -> float:
        """Selective risk at the first curve point whose coverage reaches ``coverage``.

        Tied confidences cannot be split by a threshold, so the point used may cover more
        than asked; there is no interpolation between points.
        """
        coverage = _check_fraction(coverage, "coverage")
        j = int(np.searchsorted(self.coverages, coverage - _TOL, side="left"))
        return float(self.selective_risks[min(j, self.coverages.shape[0] - 1)])

    def _best_point(self, risk: float) -> int | None:
        """Curve index (>= 1) of the largest coverage with selective risk <= risk."""
        risk = _check_fraction(risk, "risk")
        ok = np.flatnonzero(self.selective_risks[1:] <= risk + _TOL)
        return int(ok[-1]) + 1 if ok.size else None

    def coverage_at_risk(self, risk: float) -> float:
        """Largest coverage whose selective risk is at most ``risk`` (0.0 if none)."""
        j = self._best_point(risk)
        return 0.0 if j is None else float(self.coverages[j])

    def threshold_at_risk(self, risk: float) -> float:
        """Confidence threshold (accept ``>=``) of :meth:`coverage_at_risk`; inf if none."""
        j = self._best_point(risk)
        return float("inf") if j is None else float(self.thresholds[j - 1])


def _check_fraction(value: float, name: str) -> float:
    value = float(value)
    if not 0.0 <= value <= 1.0:
        raise ValueError(f"{name} must lie in [0, 1], got {value}")
    return value


def _refuse_legacy_loss(loss) -> None:
    if loss is not None:
        raise ValueError(
            "legacy=True reproduces FD-Shifts v0.1.1 for 0/1 correctness only; drop legacy "
            "to use a continuous loss"
        )


def legacy_aurc(confidence, correct) -> float:
    """AURC as computed by FD-Shifts v0.1.1, kept only to compare with published tables.

    Use :func:`aurc` for new work: this variant depends on the order of tied samples and
    leaves out part of the curve. FD-Shifts v0.1.1 (``StatsCache.rc_curve_stats`` and
    ``aurc`` in ``fd_shifts/analysis/metrics.py``; Jaeger et al. 2023) sorts by
    *ascending* confidence and removes one sample at a time, giving the selective risks
    rho_k = (errors among the n - k most confident) / (n - k), k = 0 .. n-1. The point
    rho_{i+1} is kept when sample i (ascending order) differs in confidence from sample
    i - 1 (always for i = 0); kept points are joined by trapezoids whose widths are the
    numbers of removed samples / n, and the curve is flat after the last kept point. The
    integrated coverage is always 1 - 1/n: the last 1/n of coverage is never integrated,
    and there is no coverage-0 point.

    Without ties this is (rho_0/2 + rho_1 + ... + rho_{n-2} + rho_{n-1}/2) / n, so the
    grouped :func:`aurc` exceeds it by exactly (residual of the most confident sample) / n.
    With ties, comparing with the *previous* sample keeps points that split a tie group,
    so the value depends on the order of tied samples. FD-Shifts used numpy's default
    (unstable) argsort; here ties keep their input order (a stable sort), which gives the
    same value whenever confidences are distinct.

    Parameters
    ----------
    confidence : array-like of shape (n_samples,)
        Confidence scores; higher means more confident.
    correct : array-like of shape (n_samples,)
        1 (or True) where the prediction was right, 0 where it failed.

    Returns
    -------
    float
        Legacy AURC in [0, 1); lower is better. FD-Shifts tables show it x1000.

    Raises
    ------
    ValueError
        On invalid inputs, as :func:`aurc`.

    Examples
    --------
    >>> conf, correct = [0.9, 0.8, 0.7, 0.6], [0, 1, 1, 1]
    >>> round(legacy_aurc(conf, correct), 6), round(aurc(conf, correct), 6)
    (0.364583, 0.614583)

    The most confident sample is a failure, so the two differ by 1 / n = 0.25.
    """
    conf, corr = check_confidence_correct(confidence, correct)
    n = conf.shape[0]
    if n == 1:
        return 0.0
    order = np.argsort(conf, kind="stable")
    conf_up = conf[order]
    errors_up = (~corr[order]).astype(np.float64)
    # rho[k]: selective risk after removing the k least confident samples.
    remaining_errors = np.cumsum(errors_up[::-1])[::-1]
    rho = remaining_errors / np.arange(n, 0, -1)
    steps = np.arange(n - 1)
    kept = np.ones(n - 1, dtype=bool)
    kept[1:] = conf_up[1 : n - 1] != conf_up[: n - 2]
    kept_steps = steps[kept]
    points = np.concatenate((rho[:1], rho[kept_steps + 1]))
    widths = np.diff(np.concatenate(([-1], kept_steps)))
    area = np.sum((points[:-1] + points[1:]) * 0.5 * widths)
    area += points[-1] * (n - 2 - kept_steps[-1])
    return float(area / n)


def aurc(confidence, correct=None, *, loss=None, legacy: bool = False) -> float:
    """Area under the risk-coverage curve (AURC): mean selective risk over all coverages.

    The curve has one point per distinct confidence threshold plus a coverage-0 point
    carrying the risk of the most confident tie group (see :class:`RiskCoverageCurve`);
    the area uses the trapezoid rule (Geifman et al. 2019; FD-Shifts, Jaeger et al. 2023).

    Parameters
    ----------
    confidence : array-like of shape (n_samples,)
        Confidence scores; higher means more confident.
    correct : array-like of shape (n_samples,), optional
        1 (or True) where the prediction was right, 0 where it failed.
    loss : array-like of shape (n_samples,), optional
        Instead of ``correct``: a continuous per-sample loss in [0, 1] (e.g. 1 - Dice);
        see :class:`RiskCoverageCurve`.
    legacy : bool, default False
        Reproduce FD-Shifts v0.1.1 published numbers (ties not grouped, last 1/n of
        coverage not integrated); see :func:`legacy_aurc`. For comparison with published
        tables only.

    Returns
    -------
    float
        AURC in [0, 1]; lower is better. 0 when every prediction is correct, 1 when none
        is. Tables often show it x1000.

    Raises
    ------
    ValueError
        If the inputs are not 1-D, differ in length, are empty, contain NaN/inf, if
        ``correct`` is not binary or ``loss`` leaves [0, 1], unless exactly one of them is
        given, or with ``legacy=True`` and a ``loss``.

    Examples
    --------
    >>> round(aurc([0.9, 0.8, 0.7, 0.6], [1, 1, 0, 1]), 6)
    0.114583
    >>> round(aurc([0.9, 0.8, 0.7, 0.6], [1, 1, 0, 1], legacy=True), 6)
    0.114583
    >>> round(aurc([0.9, 0.8, 0.7], loss=[0.1, 0.5, 0.3]), 6)  # e.g. 1 - Dice
    0.2
    """
    if legacy:
        _refuse_legacy_loss(loss)
        return legacy_aurc(confidence, correct)
    return RiskCoverageCurve(confidence, correct, loss=loss).aurc


def e_aurc(confidence, correct=None, *, loss=None, legacy: bool = False) -> float:
    """Excess AURC: AURC minus the AURC of an oracle CSF with the same error rate.

    AURC_optimal = err + (1 - err) ln(1 - err) for binary residuals (Geifman et al. 2019),
    with its limit 1 at err = 1. This closed form is the continuous-coverage limit: for n
    samples the trapezoid AURC of an oracle ranking falls short of it by O(1/n^2), so a
    perfect CSF can score a tiny negative E-AURC. With a continuous ``loss`` there is no
    closed form: the oracle ranks the same samples by ascending loss.

    Parameters
    ----------
    confidence : array-like of shape (n_samples,)
        Confidence scores; higher means more confident.
    correct : array-like of shape (n_samples,), optional
        1 (or True) where the prediction was right, 0 where it failed.
    loss : array-like of shape (n_samples,), optional
        Instead of ``correct``: a continuous per-sample loss in [0, 1] (e.g. 1 - Dice);
        see :class:`RiskCoverageCurve`.
    legacy : bool, default False
        Use :func:`legacy_aurc` (FD-Shifts v0.1.1) for the AURC term.

    Returns
    -------
    float
        E-AURC, about 0 for a perfect ranking and larger for worse ones; lower is better.

    Raises
    ------
    ValueError
        On invalid inputs, as :func:`aurc`.

    Examples
    --------
    >>> round(e_aurc([0.9, 0.8, 0.7, 0.6], [1, 1, 0, 1]), 6)
    0.080345
    >>> round(e_aurc([0.9, 0.8, 0.7, 0.6], [1, 1, 1, 0]), 6)  # perfect ranking, small n
    -0.002988
    """
    if legacy:
        _refuse_legacy_loss(loss)
        conf, corr = check_confidence_correct(confidence, correct)
        return legacy_aurc(conf, corr) - float(optimal_aurc(1.0 - corr.mean()))
    return RiskCoverageCurve(confidence, correct, loss=loss).e_aurc


def augrc(confidence, correct=None, *, loss=None) -> float:
    """Area under the generalized risk-coverage curve (AUGRC, Traub et al. 2024).

    The generalized risk at a threshold is the share of *all* samples that are accepted
    and wrong; AUGRC is its trapezoid area over coverage (same curve points as
    :func:`aurc`). It equals the probability that a random failure is accepted ahead of a
    random sample, and satisfies AUGRC = (1 - AUROC_f) acc (1 - acc) + (1 - acc)^2 / 2.

    Parameters
    ----------
    confidence : array-like of shape (n_samples,)
        Confidence scores; higher means more confident.
    correct : array-like of shape (n_samples,), optional
        1 (or True) where the prediction was right, 0 where it failed.
    loss : array-like of shape (n_samples,), optional
        Instead of ``correct``: a continuous per-sample loss in [0, 1] (e.g. 1 - Dice);
        see :class:`RiskCoverageCurve`.

    Returns
    -------
    float
        AUGRC in [0, 0.5]; lower is better. 0 when all predictions are correct, 0.5 when
        none is. Tables often show it x1000.

    Raises
    ------
    ValueError
        On invalid inputs, as :func:`aurc`.

    Examples
    --------
    >>> augrc([0.9, 0.8, 0.7, 0.6], [1, 1, 0, 1])
    0.09375
    """
    return RiskCoverageCurve(confidence, correct, loss=loss).augrc


def e_augrc(confidence, correct=None, *, loss=None) -> float:
    """Excess AUGRC: AUGRC minus err^2 / 2, the AUGRC of an oracle CSF (Traub et al. 2024).

    Parameters
    ----------
    confidence : array-like of shape (n_samples,)
        Confidence scores; higher means more confident.
    correct : array-like of shape (n_samples,), optional
        1 (or True) where the prediction was right, 0 where it failed.
    loss : array-like of shape (n_samples,), optional
        Instead of ``correct``: a continuous per-sample loss in [0, 1] (e.g. 1 - Dice);
        see :class:`RiskCoverageCurve`.

    Returns
    -------
    float
        E-AUGRC in [0, 0.5]: 0 for a ranking that puts every failure last; lower is better.

    Raises
    ------
    ValueError
        On invalid inputs, as :func:`aurc`.

    Examples
    --------
    >>> e_augrc([0.9, 0.8, 0.7, 0.6], [1, 1, 1, 0])
    0.0
    """
    return RiskCoverageCurve(confidence, correct, loss=loss).e_augrc


def class_balance_weights(labels) -> np.ndarray:
    """Weights n / (K n_c) per sample of class c, so that every class carries mass 1/K.

    Parameters
    ----------
    labels : array-like of shape (n_samples,)
        Class of each sample (K distinct values).

    Returns
    -------
    ndarray of shape (n_samples,)
        Positive weights summing to n.

    Examples
    --------
    >>> class_balance_weights([0, 0, 0, 1]).tolist()
    [0.6666666666666666, 0.6666666666666666, 0.6666666666666666, 2.0]
    """
    labels = np.asarray(labels)
    _, inverse, counts = np.unique(labels, return_inverse=True, return_counts=True)
    return labels.shape[0] / (counts.shape[0] * counts[inverse].astype(np.float64))


def _balanced_curve(confidence, correct, labels, loss) -> RiskCoverageCurve:
    if labels is None:
        raise ValueError(
            "labels are required for the class-balanced metrics: pass the true class of each "
            "sample as labels="
        )
    conf, corr, risk = check_confidence_risk(confidence, correct, loss)
    labels = check_labels(labels, conf.shape[0])
    weight = class_balance_weights(labels)
    if risk is None:
        return RiskCoverageCurve(conf, corr, sample_weight=weight)
    return RiskCoverageCurve(conf, loss=risk, sample_weight=weight)


_BALANCED_NOTE = """
    Definition: the class-weighted risk. Every sample of class c gets weight 1 / (K n_c)
    (K classes present in ``labels``, n_c samples of class c), and coverage, selective
    risk and generalized risk are all weighted shares, i.e. the metric is evaluated as if
    the test set had equal class prevalences. At full coverage the selective risk is the
    balanced error rate, 1 - balanced accuracy.

    Why not the average of per-class curves: a deployed system applies one confidence
    threshold to every patient without knowing the class, so the curve must sweep one
    shared threshold; per-class curves would hide a CSF whose confidences are offset
    between classes. Reweighting also keeps every identity of the unweighted metric
    (oracle area, AUROC relation). FD-Shifts' AUGRC-BA weights only the residuals and
    keeps the unweighted coverage axis, so its values differ.
"""


def aurc_balanced(confidence, correct=None, labels=None, *, loss=None) -> float:
    """Class-balanced AURC: AURC with every class weighted to equal prevalence.
    {note}
    Parameters
    ----------
    confidence : array-like of shape (n_samples,)
        Confidence scores; higher means more confident.
    correct : array-like of shape (n_samples,), optional
        1 (or True) where the prediction was right, 0 where it failed.
    labels : array-like of shape (n_samples,)
        True class of each sample (required).
    loss : array-like of shape (n_samples,), optional
        Instead of ``correct``: a continuous per-sample loss in [0, 1] (e.g. 1 - Dice);
        the class weights then weight the summed loss as they weight failures.

    Returns
    -------
    float
        Balanced AURC in [0, 1]; lower is better.

    Raises
    ------
    ValueError
        On invalid inputs, as :func:`aurc`, or if ``labels`` has the wrong length or NaN.

    Examples
    --------
    >>> conf = [0.9, 0.8, 0.7, 0.6, 0.5]
    >>> correct = [1, 1, 0, 1, 0]
    >>> round(aurc_balanced(conf, correct, labels=[0, 0, 0, 0, 1]), 6)
    0.276042
    >>> round(aurc_balanced(conf, labels=[0, 0, 0, 0, 1], loss=[0, 0, 1, 0, 1]), 6)
    0.276042
    """
    return _balanced_curve(confidence, correct, labels, loss).aurc


def augrc_balanced(confidence, correct=None, labels=None, *, loss=None) -> float:
    """Class-balanced AUGRC: AUGRC with every class weighted to equal prevalence.
    {note}
    Parameters
    ----------
    confidence : array-like of shape (n_samples,)
        Confidence scores; higher means more confident.
    correct : array-like of shape (n_samples,), optional
        1 (or True) where the prediction was right, 0 where it failed.
    labels : array-like of shape (n_samples,)
        True class of each sample (required).
    loss : array-like of shape (n_samples,), optional
        Instead of ``correct``: a continuous per-sample loss in [0, 1] (e.g. 1 - Dice);
        the class weights then weight the summed loss as they weight failures.

    Returns
    -------
    float
        Balanced AUGRC in [0, 0.5]; lower is better.

    Raises
    ------
    ValueError
        On invalid inputs, as :func:`aurc_balanced`.

    Examples
    --------
    >>> conf = [0.9, 0.8, 0.7, 0.6, 0.5]
    >>> correct = [1, 1, 0, 1, 0]
    >>> round(augrc_balanced(conf, correct, labels=[0, 0, 0, 0, 1]), 6)
    0.210938
    """
    return _balanced_curve(confidence, correct, labels, loss).augrc


aurc_balanced.__doc__ = aurc_balanced.__doc__.format(note=_BALANCED_NOTE)
augrc_balanced.__doc__ = augrc_balanced.__doc__.format(note=_BALANCED_NOTE)

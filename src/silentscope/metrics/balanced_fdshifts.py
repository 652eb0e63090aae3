"""FD-Shifts' balanced-accuracy risk-coverage areas, AURC-BA and AUGRC-BA, under their own names.

silentscope's :func:`~silentscope.metrics.aurc_balanced` and
:func:`~silentscope.metrics.augrc_balanced` reweight every sample so that the classes have
equal prevalence, on both axes (coverage and risk). FD-Shifts (``selective_risk_ba_stats``
and ``generalized_risk_ba_stats`` in ``fd_shifts/analysis/rc_stats_utils.py``, used by
``RiskCoverageStatsMixin.aurc_ba`` / ``augrc_ba`` in ``rc_stats.py``, IML-DKFZ/fd-shifts)
defines them differently, and both definitions are kept here:

- **AURC-BA**: the coverage axis stays unweighted (accepted samples / n); the risk at a
  threshold is the mean over the K classes of the full set of each class's error rate
  among its *accepted* samples, a class with no accepted sample counting 0 (it still
  counts in the mean, so deferring a whole class lowers the risk).
- **AUGRC-BA**: the coverage axis stays unweighted; each failure of class k weighs
  n / (K n_k), and the generalized risk is the weighted accepted failures / n.

Both use one point per distinct confidence (ties grouped, so no dependence on sample
order) and the trapezoid rule; AURC-BA adds a coverage-0 point with the risk of the most
confident tie group, AUGRC-BA one with risk 0, as FD-Shifts does.
"""

from __future__ import annotations

import numpy as np

from ._ranking import Ranking
from ._validation import check_confidence_correct, check_labels


def _ranked(confidence, correct, labels):
    conf, corr = check_confidence_correct(confidence, correct)
    labels = check_labels(labels, conf.shape[0])
    _, codes = np.unique(labels, return_inverse=True)
    ranking = Ranking.from_scores(conf, corr)
    group = np.repeat(np.arange(ranking.n_groups), ranking.group_size)  # per sorted position
    return ranking, group, codes[ranking.order], conf.shape[0]


def _trapezoid(x: np.ndarray, y: np.ndarray) -> float:
    return float(np.sum((x[1:] - x[:-1]) * (y[1:] + y[:-1]) * 0.5))


def aurc_ba(confidence, correct, labels) -> float:
    """AURC-BA as FD-Shifts defines it: area under the mean per-class selective risk.

    At the threshold of the j-th distinct confidence (descending), with coverage c_j =
    accepted / n, the risk is R_j = (1/K) sum_k e_k,j / m_k,j: e_k,j failures among the
    m_k,j accepted samples of class k (0 when m_k,j = 0), K the classes in ``labels``.
    AURC-BA is the trapezoid area of (c_j, R_j) with a coverage-0 point at R_1. Not the
    same as :func:`~silentscope.metrics.aurc_balanced` (see the module docstring).

    Parameters
    ----------
    confidence : array-like of shape (n_samples,)
        Confidence scores; higher means more confident.
    correct : array-like of shape (n_samples,)
        1 (or True) where the prediction was right, 0 where it failed.
    labels : array-like of shape (n_samples,)
        True class of each sample.

    Returns
    -------
    float
        AURC-BA in [0, 1]; lower is better.

    Raises
    ------
    ValueError
        On invalid inputs, as :func:`~silentscope.metrics.aurc`, or if ``labels`` has the
        wrong length or NaN.

    Examples
    --------
    >>> conf = [0.9, 0.8, 0.7, 0.6, 0.5]
    >>> correct = [1, 1, 0, 1, 0]
    >>> round(aurc_ba(conf, correct, labels=[0, 0, 0, 0, 1]), 6)
    0.120833
    """
    ranking, group, codes, n = _ranked(confidence, correct, labels)
    n_classes = int(codes.max()) + 1
    errors = (~ranking.correct_sorted).astype(np.float64)
    # Per class, the error rate among its accepted samples after each of its groups is a
    # step function of the group index; summing the steps of all classes with a
    # difference array avoids a (groups x classes) table.
    by_class = np.lexsort((group, codes))
    k, g, e = codes[by_class], group[by_class], errors[by_class]
    first_of_class = np.concatenate(([True], k[1:] != k[:-1]))
    position = np.arange(k.shape[0])
    class_start = np.maximum.accumulate(np.where(first_of_class, position, 0))
    cum_err = np.cumsum(e)
    err_before = np.where(class_start > 0, cum_err[class_start - 1], 0.0)
    rate = (cum_err - err_before) / (position - class_start + 1)
    last = np.concatenate(((k[1:] != k[:-1]) | (g[1:] != g[:-1]), [True]))
    k, g, rate = k[last], g[last], rate[last]
    next_group = np.concatenate((g[1:], [ranking.n_groups]))
    next_group[np.concatenate((k[1:] != k[:-1], [True]))] = ranking.n_groups
    size = ranking.n_groups + 1
    steps = np.bincount(g, rate, size) - np.bincount(next_group, rate, size)
    risk = np.cumsum(steps)[:-1] / n_classes
    coverage = np.cumsum(ranking.group_size) / n
    return _trapezoid(np.concatenate(([0.0], coverage)), np.concatenate((risk[:1], risk)))


def augrc_ba(confidence, correct, labels) -> float:
    """AUGRC-BA as FD-Shifts defines it: AUGRC with failures of class k weighted n / (K n_k).

    Coverage stays the unweighted share of accepted samples; the generalized risk at a
    threshold is sum over accepted failures of n / (K n_k), divided by n. Trapezoid area
    with a coverage-0 point at risk 0. Not the same as
    :func:`~silentscope.metrics.augrc_balanced`, which also weights the coverage axis.

    Parameters
    ----------
    confidence : array-like of shape (n_samples,)
        Confidence scores; higher means more confident.
    correct : array-like of shape (n_samples,)
        1 (or True) where the prediction was right, 0 where it failed.
    labels : array-like of shape (n_samples,)
        True class of each sample.

    Returns
    -------
    float
        AUGRC-BA in [0, 1], at most the balanced error rate (its generalized risk at
        coverage 1); lower is better.

    Raises
    ------
    ValueError
        On invalid inputs, as :func:`aurc_ba`.

    Examples
    --------
    >>> conf = [0.9, 0.8, 0.7, 0.6, 0.5]
    >>> correct = [1, 1, 0, 1, 0]
    >>> round(augrc_ba(conf, correct, labels=[0, 0, 0, 0, 1]), 6)
    0.1125
    """
    ranking, group, codes, n = _ranked(confidence, correct, labels)
    class_size = np.bincount(codes)
    weight = n / (class_size.shape[0] * class_size[codes])
    residual = weight * ~ranking.correct_sorted
    risk = np.cumsum(np.add.reduceat(residual, ranking.group_start)) / n
    coverage = np.cumsum(ranking.group_size) / n
    return _trapezoid(np.concatenate(([0.0], coverage)), np.concatenate(([0.0], risk)))

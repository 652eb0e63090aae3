"""Ranking metrics of failure detection: AUROC_f, FPR@95%TPR and the two average precisions.

All of them treat the confidence as a score for "this prediction is correct" and are
computed from the grouped, sorted counts of :mod:`silentscope.metrics._ranking` (the same
code the bootstrap runs batched). Ties are whole groups: a threshold accepts or rejects
every sample with that confidence.
"""

from __future__ import annotations

from ._count_curves import CountCurves
from ._ranking import Ranking
from ._validation import check_confidence_correct


def _counts(confidence, correct) -> CountCurves:
    conf, corr = check_confidence_correct(confidence, correct)
    return Ranking.from_scores(conf, corr).counts()


def auroc_f(confidence, correct) -> float:
    """Area under the ROC curve for telling correct predictions from failures (AUROC_f).

    The probability that a random correct prediction gets a higher confidence than a
    random failure, ties counting one half (Mann-Whitney U / (n_correct n_failures));
    equal to ``sklearn.metrics.roc_auc_score(correct, confidence)``. See Jaeger et al.
    (2023), FD-Shifts, for its use in failure detection.

    Parameters
    ----------
    confidence : array-like of shape (n_samples,)
        Confidence scores; higher means more confident.
    correct : array-like of shape (n_samples,)
        1 (or True) where the prediction was right, 0 where it failed.

    Returns
    -------
    float
        AUROC_f in [0, 1]; higher is better, 0.5 is a random ranking.

    Raises
    ------
    ValueError
        On invalid inputs, or if ``correct`` is all 1 or all 0 (undefined).

    Examples
    --------
    >>> round(auroc_f([0.9, 0.8, 0.7, 0.6], [1, 1, 0, 1]), 6)
    0.666667
    """
    counts = _counts(confidence, correct)
    counts.require("AUROC_f", correct=True, wrong=True)
    return float(counts.auroc)


def fpr_at_95_tpr(confidence, correct) -> float:
    """Share of failures accepted when 95% of correct predictions are accepted (FPR@95%TPR).

    Thresholds are the distinct confidences (accept ``confidence >= t``); the value is
    the FPR at the highest threshold whose TPR (share of correct predictions accepted)
    is at least 0.95, i.e. the smallest FPR reaching that TPR. No interpolation between
    thresholds; a tie group is accepted or rejected whole, so the TPR reached can exceed
    0.95. TPR >= 0.95 is tested with a relative tolerance of 1e-12 against rounding.
    (FD-Shifts tests TPR >= 0.9495, which can pick a threshold one step higher.)

    Parameters
    ----------
    confidence : array-like of shape (n_samples,)
        Confidence scores; higher means more confident.
    correct : array-like of shape (n_samples,)
        1 (or True) where the prediction was right, 0 where it failed.

    Returns
    -------
    float
        FPR in [0, 1]; lower is better.

    Raises
    ------
    ValueError
        On invalid inputs, or if ``correct`` is all 1 or all 0 (undefined).

    Examples
    --------
    >>> fpr_at_95_tpr([0.9, 0.8, 0.7, 0.6, 0.5], [1, 1, 0, 1, 0])
    0.5
    """
    counts = _counts(confidence, correct)
    counts.require("FPR@95%TPR", correct=True, wrong=True)
    return float(counts.fpr_at_tpr)


def aupr_success(confidence, correct) -> float:
    """Average precision for finding correct predictions by descending confidence (AUPR-success).

    AP = sum over thresholds of (recall step) x precision, with correct predictions as
    positives; equal to ``sklearn.metrics.average_precision_score(correct, confidence)``.

    Parameters
    ----------
    confidence : array-like of shape (n_samples,)
        Confidence scores; higher means more confident.
    correct : array-like of shape (n_samples,)
        1 (or True) where the prediction was right, 0 where it failed.

    Returns
    -------
    float
        AP in (0, 1]; higher is better; a random ranking scores about the accuracy.

    Raises
    ------
    ValueError
        On invalid inputs, or if no prediction is correct (undefined).

    Examples
    --------
    >>> round(aupr_success([0.9, 0.8, 0.7, 0.6], [1, 1, 0, 1]), 6)
    0.916667
    """
    counts = _counts(confidence, correct)
    counts.require("AUPR-success", correct=True, wrong=False)
    return float(counts.aupr_success)


def aupr_error(confidence, correct) -> float:
    """Average precision for finding failures by ascending confidence (AUPR-error).

    Failures are the positives and the negated confidence the score; equal to
    ``sklearn.metrics.average_precision_score(1 - correct, -confidence)``.

    Parameters
    ----------
    confidence : array-like of shape (n_samples,)
        Confidence scores; higher means more confident.
    correct : array-like of shape (n_samples,)
        1 (or True) where the prediction was right, 0 where it failed.

    Returns
    -------
    float
        AP in (0, 1]; higher is better; a random ranking scores about the error rate.

    Raises
    ------
    ValueError
        On invalid inputs, or if no prediction failed (undefined).

    Examples
    --------
    >>> aupr_error([0.9, 0.8, 0.7, 0.6], [1, 1, 0, 1])
    0.5
    """
    counts = _counts(confidence, correct)
    counts.require("AUPR-error", correct=False, wrong=True)
    return float(counts.aupr_error)

"""Calibration of confidences against correctness: binned expected calibration error (ECE)."""

from __future__ import annotations

import numpy as np

from ._ranking import Ranking
from ._validation import check_confidence_correct, check_probs_labels, check_unit_interval


def check_n_bins(n_bins) -> int:
    """Validate the number of ECE bins (a positive integer)."""
    if isinstance(n_bins, bool) or not isinstance(n_bins, int | np.integer) or n_bins < 1:
        raise ValueError(f"n_bins must be a positive integer, got {n_bins!r}")
    return int(n_bins)


def ece(confidence, correct, n_bins: int = 15) -> float:
    """Expected calibration error of a confidence score against correctness (binned ECE).

    ECE = sum_b (n_b / n) |acc_b - conf_b| over ``n_bins`` equal-width bins
    [k/B, (k+1)/B) of [0, 1] (the last bin also holds 1.0; a score c goes to bin
    min(floor(B c), B - 1)), where acc_b is the accuracy and conf_b the mean confidence in
    bin b; empty bins add nothing (Naeini et al. 2015, "Obtaining Well Calibrated
    Probabilities Using Bayesian Binning", AAAI; Guo et al. 2017, "On Calibration of Modern
    Neural Networks", ICML).

    Parameters
    ----------
    confidence : array-like of shape (n_samples,)
        Confidence scores in [0, 1], read as the probability of being correct.
    correct : array-like of shape (n_samples,)
        1 (or True) where the prediction was right, 0 where it failed.
    n_bins : int, default 15
        Number of equal-width bins.

    Returns
    -------
    float
        ECE in [0, 1]; lower is better, 0 is perfectly calibrated (per bin).

    Raises
    ------
    ValueError
        On invalid inputs, if a confidence lies outside [0, 1], or if ``n_bins`` is not a
        positive integer.

    Examples
    --------
    >>> round(ece([0.9, 0.8, 0.7, 0.6], [1, 1, 0, 1]), 6)
    0.35
    """
    n_bins = check_n_bins(n_bins)
    conf, corr = check_confidence_correct(confidence, correct)
    check_unit_interval(conf, "ECE")
    return float(Ranking.from_scores(conf, corr).counts(n_bins=n_bins).ece)


def top_label_ece(probs, labels, n_bins: int = 15) -> float:
    """Top-label ECE: binned ECE of the maximum class probability against correctness.

    The confidence is max_c p_c and a prediction is correct when argmax_c p_c equals the
    label (Guo et al. 2017); see :func:`ece` for the binning.

    Parameters
    ----------
    probs : array-like of shape (n_samples, n_classes)
        Predicted class probabilities (rows sum to 1).
    labels : array-like of shape (n_samples,)
        True class indices in [0, n_classes).
    n_bins : int, default 15
        Number of equal-width bins.

    Returns
    -------
    float
        ECE in [0, 1]; lower is better.

    Raises
    ------
    ValueError
        If ``probs`` is not a finite probability matrix, labels are out of range, or
        ``n_bins`` is not a positive integer.

    Examples
    --------
    >>> probs = [[0.9, 0.1], [0.2, 0.8], [0.6, 0.4], [0.3, 0.7]]
    >>> round(top_label_ece(probs, [0, 1, 1, 1]), 6)
    0.3
    """
    n_bins = check_n_bins(n_bins)
    p, y = check_probs_labels(probs, labels)
    pred = p.argmax(axis=1)
    conf = p[np.arange(p.shape[0]), pred]
    return ece(conf, pred == y, n_bins=n_bins)


def mce(confidence, correct, n_bins: int = 15) -> float:
    """Maximum calibration error: the largest |acc_b - conf_b| over non-empty bins.

    Same equal-width bins as :func:`ece` (Naeini et al. 2015). FD-Shifts' ``mce``
    (``fd_shifts/analysis/metrics.py``) differs in three ways, none kept here: its bin
    edges are k (1 + 1e-8) / B, so a score exactly on an edge k/B falls one bin lower; it
    clips confidences into [0, 1] silently (here an error names the first bad value); and
    it reads ``correct`` through ``label_binarize`` with the classes present, so a set in
    which every prediction is correct is scored as if every one were wrong (its MCE and
    ECE become the mean confidence instead of 1 - mean confidence).

    Parameters
    ----------
    confidence : array-like of shape (n_samples,)
        Confidence scores in [0, 1], read as the probability of being correct.
    correct : array-like of shape (n_samples,)
        1 (or True) where the prediction was right, 0 where it failed.
    n_bins : int, default 15
        Number of equal-width bins.

    Returns
    -------
    float
        MCE in [0, 1]; lower is better. It rests on the single worst bin, so small bins
        make it noisy.

    Raises
    ------
    ValueError
        On invalid inputs, if a confidence lies outside [0, 1], or if ``n_bins`` is not a
        positive integer.

    Examples
    --------
    >>> round(mce([0.9, 0.8, 0.7, 0.6], [1, 1, 0, 1]), 6)
    0.7
    """
    n_bins = check_n_bins(n_bins)
    conf, corr = check_confidence_correct(confidence, correct)
    check_unit_interval(conf, "MCE")
    bins = np.minimum((conf * n_bins).astype(np.int64), n_bins - 1)
    count = np.bincount(bins, minlength=n_bins)
    gap = np.abs(
        np.bincount(bins, weights=conf, minlength=n_bins)
        - np.bincount(bins, weights=corr.astype(np.float64), minlength=n_bins)
    )
    filled = count > 0
    return float(np.max(gap[filled] / count[filled]))


#: FD-Shifts' offset inside the logarithms of fail-NLL.
FAIL_NLL_EPS = 1e-7


def fail_nll(confidence, correct, eps: float = FAIL_NLL_EPS) -> float:
    """Failure NLL: the binary cross-entropy of the confidence as a prediction of correctness.

    fail-NLL = -mean(y log(c + eps) + (1 - y) log(1 - c + eps)) with y the correctness and
    c the confidence: FD-Shifts' ``fail-NLL`` (``fd_shifts/analysis/metrics.py``) with its
    eps = 1e-7, which bounds the penalty of a confidence of exactly 0 or 1 at about 16.1.
    Unlike FD-Shifts, confidences outside [0, 1] are an error (there the logarithm of a
    negative number would give NaN).

    Parameters
    ----------
    confidence : array-like of shape (n_samples,)
        Confidence scores in [0, 1], read as the probability of being correct.
    correct : array-like of shape (n_samples,)
        1 (or True) where the prediction was right, 0 where it failed.
    eps : float, default 1e-7
        Offset added inside both logarithms; 0 gives the exact cross-entropy (infinite for
        a confidence of 1 on a failure).

    Returns
    -------
    float
        fail-NLL >= 0 (up to eps); lower is better.

    Raises
    ------
    ValueError
        On invalid inputs, if a confidence lies outside [0, 1] or eps is negative.

    Examples
    --------
    >>> round(fail_nll([0.9, 0.8, 0.7, 0.6], [1, 1, 0, 1]), 6)
    0.510825
    """
    eps = float(eps)
    if not eps >= 0:
        raise ValueError(f"eps must be a non-negative number, got {eps!r}")
    conf, corr = check_confidence_correct(confidence, correct)
    check_unit_interval(conf, "fail-NLL")
    with np.errstate(divide="ignore"):
        loss = np.where(corr, np.log(conf + eps), np.log(1.0 - conf + eps))
    return float(-np.mean(loss))

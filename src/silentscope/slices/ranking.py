"""Target validation shared by the slicers, and ranking of slices by error concentration."""

from __future__ import annotations

import numpy as np
import pandas as pd

from silentscope.metrics.statistics import wilson_interval


def check_slicer_targets(
    n_samples: int, y, y_proba, gamma: float, gamma_hat: float, n_classes: int | None = None
):
    """Validate labels and predicted probabilities for a slicer.

    Parameters
    ----------
    n_samples : int
    y : array-like of int, shape (N,), or None
    y_proba : array-like, shape (N, C), or None
    gamma, gamma_hat : float
        Weights of the label and prediction terms; a positive weight makes its input required.
    n_classes : int, optional
        Known number of classes (from fitting).

    Returns
    -------
    (y_onehot, proba) : tuple of ndarray or None
    errors : ndarray of bool, shape (N,), or None
        ``argmax(y_proba) != y`` when both are given.

    Examples
    --------
    >>> (onehot, proba), errors = check_slicer_targets(2, [0, 1], [[0.8, 0.2], [0.6, 0.4]], 1, 1)
    >>> errors.tolist()
    [False, True]
    """
    if gamma > 0 and y is None:
        raise ValueError(
            "this slicer weighs the labels (gamma > 0) and needs y; pass the true labels"
        )
    if gamma_hat > 0 and y_proba is None:
        raise ValueError("this slicer weighs the predictions (gamma_hat > 0) and needs y_proba")
    proba = None
    if y_proba is not None:
        proba = np.asarray(y_proba, dtype=np.float64)
        if proba.ndim != 2 or proba.shape[0] != n_samples or proba.shape[1] < 2:
            raise ValueError(
                f"y_proba must have shape ({n_samples}, C) with C >= 2, got {proba.shape}"
            )
        if (
            not np.isfinite(proba).all()
            or (proba < 0).any()
            or not np.allclose(proba.sum(axis=1), 1, atol=1e-3)
        ):
            raise ValueError(
                "y_proba must hold probabilities with rows summing to 1; pass softmax(logits)"
            )
        if n_classes is not None and proba.shape[1] != n_classes:
            raise ValueError(
                f"y_proba has {proba.shape[1]} classes but the slicer was fitted with {n_classes}"
            )
        n_classes = proba.shape[1]
    onehot = None
    if y is not None:
        labels = np.asarray(y)
        if labels.shape != (n_samples,) or not np.issubdtype(labels.dtype, np.integer):
            raise ValueError(
                f"y must be {n_samples} integer class labels, got shape {labels.shape} of {labels.dtype}"
            )
        if (labels < 0).any():
            raise ValueError("y must hold class indices >= 0")
        width = n_classes if n_classes is not None else int(labels.max()) + 1
        if (labels >= width).any():
            raise ValueError(f"y has class index {int(labels.max())} but there are {width} classes")
        onehot = np.zeros((n_samples, width))
        onehot[np.arange(n_samples), labels] = 1.0
    errors = None
    if onehot is not None and proba is not None:
        errors = proba.argmax(axis=1) != np.asarray(y)
    return (onehot, proba), errors


def rank_slices(membership, errors, min_support: int = 1, confidence: float = 0.95) -> pd.DataFrame:
    """Slices ordered by error concentration: the Wilson lower bound of their error rate.

    The lower bound ranks a slice of 40 samples with 50% errors above one of 3 samples
    with 67%: it rewards rates that are both high and well supported.

    Parameters
    ----------
    membership : array-like of bool, shape (N, K)
    errors : array-like of bool, shape (N,)
    min_support : int, default=1
        Slices with fewer members are listed last with ``supported = False``.
    confidence : float, default=0.95

    Returns
    -------
    DataFrame
        One row per slice: ``slice``, ``size``, ``errors``, ``error_rate``, ``ci_low``,
        ``ci_high``, ``supported``; best first.

    Examples
    --------
    >>> membership = np.array([[1, 0], [1, 0], [0, 1], [0, 1]], bool)
    >>> rank_slices(membership, np.array([0, 0, 1, 1], bool))["slice"].tolist()
    [1, 0]
    """
    membership = np.asarray(membership, dtype=bool)
    errors = np.asarray(errors, dtype=bool)
    if membership.ndim != 2 or membership.shape[0] != errors.shape[0]:
        raise ValueError(
            f"membership must be (N, K) with N = {errors.shape[0]}, got {membership.shape}"
        )
    size = membership.sum(axis=0)
    n_errors = membership[errors].sum(axis=0) if errors.any() else np.zeros_like(size)
    low, high = wilson_interval(n_errors, size, confidence, allow_empty=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        rate = n_errors / size
    frame = pd.DataFrame(
        {
            "slice": np.arange(membership.shape[1]),
            "size": size,
            "errors": n_errors,
            "error_rate": rate,
            "ci_low": low,
            "ci_high": high,
            "supported": size >= min_support,
        }
    )
    frame = frame.sort_values(
        ["supported", "ci_low", "size"], ascending=[False, False, False], kind="stable"
    )
    return frame.reset_index(drop=True)


__all__ = ["check_slicer_targets", "rank_slices"]

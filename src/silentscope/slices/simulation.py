"""Simulated classifier outputs with planted failures, for testing slice discovery on real data.

When no trained classifier is at hand, real samples (real metadata, reports, images) can
be given simulated predictions whose errors concentrate where a failure is planted.
Every benchmark that uses this says so: it measures whether a slicer *recovers* a
planted failure, not how a particular network fails.
"""

from __future__ import annotations

import numpy as np


def simulate_logits(
    labels, n_classes: int, error_prob, random_state=0, confidence=(0.6, 0.98)
) -> np.ndarray:
    """Logits of a simulated classifier that errs on sample ``i`` with probability ``error_prob[i]``.

    Right or wrong, the predicted class gets a probability drawn uniformly from
    ``confidence`` (so errors are confident: silent failures), the rest is spread evenly
    over the other classes; a wrong prediction picks another class uniformly.

    Parameters
    ----------
    labels : array-like of int, shape (N,)
    n_classes : int
    error_prob : float or array-like of float, shape (N,)
    random_state : int or Generator, default=0
    confidence : (float, float), default=(0.6, 0.98)
        Range of the predicted class's probability; must lie in (1 / n_classes, 1).

    Returns
    -------
    ndarray of shape (N, n_classes)
        Log-probabilities (valid logits).

    Examples
    --------
    >>> logits = simulate_logits([0, 1, 1, 0], 2, [0.0, 0.0, 1.0, 1.0])
    >>> logits.argmax(axis=1).tolist()
    [0, 1, 0, 1]
    """
    labels = np.asarray(labels)
    if labels.ndim != 1 or not np.issubdtype(labels.dtype, np.integer):
        raise ValueError("labels must be a 1-D array of class indices")
    if int(n_classes) < 2 or labels.min() < 0 or labels.max() >= n_classes:
        raise ValueError(f"labels must lie in [0, {n_classes}) with n_classes >= 2")
    error_prob = np.broadcast_to(np.asarray(error_prob, dtype=np.float64), labels.shape)
    if ((error_prob < 0) | (error_prob > 1)).any():
        raise ValueError("error_prob must lie in [0, 1]")
    low, high = confidence
    if not 1.0 / n_classes < low <= high < 1:
        raise ValueError(f"confidence must satisfy 1/n_classes < low <= high < 1, got {confidence}")
    rng = np.random.default_rng(random_state)
    n = len(labels)
    wrong = rng.random(n) < error_prob
    shift = rng.integers(1, n_classes, n)
    predicted = np.where(wrong, (labels + shift) % n_classes, labels)
    top = rng.uniform(low, high, n)
    proba = np.repeat(((1 - top) / (n_classes - 1))[:, None], n_classes, axis=1)
    proba[np.arange(n), predicted] = top
    return np.log(proba)


def flip_labels(labels, n_classes: int, mask, rate: float, random_state=0) -> np.ndarray:
    """Labels with a fraction ``rate`` of the ``mask`` samples flipped to another class (label noise).

    Examples
    --------
    >>> flip_labels([0, 0, 0, 0], 2, [1, 1, 0, 0], 1.0).tolist()
    [1, 1, 0, 0]
    """
    labels = np.asarray(labels).copy()
    mask = np.asarray(mask, dtype=bool)
    if mask.shape != labels.shape:
        raise ValueError("mask must have one entry per label")
    if not 0 <= rate <= 1:
        raise ValueError(f"rate must lie in [0, 1], got {rate}")
    rng = np.random.default_rng(random_state)
    flip = mask & (rng.random(len(labels)) < rate)
    labels[flip] = (labels[flip] + rng.integers(1, n_classes, int(flip.sum()))) % n_classes
    return labels


__all__ = ["flip_labels", "simulate_logits"]

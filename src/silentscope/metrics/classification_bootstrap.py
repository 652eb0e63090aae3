"""Vectorised bootstrap intervals for the classification metrics (accuracy, NLL, Brier, ...).

Every classification metric of the registry is a weighted sum of per-sample terms, once
the samples are grouped by class (balanced accuracy) or by confidence bin (top-label ECE).
A bootstrap resample is a vector of draw counts, so a chunk of resamples is a
(resamples x samples) count matrix and all metrics of the chunk follow from one matrix
product with the dense (samples x 3) terms and, for the per-bin and per-class terms (one
non-zero per sample), weighted bincounts. The resamples are the index vectors
``default_rng(seed).integers(0, n, n)`` drawn one after the other, the draws of the plain
loop that calls each metric function per resample; the two agree to rounding (tested).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ._validation import check_probs_labels
from .bootstrap import BootstrapResult, _summarise
from .calibration import check_n_bins
from .registry import METRICS

#: Classification metrics this module resamples.
CLASSIFICATION_BOOTSTRAP_METRICS = (
    "accuracy",
    "balanced_accuracy",
    "nll",
    "brier",
    "top_label_ece",
)

# Resamples per matrix product: at most 128, and at most ~64 MB of float64 counts (at 128
# resamples a 5 x 10^5-sample test set took 512 MB, most of evaluate's peak memory).
_CHUNK = 128
_CHUNK_CELLS = 1 << 23


class _Terms:
    """Per-sample terms of every metric; a metric is a function of weighted column sums."""

    def __init__(self, probs: np.ndarray, labels: np.ndarray, n_bins: int):
        n, n_classes = probs.shape
        pred = probs.argmax(axis=1)
        hit = (pred == labels).astype(np.float64)
        top = probs[np.arange(n), pred]
        true_p = np.maximum(probs[np.arange(n), labels], np.finfo(np.float64).eps)
        # The bin rule of silentscope.metrics.calibration.ece: min(floor(B c), B - 1).
        bins = np.clip(np.floor(top * n_bins), 0, n_bins - 1).astype(np.int64)
        self.n, self.n_classes, self.n_bins = n, n_classes, n_bins
        # Dense columns: hit, NLL term, Brier term. The per-bin gaps and per-class hits and
        # counts have one non-zero per sample, so they are summed by bincount instead of
        # being stored as (n x (n_bins + 2 n_classes)) mostly-zero columns (150 MB at
        # 5 x 10^5 samples).
        residual = probs.copy()
        residual[np.arange(n), labels] -= 1.0
        self.dense = np.column_stack([hit, -np.log(true_p), np.sum(residual**2, axis=1)])
        del residual
        self.hit, self.bins, self.labels = hit, bins, labels
        self.gap = top - hit

    def sums(self, counts: np.ndarray) -> np.ndarray:
        """Weighted column sums, one row per weighting (row of ``counts``)."""
        b, c = self.n_bins, self.n_classes
        out = np.empty((counts.shape[0], 3 + b + 2 * c))
        out[:, :3] = counts @ self.dense
        for row, weight in enumerate(counts):
            out[row, 3 : 3 + b] = np.bincount(self.bins, weights=weight * self.gap, minlength=b)
            out[row, 3 + b : 3 + b + c] = np.bincount(
                self.labels, weights=weight * self.hit, minlength=c
            )
            out[row, 3 + b + c :] = np.bincount(self.labels, weights=weight, minlength=c)
        return out

    def values(self, sums: np.ndarray) -> dict[str, np.ndarray]:
        """Metric values from weighted column sums (one row per weighting, weights sum to n)."""
        b, c = self.n_bins, self.n_classes
        gap = sums[:, 3 : 3 + b]
        hits = sums[:, 3 + b : 3 + b + c]
        sizes = sums[:, 3 + b + c :]
        present = sizes > 0
        recall = np.divide(hits, sizes, out=np.zeros_like(hits), where=present)
        return {
            "accuracy": sums[:, 0] / self.n,
            "nll": sums[:, 1] / self.n,
            "brier": sums[:, 2] / self.n,
            "top_label_ece": np.abs(gap).sum(axis=1) / self.n,
            "balanced_accuracy": recall.sum(axis=1) / present.sum(axis=1),
        }


def classification_bootstrap_ci(
    probs,
    labels,
    metrics: str | Sequence[str] = CLASSIFICATION_BOOTSTRAP_METRICS,
    *,
    n_resamples: int = 1000,
    confidence_level: float = 0.95,
    random_state: int = 0,
    n_bins: int = 15,
) -> dict[str, BootstrapResult]:
    """Percentile bootstrap intervals of classification metrics, vectorised over resamples.

    Parameters
    ----------
    probs : array-like of shape (n_samples, n_classes)
        Predicted class probabilities.
    labels : array-like of shape (n_samples,)
        True class indices.
    metrics : str or sequence of str
        Names from :data:`CLASSIFICATION_BOOTSTRAP_METRICS`.
    n_resamples : int, default 1000
    confidence_level : float, default 0.95
    random_state : int, default 0
        Seed of ``numpy.random.default_rng``; resample i is its i-th ``integers(0, n, n)``.
    n_bins : int, default 15
        Bins of the top-label ECE.

    Returns
    -------
    dict of str to BootstrapResult
        Estimates equal the metric functions of :mod:`silentscope.metrics` on all samples.

    Raises
    ------
    ValueError
        On invalid probabilities or labels, unknown metric names or options.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> labels = rng.integers(0, 3, 300)
    >>> probs = rng.dirichlet(np.ones(3), 300)
    >>> ci = classification_bootstrap_ci(probs, labels, ["accuracy"], n_resamples=200)
    >>> r = ci["accuracy"]
    >>> bool(r.low <= r.estimate <= r.high), r.n_resamples
    (True, 200)
    """
    p, y = check_probs_labels(probs, labels)
    names = [metrics] if isinstance(metrics, str) else list(metrics)
    unknown = [m for m in names if m not in CLASSIFICATION_BOOTSTRAP_METRICS]
    if unknown:
        raise ValueError(
            f"metric {unknown[0]!r} is not a resampled classification metric; choose from "
            f"{', '.join(CLASSIFICATION_BOOTSTRAP_METRICS)}"
        )
    if (
        isinstance(n_resamples, bool)
        or not isinstance(n_resamples, int | np.integer)
        or n_resamples < 1
    ):
        raise ValueError(f"n_resamples must be a positive integer, got {n_resamples!r}")
    if not 0 < confidence_level < 1:
        raise ValueError(f"confidence_level must lie in (0, 1), got {confidence_level}")
    terms = _Terms(p, y, check_n_bins(n_bins))
    estimates = {m: float(METRICS[m].function(p, y)) for m in names}
    rng = np.random.default_rng(random_state)
    n = terms.n
    samples = {m: np.empty(int(n_resamples)) for m in names}
    chunk = max(1, min(_CHUNK, _CHUNK_CELLS // n))
    for start in range(0, int(n_resamples), chunk):
        stop = min(start + chunk, int(n_resamples))
        counts = np.empty((stop - start, n))
        for i in range(stop - start):
            counts[i] = np.bincount(rng.integers(0, n, size=n), minlength=n)
        values = terms.values(terms.sums(counts))
        for m in names:
            samples[m][start:stop] = values[m]
    return {m: _summarise(estimates[m], samples[m], confidence_level) for m in names}

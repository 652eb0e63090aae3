"""Stability of slices across seeds and bootstrap resamples, matched by Hungarian assignment.

A slice that exists only for one random seed is an artefact of the fit, not a property
of the classifier (the instability of Domino-style mixtures under noisy labels is a
weakness that Liu, Bhatia and Fetit 2026 report). Each reference slice is matched to one
slice of every refit by maximising the total Jaccard overlap of memberships (Hungarian
algorithm, :func:`scipy.optimize.linear_sum_assignment`); its stability is the mean
matched Jaccard index, from 0 (never found again) to 1 (always the same samples).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.optimize import linear_sum_assignment
from sklearn.base import clone


def jaccard_matrix(a, b) -> np.ndarray:
    """Jaccard index between every column of ``a`` and every column of ``b``.

    Parameters
    ----------
    a : array-like of bool, shape (N, K1)
    b : array-like of bool, shape (N, K2)

    Returns
    -------
    ndarray of shape (K1, K2), in [0, 1]; 0 where both columns are empty.

    Examples
    --------
    >>> a = np.array([[1, 0], [1, 0], [0, 1]], bool)
    >>> jaccard_matrix(a, a[:, ::-1]).tolist()
    [[0.0, 1.0], [1.0, 0.0]]
    """
    a = np.asarray(a, dtype=bool)
    b = np.asarray(b, dtype=bool)
    if a.ndim != 2 or b.ndim != 2 or a.shape[0] != b.shape[0]:
        raise ValueError(f"memberships must be (N, K) with the same N, got {a.shape} and {b.shape}")
    inter = a.T.astype(np.float32) @ b.astype(np.float32)
    union = a.sum(axis=0)[:, None] + b.sum(axis=0)[None, :] - inter
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(union > 0, inter / union, 0.0).astype(np.float64)


def match_slices(reference, other) -> np.ndarray:
    """Best one-to-one match of ``other``'s slices to each reference slice.

    Returns
    -------
    ndarray of float, shape (K_ref,)
        Matched Jaccard index per reference slice (0 where no slice is left to match).

    Examples
    --------
    >>> a = np.array([[1, 0], [1, 0], [0, 1]], bool)
    >>> match_slices(a, a[:, ::-1]).tolist()
    [1.0, 1.0]
    """
    scores = jaccard_matrix(reference, other)
    rows, cols = linear_sum_assignment(scores, maximize=True)
    matched = np.zeros(scores.shape[0])
    matched[rows] = scores[rows, cols]
    return matched


@dataclass
class StabilityResult:
    """Matched Jaccard indices of each reference slice.

    Attributes
    ----------
    seeds : ndarray, shape (K, n_seeds - 1)
        Against refits with other seeds on the same samples.
    resamples : ndarray, shape (K, n_resamples)
        Against refits on bootstrap resamples (evaluated on the original samples).
    """

    seeds: np.ndarray
    resamples: np.ndarray

    @property
    def seed_stability(self) -> np.ndarray:
        """Mean matched Jaccard across seeds per slice (NaN with a single seed)."""
        return _row_mean(self.seeds)

    @property
    def resample_stability(self) -> np.ndarray:
        """Mean matched Jaccard across bootstrap resamples per slice (NaN without resamples)."""
        return _row_mean(self.resamples)


def _row_mean(values: np.ndarray) -> np.ndarray:
    if values.shape[1] == 0:
        return np.full(values.shape[0], np.nan)
    return values.mean(axis=1)


def slice_stability(
    slicer,
    X,
    y,
    y_proba,
    reference,
    n_seeds: int = 5,
    n_resamples: int = 0,
    random_state=0,
    use_predictions=True,
) -> StabilityResult:
    """Refit a slicer with other seeds and on bootstrap resamples; match to the reference.

    Parameters
    ----------
    slicer : estimator
        An unfitted (or fitted: it is cloned) slicer from :data:`~silentscope.slices.SLICERS`.
    X, y, y_proba : arrays
        The data the reference was fitted on.
    reference : array-like of bool, shape (N, K)
        Membership of the reference fit on ``X``.
    n_seeds : int, default=5
        Total seeds including the reference's: ``n_seeds - 1`` refits.
    n_resamples : int, default=0
        Bootstrap refits (seeded from ``random_state``).
    random_state : int, default=0
        Seed of the reference fit; refits use ``random_state + 1, ...``.
    use_predictions : bool, default=True
        Compute refit memberships with ``y_proba`` (else from the representation and ``y``).

    Returns
    -------
    StabilityResult

    Examples
    --------
    >>> from silentscope.slices.mixture import ErrorAwareMixture
    >>> rng = np.random.default_rng(0)
    >>> X = np.vstack([rng.normal(0, 1, (60, 2)), rng.normal(8, 1, (60, 2))])
    >>> y, proba = np.zeros(120, int), np.full((120, 2), 0.5) + [0.1, -0.1]
    >>> slicer = ErrorAwareMixture(2, random_state=0).fit(X, y, proba)
    >>> result = slice_stability(slicer, X, y, proba, slicer.predict_membership(X, y, proba), n_seeds=3)
    >>> result.seed_stability.round(2).tolist()
    [1.0, 1.0]
    """
    if int(n_seeds) < 1 or int(n_resamples) < 0:
        raise ValueError("n_seeds must be >= 1 and n_resamples >= 0")
    reference = np.asarray(reference, dtype=bool)
    X, y, y_proba = np.asarray(X), np.asarray(y), np.asarray(y_proba)
    base = int(random_state) if random_state is not None else 0
    targets = (y, y_proba) if use_predictions else (y, None)
    seeds = []
    for offset in range(1, int(n_seeds)):
        refit = clone(slicer).set_params(random_state=base + offset).fit(X, y, y_proba)
        seeds.append(match_slices(reference, refit.predict_membership(X, *targets)))
    rng = np.random.default_rng(base)
    resamples = []
    for _ in range(int(n_resamples)):
        rows = rng.integers(0, len(X), len(X))
        refit = clone(slicer).set_params(random_state=base).fit(X[rows], y[rows], y_proba[rows])
        resamples.append(match_slices(reference, refit.predict_membership(X, *targets)))
    k = reference.shape[1]
    return StabilityResult(_columns(seeds, k), _columns(resamples, k))


def _columns(columns: list[np.ndarray], k: int) -> np.ndarray:
    return np.column_stack(columns) if columns else np.zeros((k, 0))


__all__ = ["StabilityResult", "jaccard_matrix", "match_slices", "slice_stability"]

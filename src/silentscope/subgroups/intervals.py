"""Confidence intervals for error rates and odds ratios of 2 x 2 tables."""

from __future__ import annotations

import numpy as np
from scipy import stats


def wilson_interval(errors, n, confidence: float = 0.95) -> tuple[np.ndarray, np.ndarray]:
    """Wilson score interval for a binomial proportion (an error rate).

    With :math:`\\hat p = k / n` and :math:`z` the normal quantile,

    .. math:: \\frac{\\hat p + z^2/2n \\pm z \\sqrt{\\hat p (1 - \\hat p)/n + z^2/4n^2}}{1 + z^2/n}

    (Wilson, JASA 1927). Unlike the Wald interval it stays inside [0, 1] and keeps close to
    its nominal coverage for small groups and rates near 0 or 1.

    Parameters
    ----------
    errors : int or array of int
        Number of errors ``k`` (0 <= k <= n).
    n : int or array of int
        Group sizes (> 0).
    confidence : float, default 0.95
        Two-sided confidence level in (0, 1).

    Returns
    -------
    low, high : arrays of float
        Interval bounds in [0, 1], shaped like the broadcast inputs.

    Raises
    ------
    ValueError
        If a group is empty, a count is out of range or ``confidence`` is not in (0, 1).

    Examples
    --------
    >>> low, high = wilson_interval(0, 10)
    >>> round(float(low), 3), round(float(high), 3)
    (0.0, 0.278)
    >>> low, high = wilson_interval([5, 50], [10, 100])
    >>> np.round(high, 3).tolist()
    [0.763, 0.596]
    """
    errors = np.asarray(errors, dtype=float)
    n = np.asarray(n, dtype=float)
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must be in (0, 1), got {confidence}")
    if np.any(n <= 0):
        raise ValueError(
            "every group needs at least one sample to have an error rate; drop empty groups first"
        )
    if np.any(errors < 0) or np.any(errors > n):
        raise ValueError("error counts must lie between 0 and the group size")
    z = stats.norm.ppf(0.5 + confidence / 2)
    p = errors / n
    denominator = 1 + z**2 / n
    centre = (p + z**2 / (2 * n)) / denominator
    half = z * np.sqrt(p * (1 - p) / n + z**2 / (4 * n**2)) / denominator
    # exact at the boundaries, where the formula leaves rounding residue of order 1e-19
    low = np.where(errors == 0, 0.0, np.clip(centre - half, 0.0, 1.0))
    high = np.where(errors == n, 1.0, np.clip(centre + half, 0.0, 1.0))
    return low, high


def odds_ratio_interval(
    a: int, b: int, c: int, d: int, confidence: float = 0.95
) -> tuple[float, float, float]:
    """Odds ratio of a 2 x 2 table with Woolf's log-normal interval.

    The table is ``[[a, b], [c, d]]`` = ``[[errors in group, correct in group], [errors in
    the rest, correct in the rest]]``, so the odds ratio :math:`ad / bc` is the odds of an
    error in the group relative to the rest. When a cell is zero, 0.5 is added to every
    cell (Haldane-Anscombe correction) so that the estimate and interval stay finite; the
    exact test of the same table is Fisher's.

    Parameters
    ----------
    a, b, c, d : int
        Non-negative cell counts.
    confidence : float, default 0.95

    Returns
    -------
    odds_ratio, low, high : float
        Point estimate and interval; 1 means no association.

    Examples
    --------
    >>> [round(v, 2) for v in odds_ratio_interval(20, 80, 10, 90)]
    [2.25, 0.99, 5.09]
    >>> [round(v, 2) for v in odds_ratio_interval(0, 30, 10, 90)]
    [0.14, 0.01, 2.48]
    """
    cells = np.array([a, b, c, d], dtype=float)
    if np.any(cells < 0):
        raise ValueError("2 x 2 table counts must be non-negative")
    if np.any(cells == 0):
        cells = cells + 0.5
    a_, b_, c_, d_ = cells
    log_or = np.log(a_ * d_ / (b_ * c_))
    se = np.sqrt(np.sum(1.0 / cells))
    z = stats.norm.ppf(0.5 + confidence / 2)
    return float(np.exp(log_or)), float(np.exp(log_or - z * se)), float(np.exp(log_or + z * se))

"""Confidence intervals for odds ratios of 2 x 2 tables.

The Wilson interval of an error rate, shared with slice discovery, is in
:mod:`silentscope.metrics.statistics`.
"""

from __future__ import annotations

import numpy as np
from scipy import stats


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

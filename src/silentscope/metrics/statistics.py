"""Statistics that guard the analyses' claims: Wilson intervals of error rates and BH FDR.

Slice discovery and subgroup analysis both report an error rate with its interval and
control the false discovery rate over their tests; both take these functions from here,
so that a slice and a subgroup of the same samples get the same numbers.
"""

from __future__ import annotations

import numpy as np
from scipy import stats


def wilson_interval(
    errors, n, confidence: float = 0.95, *, allow_empty: bool = False
) -> tuple[np.ndarray, np.ndarray]:
    """Wilson score interval of a binomial proportion (an error rate).

    With :math:`\\hat p = k / n` and :math:`z` the normal quantile,

    .. math:: \\frac{\\hat p + z^2/2n \\pm z \\sqrt{\\hat p (1 - \\hat p)/n + z^2/4n^2}}{1 + z^2/n}

    (Wilson, JASA 1927). Unlike the Wald interval it stays inside [0, 1] and keeps close to
    its nominal coverage for small groups and rates near 0 or 1, where the normal
    approximation fails (Brown, Cai and DasGupta, Stat Sci 2001).

    Parameters
    ----------
    errors : int or array of int
        Number of errors ``k`` (0 <= k <= n).
    n : int or array of int
        Group sizes.
    confidence : float, default 0.95
        Two-sided confidence level in (0, 1).
    allow_empty : bool, default False
        Give NaN bounds for empty groups (``n = 0``) instead of raising; for callers that
        report groups that may come out empty (e.g. a slice's share of a confirmation half).

    Returns
    -------
    low, high : arrays of float
        Interval bounds in [0, 1] (exactly 0 without errors, exactly 1 with only errors),
        shaped like the broadcast inputs.

    Raises
    ------
    ValueError
        If a group is empty (unless ``allow_empty``), a count is out of range or
        ``confidence`` is not in (0, 1).

    Examples
    --------
    >>> low, high = wilson_interval(8, 20)
    >>> round(float(low), 3), round(float(high), 3)
    (0.219, 0.613)
    >>> low, high = wilson_interval([0, 5, 50], [10, 10, 100])
    >>> np.round(low, 3).tolist(), np.round(high, 3).tolist()
    ([0.0, 0.237, 0.404], [0.278, 0.763, 0.596])
    >>> wilson_interval(0, 0, allow_empty=True)
    (array(nan), array(nan))
    """
    errors = np.asarray(errors, dtype=np.float64)
    n = np.asarray(n, dtype=np.float64)
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must be in (0, 1), got {confidence}")
    if not allow_empty and np.any(n <= 0):
        raise ValueError(
            "every group needs at least one sample to have an error rate; drop empty groups first"
        )
    if np.any(errors < 0) or np.any(errors > n):
        raise ValueError("error counts must lie between 0 and the group size")
    z = stats.norm.ppf(0.5 + confidence / 2)
    with np.errstate(invalid="ignore", divide="ignore"):
        p = errors / n
        denominator = 1 + z**2 / n
        centre = (p + z**2 / (2 * n)) / denominator
        half = z * np.sqrt(p * (1 - p) / n + z**2 / (4 * n**2)) / denominator
    # exact at the boundaries, where the formula leaves rounding residue of order 1e-19
    low = np.where(errors == 0, 0.0, np.clip(centre - half, 0.0, 1.0))
    high = np.where(errors == n, 1.0, np.clip(centre + half, 0.0, 1.0))
    empty = n == 0
    return np.where(empty, np.nan, low), np.where(empty, np.nan, high)


def benjamini_hochberg(p_values) -> np.ndarray:
    """Benjamini-Hochberg adjusted p-values (q-values) controlling the false discovery rate.

    For m tests with sorted p-values :math:`p_{(1)} \\le \\dots \\le p_{(m)}`,
    :math:`q_{(i)} = \\min_{j \\ge i} \\min(1, m\\, p_{(j)} / j)` (Benjamini & Hochberg,
    JRSS-B 1995). Rejecting every test with :math:`q \\le \\alpha` controls the FDR at
    :math:`\\alpha` for independent or positively dependent tests. NaN entries (tests not
    run) are kept as NaN and do not count towards m.

    Parameters
    ----------
    p_values : array-like of float in [0, 1] or NaN, 1-D

    Returns
    -------
    ndarray of float
        q-values, same shape as the input.

    Raises
    ------
    ValueError
        If the input is not 1-D or a p-value lies outside [0, 1].

    Examples
    --------
    >>> benjamini_hochberg([0.01, 0.04, 0.03, np.nan, 0.5]).round(3).tolist()
    [0.04, 0.053, 0.053, nan, 0.5]
    """
    p = np.asarray(p_values, dtype=np.float64)
    if p.ndim != 1:
        raise ValueError(f"p_values must be 1-D, got shape {p.shape}")
    tested = ~np.isnan(p)
    if np.any((p[tested] < 0) | (p[tested] > 1)):
        raise ValueError("p-values must lie in [0, 1]")
    q = np.full_like(p, np.nan)
    m = int(tested.sum())
    if m == 0:
        return q
    values = p[tested]
    order = np.argsort(values, kind="stable")
    scaled = values[order] * m / np.arange(1, m + 1)
    adjusted = np.minimum(1.0, np.minimum.accumulate(scaled[::-1])[::-1])
    result = np.empty(m)
    result[order] = adjusted
    q[tested] = result
    return q


__all__ = ["benjamini_hochberg", "wilson_interval"]

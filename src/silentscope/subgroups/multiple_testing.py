"""False-discovery-rate control across every test an analysis reports."""

from __future__ import annotations

import numpy as np


def benjamini_hochberg(p_values) -> np.ndarray:
    """Benjamini-Hochberg adjusted p-values (q-values) controlling the false discovery rate.

    For m tests with sorted p-values :math:`p_{(1)} \\le \\dots \\le p_{(m)}`,
    :math:`q_{(i)} = \\min_{j \\ge i} \\min(1, m\\, p_{(j)} / j)` (Benjamini & Hochberg,
    JRSS-B 1995). Rejecting every test with :math:`q \\le \\alpha` controls the FDR at
    :math:`\\alpha` for independent or positively dependent tests. NaN entries (tests not
    run) are kept as NaN and do not count towards m.

    Parameters
    ----------
    p_values : array-like of float in [0, 1] or NaN

    Returns
    -------
    ndarray of float
        q-values, same shape as the input.

    Raises
    ------
    ValueError
        If a p-value lies outside [0, 1].

    Examples
    --------
    >>> benjamini_hochberg([0.01, 0.04, 0.03, np.nan, 0.5]).round(3).tolist()
    [0.04, 0.053, 0.053, nan, 0.5]
    """
    p = np.asarray(p_values, dtype=float)
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

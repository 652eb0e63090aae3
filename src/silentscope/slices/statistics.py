"""Statistics that guard slice claims: Wilson intervals, one-sided tests, BH FDR control."""

from __future__ import annotations

import numpy as np
from scipy import stats


def wilson_interval(errors, n, confidence: float = 0.95) -> tuple[np.ndarray, np.ndarray]:
    """Wilson score interval of a binomial proportion (Wilson 1927).

    ``(p + z^2/2n +- z sqrt(p(1-p)/n + z^2/4n^2)) / (1 + z^2/n)`` with ``p = errors / n``.
    It keeps its coverage for small slices and rates near 0 or 1, where the normal
    approximation fails (Brown, Cai and DasGupta, Stat Sci 2001).

    Parameters
    ----------
    errors, n : array-like of int
        Error counts and sample counts (``0 <= errors <= n``); ``n = 0`` gives NaN.
    confidence : float, default=0.95

    Returns
    -------
    low, high : ndarray of float, in [0, 1]

    Examples
    --------
    >>> low, high = wilson_interval(8, 20)
    >>> round(float(low), 3), round(float(high), 3)
    (0.219, 0.613)
    """
    errors = np.asarray(errors, dtype=np.float64)
    n = np.asarray(n, dtype=np.float64)
    if (errors < 0).any() or (errors > n).any():
        raise ValueError("error counts must lie between 0 and the sample count")
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must be in (0, 1), got {confidence}")
    z = stats.norm.ppf(0.5 + confidence / 2)
    with np.errstate(invalid="ignore", divide="ignore"):
        p = errors / n
        denominator = 1 + z**2 / n
        centre = (p + z**2 / (2 * n)) / denominator
        half = z * np.sqrt(p * (1 - p) / n + z**2 / (4 * n**2)) / denominator
    return np.clip(centre - half, 0, 1), np.clip(centre + half, 0, 1)


def excess_error_pvalue(errors_in: int, n_in: int, errors_out: int, n_out: int) -> float:
    """One-sided Fisher exact test that a slice's error rate exceeds its complement's.

    Returns
    -------
    float
        p-value in [0, 1]; NaN when either group is empty.

    Examples
    --------
    >>> excess_error_pvalue(15, 30, 50, 500) < 1e-5
    True
    """
    if n_in <= 0 or n_out <= 0:
        return float("nan")
    table = [[errors_in, n_in - errors_in], [errors_out, n_out - errors_out]]
    return float(stats.fisher_exact(table, alternative="greater").pvalue)


def benjamini_hochberg(pvalues) -> np.ndarray:
    """Benjamini-Hochberg adjusted p-values (q-values); NaN entries stay NaN and are not counted.

    Rejecting where ``q <= alpha`` controls the false discovery rate at ``alpha`` for
    independent or positively dependent tests (Benjamini and Hochberg, JRSS B 1995).

    Examples
    --------
    >>> benjamini_hochberg([0.01, 0.04, 0.03, np.nan]).round(3).tolist()
    [0.03, 0.04, 0.04, nan]
    """
    p = np.asarray(pvalues, dtype=np.float64)
    if p.ndim != 1:
        raise ValueError(f"pvalues must be 1-D, got shape {p.shape}")
    valid = ~np.isnan(p)
    if ((p[valid] < 0) | (p[valid] > 1)).any():
        raise ValueError("p-values must lie in [0, 1]")
    q = np.full_like(p, np.nan)
    m = int(valid.sum())
    if m == 0:
        return q
    values = p[valid]
    order = np.argsort(values)
    scaled = values[order] * m / np.arange(1, m + 1)
    adjusted = np.minimum.accumulate(scaled[::-1])[::-1]
    result = np.empty(m)
    result[order] = np.minimum(adjusted, 1.0)
    q[valid] = result
    return q


__all__ = ["benjamini_hochberg", "excess_error_pvalue", "wilson_interval"]

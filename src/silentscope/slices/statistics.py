"""The test that confirms a slice: its error rate against its complement's (one-sided).

Wilson intervals and BH FDR control, shared with subgroup analysis, are in
:mod:`silentscope.metrics.statistics`.
"""

from __future__ import annotations

from scipy import stats


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


__all__ = ["excess_error_pvalue"]

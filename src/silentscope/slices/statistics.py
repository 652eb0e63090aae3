"""The test that confirms a slice: its error rate against its complement's (one-sided).

Wilson intervals and BH FDR control, shared with subgroup analysis, are in
:mod:`silentscope.metrics.statistics`.
"""

from __future__ import annotations

import numpy as np
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


def smallest_confirmable_rate(n_in: int, errors_out: int, n_out: int, level: float) -> float:
    """The lowest error rate at which a group of ``n_in`` held-out samples passes the test.

    What a run *could* have confirmed: a slice of ``n_in`` held-out members is significant at
    ``level`` (:func:`excess_error_pvalue` against ``errors_out`` of ``n_out`` outside) only
    from this error rate up. Said beside "no slice confirmed", so that an empty result on a
    small test set is not read as "no systematic failure".

    Returns
    -------
    float
        The smallest ``k / n_in`` whose p-value is at most ``level``; NaN when even a group
        that always fails would not pass (too few samples for that level).

    Examples
    --------
    >>> smallest_confirmable_rate(20, 100, 1000, 0.05)
    0.25
    >>> smallest_confirmable_rate(2, 100, 1000, 1e-6)
    nan
    """
    if n_in <= 0 or n_out <= 0:
        return float("nan")
    if excess_error_pvalue(n_in, n_in, errors_out, n_out) > level:
        return float("nan")
    low, high = 0, n_in  # the p-value falls as errors rise: search the first k that passes
    while low < high:
        middle = (low + high) // 2
        if excess_error_pvalue(middle, n_in, errors_out, n_out) <= level:
            high = middle
        else:
            low = middle + 1
    return low / n_in


#: Held-out slice sizes at which :func:`confirmation_reach` states the confirmable error rate.
REACH_SIZES = (10, 25, 50, 100)


def confirmation_reach(
    errors, n_tested: int, alpha: float, min_support: int, n_confirmed: int = 0
) -> dict:
    """What a discovery run could confirm on its held-out split: the rate each size needs.

    Benjamini-Hochberg over ``n_tested`` candidates, ``n_confirmed`` of them confirmed,
    confirms one more only at ``p <= alpha * (n_confirmed + 1) / n_tested`` (the strongest
    alone: ``alpha / n_tested``); at that level each slice size (from :data:`REACH_SIZES`,
    at least ``min_support`` and at most half the split) needs the error rate
    :func:`smallest_confirmable_rate` gives. Row counts: a split whose units hold several
    rows confirms less than this.

    Returns
    -------
    dict
        ``n`` and ``errors`` (held-out rows and their errors), ``level``, and ``rates``:
        pairs ``[size, rate]`` (rate None when no error rate is enough).

    Examples
    --------
    >>> reach = confirmation_reach([True] * 20 + [False] * 180, 10, 0.05, 10)
    >>> reach["level"], [size for size, _ in reach["rates"]]
    (0.005, [10, 25, 50, 100])
    >>> confirmation_reach([True] * 20 + [False] * 180, 10, 0.05, 10, n_confirmed=1)["level"]
    0.01
    """
    errors = np.asarray(errors, dtype=bool)
    n, wrong = len(errors), int(errors.sum())
    level = alpha * (int(n_confirmed) + 1) / max(int(n_tested), 1)
    sizes = sorted({max(int(min_support), 1), *(s for s in REACH_SIZES if s >= min_support)})
    rates = []
    for size in (s for s in sizes if s <= n / 2):
        # the outside fails at the split's rate
        rate = smallest_confirmable_rate(size, round(wrong * (n - size) / n), n - size, level)
        rates.append([size, None if np.isnan(rate) else rate])
    return {"n": n, "errors": wrong, "level": level, "rates": rates}


__all__ = ["confirmation_reach", "excess_error_pvalue", "smallest_confirmable_rate"]

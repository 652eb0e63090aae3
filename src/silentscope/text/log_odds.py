"""Distinguishing terms of a group of reports: log-odds ratios with an informative Dirichlet prior.

Monroe, Colaresi and Quinn, "Fightin' Words: Lexical Feature Selection and Evaluation
for Identifying the Content of Political Conflict", Political Analysis 16(4), 2008,
eq. 22 and 24. For term ``w`` with counts ``y_w^a`` in group a (total ``n^a``) and
``y_w^b`` in group b, and prior pseudo-counts ``alpha_w`` (total ``alpha_0``)::

    delta_w = log((y_w^a + alpha_w) / (n^a + alpha_0 - y_w^a - alpha_w))
            - log((y_w^b + alpha_w) / (n^b + alpha_0 - y_w^b - alpha_w))
    var(delta_w) ~= 1 / (y_w^a + alpha_w) + 1 / (y_w^b + alpha_w)
    z_w = delta_w / sqrt(var(delta_w))

The informative prior is the pooled corpus frequency scaled to ``alpha_0``, which
shrinks rare terms towards zero instead of ranking them first as a raw ratio would.
By default ``alpha_0`` is the pooled corpus size (the prior counts are the pooled
counts, as in Monroe et al.'s worked example): weaker priors let the z-score of a term
that is almost absent outside the group hinge on that one outside count.
"""

from __future__ import annotations

import numpy as np


def log_odds_dirichlet(counts_a, counts_b, prior=None, prior_scale: float | None = None):
    """Log-odds ratio of each term between two groups and its z-score.

    Parameters
    ----------
    counts_a, counts_b : array-like of float, shape (V,)
        Term counts of group a (e.g. the reports of a slice) and group b (the rest).
    prior : array-like of float, shape (V,), optional
        Background counts that define the prior's shape; default ``counts_a + counts_b``.
    prior_scale : float, optional
        Total prior pseudo-count ``alpha_0``; default ``prior.sum()``.

    Returns
    -------
    delta : ndarray, shape (V,)
        Log-odds ratio; positive where the term is more frequent in group a.
    z : ndarray, shape (V,)
        Delta over its standard deviation; |z| > 1.96 is a nominal 5% difference.

    Raises
    ------
    ValueError
        If the counts differ in length, are negative or not finite, or a group is empty.

    Examples
    --------
    >>> delta, z = log_odds_dirichlet([30, 2, 10], [10, 40, 10])
    >>> bool(z[0] > 1.96), bool(z[1] < -1.96)
    (True, True)
    """
    a = np.asarray(counts_a, dtype=np.float64)
    b = np.asarray(counts_b, dtype=np.float64)
    if a.ndim != 1 or a.shape != b.shape:
        raise ValueError(
            f"counts_a and counts_b must be 1-D of one length, got {a.shape} and {b.shape}"
        )
    if len(a) < 2:
        raise ValueError("log-odds need at least two terms to compare")
    if not (np.isfinite(a).all() and np.isfinite(b).all()) or (a < 0).any() or (b < 0).any():
        raise ValueError("term counts must be finite and non-negative")
    if a.sum() <= 0 or b.sum() <= 0:
        raise ValueError("each group needs at least one term occurrence to compare log-odds")
    background = a + b if prior is None else np.asarray(prior, dtype=np.float64)
    if background.shape != a.shape or (background < 0).any() or background.sum() <= 0:
        raise ValueError("prior must be non-negative counts of the same length, not all zero")
    scale = background.sum() if prior_scale is None else float(prior_scale)
    if not scale > 0:
        raise ValueError(f"prior_scale must be positive, got {prior_scale}")
    alpha = scale * background / background.sum()
    # a term absent from the background still needs a (tiny) prior count
    alpha = np.maximum(alpha, 1e-12 * scale)
    alpha0 = alpha.sum()
    n_a, n_b = a.sum(), b.sum()
    delta = np.log((a + alpha) / (n_a + alpha0 - a - alpha)) - np.log(
        (b + alpha) / (n_b + alpha0 - b - alpha)
    )
    variance = 1.0 / (a + alpha) + 1.0 / (b + alpha)
    return delta, delta / np.sqrt(variance)


__all__ = ["log_odds_dirichlet"]

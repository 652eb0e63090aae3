"""How strong the evidence must be when a slice is narrowed by the best of many conditions.

Narrowing (:func:`~silentscope.slices.consolidate.narrow`) picks, on the fitting split,
the condition whose members of a slice fail most, and asks whether they fail more than
the rest of the slice. Picking the best of hundreds of conditions and testing it as if it
were the only one would narrow slices by chance. A weighted Bonferroni level (``alpha``
shared by the families of conditions, then by each family's conditions) keeps the chance
of any false narrowing under ``alpha``, but it counts the eighteen cuts of one measure
(``age > 52``, ``age > 58``, ...), which select nearly the same samples, as eighteen
independent chances, and a slice of 60 fitting members is then rarely narrowed to the
women in it.

:func:`min_p_adjusted` measures the chance instead, by the single-step min-p procedure of
Westfall and Young (1993, *Resampling-Based Multiple Testing*, algorithm 2.8): the slice's
errors are permuted among its fitting members (the null hypothesis: no part of the slice
fails more than the rest), and each permutation records the smallest weighted p-value over
every condition that could have been chosen. A condition's adjusted p-value is the share
of permutations whose smallest is at least as small as its own. The family-wise error rate
stays at most ``alpha``; the weights still keep a metadata value from being tested as one
of hundreds of report words; and cuts that select the same samples count as what they are.
Only conditions with enough members on both sides (``min_support``) could be chosen, and
that depends on the slice's members, not on its errors, so only they are counted.
"""

from __future__ import annotations

import numpy as np
from scipy import special, stats

#: Permutations of a slice's errors behind each adjusted p-value (resolution 1/1000).
N_PERMUTATIONS = 999


def family_weights(columns) -> np.ndarray:
    """Weights that sum to 1: equal for each family, then equal within it.

    A family is the metadata column a condition reads (``report`` for the report's terms).

    Examples
    --------
    >>> family_weights(["sex", "sex", "report", "report", "report", "report"]).tolist()
    [0.25, 0.25, 0.125, 0.125, 0.125, 0.125]
    """
    families = np.asarray(columns).astype(str)
    if len(families) == 0:
        return np.zeros(0)
    names, family = np.unique(families, return_inverse=True)
    return 1.0 / len(names) / np.bincount(family)[family]


def fails_more_p(wrong, members, n_wrong, n_members) -> np.ndarray:
    """One-sided Fisher p-values: do ``members`` of a group (``wrong`` of them erring) fail more
    than the rest of the group, which holds ``n_members`` samples and ``n_wrong`` errors?

    scipy's hypergeometric survival function, or for 64 p-values and more of one group the
    same tails summed from one table of every draw size's probabilities (scipy's loops over
    the p-values in Python; the two agree to 1e-9 relative, tested).

    Examples
    --------
    >>> table = [[8, 2], [3, 7]]
    >>> p = fails_more_p(np.array([8]), np.array([10]), 11, 20)[0]
    >>> bool(np.isclose(p, stats.fisher_exact(table, alternative="greater").pvalue))
    True
    """
    wrong, members = np.asarray(wrong), np.asarray(members)
    if np.ndim(n_wrong) or np.ndim(n_members) or wrong.size < _SUMMED_FROM:
        return stats.hypergeom.sf(wrong - 1, n_members, n_wrong, members)
    return _upper_tails(wrong, members, int(n_wrong), int(n_members))


#: Number of p-values from which :func:`_upper_tails` sums the tails itself (scipy's
#: hypergeometric survival function loops over the p-values in Python: 3 s of the min-p
#: correction at 100,000 samples).
_SUMMED_FROM = 64


def _upper_tails(wrong, members, n_wrong: int, n_members: int) -> np.ndarray:
    """P(X >= wrong) for X hypergeometric (``members`` drawn of ``n_members`` holding
    ``n_wrong``): every distinct draw's probabilities in one array, summed from the top."""
    shape = np.broadcast_shapes(wrong.shape, members.shape)
    wrong = np.broadcast_to(wrong, shape).ravel().astype(np.int64)
    members = np.broadcast_to(members, shape).ravel().astype(np.int64)
    sizes, inverse = np.unique(members, return_inverse=True)
    x = np.arange(n_wrong + 1)
    tails = np.empty((len(sizes), n_wrong + 2))
    tails[:, -1] = 0.0  # P(X >= n_wrong + 1)
    step = max(1, _CELLS // (n_wrong + 1))  # rows at a time: memory stays bounded
    for start in range(0, len(sizes), step):
        size = sizes[start : start + step, None]
        possible = (x <= size) & (size - x <= n_members - n_wrong)
        # each row normalised by its own sum, not by log(n_members choose size): that
        # large log-beta's rounding (1e-10 at 50,000 members) would shift every value
        log_pmf = np.where(
            possible,
            _log_choose(n_wrong, x) + _log_choose(n_members - n_wrong, np.clip(size - x, 0, None)),
            -np.inf,
        )
        pmf = np.exp(log_pmf - log_pmf.max(axis=1, keepdims=True))
        pmf /= pmf.sum(axis=1, keepdims=True)
        tails[start : start + step, :-1] = np.cumsum(pmf[:, ::-1], axis=1)[:, ::-1]
    k = np.clip(wrong, 0, n_wrong + 1)
    low = np.maximum(0, members - (n_members - n_wrong))
    out = np.where(wrong <= low, 1.0, tails[inverse.ravel(), k])
    return np.minimum(out, 1.0).reshape(shape)


#: Cells of the probability table computed at once (16 MiB of float64).
_CELLS = 2**21


def _log_choose(n, k):
    """log of n choose k, by the beta function (no cancellation of large log-gammas)."""
    return -np.log1p(n) - special.betaln(n - k + 1, k + 1)


def min_p_adjusted(
    hits, wrong, weights, *, n_permutations: int = N_PERMUTATIONS, random_state=0
) -> np.ndarray:
    """Westfall-Young single-step min-p adjusted p-values of "these members fail more".

    Parameters
    ----------
    hits : ndarray of bool, shape (U, M)
        Which of the group's ``M`` members meet each of the ``U`` conditions that could
        have been chosen.
    wrong : ndarray of bool, shape (M,)
        Which members err.
    weights : ndarray of float, shape (U,)
        Positive; a condition's raw p-value is divided by its weight before the minimum
        is taken (:func:`family_weights`).
    n_permutations : int, default=999
    random_state : int, default=0

    Returns
    -------
    adjusted : ndarray of float, shape (U,)
        ``(1 + #{permutations whose smallest weighted p <= this one's}) / (1 + n_permutations)``.

    Examples
    --------
    Twenty cuts that select nearly the same members count as about one test, not twenty:

    >>> rng = np.random.default_rng(4)
    >>> score = rng.random(80)
    >>> hits = np.array([score > 0.45 + 0.005 * k for k in range(20)])
    >>> wrong = (score > 0.5) & (rng.random(80) < 0.2) | (rng.random(80) < 0.08)
    >>> weights = np.full(20, 1 / 20)
    >>> raw = fails_more_p((hits & wrong).sum(1), hits.sum(1), wrong.sum(), 80)
    >>> bool(raw.min() * 20 > 0.05), bool(min_p_adjusted(hits, wrong, weights).min() < 0.05)
    (True, True)
    """
    hits = np.asarray(hits, dtype=bool)
    wrong = np.asarray(wrong, dtype=bool)
    weights = np.asarray(weights, dtype=float)
    if hits.ndim != 2 or wrong.ndim != 1 or hits.shape[1] != len(wrong):
        raise ValueError(
            f"hits must be (conditions, members) and wrong one flag per member; got hits of shape "
            f"{hits.shape} and wrong of shape {wrong.shape}"
        )
    if weights.shape != (len(hits),) or not (weights > 0).all():
        raise ValueError(
            f"weights must be one positive number per condition ({len(hits)}); got shape "
            f"{weights.shape}, smallest {weights.min() if weights.size else None}"
        )
    n_members, n_wrong = len(wrong), int(wrong.sum())
    sizes = hits.sum(axis=1)
    rng = np.random.default_rng(random_state)
    # each permutation puts the group's errors on a random n_wrong of its members
    keys = rng.random((n_permutations, n_members), dtype=np.float32)
    if 0 < n_wrong < n_members:  # the n_wrong smallest keys of each row (a partition, not a sort)
        cut = np.partition(keys, n_wrong - 1, axis=1)[:, n_wrong - 1 : n_wrong]
        shuffled = (keys <= cut).astype(np.float32)
    else:
        shuffled = np.full(keys.shape, float(n_wrong > 0), np.float32)
    counts = (hits.astype(np.float32) @ shuffled.T).round().astype(np.int64)  # (U, B)
    # the p-value depends on (condition, count) only: compute each distinct pair once
    stride = n_members + 1
    pairs, inverse = np.unique(counts + np.arange(len(hits))[:, None] * stride, return_inverse=True)
    condition, count = np.divmod(pairs, stride)
    # the observed tables with the permuted ones, in one call: the same computation, so a
    # permutation that reproduces the observed table gives exactly its p-value
    observed_counts = (hits & wrong).sum(axis=1)
    both = fails_more_p(
        np.r_[observed_counts, count], np.r_[sizes, sizes[condition]], n_wrong, n_members
    )
    observed = both[: len(hits)] / weights
    p = both[len(hits) :] / weights[condition]
    smallest = p[inverse.reshape(counts.shape)].min(axis=0)  # (B,)
    # a tolerance, so that a permutation equal to the observed table counts as "as small"
    reached = smallest[None, :] <= observed[:, None] * (1 + 1e-9)
    return (1 + reached.sum(axis=1)) / (1 + n_permutations)


__all__ = ["N_PERMUTATIONS", "family_weights", "fails_more_p", "min_p_adjusted"]

"""Seeded, stratified subsamples: which rows the embedding is fitted on, and which the map draws.

A million points cannot be drawn interactively with software WebGL (one frame of a million
points takes 1.5-2 s on two CPU cores, one of 50,000 about 50-100 ms; see
benchmarks/viewer.py), so above ``max_points`` the map draws a subsample
while filters, lasso hit-testing and every statistic use all rows. The subsample is
stratified by test set, class and correctness, proportional within each stratum (so the
density of the map is kept) with a floor per stratum (so a rare class, a small shifted test
set or a handful of errors stay visible).
"""

from __future__ import annotations

import numbers

import numpy as np

#: Above this many samples the map draws a stratified subsample (statistics use every row).
DEFAULT_MAX_DRAWN = 50_000
#: Each (test set, class, correctness) stratum keeps at least this many drawn points.
MIN_DRAWN_PER_STRATUM = 100


def _random_state(seed) -> np.random.RandomState:
    # Same semantics as sklearn.utils.check_random_state, without importing scikit-learn at
    # server start.
    if seed is None or seed is np.random:
        return np.random.mtrand._rand
    if isinstance(seed, numbers.Integral):
        return np.random.RandomState(int(seed))
    if isinstance(seed, np.random.RandomState):
        return seed
    raise ValueError(f"random_state must be None, an int or a numpy RandomState, got {seed!r}")


def _group_codes(groups: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Codes 0..k-1 of the groups in sorted order (as ``np.unique``) and each group's size."""
    if groups.dtype.kind in "iub" and len(groups) and 0 <= groups.min() and groups.max() < 2**15:
        # Small non-negative integers (the strata of drawn_rows): counting instead of
        # sorting, and int16 codes, which numpy's stable argsort sorts by radix in O(n).
        sizes = np.bincount(groups.astype(np.int64, copy=False))
        present = np.flatnonzero(sizes)
        code_of = np.zeros(len(sizes), dtype=np.int16)
        code_of[present] = np.arange(len(present), dtype=np.int16)
        return code_of[groups], sizes[present]
    names, codes = np.unique(groups, return_inverse=True)
    return codes, np.bincount(codes, minlength=len(names))


def stratified_subsample(groups, size: int, min_per_group: int, random_state=None) -> np.ndarray:
    """Sorted row indices of a seeded subsample, proportional per group with a floor per group.

    Parameters
    ----------
    groups : array-like of shape (n,)
        Group of each row (e.g. the test set).
    size : int
        Target number of rows (all rows if there are fewer).
    min_per_group : int
        Each group contributes at least this many rows (or all it has).
    random_state : int, RandomState or None

    Returns
    -------
    ndarray of int64
        Row indices, ascending.

    Examples
    --------
    >>> groups = ["iid"] * 90 + ["cor/blur/1"] * 10
    >>> rows = stratified_subsample(groups, 20, min_per_group=5, random_state=0)
    >>> len(rows), int((rows >= 90).sum())
    (20, 6)
    """
    groups = np.asarray(groups)
    n = len(groups)
    if size <= 0:
        raise ValueError(f"subsample size must be positive, got {size}")
    if n <= size:
        return np.arange(n, dtype=np.int64)
    rng = _random_state(random_state)
    codes, counts = _group_codes(groups)
    floor = np.minimum(counts, min_per_group)
    share = max(0, size - int(floor.sum())) * (counts - floor) / max(1, int((counts - floor).sum()))
    quota = floor + np.floor(share).astype(np.int64)
    # Largest remainders first, so the quotas add up to ``size`` exactly.
    short = max(0, size - int(quota.sum()))
    quota[np.argsort(-(share - np.floor(share)), kind="stable")[:short]] += 1
    quota = np.minimum(quota, counts)
    # One stable sort instead of a pass over all rows per group; each group's rows stay in
    # ascending order, so the draws are the same as selecting them group by group.
    by_group = np.argsort(codes, kind="stable")
    ends = np.cumsum(counts)
    chosen = []
    for code in range(len(counts)):
        rows = by_group[ends[code] - counts[code] : ends[code]]
        chosen.append(rng.choice(rows, size=int(quota[code]), replace=False))
    return np.sort(np.concatenate(chosen)).astype(np.int64)


def drawn_rows(
    test_set: np.ndarray,
    label: np.ndarray,
    correct: np.ndarray,
    max_points: int = DEFAULT_MAX_DRAWN,
    min_per_stratum: int = MIN_DRAWN_PER_STRATUM,
    random_state=0,
) -> np.ndarray:
    """The rows the map draws: all of them, or a stratified subsample of ``max_points``.

    Strata are (test set, class, correctness); see :func:`stratified_subsample`. Each
    stratum keeps at least ``min_per_stratum`` points (or all it has), unless the floors
    would take more than half of ``max_points``; then the floor is lowered.

    Parameters
    ----------
    test_set, label : int arrays of shape (n,)
        Codes of each row's test set and class.
    correct : bool array of shape (n,)
    max_points : int, default=50_000
    min_per_stratum : int, default=100
    random_state : int, default=0

    Returns
    -------
    ndarray of int64
        Ascending row indices.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> correct = np.ones(10_000, dtype=bool)
    >>> correct[:30] = False  # 30 rare errors
    >>> rows = drawn_rows(np.zeros(10_000, int), np.zeros(10_000, int), correct, max_points=500,
    ...                   min_per_stratum=50)
    >>> len(rows), int((~correct[rows]).sum())
    (500, 30)
    """
    test_set = np.asarray(test_set, dtype=np.int64)
    label = np.asarray(label, dtype=np.int64)
    correct = np.asarray(correct, dtype=bool)
    if int(max_points) < 1:
        raise ValueError(f"max_points must be positive, got {max_points}")
    if len(test_set) <= max_points:
        return np.arange(len(test_set), dtype=np.int64)
    n_classes = int(label.max()) + 1 if len(label) else 1
    strata = (test_set * n_classes + label) * 2 + correct
    # The floors take at most half of the points, so that ``max_points`` is never exceeded
    # and the large strata keep their density.
    n_strata = int(np.count_nonzero(np.bincount(strata)))
    floor = min(int(min_per_stratum), int(max_points) // (2 * n_strata))
    return stratified_subsample(strata, int(max_points), floor, random_state)


__all__ = [
    "DEFAULT_MAX_DRAWN",
    "MIN_DRAWN_PER_STRATUM",
    "drawn_rows",
    "stratified_subsample",
]

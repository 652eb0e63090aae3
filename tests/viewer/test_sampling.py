"""Which rows the map draws: seeded, stratified, proportional, with every group visible."""

from __future__ import annotations

import numpy as np
import pytest

from silentscope.viewer.sampling import drawn_rows, stratified_subsample


def test_drawn_rows_keep_rare_groups_and_the_density_of_large_ones():
    rng = np.random.default_rng(0)
    n = 200_000
    test_set = rng.choice(3, n, p=[0.9, 0.0995, 0.0005])  # a tiny shifted test set
    label = rng.choice(4, n, p=[0.7, 0.2, 0.09, 0.01])
    correct = rng.random(n) > np.where(test_set == 1, 0.3, 0.05)
    rows = drawn_rows(test_set, label, correct, max_points=20_000, min_per_stratum=50)
    assert len(rows) == 20_000 and np.all(np.diff(rows) > 0)
    strata = (test_set * 4 + label) * 2 + correct
    counts = np.bincount(strata, minlength=24)
    drawn = np.bincount(strata[rows], minlength=24)
    # Every group is drawn: all of a small one, at least the floor of any other.
    assert np.all(drawn == np.where(counts <= 50, counts, np.maximum(drawn, 50)))
    # Large groups keep their share of the map (density) within a few percent.
    large = counts > 5_000
    share = drawn[large] / drawn.sum()
    assert share == pytest.approx(counts[large] / n, rel=0.05)
    again = drawn_rows(test_set, label, correct, max_points=20_000, min_per_stratum=50)
    np.testing.assert_array_equal(rows, again)


def test_small_stores_are_drawn_whole_and_bad_sizes_are_refused():
    rows = drawn_rows(np.zeros(10, int), np.zeros(10, int), np.ones(10, bool), max_points=50)
    assert rows.tolist() == list(range(10))
    with pytest.raises(ValueError, match="max_points"):
        drawn_rows(np.zeros(10, int), np.zeros(10, int), np.ones(10, bool), max_points=0)
    with pytest.raises(ValueError, match="random_state"):
        stratified_subsample(np.zeros(10, int), 5, 1, random_state="seed")


def test_group_by_group_and_single_sort_draws_agree():
    # The subsample is defined as rng.choice over each group's rows in ascending order, group
    # by group; the implementation sorts once. Recompute the definition directly.
    groups = np.random.default_rng(3).integers(0, 6, 5_000)
    rows = stratified_subsample(groups, 600, min_per_group=40, random_state=7)
    rng = np.random.RandomState(7)
    names, codes = np.unique(groups, return_inverse=True)
    counts = np.bincount(codes)
    picked_per_group = np.bincount(codes[rows], minlength=len(names))
    expected = np.sort(
        np.concatenate(
            [
                rng.choice(np.flatnonzero(codes == c), picked_per_group[c], replace=False)
                for c in range(len(names))
            ]
        )
    )
    np.testing.assert_array_equal(rows, expected)
    assert picked_per_group.sum() == 600 and np.all(picked_per_group >= np.minimum(counts, 40))


def test_integer_groups_are_counted_not_sorted_with_the_same_draws():
    # Small non-negative integer groups take a counting path; its codes and draws must be
    # those of the general (np.unique) path, here reached through float groups.
    rng = np.random.default_rng(1)
    groups = rng.choice([0, 3, 7, 200], 50_000, p=[0.6, 0.3, 0.0996, 0.0004])
    fast = stratified_subsample(groups, 2_000, 30, random_state=5)
    general = stratified_subsample(groups.astype(float), 2_000, 30, random_state=5)
    np.testing.assert_array_equal(fast, general)
    assert np.isin(np.flatnonzero(groups == 200), fast).all()  # the rare group, whole
    # Negative codes take the general path.
    np.testing.assert_array_equal(
        stratified_subsample(groups - 5, 2_000, 30, random_state=5), general
    )

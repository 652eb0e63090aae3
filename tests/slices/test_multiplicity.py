"""The narrowing's multiplicity correction: Westfall-Young min-p over weighted conditions."""

import numpy as np
import pytest
from scipy import stats

from silentscope.slices.multiplicity import (
    _upper_tails,
    fails_more_p,
    family_weights,
    min_p_adjusted,
)


def _group(seed, n=120, n_conditions=30, planted=0.0):
    rng = np.random.default_rng(seed)
    score = rng.random(n)
    # cuts of one score (nearly the same members) and conditions of their own
    hits = np.array(
        [score > 0.3 + 0.02 * k for k in range(n_conditions // 2)]
        + [rng.random(n) < 0.5 for _ in range(n_conditions - n_conditions // 2)]
    )
    wrong = rng.random(n) < np.where(score > 0.5, 0.15 + planted, 0.15)
    return hits, wrong


def test_one_condition_gets_its_own_fisher_p_value_back():
    hits, wrong = _group(0, n_conditions=2)
    hits = hits[:1]
    raw = fails_more_p((hits & wrong).sum(1), hits.sum(1), wrong.sum(), len(wrong))
    adjusted = min_p_adjusted(hits, wrong, np.ones(1), n_permutations=4999)
    assert abs(adjusted[0] - raw[0]) < 0.02


def test_adjusted_p_values_lie_between_the_raw_and_the_weighted_bonferroni_ones():
    hits, wrong = _group(1, planted=0.2)
    weights = family_weights(["score"] * 15 + [f"own {k}" for k in range(15)])
    raw = fails_more_p((hits & wrong).sum(1), hits.sum(1), wrong.sum(), len(wrong))
    adjusted = min_p_adjusted(hits, wrong, weights)
    assert (adjusted >= raw - 1e-12).all()
    assert (adjusted <= np.minimum(1, raw / weights) + 0.01).all()
    assert adjusted.min() < (raw / weights).min()  # the cuts of one score are not 15 chances


def test_the_family_wise_error_rate_stays_at_alpha_when_nothing_fails_more():
    weights = family_weights(["score"] * 15 + [f"own {k}" for k in range(15)])
    rejected = sum(
        min_p_adjusted(*_group(seed), weights, n_permutations=199, random_state=seed).min() < 0.05
        for seed in range(200)
    )
    assert rejected <= 18  # 10 expected at 0.05; 18 is above the binomial's 99th percentile


def test_mismatched_inputs_are_refused_with_their_shapes():
    hits, wrong = _group(2)
    with pytest.raises(ValueError, match="one flag per member"):
        min_p_adjusted(hits, wrong[:-1], np.ones(len(hits)))
    with pytest.raises(ValueError, match="one positive number per condition"):
        min_p_adjusted(hits, wrong, np.zeros(len(hits)))


@pytest.mark.parametrize(
    ("n_members", "n_wrong"),
    [(80, 11), (500, 0), (500, 1), (500, 499), (500, 500), (3267, 1630), (20000, 900)],
)
def test_long_arrays_of_p_values_are_scipys_hypergeometric_tails(n_members, n_wrong):
    """fails_more_p sums the tails itself for long arrays (scipy loops over them in Python):
    every draw size from none to all, every count from below the least possible to above
    the most, against scipy's survival function."""
    rng = np.random.default_rng(n_members + n_wrong)
    members = np.r_[0, n_members, rng.integers(0, n_members + 1, 300)].repeat(12)
    wrong = np.clip(
        members * n_wrong // max(n_members, 1) + rng.integers(-40, 40, members.size), -1, None
    )
    wrong[::7] = n_wrong + 1  # more errors than there are
    ours = fails_more_p(wrong, members, n_wrong, n_members)
    theirs = stats.hypergeom.sf(wrong - 1, n_members, n_wrong, members)
    assert ours.size >= 64 and ours.shape == theirs.shape
    # long arrays take the table, not scipy's loop (the two differ in the last digits)
    np.testing.assert_array_equal(ours, _upper_tails(wrong, members, n_wrong, n_members))
    np.testing.assert_allclose(ours, theirs, rtol=1e-9, atol=1e-11)
    assert (ours[wrong <= np.maximum(0, members - (n_members - n_wrong))] == 1.0).all()
    assert (ours[wrong > np.minimum(members, n_wrong)] == 0.0).all()

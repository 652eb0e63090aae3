"""Log-odds with an informative Dirichlet prior (Monroe et al. 2008)."""

from __future__ import annotations

import numpy as np
import pytest

from silentscope.text import log_odds_dirichlet


def test_matches_the_formula_by_hand():
    a, b = np.array([30.0, 2.0, 10.0]), np.array([10.0, 40.0, 10.0])
    delta, z = log_odds_dirichlet(a, b, prior=np.array([1.0, 1.0, 2.0]), prior_scale=4.0)
    alpha = np.array([1.0, 1.0, 2.0])
    expected = np.log((a + alpha) / (a.sum() + 4 - a - alpha)) - np.log(
        (b + alpha) / (b.sum() + 4 - b - alpha)
    )
    np.testing.assert_allclose(delta, expected)
    np.testing.assert_allclose(z, expected / np.sqrt(1 / (a + alpha) + 1 / (b + alpha)))


def test_swapping_groups_flips_the_sign():
    a, b = [5, 9, 1, 0], [7, 2, 8, 3]
    delta_ab, z_ab = log_odds_dirichlet(a, b)
    delta_ba, z_ba = log_odds_dirichlet(b, a)
    np.testing.assert_allclose(delta_ab, -delta_ba)
    np.testing.assert_allclose(z_ab, -z_ba)


def test_prior_shrinks_rare_terms_below_frequent_ones():
    # A term seen twice, only in group a, must not outrank one seen 200 vs 50 times.
    a = np.array([2.0, 200.0, 1000.0])
    b = np.array([0.0, 50.0, 1000.0])
    _, z = log_odds_dirichlet(a, b)
    assert z[1] > z[0] > 0


@pytest.mark.parametrize(
    ("a", "b"), [([1, 2], [1]), ([0, 0], [1, 1]), ([1, -1], [1, 1]), ([1], [1])]
)
def test_invalid_counts_are_rejected(a, b):
    with pytest.raises(ValueError):
        log_odds_dirichlet(a, b)

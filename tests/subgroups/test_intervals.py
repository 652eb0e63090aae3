"""Wilson intervals, Woolf odds-ratio intervals and Benjamini-Hochberg against references."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from statsmodels.stats.contingency_tables import Table2x2
from statsmodels.stats.multitest import multipletests
from statsmodels.stats.proportion import proportion_confint

from silentscope.subgroups import benjamini_hochberg, odds_ratio_interval, wilson_interval


@settings(max_examples=60, deadline=None)
@given(
    n=st.integers(1, 5000),
    fraction=st.floats(0, 1),
    confidence=st.sampled_from([0.8, 0.9, 0.95, 0.99]),
)
def test_wilson_matches_statsmodels(n, fraction, confidence):
    k = int(round(fraction * n))
    low, high = wilson_interval(k, n, confidence)
    ref_low, ref_high = proportion_confint(k, n, alpha=1 - confidence, method="wilson")
    assert low == pytest.approx(ref_low, abs=1e-9)
    assert high == pytest.approx(ref_high, abs=1e-9)
    assert 0 <= low <= k / n <= high <= 1


def test_wilson_covers_the_true_rate_in_small_groups():
    # Nominal 95%: the Wald interval would cover ~80% at n=15, p=0.1; Wilson stays near 95%.
    rng = np.random.default_rng(0)
    k = rng.binomial(15, 0.1, size=20_000)
    low, high = wilson_interval(k, np.full_like(k, 15))
    coverage = np.mean((low <= 0.1) & (0.1 <= high))
    assert 0.93 < coverage < 0.995


def test_wilson_rejects_impossible_counts():
    with pytest.raises(ValueError, match="at least one sample"):
        wilson_interval(0, 0)
    with pytest.raises(ValueError, match="between 0 and the group size"):
        wilson_interval(5, 4)


@settings(max_examples=40, deadline=None)
@given(cells=st.lists(st.integers(1, 500), min_size=4, max_size=4))
def test_odds_ratio_matches_statsmodels_without_zero_cells(cells):
    a, b, c, d = cells
    odds, low, high = odds_ratio_interval(a, b, c, d)
    table = Table2x2(np.array([[a, b], [c, d]]))
    assert odds == pytest.approx(table.oddsratio)
    assert (low, high) == pytest.approx(table.oddsratio_confint())


def test_odds_ratio_stays_finite_for_a_group_without_errors():
    odds, low, high = odds_ratio_interval(0, 40, 30, 70)
    assert 0 < low < odds < high < 1  # finite, and clearly below 1 against a 30% error rate


@settings(max_examples=60, deadline=None)
@given(p=st.lists(st.one_of(st.floats(0, 1), st.just(np.nan)), min_size=1, max_size=30))
def test_benjamini_hochberg_matches_statsmodels_and_keeps_untested_as_nan(p):
    p = np.array(p)
    q = benjamini_hochberg(p)
    tested = ~np.isnan(p)
    assert np.array_equal(np.isnan(q), ~tested)
    if tested.any():
        expected = multipletests(p[tested], method="fdr_bh")[1]
        # atol: products of subnormal p-values (below 2.2e-308) round differently per library.
        np.testing.assert_allclose(q[tested], expected, atol=1e-300)


def test_benjamini_hochberg_controls_false_discoveries_on_null_p_values():
    rng = np.random.default_rng(1)
    discoveries = [np.any(benjamini_hochberg(rng.random(20)) <= 0.05) for _ in range(2000)]
    # Under the global null, FDR = family-wise error rate, bounded by alpha = 0.05.
    assert np.mean(discoveries) < 0.065


def test_benjamini_hochberg_rejects_invalid_p_values():
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        benjamini_hochberg([0.5, 1.5])

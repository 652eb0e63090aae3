"""Wilson intervals, Fisher tests and BH FDR against statsmodels / scipy references."""

from __future__ import annotations

import numpy as np
import pytest
from statsmodels.stats.multitest import multipletests
from statsmodels.stats.proportion import proportion_confint

from silentscope.slices import benjamini_hochberg, excess_error_pvalue, wilson_interval


@pytest.mark.parametrize(("errors", "n"), [(0, 10), (3, 10), (10, 10), (57, 400), (1, 2)])
def test_wilson_matches_statsmodels(errors, n):
    low, high = wilson_interval(errors, n)
    ref_low, ref_high = proportion_confint(errors, n, alpha=0.05, method="wilson")
    assert low == pytest.approx(ref_low, abs=1e-12) and high == pytest.approx(ref_high, abs=1e-12)


def test_wilson_rejects_impossible_counts():
    with pytest.raises(ValueError):
        wilson_interval(5, 3)


def test_bh_matches_statsmodels():
    p = np.random.default_rng(0).uniform(size=40) ** 3
    expected = multipletests(p, method="fdr_bh")[1]
    np.testing.assert_allclose(benjamini_hochberg(p), expected)


def test_fisher_is_one_sided():
    assert excess_error_pvalue(2, 30, 50, 500) > 0.5  # lower error rate inside: no evidence
    assert excess_error_pvalue(20, 30, 50, 500) < 1e-8
    assert np.isnan(excess_error_pvalue(0, 0, 5, 10))

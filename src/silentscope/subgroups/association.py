"""Univariable tests of association between one attribute and misclassification.

A categorical attribute (or a binned numeric one) is tested with Pearson's chi-square test
of its groups x {error, correct} table, or with Fisher's exact test when an expected count
is below 5, where the chi-square approximation is poor (Cochran, 1954). Fisher's test of
a table larger than 2 x 2 is a seeded Monte-Carlo test. A numeric attribute can also be
tested continuously by logistic regression, reported as the odds ratio per standard
deviation. With clusters (several samples per patient), every test is a cluster-robust
Wald test in a logistic model instead.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats

from silentscope.metrics.statistics import wilson_interval
from silentscope.subgroups.intervals import odds_ratio_interval
from silentscope.subgroups.logistic import SeparationError, fit_logit, one_hot

#: Smallest expected cell count for which the chi-square approximation is used.
MIN_EXPECTED = 5.0

#: Monte-Carlo resamples of Fisher's test for tables larger than 2 x 2.
FISHER_RESAMPLES = 9999


def table_test(table: np.ndarray, rng: np.random.Generator) -> tuple[str, float, int, float]:
    """Test independence of a groups x {error, correct} table: (test, statistic, df, p).

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> name, stat, df, p = table_test(np.array([[30, 70], [10, 90]]), rng)
    >>> name, df, round(p, 5)
    ('chi2', 1, 0.00041)
    >>> table_test(np.array([[3, 7], [0, 10]]), rng)[0]
    'fisher'
    """
    table = np.asarray(table, dtype=np.int64)
    expected = stats.contingency.expected_freq(table)
    df = (table.shape[0] - 1) * (table.shape[1] - 1)
    if expected.min() >= MIN_EXPECTED:
        result = stats.chi2_contingency(table, correction=False)
        return "chi2", float(result.statistic), df, float(result.pvalue)
    if table.shape == (2, 2):
        return "fisher", np.nan, df, float(stats.fisher_exact(table).pvalue)
    method = stats.MonteCarloMethod(n_resamples=FISHER_RESAMPLES, rng=rng)
    return "fisher_mc", np.nan, df, float(stats.fisher_exact(table, method=method).pvalue)


def group_rows(
    groups: np.ndarray,
    errors: np.ndarray,
    levels: tuple[str, ...],
    *,
    min_group_size: int,
    confidence: float,
    rng: np.random.Generator,
    cluster: np.ndarray | None = None,
) -> list[dict]:
    """One row per group: size, error rate with Wilson interval, and the group-vs-rest test.

    Groups smaller than ``min_group_size`` keep their descriptive numbers but are not tested.
    """
    rows = []
    n_total, k_total = len(errors), int(errors.sum())
    for level in levels:
        in_group = groups == level
        n, k = int(in_group.sum()), int(errors[in_group].sum())
        low, high = wilson_interval(k, n, confidence)
        row = {
            "group": level,
            "n": n,
            "errors": k,
            "error_rate": k / n,
            "error_rate_low": float(low),
            "error_rate_high": float(high),
            "rest_error_rate": (k_total - k) / (n_total - n) if n_total > n else np.nan,
            "odds_ratio": np.nan,
            "or_low": np.nan,
            "or_high": np.nan,
            "test": "",
            "p_value": np.nan,
            "note": "",
        }
        if n < min_group_size:
            row["note"] = f"not tested: n={n} < min_group_size={min_group_size}"
        elif n_total - n < min_group_size:
            row["note"] = "not tested: the rest of the samples is too small to compare with"
        else:
            row.update(_group_vs_rest(in_group, errors, confidence, rng, cluster))
            if k in (0, n):
                note = (
                    "no errors in this group"
                    if k == 0
                    else "every prediction in this group is wrong"
                )
                row["note"] = _join(note, row["note"])
        rows.append(row)
    return rows


def _group_vs_rest(in_group, errors, confidence, rng, cluster) -> dict:
    n, k = int(in_group.sum()), int(errors[in_group].sum())
    n_rest, k_rest = len(errors) - n, int(errors.sum()) - k
    table = np.array([[k, n - k], [k_rest, n_rest - k_rest]])
    odds, low, high = odds_ratio_interval(*table.ravel(), confidence)
    note = ""
    if cluster is not None:
        design = pd.DataFrame({"const": 1.0, "in_group": in_group.astype(float)})
        try:
            fit = fit_logit(errors, design, cluster)
        except SeparationError:
            note = "cluster-robust model not estimable (separation); this test ignores clustering"
        else:
            odds, low, high = fit.odds_ratio("in_group", confidence)
            test, _, _, p = fit.test(["in_group"])
            return {
                "odds_ratio": odds,
                "or_low": low,
                "or_high": high,
                "test": test,
                "p_value": p,
                "note": note,
            }
    test, _, _, p = table_test(table, rng)
    return {
        "odds_ratio": odds,
        "or_low": low,
        "or_high": high,
        "test": test,
        "p_value": p,
        "note": note,
    }


def _join(first: str, second: str) -> str:
    return f"{first}; {second}" if first else second


def categorical_test(
    groups: np.ndarray,
    errors: np.ndarray,
    levels: list[str],
    rng: np.random.Generator,
    cluster=None,
) -> dict:
    """Omnibus test of all groups; effect size Cramér's V (without clusters).

    ``note`` is true where a cluster-robust test was asked for but could not be estimated,
    so that the exact test (which ignores clustering) was used instead.
    """
    table = np.array([[np.sum(errors[groups == g]), np.sum(~errors[groups == g])] for g in levels])
    result = {
        "effect": np.nan,
        "effect_low": np.nan,
        "effect_high": np.nan,
        "effect_name": "",
        "note": False,
    }
    if table[:, 0].sum() == 0 or table[:, 1].sum() == 0:
        # one outcome only: the observed table is the only one with these margins
        return {
            **result,
            "test": "fisher",
            "statistic": np.nan,
            "df": len(levels) - 1,
            "p_value": 1.0,
        }
    if cluster is not None:
        reference = levels[int(np.argmax(table.sum(axis=1)))]
        indicators = one_hot(groups, levels, reference, "g")
        design = pd.concat([pd.DataFrame({"const": np.ones(len(groups))}), indicators], axis=1)
        try:
            fit = fit_logit(errors, design, cluster)
        except SeparationError:
            result["note"] = True
        else:
            name, statistic, df, p = fit.test(list(indicators.columns))
            return {**result, "test": name, "statistic": statistic, "df": df, "p_value": p}
    name, statistic, df, p = table_test(table, rng)
    chi2 = stats.chi2_contingency(table, correction=False).statistic
    effect = float(np.sqrt(chi2 / table.sum()))
    return {
        **result,
        "test": name,
        "statistic": statistic,
        "df": df,
        "p_value": p,
        "effect": effect,
        "effect_name": "cramers_v",
    }


def trend_test(values: np.ndarray, errors: np.ndarray, confidence: float, cluster=None) -> dict:
    """Logistic regression on the standardised value: odds ratio per standard deviation."""
    sd = float(np.std(values))
    design = pd.DataFrame({"const": 1.0, "per_sd": (values - values.mean()) / sd})
    fit = fit_logit(errors, design, cluster)
    odds, low, high = fit.odds_ratio("per_sd", confidence)
    name, statistic, df, p = fit.test(["per_sd"])
    return {
        "test": name,
        "statistic": statistic,
        "df": df,
        "p_value": p,
        "effect": odds,
        "effect_low": low,
        "effect_high": high,
        "effect_name": f"odds_ratio_per_sd (sd={sd:.3g})",
    }

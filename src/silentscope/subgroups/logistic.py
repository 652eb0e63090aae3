"""Logistic regressions of misclassification on attributes, with tests of groups of terms.

Without clusters, terms are tested with the likelihood-ratio test against the model
without them. With clusters (e.g. two eyes or several images of one patient), the
covariance is cluster-robust (sandwich) and terms are tested with the Wald test, since a
likelihood ratio assumes independent samples; its F form and t intervals use G - 1
degrees of freedom for G clusters, the small-sample correction recommended by Cameron &
Miller (J. Human Resources, 2015) against the over-rejection of plain cluster-robust tests.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd
import statsmodels.api as sm
from scipy import stats
from statsmodels.tools.sm_exceptions import (
    ConvergenceWarning,
    PerfectSeparationError,
    PerfectSeparationWarning,
)

# A coefficient this large (odds ratio beyond e^15) only arises when a term (nearly)
# separates errors from correct predictions, where the maximum-likelihood estimate is
# infinite and Wald intervals are meaningless.
_SEPARATION_BOUND = 15.0


class SeparationError(ValueError):
    """A logistic model has no finite maximum-likelihood estimate."""


@dataclass
class LogitFit:
    """A fitted logistic model with named design columns."""

    result: object
    columns: tuple[str, ...]
    y: np.ndarray
    design: pd.DataFrame
    cluster: np.ndarray | None

    def odds_ratio(self, column: str, confidence: float = 0.95) -> tuple[float, float, float]:
        """exp(coefficient) of one column with its Wald interval."""
        i = self.columns.index(column)
        low, high = np.asarray(self.result.conf_int(alpha=1 - confidence))[i]
        return float(np.exp(self.result.params[i])), float(np.exp(low)), float(np.exp(high))

    def p_value(self, column: str) -> float:
        return float(self.result.pvalues[self.columns.index(column)])

    def test(self, columns: list[str]) -> tuple[str, float, int, float]:
        """Test that the coefficients of ``columns`` are all zero: (test, statistic, df, p)."""
        if self.cluster is not None:
            idx = [self.columns.index(c) for c in columns]
            restriction = np.zeros((len(idx), len(self.columns)))
            restriction[np.arange(len(idx)), idx] = 1.0
            wald = self.result.wald_test(restriction, scalar=True)
            return "logit_wald_cluster", float(wald.statistic), len(idx), float(wald.pvalue)
        keep = [c for c in self.columns if c not in columns]
        reduced = fit_logit(self.y, self.design[keep], None)
        statistic = max(0.0, 2.0 * (float(self.result.llf) - float(reduced.result.llf)))
        return "logit_lr", statistic, len(columns), float(stats.chi2.sf(statistic, len(columns)))


def fit_logit(y: np.ndarray, design: pd.DataFrame, cluster: np.ndarray | None) -> LogitFit:
    """Fit ``logit P(error) = design @ beta``; the design must hold its own intercept.

    Raises
    ------
    SeparationError
        If a term separates errors from correct predictions (no finite estimate) or the
        fit does not converge.
    """
    y = np.asarray(y, dtype=float)
    with warnings.catch_warnings():
        warnings.simplefilter("error", PerfectSeparationWarning)
        warnings.simplefilter("error", ConvergenceWarning)
        warnings.simplefilter("ignore", RuntimeWarning)
        try:
            model = sm.Logit(y, design.to_numpy(dtype=float))
            if cluster is None:
                result = model.fit(disp=0, maxiter=200)
            else:
                result = model.fit(
                    disp=0,
                    maxiter=200,
                    cov_type="cluster",
                    cov_kwds={"groups": cluster},
                    use_t=True,  # t and F with G - 1 degrees of freedom
                )
        except (PerfectSeparationError, PerfectSeparationWarning, np.linalg.LinAlgError) as error:
            raise SeparationError(f"the logistic model has no finite estimate ({error})") from None
        except ConvergenceWarning:
            raise SeparationError("the logistic model did not converge") from None
    params = np.asarray(result.params)
    if not np.all(np.isfinite(params)) or np.max(np.abs(params)) > _SEPARATION_BOUND:
        raise SeparationError("a term (nearly) separates errors from correct predictions")
    if not np.all(np.isfinite(np.asarray(result.bse))):
        raise SeparationError("the coefficients are not identifiable (collinear terms)")
    return LogitFit(result, tuple(design.columns), y, design, cluster)


def one_hot(groups: np.ndarray, levels: list[str], reference: str, prefix: str) -> pd.DataFrame:
    """Indicator columns ``<prefix>=<level>`` for every level except the reference."""
    return pd.DataFrame(
        {
            f"{prefix}={level}": (groups == level).astype(float)
            for level in levels
            if level != reference
        }
    )

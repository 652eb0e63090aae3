"""Multivariable and interaction models: independent risk factors and effects under shift.

All attributes enter one logistic model of misclassification, so an attribute that is
only associated with errors through another one (a confounder) loses its effect once the
other is in the model. Categorical attributes and binned numeric ones enter as indicators
against their largest group; numeric ones can enter linearly per standard deviation.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from silentscope.subgroups.attributes import Attribute, Skipped
from silentscope.subgroups.logistic import LogitFit, SeparationError, fit_logit, one_hot


def _reference(attribute: Attribute) -> str:
    counts = [(np.sum(attribute.groups == level), level) for level in attribute.levels]
    return max(counts, key=lambda item: item[0])[1]


def attribute_design(attribute: Attribute, numeric: str) -> pd.DataFrame:
    """Design columns of one attribute (no intercept)."""
    if attribute.kind == "numeric" and numeric == "continuous":
        values = attribute.values
        sd = float(np.nanstd(values))
        return pd.DataFrame({f"{attribute.name} (per SD)": (values - np.nanmean(values)) / sd})
    return one_hot(attribute.groups, list(attribute.levels), _reference(attribute), attribute.name)


def usable_rows(
    attributes: list[Attribute], errors: np.ndarray, min_group_size: int, numeric: str
) -> tuple[np.ndarray, list[str]]:
    """Rows a multivariable model can use: none in tiny or error-free/all-error groups.

    Returns the row mask and one note per excluded group.
    """
    keep = np.ones(len(errors), dtype=bool)
    notes = []
    for attribute in attributes:
        if attribute.kind == "numeric" and numeric == "continuous":
            missing = np.isnan(attribute.values)
            if missing.any():
                keep &= ~missing
                notes.append(f"{int(missing.sum())} samples with missing {attribute.name}")
            continue
        for level in attribute.levels:
            in_group = attribute.groups == level
            n, k = int(in_group.sum()), int(errors[in_group].sum())
            if n < min_group_size:
                notes.append(f"{attribute.name}={level} (n={n} < min_group_size)")
                keep &= ~in_group
            elif k in (0, n):
                what = "no errors" if k == 0 else "only errors"
                notes.append(
                    f"{attribute.name}={level} ({what}: it separates, so its odds ratio is infinite)"
                )
                keep &= ~in_group
    return keep, notes


def fit_multivariable(
    attributes: list[Attribute],
    errors: np.ndarray,
    *,
    numeric: str,
    min_group_size: int,
    confidence: float,
    cluster: np.ndarray | None,
) -> tuple[pd.DataFrame, pd.DataFrame, list[Skipped]]:
    """Fit the model with all attributes; return per-term and per-attribute tables.

    Returns
    -------
    terms : DataFrame
        ``attribute, term, n, adjusted_or, adjusted_or_low, adjusted_or_high, p_value``.
    tests : DataFrame
        ``attribute, adjusted_test, adjusted_statistic, adjusted_df, adjusted_p_value``:
        whether the attribute adds to the others (likelihood ratio, or cluster Wald test).
    skipped : list of Skipped
    """
    skipped: list[Skipped] = []
    keep, notes = usable_rows(attributes, errors, min_group_size, numeric)
    if notes:
        skipped.append(
            Skipped(
                "multivariable model", f"left out {int((~keep).sum())} samples: " + "; ".join(notes)
            )
        )
    y = errors[keep]
    if keep.sum() == 0 or y.all() or not y.any():
        skipped.append(Skipped("multivariable model", "no samples with both outcomes remain"))
        return _empty_terms(), _empty_tests(), skipped
    kept = [a.subset(keep) for a in attributes]
    blocks = {}
    for attribute in kept:
        block = attribute_design(attribute, numeric)
        if block.shape[1] == 0:
            skipped.append(
                Skipped(
                    f"multivariable model: {attribute.name}",
                    "a single group remains after exclusions",
                )
            )
            continue
        blocks[attribute.name] = block
    if not blocks:
        skipped.append(Skipped("multivariable model", "no attribute has two usable groups"))
        return _empty_terms(), _empty_tests(), skipped
    design = pd.concat(
        [pd.DataFrame({"const": np.ones(int(keep.sum()))}), *blocks.values()], axis=1
    )
    groups = None if cluster is None else cluster[keep]
    try:
        fit = fit_logit(y, design, groups)
    except SeparationError as error:
        skipped.append(
            Skipped(
                "multivariable model", f"{error}; combine small groups or test fewer attributes"
            )
        )
        return _empty_terms(), _empty_tests(), skipped
    return _term_rows(fit, blocks, confidence), _test_rows(fit, blocks), skipped


def _term_rows(fit: LogitFit, blocks: dict[str, pd.DataFrame], confidence: float) -> pd.DataFrame:
    rows = []
    for name, block in blocks.items():
        for column in block.columns:
            odds, low, high = fit.odds_ratio(column, confidence)
            rows.append(
                {
                    "attribute": name,
                    "term": column,
                    "n": int(block[column].sum()) if column.startswith(f"{name}=") else len(block),
                    "adjusted_or": odds,
                    "adjusted_or_low": low,
                    "adjusted_or_high": high,
                    "p_value": fit.p_value(column),
                }
            )
    return pd.DataFrame(rows)


def _test_rows(fit: LogitFit, blocks: dict[str, pd.DataFrame]) -> pd.DataFrame:
    rows = []
    for name, block in blocks.items():
        test, statistic, df, p = fit.test(list(block.columns))
        rows.append(
            {
                "attribute": name,
                "adjusted_test": test,
                "adjusted_statistic": statistic,
                "adjusted_df": df,
                "adjusted_p_value": p,
            }
        )
    return pd.DataFrame(rows)


def _empty_terms() -> pd.DataFrame:
    return pd.DataFrame(
        columns=[
            "attribute",
            "term",
            "n",
            "adjusted_or",
            "adjusted_or_low",
            "adjusted_or_high",
            "p_value",
        ]
    )


def _empty_tests() -> pd.DataFrame:
    return pd.DataFrame(
        columns=[
            "attribute",
            "adjusted_test",
            "adjusted_statistic",
            "adjusted_df",
            "adjusted_p_value",
        ]
    )


def interaction_test(
    attribute: Attribute,
    errors: np.ndarray,
    shifted: np.ndarray,
    *,
    numeric: str,
    min_group_size: int,
    cluster: np.ndarray | None,
) -> dict:
    """Does the attribute's effect differ between a shifted test set and the reference?

    Fits ``error ~ shifted + attribute + attribute x shifted`` on the samples of both test
    sets and tests the interaction terms jointly. ``shifted`` marks the shifted test set's
    samples. Raises :class:`SeparationError` if the model cannot be estimated.
    """
    keep, _ = usable_rows([attribute], errors, min_group_size, numeric)
    continuous = attribute.kind == "numeric" and numeric == "continuous"
    for level in () if continuous else attribute.levels:  # estimable in both test sets
        in_group = keep & (attribute.groups == level)
        for part in (shifted, ~shifted):
            n, k = int((in_group & part).sum()), int(errors[in_group & part].sum())
            if n < min_group_size or k in (0, n):
                keep &= ~(attribute.groups == level)
                break
    reduced = attribute.subset(keep)
    if not continuous and len(reduced.levels) < 2:
        # e.g. sex within the sub/sex=Female test set: one level, no effect to compare
        raise SeparationError("fewer than two groups are estimable in both test sets")
    main = attribute_design(reduced, numeric)
    if main.shape[1] == 0:
        raise SeparationError("fewer than two groups are estimable in both test sets")
    is_shifted = shifted[keep].astype(float)
    product = main.mul(is_shifted, axis=0).add_suffix(" x shift")
    design = pd.concat([pd.DataFrame({"const": 1.0, "shift": is_shifted}), main, product], axis=1)
    fit = fit_logit(errors[keep], design, None if cluster is None else cluster[keep])
    test, statistic, df, p = fit.test(list(product.columns))
    return {
        "test": test,
        "statistic": statistic,
        "df": df,
        "p_value": p,
        "n": int(keep.sum()),
        "n_left_out": int((~keep).sum()),
    }

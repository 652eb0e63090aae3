"""The summary of an evaluation a person reads: test sets, per-kind means and pooled groups."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from silentscope.audit.test_sets import parse_test_set
from silentscope.evaluation.kinds import is_test_set, kind_caption, unchanged_shifts
from silentscope.evaluation.result import EvaluationResult
from silentscope.metrics import get_metric


@dataclass
class EvaluationSummary:
    """One metric as CSF x column, on the table scale, with what the columns mean.

    Attributes
    ----------
    values, ci_low, ci_high : DataFrame
        CSF (``classifier`` for a classification metric) x column. Columns are the shown
        test sets, after each shift kind with two or more test sets its mean over them
        (``"cor (mean of 10)"``, no interval), and the pooled groups (``"cor (pooled)"``).
    means : dict of str to str
        Mean column -> the kind it averages.
    caption : str
        What the mean and pooled columns hold, and what is not shown.
    hidden : int
        Single corruption test sets left out (all are in the result's table).
    """

    values: pd.DataFrame
    ci_low: pd.DataFrame
    ci_high: pd.DataFrame
    means: dict[str, str]
    caption: str
    hidden: int


def summarize(result: EvaluationResult, metric: str, max_groups: int = 10) -> EvaluationSummary:
    """The columns ``silentscope evaluate`` prints for ``metric``.

    Examples
    --------
    >>> table = pd.DataFrame({"csf": ["MSR"] * 3, "metric": ["aurc"] * 3,
    ...     "test_set": ["cor/noise/1", "cor/blur/1", "cor (pooled)"], "value": [0.1, 0.3, 0.25],
    ...     "ci_low": [np.nan] * 3, "ci_high": [np.nan] * 3})
    >>> result = EvaluationResult(table, pd.DataFrame(), settings={"pooled_groups": {"cor (pooled)": []}})
    >>> summary = summarize(result, "aurc")
    >>> summary.values.round(1).to_dict("records")
    [{'cor/noise/1': 100.0, 'cor/blur/1': 300.0, 'cor (mean of 2)': 200.0, 'cor (pooled)': 250.0}]
    >>> summary.caption
    "cor = mean over 2 corruption test sets (each weighs the same, as in Bungert et al. 2023); (pooled) = the kind's samples taken as one set"
    """
    scale = get_metric(metric).table_scale
    frames = [result.wide(metric, column) for column in ("value", "ci_low", "ci_high")]
    groups, hidden = result.summary_groups(max_groups)
    means = result.kind_means(metric)
    unchanged = _unchanged_sets(result)
    order = [name for name in groups if name not in unchanged]
    labels = {}
    for kind, n in means.drop_duplicates("kind")[["kind", "n_test_sets"]].itertuples(index=False):
        label = f"{kind} (mean of {n})"
        labels[label] = kind
        # after the kind's last test set shown, else before its pooled groups
        kinds = [i for i, name in enumerate(order) if _kind(name) == kind]
        pooled = [i for i, name in enumerate(order) if name.startswith(f"{kind} (")]
        order.insert(max(kinds) + 1 if kinds else min(pooled, default=len(order)), label)
    mean_values = means.pivot(index="csf", columns="kind", values="value") * scale
    for label, kind in labels.items():
        frames[0][label] = mean_values[kind].reindex(frames[0].index)
        frames[1][label] = frames[2][label] = np.nan
    frames = [frame[order] for frame in frames]
    parts = [kind_caption(means)] if len(means) else []
    if any(name in result.settings.get("pooled_groups", {}) for name in order):
        parts.append("(pooled) = the kind's samples taken as one set")
    if hidden:
        parts.append(f"{hidden} single corruption test sets not shown; all are in the saved files")
    if unchanged:
        parts.append(
            f"not shown as shifts: {', '.join(sorted(unchanged))} (their images did not change)"
        )
    return EvaluationSummary(*frames, labels, "; ".join(p for p in parts if p), hidden)


def _unchanged_sets(result: EvaluationResult) -> set[str]:
    """Test sets of shifts whose measured change from the clean images is negligible."""
    frame = result.table if len(result.table) else result.classification
    if "shift_change" not in frame:
        return set()
    rows = frame[frame["test_set"].map(is_test_set)].drop_duplicates("test_set")
    return set(rows.loc[unchanged_shifts(rows), "test_set"])


def _kind(name: str) -> str:
    return parse_test_set(name).kind if is_test_set(name) else ""


__all__ = ["EvaluationSummary", "summarize"]

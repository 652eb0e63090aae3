"""One value per shift kind: the mean over that kind's test sets (the paper's "cor").

Bungert et al. (MICCAI 2023) report a corruption shift as the mean of a metric over the
corruption test sets (every corruption type at every severity), each test set weighing
the same. Pooling all corrupted samples into one set gives a different number (a
corruption with more samples, or easier ones, weighs more), so silentscope computes the
per-kind value here only, for ``evaluate``, the study tables and the report alike, and
calls the pooled value "pooled" wherever it is shown.
"""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd

from silentscope.audit.shift_change import is_negligible_shift
from silentscope.audit.test_sets import parse_test_set

#: How the per-kind values are computed, for captions and run records.
KIND_MEAN_DEFINITION = (
    "mean over the kind's test sets, each weighing the same (Bungert et al. 2023); "
    "'pooled' values treat all of the kind's samples as one set instead"
)


def is_test_set(name: str) -> bool:
    """Whether ``name`` is a single test set (not a pooled group such as ``cor (pooled)``).

    Examples
    --------
    >>> is_test_set("cor/gaussian_noise/3"), is_test_set("cor (pooled)")
    (True, False)
    """
    try:
        parse_test_set(name)
    except ValueError:
        return False
    return True


def kind_means(long: pd.DataFrame, by: Sequence[str] = (), value: str = "value") -> pd.DataFrame:
    """Mean of ``value`` over the test sets of each shift kind, with how many were averaged.

    Parameters
    ----------
    long : DataFrame
        One row per test set (and whatever ``by`` names): a ``test_set`` column and
        ``value``. Pooled rows (names that are not test sets) are left out, and a test set
        repeated within a ``by`` group counts once.
    by : sequence of str
        Columns that keep their own means (e.g. ``csf``, ``metric``, ``seed``).
    value : str, default="value"

    Returns
    -------
    DataFrame
        Columns ``*by``, ``kind``, ``value`` (the mean), ``n_test_sets`` and
        ``n_unchanged``: shift test sets left out because their measured change from the
        clean images (a ``shift_change`` column) is negligible
        (:func:`~silentscope.audit.is_negligible_shift`).

    Examples
    --------
    >>> long = pd.DataFrame({"test_set": ["iid", "cor/noise/1", "cor/blur/1", "cor (pooled)"],
    ...                      "value": [0.1, 0.2, 0.4, 0.35]})
    >>> kind_means(long).values.tolist()
    [['iid', 0.1, 1, 0], ['cor', 0.30000000000000004, 2, 0]]
    """
    rows = long[long["test_set"].map(is_test_set)]
    rows = rows.drop_duplicates([*by, "test_set"])
    unchanged = unchanged_shifts(rows)
    # a corrupted set whose images did not change is the iid set again, not a shift
    left_out = (
        rows[unchanged].assign(kind=rows["test_set"].map(lambda name: parse_test_set(name).kind))
        .groupby([*by, "kind"], sort=False)["test_set"].nunique()
    )  # fmt: skip
    rows = rows[~unchanged]
    rows = rows.assign(kind=rows["test_set"].map(lambda name: parse_test_set(name).kind))
    keys = [*by, "kind"]
    means = rows.groupby(keys, sort=False, as_index=False).agg(
        value=(value, "mean"), n_test_sets=("test_set", "nunique")
    )
    means = means.rename(columns={"value": value})
    index = pd.MultiIndex.from_frame(means[keys]) if len(keys) > 1 else means[keys[0]]
    means["n_unchanged"] = left_out.reindex(index).fillna(0).astype(int).to_numpy()
    return means


def unchanged_shifts(rows: pd.DataFrame) -> pd.Series:
    """Shift test sets whose measured change from the clean images is negligible."""
    if "shift_change" not in rows:
        return pd.Series(False, index=rows.index)
    shift = rows["test_set"].map(lambda name: parse_test_set(name).is_shift)
    return shift & rows["shift_change"].map(is_negligible_shift)


_KIND_WORDS = {"cor": "corruption"}


def kind_caption(means: pd.DataFrame, dataset: str | None = None) -> str:
    """The footnote that says what each averaged kind column holds (empty when none is averaged).

    Parameters
    ----------
    means : DataFrame
        The output of :func:`kind_means` (``kind`` and ``n_test_sets`` columns).
    dataset : str, optional
        A column of ``means`` whose values may have different counts (e.g. ``dataset``).

    Examples
    --------
    >>> means = pd.DataFrame({"kind": ["iid", "cor"], "value": [0.1, 0.3], "n_test_sets": [1, 10]})
    >>> kind_caption(means)
    'cor = mean over 10 corruption test sets (each weighs the same, as in Bungert et al. 2023)'
    >>> means = pd.DataFrame({"dataset": ["derma", "odir"], "kind": ["cor", "cor"],
    ...                       "n_test_sets": [10, 5]})
    >>> kind_caption(means, "dataset")
    "cor = mean over each dataset's corruption test sets (derma 10, odir 5; each weighs the same, as in Bungert et al. 2023)"
    """
    source = "each weighs the same, as in Bungert et al. 2023"
    parts = []
    for kind, rows in means.groupby("kind", sort=False):
        if rows["n_test_sets"].max() < 2:
            continue
        word = _KIND_WORDS.get(kind, kind)
        if dataset is None:
            counts = sorted(set(rows["n_test_sets"].astype(int)))
        else:
            counts = dict(zip(rows[dataset], rows["n_test_sets"].astype(int), strict=True))
        if dataset is not None and len(set(counts.values())) > 1:
            each = ", ".join(f"{name} {n}" for name, n in counts.items())
            parts.append(f"{kind} = mean over each {dataset}'s {word} test sets ({each}; {source})")
        else:
            n = next(iter(counts.values())) if isinstance(counts, dict) else counts[0]
            if isinstance(counts, list) and len(counts) > 1:
                n = f"{counts[0]}-{counts[-1]}"
            parts.append(f"{kind} = mean over {n} {word} test sets ({source})")
        if "n_unchanged" in rows and rows["n_unchanged"].max() > 0:
            parts[-1] += (
                f", leaving out {int(rows['n_unchanged'].max())} whose images did not change"
            )
    return "; ".join(parts)


__all__ = ["KIND_MEAN_DEFINITION", "is_test_set", "kind_caption", "kind_means", "unchanged_shifts"]

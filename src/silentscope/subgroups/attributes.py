"""Metadata columns turned into testable attributes: categorical levels or numeric bins.

A numeric attribute is binned for its group table, either into quantile bins (an int) or
at clinical cut points (a sequence, e.g. age ``[18, 40, 65]`` gives ``<18``, ``[18, 40)``,
``[40, 65)`` and ``>=65``), and can also be tested continuously. Missing values form
their own ``<missing>`` group, so that no sample is dropped silently.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from silentscope.audit.roles import analysable_columns, resolve_roles

MISSING = "<missing>"

#: Default number of quantile bins of a numeric attribute.
DEFAULT_QUANTILE_BINS = 4

#: A numeric column with at most this many distinct values is treated as categorical.
MAX_NUMERIC_LEVELS_AS_CATEGORICAL = 5


@dataclass(frozen=True)
class Skipped:
    """Something an analysis left out, and why."""

    what: str
    reason: str


@dataclass(frozen=True)
class Attribute:
    """One metadata attribute prepared for testing.

    Attributes
    ----------
    name : str
    kind : {"categorical", "numeric"}
    groups : ndarray of str, shape (N,)
        Group label per sample (the bin for numeric attributes, ``<missing>`` if missing).
    levels : tuple of str
        Group labels in display order.
    values : ndarray of float, shape (N,) or None
        The numeric values (NaN where missing); None for categorical attributes.
    """

    name: str
    kind: str
    groups: np.ndarray
    levels: tuple[str, ...]
    values: np.ndarray | None = None

    def subset(self, rows: np.ndarray) -> Attribute:
        values = None if self.values is None else self.values[rows]
        groups = self.groups[rows]
        levels = tuple(level for level in self.levels if np.any(groups == level))
        return Attribute(self.name, self.kind, groups, levels, values)


def _format(value: float) -> str:
    return f"{value:g}"


def bin_numeric(
    values, bins: int | Sequence[float] = DEFAULT_QUANTILE_BINS
) -> tuple[np.ndarray, tuple[str, ...]]:
    """Group numeric values into quantile bins or at given cut points.

    Parameters
    ----------
    values : array of float, shape (N,)
        NaN marks a missing value; it goes to the ``<missing>`` group.
    bins : int or sequence of float, default 4
        Number of quantile bins, or increasing cut points (clinical bands). With cut points
        ``c_1 < ... < c_k`` the bins are ``<c_1``, ``[c_1, c_2)``, ..., ``>=c_k``, so every
        value falls in one.

    Returns
    -------
    groups : ndarray of str, shape (N,)
    levels : tuple of str
        Bin labels in increasing order (then ``<missing>`` where present); empty bins are
        left out.

    Examples
    --------
    >>> groups, levels = bin_numeric([5, 30, 50, 70, np.nan], [18, 65])
    >>> levels
    ('<18', '[18, 65)', '>=65', '<missing>')
    >>> groups.tolist()
    ['<18', '[18, 65)', '[18, 65)', '>=65', '<missing>']
    """
    values = np.asarray(values, dtype=float)
    present = ~np.isnan(values)
    if isinstance(bins, int | np.integer):
        if bins < 2:
            raise ValueError(f"a numeric attribute needs at least 2 quantile bins, got {bins}")
        if not present.any():
            raise ValueError("cannot bin a numeric attribute whose values are all missing")
        quantiles = np.quantile(values[present], np.linspace(0, 1, int(bins) + 1)[1:-1])
        cuts = np.unique(quantiles)
        # a cut at the minimum would leave the first bin empty
        cuts = cuts[cuts > values[present].min()]
    else:
        cuts = np.asarray(bins, dtype=float)
        if (
            cuts.ndim != 1
            or len(cuts) == 0
            or np.any(np.diff(cuts) <= 0)
            or not np.all(np.isfinite(cuts))
        ):
            raise ValueError(
                f"bin cut points must be a non-empty increasing list of numbers, got {list(bins)}"
            )
    labels = [f"<{_format(cuts[0])}"] if len(cuts) else ["all"]
    labels += [
        f"[{_format(lo)}, {_format(hi)})" for lo, hi in zip(cuts[:-1], cuts[1:], strict=True)
    ]
    if len(cuts):
        labels.append(f">={_format(cuts[-1])}")
    index = np.searchsorted(cuts, values, side="right")
    groups = np.full(len(values), MISSING, dtype=object)
    groups[present] = np.asarray(labels, dtype=object)[index[present]]
    levels = [label for label in labels if np.any(groups == label)]
    if not present.all():
        levels.append(MISSING)
    return groups.astype(str), tuple(levels)


def quantile_cut_points(values, n_bins: int = DEFAULT_QUANTILE_BINS) -> list[float]:
    """The cut points :func:`bin_numeric` would use for ``n_bins`` quantile bins of ``values``.

    Fixing them once (on every distinct image of a store) makes the bins the same whatever
    scope or options a run uses; analyses record them with their results.

    Examples
    --------
    >>> quantile_cut_points(np.arange(1, 101), 4)
    [25.75, 50.5, 75.25]
    """
    values = np.asarray(values, dtype=float)
    present = values[~np.isnan(values)]
    if not len(present):
        return []
    cuts = np.unique(np.quantile(present, np.linspace(0, 1, int(n_bins) + 1)[1:-1]))
    return [float(c) for c in cuts[cuts > present.min()]]


def prepare_attributes(
    metadata: pd.DataFrame,
    attributes: Sequence[str] | None = None,
    *,
    bins: Mapping[str, int | Sequence[float]] | None = None,
    categorical: Sequence[str] = (),
    exclude: Sequence[str] = (),
    max_levels: int = 20,
    roles: Mapping | None = None,
    keep_label_derived: bool = False,
) -> tuple[list[Attribute], list[Skipped]]:
    """Turn metadata columns into :class:`Attribute` objects, skipping untestable ones.

    Parameters
    ----------
    metadata : DataFrame
    attributes : list of str, optional
        Columns to use; all columns (except ``exclude``) by default.
    bins : mapping of column to int or cut points, optional
        Binning of numeric columns; a column named here is numeric. Others get
        :data:`DEFAULT_QUANTILE_BINS` quantile bins.
    categorical : list of str
        Columns to treat as categorical even if numeric (e.g. site codes).
    exclude : list of str
        Columns never used as attributes (e.g. the patient id used for clustering).
    max_levels : int, default 20
        A categorical column with more distinct values is skipped.
    roles : mapping of column to ColumnRole, optional
        The columns' roles (``audit.metadata_roles``); inferred from the table if not given
        (:func:`silentscope.audit.roles.resolve_roles`). Identifiers, row indices, file
        names, ground truth and label-derived columns are skipped with their reason, also
        when named in ``attributes``: declare another role to test one.
    keep_label_derived : bool, default False
        Test label-derived columns too.

    Returns
    -------
    attributes : list of Attribute
    skipped : list of Skipped
        Columns left out, each with the reason.

    Raises
    ------
    ValueError
        If a requested column is not in the metadata.

    Examples
    --------
    >>> meta = pd.DataFrame({"age": [20, 35, 50, 65, 80, 90], "sex": list("FMFMFM"),
    ...                      "site": ["a"] * 6})
    >>> found, skipped = prepare_attributes(meta, bins={"age": [65]})
    >>> [(a.name, a.kind, a.levels) for a in found]
    [('age', 'numeric', ('<65', '>=65')), ('sex', 'categorical', ('F', 'M'))]
    >>> skipped[0].reason
    "has a single value ('a'); there is nothing to compare"
    """
    bins = dict(bins or {})
    columns = list(metadata.columns) if attributes is None else list(attributes)
    unknown = [c for c in [*columns, *bins, *categorical] if c not in metadata.columns]
    if unknown:
        raise ValueError(
            f"attribute(s) {unknown} not in the metadata; available: {', '.join(map(str, metadata.columns))}"
        )
    if attributes is None:
        columns = [c for c in columns if c not in set(exclude)]
    if roles is None:
        roles = resolve_roles(metadata)
    columns, left_out = analysable_columns(roles, columns, keep_label_derived=keep_label_derived)
    found: list[Attribute] = []
    skipped = [Skipped(f"attribute {name}", why) for name, why in left_out]
    for name in columns:
        column = metadata[name]
        present = column.notna().to_numpy()
        if not present.any():
            skipped.append(Skipped(f"attribute {name}", "all values are missing"))
            continue
        distinct = pd.unique(column[present])
        # one value plus missing ones is still two groups (value vs <missing>), as for any
        # other column: missingness can be where the classifier fails
        if len(distinct) == 1 and present.all():
            skipped.append(
                Skipped(
                    f"attribute {name}",
                    f"has a single value ({distinct[0]!r}); there is nothing to compare",
                )
            )
            continue
        is_number = pd.api.types.is_numeric_dtype(column) and not pd.api.types.is_bool_dtype(column)
        numeric = name in bins or (
            is_number
            and name not in categorical
            and len(distinct) > MAX_NUMERIC_LEVELS_AS_CATEGORICAL
        )
        if numeric:
            if not is_number:
                raise ValueError(
                    f"attribute {name!r} has bins but is not numeric; remove it from bins"
                )
            values = column.to_numpy(dtype=float, na_value=np.nan)
            groups, levels = bin_numeric(values, bins.get(name, DEFAULT_QUANTILE_BINS))
            found.append(Attribute(name, "numeric", groups, levels, values))
            continue
        if len(distinct) > max_levels:
            skipped.append(
                Skipped(
                    f"attribute {name}",
                    f"has {len(distinct)} distinct values (more than max_levels={max_levels}); "
                    "group its values first or raise max_levels",
                )
            )
            continue
        groups = np.where(present, column.astype(str).to_numpy(), MISSING).astype(str)
        levels = sorted(str(v) for v in distinct)
        if not present.all():
            levels.append(MISSING)
        found.append(Attribute(name, "categorical", groups, tuple(levels)))
    return found, skipped

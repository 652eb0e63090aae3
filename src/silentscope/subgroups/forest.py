"""Forest plots of subgroup odds ratios, as PNG or SVG bytes a report can embed."""

from __future__ import annotations

import io

import numpy as np
import pandas as pd

FORMATS = ("png", "svg")


def forest_plot(
    table: pd.DataFrame,
    *,
    estimate: str = "odds_ratio",
    low: str = "or_low",
    high: str = "or_high",
    labels: pd.Series | None = None,
    reference: float = 1.0,
    max_rows: int = 40,
    title: str | None = None,
    format: str = "png",
    dpi: int = 120,
) -> bytes:
    """Draw estimates with their intervals on a log axis, one row per table row.

    Rows keep the table's order (top to bottom), so a ranked table shows its riskiest
    groups first. Rows flagged ``significant`` are drawn in red; rows without an
    estimate (untested groups) are left out and counted in the title.

    Parameters
    ----------
    table : DataFrame
        E.g. :attr:`SubgroupResult.groups` (the default columns) or
        :attr:`SubgroupResult.multivariable` with ``estimate="adjusted_or"``,
        ``low="adjusted_or_low"``, ``high="adjusted_or_high"``.
    estimate, low, high : str
        Columns of the point estimate and interval (positive numbers).
    labels : Series of str, optional
        Row labels; default ``attribute = group (n)`` or the ``term`` column, prefixed with
        the scope where the table holds several.
    reference : float, default 1.0
        Where the "no effect" line is drawn.
    max_rows : int, default 40
        Only the first rows are drawn.
    title : str, optional
    format : {"png", "svg"}, default "png"
    dpi : int, default 120

    Returns
    -------
    bytes
        The image file's content.

    Raises
    ------
    ValueError
        If a column is missing, the format unknown or no row has an estimate.

    Examples
    --------
    >>> table = pd.DataFrame({"attribute": ["age", "sex"], "group": [">=65", "F"], "n": [50, 90],
    ...                       "odds_ratio": [3.1, 0.9], "or_low": [1.8, 0.6], "or_high": [5.2, 1.4],
    ...                       "significant": [True, False]})
    >>> forest_plot(table)[:4] == b"\\x89PNG"
    True
    >>> forest_plot(table, format="svg").lstrip()[:5]
    b'<?xml'
    """
    from matplotlib.figure import Figure  # imported here: plotting is optional and slow to import

    if format not in FORMATS:
        raise ValueError(f"format must be one of {', '.join(FORMATS)}, got {format!r}")
    missing = [c for c in (estimate, low, high) if c not in table.columns]
    if missing:
        raise ValueError(
            f"table lacks column(s) {missing}; pass estimate=, low= and high= to name them"
        )
    if labels is None:
        labels = _default_labels(table)
    shown = table[table[estimate].notna() & (table[estimate] > 0)]
    left_out = len(table) - len(shown)
    if shown.empty:
        raise ValueError("no row has an estimate to plot (were all groups below min_group_size?)")
    truncated = max(0, len(shown) - max_rows)
    shown = shown.iloc[:max_rows]
    names = labels.loc[shown.index].astype(str).tolist()
    values = shown[estimate].to_numpy(dtype=float)
    lows = np.clip(shown[low].to_numpy(dtype=float), 1e-3, None)
    highs = np.clip(shown[high].to_numpy(dtype=float), None, 1e3)
    flagged = (
        shown["significant"].to_numpy(dtype=bool)
        if "significant" in shown
        else np.zeros(len(shown), bool)
    )

    figure = Figure(figsize=(7.5, 1.2 + 0.32 * len(shown)), layout="constrained")
    axis = figure.add_subplot()
    y = np.arange(len(shown))[::-1]
    colours = np.where(flagged, "#c0392b", "#34495e")
    axis.hlines(y, lows, highs, colors=colours, linewidth=1.6)
    axis.scatter(values, y, c=colours, marker="s", s=28, zorder=3)
    axis.axvline(reference, color="#7f8c8d", linestyle="--", linewidth=1)
    axis.set_xscale("log")
    axis.set_yticks(y, names, fontsize=8)
    axis.set_xlabel(f"{estimate.replace('_', ' ')} (log scale), {low}-{high}")
    notes = []
    if left_out:
        notes.append(f"{left_out} untested rows not shown")
    if truncated:
        notes.append(f"{truncated} more rows not shown")
    heading = title or "Odds ratio of misclassification (red: significant after FDR)"
    axis.set_title(heading + (f"\n({'; '.join(notes)})" if notes else ""), fontsize=9)
    buffer = io.BytesIO()
    figure.savefig(
        buffer,
        format=format,
        dpi=dpi,
        metadata={"Software": None} if format == "png" else {"Date": None},
    )
    return buffer.getvalue()


def _default_labels(table: pd.DataFrame) -> pd.Series:
    if "group" in table.columns:
        text = table["attribute"].astype(str) + " = " + table["group"].astype(str)
        if "n" in table.columns:
            text = text + " (n=" + table["n"].astype(str) + ")"
    elif "term" in table.columns:
        text = table["term"].astype(str)
    else:
        text = pd.Series([str(i) for i in table.index], index=table.index)
    scope_columns = [
        c for c in ("test_set", "class") if c in table.columns and table[c].nunique() > 1
    ]
    for column in reversed(scope_columns):
        text = table[column].astype(str) + " | " + text
    return text

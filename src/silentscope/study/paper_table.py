"""The paper's table (Bungert et al., MICCAI 2023, Fig. 1): CSF x shift, coloured per column by rank.

Each cell holds the mean over seeds (± std only when there are two or more seeds); its
colour is the CSF's rank within its column, from green (best) to red (worst), so a reader
sees at a glance which CSF wins where. The best cell is bold and the cells statistically
tied with it (:meth:`~silentscope.study.ranking.Ranking.tied`) are underlined. A cell
with a degenerate classifier among its seeds (any seed, not only the one the report shows
in detail) is grey and takes no colour, mark or rank: it shows the mean ± std over its
healthy seeds marked ``(k/n)†`` when it has some, and says ``degenerate`` when it has none
(:func:`~silentscope.study.results.format_summary`). Its mean is over another set of
seeds than its column's other cells, so ranking it among them would compare unlike things.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from silentscope.study.results import (
    DEGENERATE_MARK,
    best_per_column,
    degenerate_note,
    format_summary,
    kinds_caption,
    seeds_phrase,
)

#: Colours of rank 1 (best), the middle and the last rank of a column (RGB, 0-1).
_GOOD, _MIDDLE, _BAD = (0.39, 0.75, 0.48), (1.0, 0.92, 0.52), (0.97, 0.51, 0.44)


def column_ranks(
    table: pd.DataFrame, higher_is_better: bool, include_degenerate: bool = False
) -> pd.DataFrame:
    """The rank (1 = best) of every cell within its (dataset, kind) column; NaN for cells
    with no value or, unless ``include_degenerate``, a degenerate classifier among the seeds
    (a partial cell, its mean over the healthy seeds, included)."""
    means = table.xs("mean", axis=1, level=2)
    if not include_degenerate and "n_degenerate" in table.columns.get_level_values(2):
        flagged = table.xs("n_degenerate", axis=1, level=2).reindex_like(means).fillna(0) > 0
        means = means.mask(flagged)
    return means.rank(ascending=not higher_is_better, axis=0, method="min")


def rank_colour(rank: float, n: int) -> tuple[float, float, float] | None:
    """RGB of a rank among ``n``: green for the best, yellow mid-way, red for the last.

    Examples
    --------
    >>> rank_colour(1, 5), rank_colour(5, 5) == _BAD, rank_colour(float("nan"), 5)
    ((0.39, 0.75, 0.48), True, None)
    """
    if not np.isfinite(rank):
        return None
    t = 0.0 if n <= 1 else (rank - 1) / (n - 1)
    a, b, u = (_GOOD, _MIDDLE, 2 * t) if t <= 0.5 else (_MIDDLE, _BAD, 2 * t - 1)
    return tuple(round(x + (y - x) * u, 3) for x, y in zip(a, b, strict=True))


def paper_cells(
    table: pd.DataFrame,
    higher_is_better: bool,
    tied: dict[tuple[str, str], set[str]],
    scale: float = 1.0,
    include_degenerate: bool = False,
) -> pd.DataFrame:
    """One record per cell: text, rank, colour, best, tied and degenerate, by (CSF, column)."""
    formatted = format_summary(table, scale, include_degenerate=include_degenerate)
    ranks = column_ranks(table, higher_is_better, include_degenerate)
    best = best_per_column(table, higher_is_better, include_degenerate)  # one per column
    out = {}
    for column, (dataset, kind) in zip(formatted.columns, ranks.columns, strict=True):
        n = int(ranks[(dataset, kind)].notna().sum())
        cells = []
        for csf in formatted.index:
            text = formatted.loc[csf, column]
            rank = float(ranks.loc[csf, (dataset, kind)])
            cells.append(
                {
                    "text": text,
                    "rank": rank,
                    "colour": rank_colour(rank, n),
                    "best": best.get((dataset, kind)) == csf,
                    # an equal value (MSR and TS-MSR rank alike) is tied too
                    "tied": best.get((dataset, kind)) != csf
                    and (csf in tied.get((dataset, kind), set()) or rank == 1),
                    "degenerate": text.endswith(DEGENERATE_MARK),
                }
            )
        out[column] = cells
    return pd.DataFrame(out, index=formatted.index)


def _tex(text: str) -> str:
    for a, b in (("\\", "\\textbackslash{}"), ("_", "\\_"), ("&", "\\&"), ("%", "\\%"),
                 ("#", "\\#"), ("$", "\\$"), ("{", "\\{"), ("}", "\\}")):  # fmt: skip
        text = text.replace(a, b)
    return text


def paper_latex(cells: pd.DataFrame, caption: str) -> str:
    """The table as LaTeX (booktabs, and ``\\usepackage[table]{xcolor}`` for the colours).

    Examples
    --------
    >>> cells = pd.DataFrame({"d iid": [{"text": "1.0 ± 0.1", "colour": (0.4, 0.8, 0.5),
    ...     "best": True, "tied": False, "degenerate": False}]}, index=["MSR"])
    >>> print(paper_latex(cells, "AURC").splitlines()[8])
    MSR & \\cellcolor[rgb]{0.4,0.8,0.5}\\textbf{1.0 $\\pm$ 0.1} \\\\
    """
    columns = list(cells.columns)
    lines = [
        "% needs \\usepackage{booktabs} and \\usepackage[table]{xcolor}",
        "\\begin{table}[t]",
        "\\centering",
        "\\caption{" + _tex(caption).replace("±", "$\\pm$") + "}",
        "\\begin{tabular}{l" + "r" * len(columns) + "}",
        "\\toprule",
        "CSF & " + " & ".join(_tex(c) for c in columns) + " \\\\",
        "\\midrule",
    ]
    for csf in cells.index:
        parts = []
        for column in columns:
            cell = cells.loc[csf, column]
            value = _tex(cell["text"].removesuffix(DEGENERATE_MARK)).replace("±", "$\\pm$")
            if cell["best"]:
                value = f"\\textbf{{{value}}}"
            elif cell["tied"]:
                value = f"\\underline{{{value}}}"
            if cell["degenerate"]:
                value = f"\\textcolor{{gray}}{{{value}}}$^\\dagger$"
            colour = cell["colour"]
            if colour is not None and cell["text"]:
                rgb = ",".join(f"{x:g}" for x in colour)
                value = f"\\cellcolor[rgb]{{{rgb}}}{value}"
            parts.append(value)
        lines.append(_tex(csf) + " & " + " & ".join(parts) + " \\\\")
    lines += ["\\bottomrule", "\\end{tabular}", "\\end{table}"]
    return "\n".join(lines) + "\n"


def paper_html(cells: pd.DataFrame, corner: str = "CSF") -> str:
    """The table as HTML: background colour by rank, ``best``/``tied``/``degenerate`` classes."""
    import html

    head = "".join(f"<th>{html.escape(c)}</th>" for c in cells.columns)
    body = []
    for csf in cells.index:
        parts = []
        for column in cells.columns:
            cell = cells.loc[csf, column]
            classes = [k for k in ("best", "tied", "degenerate") if cell[k]]
            style = ""
            if cell["colour"] is not None and cell["text"] and not cell["degenerate"]:
                r, g, b = (round(255 * x) for x in cell["colour"])
                style = f' style="background:rgb({r},{g},{b})"'
            rank = f' data-rank="{cell["rank"]:g}"' if np.isfinite(cell["rank"]) else ""
            css = f' class="{" ".join(classes)}"' if classes else ""
            parts.append(f"<td{css}{style}{rank}>{html.escape(cell['text'])}</td>")
        body.append(f"<tr><td>{html.escape(csf)}</td>{''.join(parts)}</tr>")
    return (
        f"<table class='paper'><tr><th>{html.escape(corner)}</th>{head}</tr>"
        + "".join(body)
        + "</table>"
    )


def paper_caption(
    long: pd.DataFrame,
    table: pd.DataFrame,
    metric: str,
    ranking=None,
    include_degenerate: bool = False,
) -> str:
    """The caption of the paper-style table: what a cell holds, the colours and the marks."""
    from silentscope.metrics.registry import get_metric

    spec = get_metric(metric)
    scale = getattr(spec, "table_scale", 1.0)
    unit = f" x{scale:g}" if scale != 1 else ""
    direction = "higher" if spec.higher_is_better else "lower"
    caption = (
        f"{getattr(spec, 'display_name', metric)}{unit} ({direction} is better), "
        f"{seeds_phrase(table)}. Cells coloured by rank within each column (green best, red "
        "worst); best in bold"
    )
    caption += f", underlined: {ranking.caption()}." if ranking is not None else "."
    kinds = kinds_caption(long)
    if kinds:
        caption += f" {kinds}."
    note = degenerate_note(long, include_degenerate)
    if note:  # which runs were left out of which cells, and why; grey: not coloured by rank
        caption += " " + " ".join(note.splitlines()) + " Grey: a cell with a degenerate seed."
    return caption

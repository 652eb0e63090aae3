"""Tables that read at the terminal's width: every CLI table is printed through :func:`print_table`.

Rich shrinks columns that do not fit to "…", which hides the very numbers a table is for
(an 80-column terminal showed one readable column of ``shifts list``). Here no cell is ever
cut: cells wrap at spaces (or fold inside a word too long for any width), and a table whose
columns cannot all stand side by side legibly is printed as several tables, each repeating
the leading key columns (e.g. the CSF name) beside the next group of columns.
"""

from __future__ import annotations

import copy

from rich.console import Console
from rich.measure import Measurement
from rich.table import Table

from silentscope.cli._common import console as default_console


def print_table(table: Table, *, keep: int = 1, out: Console | None = None) -> None:
    """Print ``table`` so that it reads at the console's width, splitting its columns if needed.

    Parameters
    ----------
    table : rich.table.Table
        The table; its columns are made to wrap or fold (never "…").
    keep : int, default=1
        Leading key columns repeated in every part when the table is split.
    out : rich.console.Console, optional
        Default: the CLI's console.

    Examples
    --------
    >>> from io import StringIO
    >>> narrow = Console(file=StringIO(), width=40)
    >>> table = Table("CSF", *(f"set {i}" for i in range(8)))
    >>> table.add_row("MSR", *(f"{i}.25" for i in range(8)))
    >>> print_table(table, out=narrow)
    >>> text = narrow.file.getvalue()
    >>> max(map(len, text.splitlines())) <= 40, "…" in text, text.count("MSR")
    (True, False, 2)
    """
    out = out or default_console
    table.caption_justify = "left"  # a wrapped caption reads as a paragraph, not a centred block
    parts = split_table(table, out.width, keep, out)
    caption = parts[-1].caption if len(parts) > 1 else None
    if caption:  # under several parts the caption reads at the full width, not the last part's
        parts[-1].caption = None
    for part in parts:
        out.print(part)
    if caption:
        out.print(caption, style="table.caption", highlight=False)


#: Key columns (names of CSFs, test sets) are kept whole up to this many characters.
_KEY_WIDTH = 30
#: Headers of number columns up to this many characters are not wrapped.
_HEADER_WIDTH = 16


def _prepare(table: Table, out: Console, keep: int) -> None:
    """Fix the width of key and number columns to their content; let text columns wrap."""
    options = out.options.update_width(10_000)

    def content(column) -> int:
        cells = [Measurement.get(out, options, cell).maximum for cell in column.cells]
        header = Measurement.get(out, options, column.header)
        # a short header (e.g. "cor (mean of 18)") stays on one line
        return max([header.minimum, min(header.maximum, _HEADER_WIDTH), *cells])

    for index, column in enumerate(table.columns):
        # numbers (right-aligned) and short names are never broken (their headers may
        # wrap at spaces); text wraps at spaces, and a word too long for any width folds
        # rather than turning into "…"
        if index < keep:
            column.width = min(content(column), _KEY_WIDTH)
        elif column.justify == "right" or column.no_wrap and _is_short(column):
            column.width = content(column)
        column.no_wrap = False
        column.overflow = "fold"


def _is_short(column) -> bool:
    """Whether a column asked not to wrap is short enough to be kept whole (e.g. names)."""
    return all(len(str(cell)) <= 24 and "\n" not in str(cell) for cell in column.cells)


def split_table(table: Table, width: int, keep: int = 1, out: Console | None = None) -> list[Table]:
    """``table`` as parts that each fit ``width`` without cutting a word (one part when it fits)."""
    out = out or default_console
    for column in table.columns:
        column.overflow = "fold"  # never "…", whatever happens below
    if Measurement.get(out, out.options.update_width(10_000), table).maximum <= width:
        return [table]  # nothing needs to wrap
    _prepare(table, out, keep)
    if _fits(table, width, out) or len(table.columns) <= keep + 1:
        return [_share_width(table, width, out)]
    keys, rest = table.columns[:keep], table.columns[keep:]
    groups: list[list] = [[]]
    for column in rest:
        trial = _part(table, keys, [*groups[-1], column])
        if groups[-1] and not _fits(trial, width, out):
            groups.append([column])
        else:
            groups[-1].append(column)
    parts = [_share_width(_part(table, keys, group), width, out) for group in groups]
    for index, part in enumerate(parts):
        part.title = table.title if index == 0 else None
        part.caption = table.caption if index == len(parts) - 1 else None
    return parts


def _share_width(table: Table, width: int, out: Console) -> Table:
    """Give each wrapping column its longest word, then the width left in proportion to its need.

    Rich's own shrinking may cut a column below its longest word; fixed widths computed
    here never do while the words fit at all.
    """
    options = out.options.update_width(10_000)
    flexible = [column for column in table.columns if column.width is None]
    if not flexible:
        return table
    spans = {}
    for column in flexible:
        sizes = [Measurement.get(out, options, cell) for cell in [column.header, *column.cells]]
        spans[column._index] = (max(m.minimum for m in sizes), max(m.maximum for m in sizes))
    for column in flexible:  # measure the table at its narrowest to learn the borders' width
        column.width = spans[column._index][0]
    narrowest = Measurement.get(out, options, table).maximum
    slack = max(width - narrowest, 0)
    need = {index: high - low for index, (low, high) in spans.items()}
    total = sum(need.values())
    for column in flexible:
        low = spans[column._index][0]
        share = need[column._index] if total <= slack else slack * need[column._index] // total
        column.width = low + share
    return table


def _part(table: Table, keys: list, columns: list) -> Table:
    part = copy.copy(table)
    part.columns = [copy.copy(column) for column in [*keys, *columns]]
    for index, column in enumerate(part.columns):
        column._index = index
    return part


def _fits(table: Table, width: int, out: Console) -> bool:
    """Whether every column gets its longest word within ``width``."""
    options = out.options.update_width(10_000)
    return Measurement.get(out, options, table).minimum <= width


__all__ = ["print_table", "split_table"]

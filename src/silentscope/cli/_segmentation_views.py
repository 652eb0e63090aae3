"""Terminal tables of a segmentation: Dice per test set, and the CSFs on the continuous risk."""

from __future__ import annotations

import math
from pathlib import Path

from rich.table import Table

from silentscope.cli._tables import print_table


def print_segmentation_tables(study_dir: Path) -> None:
    """A study's Dice per test set and variant, then AURC per CSF x variant and group."""
    import pandas as pd

    results = study_dir / "results"
    print_table(dice_view(pd.read_csv(results / "segmentation_dice.csv")))
    print_table(aurc_view(pd.read_csv(results / "segmentation_aurc.csv")))


def print_audit_dice(audit, n_bootstrap: int = 0, level: float = 0.95, seed: int = 0) -> None:
    """Print one segmentation AuditSet's Dice per test set (see :func:`audit_dice_view`)."""
    print_table(audit_dice_view(audit, n_bootstrap, level, seed))


def audit_dice_view(audit, n_bootstrap: int, level: float, seed: int) -> Table:
    """One segmentation AuditSet's Dice (or risk) per test set, with CIs over volumes."""
    from silentscope.evaluation.segmentation_tables import dice_per_test_set

    table = dice_per_test_set(audit, n_bootstrap, level, seed)
    measure = table["measure"].iloc[0] if len(table) else "Dice"
    ci = f", {level:.0%} CI over volumes from {n_bootstrap} resamples" if n_bootstrap else ""
    higher = "higher" if measure == "Dice" else "lower"
    view = Table(title=f"segmentation per test set: mean {measure} ({higher} is better{ci})")
    for column in ("test set", "volumes", f"mean {measure}", "worst volume"):
        view.add_column(column, justify="left" if column == "test set" else "right")
    for row in table.itertuples():
        view.add_row(
            row.test_set,
            str(row.volumes),
            _cell(row.value, row.ci_low, row.ci_high),
            f"{row.worst:.3f}",
        )
    return view


def _cell(value: float, low: float, high: float, scale: float = 1.0, digits: int = 3) -> str:
    if math.isnan(value):
        return "[dim]n/a[/]"
    text = f"{value * scale:.{digits}f}"
    if not math.isnan(low):
        text += f" [dim][{low * scale:.{digits}f}, {high * scale:.{digits}f}][/]"
    return text


def _mark(row) -> str:
    from silentscope.study.results import DEGENERATE_MARK

    return DEGENERATE_MARK if getattr(row, "degenerate", False) else ""


def degenerate_caption(table) -> str:
    """A caption naming the degenerate variants of a table (``†``), or an empty one."""
    from silentscope.study.results import DEGENERATE_MARK

    bad = (
        sorted(set(table.loc[table["degenerate"].astype(bool), "objective"])) if len(table) else []
    )
    if not bad:
        return ""
    return (
        f"{DEGENERATE_MARK} degenerate network ({', '.join(bad)}): no better than predicting one "
        "class on its validation voxels; never marked best"
    )


def dice_view(dice) -> Table:
    variants = list(dict.fromkeys(dice["objective"]))
    n_seeds = int(dice["n_seeds"].max()) if len(dice) else 0
    table = Table(
        title=f"Dice per test set (higher is better; mean over {n_seeds} seed(s), 95% CI over volumes)"
    )
    table.caption = degenerate_caption(dice) or None
    table.add_column("test set", style="bold")
    for variant in variants:
        table.add_column(variant, justify="right")
    for test_set, rows in dice.groupby("test_set", sort=False):
        by = {
            r.objective: _cell(r.value, r.ci_low, r.ci_high) + _mark(r) for r in rows.itertuples()
        }
        table.add_row(test_set, *(by.get(v, "-") for v in variants))
    return table


def aurc_view(aurc) -> Table:
    columns = list(dict.fromkeys(zip(aurc["objective"], aurc["group"], strict=True)))
    table = Table(
        title="AURC x1000 of each aggregated confidence on the continuous risk 1 - Dice "
        "(lower is better; 95% CI over volumes; best per column in bold)"
    )
    table.caption = degenerate_caption(aurc) or None
    table.add_column("CSF", style="bold")
    for objective, group in columns:
        table.add_column(f"{objective} {group}", justify="right")
    from silentscope.study.segmentation_results import best_csfs

    best = best_csfs(aurc)
    for csf, rows in aurc.groupby("csf", sort=False):
        by = {(r.objective, r.group): r for r in rows.itertuples()}
        cells = []
        for key in columns:
            r = by.get(key)
            text = "-" if r is None else _cell(r.value, r.ci_low, r.ci_high, 1000, 1) + _mark(r)
            cells.append(f"[bold green]{text}[/]" if best.get(key) == csf else text)
        table.add_row(csf, *cells)
    return table

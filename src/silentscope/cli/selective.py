"""``silentscope tuned-threshold``: does a threshold tuned on validation keep its risk on test data?"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from silentscope.cli._common import NoVerify, console, err_console, user_errors
from silentscope.cli._common import fmt_value as _fmt
from silentscope.cli._tables import print_table

STORE_ARGUMENT = typer.Argument(..., help="Audit store folder (see `silentscope import`).")


def tuned_threshold(
    store: Path = STORE_ARGUMENT,
    target_risk: float = typer.Option(
        ..., "--target-risk", "-r", help="Tolerated selective risk r* in [0, 1], e.g. 0.05."
    ),
    csf: Annotated[
        list[str] | None,
        typer.Option("--csf", help="CSF name (repeatable; default: every available CSF)."),
    ] = None,
    test_set: Annotated[
        list[str] | None,
        typer.Option("--test-set", help="Test set (repeatable; default: every one but val)."),
    ] = None,
    ood_convention: str = typer.Option(
        "fdshifts", help="How ood/ sets are judged: fdshifts or all_iid."
    ),
    out: Annotated[
        Path | None, typer.Option(help="Also write the table as CSV to this file.")
    ] = None,
    no_verify: NoVerify = False,
) -> None:
    """Test risk and coverage at a threshold tuned on the validation split for a target risk.

    For each CSF the threshold with the largest validation coverage whose validation risk is at
    most r* is applied unchanged to every test set; rows whose test risk exceeds r* are marked.

    Example: silentscope tuned-threshold audit_store --target-risk 0.05 --csf MSR --csf TS-MSR
    """
    from silentscope.audit.store import load_audit
    from silentscope.evaluation import tuned_threshold_table

    with user_errors():
        audit = load_audit(store, verify=not no_verify)
        result = tuned_threshold_table(
            audit, target_risk, csfs=csf or None, test_sets=test_set or None,
            ood_convention=ood_convention,
        )  # fmt: skip
    table = Table(
        "CSF", "test set", "threshold", "val risk", "val cov", "test risk", "test cov", "r*",
        title=f"Threshold tuned on val for risk <= {target_risk:g}, applied to each test set",
        caption=result.settings["definition"],
    )  # fmt: skip
    for row in result.table.itertuples(index=False):
        table.add_row(
            row.csf, row.test_set, _fmt(row.threshold, 4), _fmt(row.val_risk),
            _fmt(row.val_coverage), _fmt(row.test_risk), _fmt(row.test_coverage),
            "[bold red]exceeds[/]" if row.exceeds_target else "",
        )  # fmt: skip
    print_table(table, keep=2)
    for name, reason in result.unavailable.items():
        err_console.print(f"[yellow]unavailable[/] {name}: {reason}", soft_wrap=True)
    if out is not None:
        out.parent.mkdir(parents=True, exist_ok=True)
        result.table.to_csv(out, index=False)
        console.print(f"wrote {out}")


def register(app: typer.Typer) -> None:
    app.command("tuned-threshold")(tuned_threshold)

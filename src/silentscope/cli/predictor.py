"""``silentscope predictor``: a learned misclassification predictor, flipping and abstention.

The analysis is :func:`silentscope.predictor.run_predictor`; this module parses the options,
calls it, prints the :class:`~silentscope.predictor.PredictorReport` and saves its artifacts.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from silentscope.cli._common import (
    NoVerify,
    console,
    err_console,
    fmt_interval,
    fmt_value,
    print_skipped,
    user_errors,
)
from silentscope.cli._tables import print_table

STORE_ARGUMENT = typer.Argument(..., help="Audit store folder (see `silentscope import`).")


def predictor(
    store: Path = STORE_ARGUMENT,
    model: str = typer.Option(
        "auto",
        help="auto (the best cross-validated AUROC_f on the training split), hgb (gradient "
        "boosting) or logreg.",
    ),
    metadata: Annotated[
        list[str] | None,
        typer.Option("--metadata", "-m", help="Metadata column to use as a feature (repeatable)."),
    ] = None,
    flip: bool = typer.Option(
        False, "--flip", help="Flip binary decisions with a high predicted risk."
    ),
    abstain: bool = typer.Option(
        False, "--abstain", help="Abstain on predictions with a high predicted risk."
    ),
    objective: str | None = typer.Option(
        None, help="f1, balanced_accuracy or accuracy (flip); risk=0.05 (abstain)."
    ),
    positive_class: str | None = typer.Option(
        None, help="Positive class of the binary decision (one-vs-rest)."
    ),
    train_split: str | None = typer.Option(
        None, help="Test set the predictor learns from (default: val, else cross-fitted on iid)."
    ),
    cluster: str | None = typer.Option(
        None, help="Metadata column of the patient: folds and bootstrap by patient."
    ),
    n_splits: int = typer.Option(5, help="Folds of the cross-fitting on the training split."),
    n_bootstrap: int = typer.Option(1000, help="Bootstrap resamples of every interval."),
    seed: int = typer.Option(0, help="Seed of folds, models and bootstrap."),
    keep_label_derived: bool = typer.Option(
        False,
        "--keep-label-derived",
        help="Use named metadata columns that restate the label (left out by default).",
    ),
    no_verify: NoVerify = False,
) -> None:
    """Train a misclassification predictor (a learned CSF) and optionally flip or abstain with it.

    Chooses the model by cross-validated AUROC_f on the training split and reports nothing but the reason when no model beats chance. Otherwise reports AUROC_f and AURC of the predictor against MSR with paired bootstrap CIs, the permutation importance of each feature, and with --flip/--abstain the change in the objective on every test set with a paired bootstrap 95% CI (thresholds on the predicted risk and, as a baseline, on 1 - MSR).

    Example: silentscope predictor audit_store -m age -m sex --flip --objective f1
    """
    from silentscope.audit.store import load_audit, write_artifacts
    from silentscope.predictor import run_predictor

    with user_errors():
        if flip and abstain:
            raise ValueError("choose one of --flip and --abstain")
        audit = load_audit(store, verify=not no_verify)
        with console.status("training the misclassification predictor") as status:
            report = run_predictor(
                audit,
                model=model,
                metadata=metadata or None,
                action="flip" if flip else "abstain" if abstain else None,
                objective=objective,
                positive_class=positive_class,
                train_split=train_split,
                cluster=cluster,
                n_splits=n_splits,
                n_bootstrap=n_bootstrap,
                keep_label_derived=keep_label_derived,
                random_state=seed,
                on_step=status.update,
            )
        write_artifacts(store, report.artifacts(audit))  # one commit, as one result
    print_report(report)


def print_report(report) -> None:
    """The selection, and the results only when a predictor beats chance."""
    if not report.selection.scores.empty:  # empty when no model could be fitted at all
        _print_selection(report.selection)
    if not report.available:
        err_console.print(
            f"[bold yellow]no predictor reported:[/] {report.unavailable_reason}",
            highlight=False,
        )
    else:
        _print_comparison(report.comparison)
        _print_importance(report.importance)
        if report.corrections is not None:
            _print_corrections(report.corrections)
        print_skipped(report.estimate.skipped)
    for note in report.notes:
        err_console.print(f"[yellow]note[/] {note}")


def _print_selection(selection) -> None:
    table = Table(
        title=f"model selection: cross-validated AUROC_f on {selection.settings['train_split']!r}"
    )
    for column in ("model", "AUROC_f [95% CI]", "per fold", "better than chance"):
        table.add_column(column)
    for _, row in selection.scores.iterrows():
        verdict = "constant" if row["constant"] else "yes" if row["better_than_chance"] else "no"
        chosen = " (chosen)" if row["model"] == selection.chosen else ""
        table.add_row(
            f"{row['model']}{chosen}",
            fmt_interval(row, "auroc_f", "low", "high"),
            f"{fmt_value(row['fold_mean'])} ± {fmt_value(row['fold_std'], 2)}",
            verdict,
        )
    print_table(table)


def _print_comparison(comparison) -> None:
    table = Table(
        title="failure detection: misclassification predictor vs MSR (paired bootstrap 95% CI)"
    )
    table.add_column("test set")
    table.add_column("metric")
    for column in ("MSR", "MisPred", "MisPred - MSR"):
        table.add_column(column, justify="right")
    for (test_set, metric), rows in comparison.groupby(["test_set", "metric"], sort=False):
        by_csf = rows.set_index("csf")
        mispred = by_csf.loc["MisPred"]
        table.add_row(
            test_set,
            metric,
            fmt_interval(by_csf.loc["MSR"], "estimate", "low", "high"),
            fmt_interval(mispred, "estimate", "low", "high"),
            fmt_interval(mispred, "delta", "delta_low", "delta_high"),
        )
    print_table(table, keep=2)


def _print_importance(importance) -> None:
    table = Table(
        title=f"permutation importance (AUROC drop, held out, n={importance['n'].iloc[0]})"
    )
    table.add_column("feature")
    table.add_column("importance")
    for _, row in importance.head(10).iterrows():
        table.add_row(row["feature"], f"{row['importance']:.4f} ± {row['importance_std']:.4f}")
    print_table(table)


def _print_corrections(corrections) -> None:
    table = Table(title="selective correction on each test set (threshold chosen on validation)")
    for column in ("risk from", "test set", "changed", "metric"):
        table.add_column(column)
    for column in ("before", "after", "change [95% CI]"):
        table.add_column(column, justify="right")  # numbers are never broken
    table.add_column("real gain")
    for _, row in corrections.iterrows():
        table.add_row(
            row["risk_from"],
            row["test_set"],
            f"{row['changed']}/{row['n']}",
            row["metric"],
            fmt_value(row["before"], 4),
            fmt_value(row["after"], 4),
            fmt_interval(row, "delta", "delta_low", "delta_high", 3),
            "[bold green]yes[/]" if row["significant"] else "no",
        )
    print_table(table, keep=2)


def register(app: typer.Typer) -> None:
    app.command("predictor")(predictor)

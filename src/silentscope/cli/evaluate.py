"""``silentscope evaluate``: compare confidence scoring functions on every test set."""

from __future__ import annotations

import math
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table

from silentscope.cli._common import NoVerify, console, user_errors
from silentscope.cli._tables import print_table, split_table

if TYPE_CHECKING:
    from silentscope.evaluation import EvaluationResult

#: Beyond this many groups the printed table keeps iid, non-corruption test sets and pooled rows.
_MAX_COLUMNS = 10


def evaluate_command(
    store: Annotated[Path, typer.Argument(help="Audit store folder.")],
    csf: Annotated[
        list[str] | None,
        typer.Option(
            "--csf",
            help="CSF to evaluate (repeatable, exact name; see `silentscope csfs`). Default: all.",
        ),
    ] = None,
    metric: Annotated[
        list[str] | None,
        typer.Option(
            "--metric",
            help="Metric (repeatable, e.g. aurc, augrc, auroc_f, accuracy). Default: all.",
        ),
    ] = None,
    test_set: Annotated[
        list[str] | None,
        typer.Option(
            "--test-set", help="Test set (repeatable). Default: every test set except val."
        ),
    ] = None,
    bootstrap: Annotated[
        int, typer.Option("--bootstrap", help="Bootstrap resamples for the CIs (0: none).")
    ] = 1000,
    confidence_level: Annotated[
        float, typer.Option("--confidence-level", help="Level of the intervals.")
    ] = 0.95,
    show: Annotated[
        str, typer.Option("--show", help="Metric shown in the printed table.")
    ] = "aurc",
    out: Annotated[
        Path | None,
        typer.Option(
            "--out",
            "-o",
            help="Folder for the result files. Default: inside the store, as artifacts.",
        ),
    ] = None,
    formats: Annotated[
        str, typer.Option("--format", help="Comma-separated: csv, parquet, json (with --out).")
    ] = "csv,parquet,json",
    seed: Annotated[int, typer.Option("--seed", help="Seed of the bootstrap.")] = 0,
    no_verify: NoVerify = False,
    mc_correctness: Annotated[
        str,
        typer.Option(
            "--mc-correctness",
            help="Judge MC-dropout CSFs against the 'deterministic' prediction or the MC-averaged "
            "one ('mc_mean', as FD-Shifts does).",
        ),
    ] = "deterministic",
    ood_convention: Annotated[
        str,
        typer.Option(
            "--ood-convention",
            help="ood/ test sets: with the correctly classified iid samples ('fdshifts', FD-Shifts' "
            "new-class study) or every iid sample ('all_iid'); every ood sample is a failure.",
        ),
    ] = "fdshifts",
) -> None:
    """Evaluate every CSF on every test set: AURC, AUGRC, AUROC_f, ... with bootstrap CIs.

    Prints CSF x test set for one metric (best per column in bold), lists the CSFs that could
    not run and why, and saves the full tidy table.

    Example: silentscope evaluate audit_store --csf MSR --csf PE --metric aurc --metric augrc --out results/
    """
    from silentscope.audit.store import load_audit
    from silentscope.evaluation import evaluate, parse_formats, save_evaluation

    with user_errors():
        chosen_formats = parse_formats(formats)
        audit = load_audit(store, verify=not no_verify)
        result = evaluate(
            audit,
            csfs=csf or None,
            metrics=metric or None,
            test_sets=test_set or None,
            n_bootstrap=bootstrap,
            confidence_level=confidence_level,
            random_state=seed,
            mc_correctness=mc_correctness,
            ood_convention=ood_convention,
        )
        if show not in result.metrics:
            shown = result.metrics[0] if result.metrics else None
            if metric and shown is not None:
                console.print(f"[dim]--show {show} was not evaluated; showing {shown}[/]")
            show = shown
        if show is not None:
            print_table(_metric_table(result, show))
        if getattr(audit, "task", None) == "segmentation":  # Dice, not a classifier's table
            from silentscope.cli._segmentation_views import print_audit_dice

            print_audit_dice(audit, bootstrap, confidence_level, seed)
        else:
            print_table(_classification_table(result))
        _print_unavailable(result)
        _print_notes(result)
        written = save_evaluation(result, store, out, chosen_formats)
    if out is None:  # one commit of artifacts: say which, not the commit folder's file names
        console.print(
            f"[green]wrote[/] {', '.join(p.stem for p in written)} into {store} "
            f"(artifacts commit {written[0].parent.name})"
        )
    else:
        for path in written:
            console.print(f"[green]wrote[/] {path}")


# ------------------------------------------------------------------ printing
def _format(value: float, low: float, high: float, sep: str) -> str:
    if math.isnan(value):
        return "[dim]n/a[/]"
    if math.isnan(low):
        return f"{value:.1f}"
    return f"{value:.1f}{sep}[dim][{low:.1f}, {high:.1f}][/]"


def _metric_table(result: EvaluationResult, metric: str) -> Table:
    """The table on one line per CSF, or with each interval under its value when that fits better."""
    table = _metric_cells(result, metric, " ")
    if len(split_table(table, console.width)) == 1:
        return table
    return _metric_cells(result, metric, "\n")


def _metric_cells(result: EvaluationResult, metric: str, sep: str) -> Table:
    from silentscope.evaluation import metric_label
    from silentscope.evaluation.summary import summarize
    from silentscope.metrics import get_metric

    spec = get_metric(metric)
    summary = summarize(result, metric, _MAX_COLUMNS)
    level = result.settings.get("confidence_level", 0.95)
    n_boot = result.settings.get("n_bootstrap", 0)
    ci = f", {level:.0%} CI from {n_boot} bootstrap resamples" if n_boot else ""
    direction = "higher" if spec.higher_is_better else "lower"
    title = f"{metric_label(metric)} ({direction} is better{ci})"
    table = Table(title=title, caption=summary.caption or None)
    table.add_column("CSF", style="bold")
    values = summary.values
    for column in values.columns:
        table.add_column(column, justify="right")
    best = values.max() if spec.higher_is_better else values.min()
    for csf in values.index:
        cells = []
        for column in values.columns:
            value = values.at[csf, column]
            low, high = summary.ci_low.at[csf, column], summary.ci_high.at[csf, column]
            text = _format(value, low, high, sep)
            cells.append(f"[bold]{text}[/]" if value == best[column] else text)
        table.add_row(csf, *cells)
    return table


def _classification_table(result: EvaluationResult) -> Table:
    from silentscope.evaluation import metric_label
    from silentscope.evaluation.summary import summarize

    frame = result.classification
    metrics = list(dict.fromkeys(frame["metric"])) if len(frame) else []
    summaries = {name: summarize(result, name, _MAX_COLUMNS) for name in metrics}
    table = Table(title="classifier per test set")
    for column in ("test set", "n", "errors", *map(metric_label, metrics)):
        table.add_column(column, justify="left" if column == "test set" else "right")
    facts = (result.table if len(result.table) else frame).drop_duplicates("test_set")
    facts = facts.set_index("test_set")
    groups = summaries[metrics[0]].values.columns if metrics else result.summary_groups()[0]
    for group in groups:
        counts = ["", ""] if group not in facts.index else [
            str(facts.at[group, column]) for column in ("n", "n_errors")
        ]  # fmt: skip
        values = [float(summaries[name].values.at["classifier", group]) for name in metrics]
        cells = ["[dim]n/a[/]" if math.isnan(v) else f"{v:.3g}" for v in values]
        table.add_row(group, *counts, *cells)
    if metrics and summaries[metrics[0]].caption:
        table.caption = summaries[metrics[0]].caption
    return table


def _print_unavailable(result: EvaluationResult) -> None:
    if not result.unavailable:
        return
    console.print("[yellow]CSFs not evaluated:[/]")
    for name, reason in result.unavailable.items():
        console.print(f"  [bold]{name}[/]: {reason}", soft_wrap=True, highlight=False)


def _print_notes(result: EvaluationResult) -> None:
    for entry in result.settings.get("not_computed", {}).values():
        console.print(f"[dim]{entry['reason']}[/]", highlight=False)
    if len(result.table) and (result.table["test_set_kind"] == "ood").any():
        ood = result.settings.get("ood_convention", {}).get("definition")
        if ood:
            console.print(f"[dim]ood: {ood}[/]", highlight=False)
    mc = result.settings.get("mc_correctness", {})
    if mc.get("mc_csfs") and mc.get("convention") == "mc_mean":
        console.print(f"[dim]{', '.join(mc['mc_csfs'])}: {mc['definition']}[/]", highlight=False)
    if len(result.table):
        # AURC/AUGRC are 0 for every CSF on a set without errors and all of them are
        # marked best: nothing was ranked there (the rows' n_errors say so too)
        rows = (
            result.table[~result.table["pooled"].astype(bool)]
            if "pooled" in result.table
            else result.table
        )
        facts = rows.drop_duplicates("test_set")
        clean = facts.loc[facts["n_errors"] == 0, "test_set"].tolist()
        if clean:
            console.print(
                f"[yellow]{', '.join(clean)}: no errors, so every CSF's risk there is 0 and no "
                "CSF is better than another (AUROC_f is undefined)[/]",
                highlight=False,
            )
    frames = [result.table, result.classification]
    undefined = sum(int(frame["value"].isna().sum()) for frame in frames if len(frame))
    if undefined:
        console.print(
            f"[dim]{undefined} metric values are undefined (e.g. AUROC_f on a test set without "
            "errors); the note column of the saved table says why for each[/]"
        )


def register(app: typer.Typer) -> None:
    app.command("evaluate")(evaluate_command)

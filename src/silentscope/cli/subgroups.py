"""``silentscope subgroups``: which patients does the classifier fail?"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from silentscope.cli._common import NoVerify, console, err_console, user_errors
from silentscope.cli._common import fmt_interval as _interval
from silentscope.cli._common import fmt_value as _fmt
from silentscope.cli._common import print_skipped as _print_skipped
from silentscope.cli._tables import print_table

STORE_ARGUMENT = typer.Argument(..., help="Audit store folder (see `silentscope import`).")


def parse_bins(values: list[str]) -> dict[str, int | list[float]]:
    """``age=40,65`` (cut points) or ``age=q4`` (quantile bins) to a bins mapping.

    Examples
    --------
    >>> parse_bins(["age=40,65", "bmi=q3"])
    {'age': [40.0, 65.0], 'bmi': 3}
    """
    bins: dict[str, int | list[float]] = {}
    for value in values:
        name, _, spec = value.partition("=")
        try:
            if spec.startswith("q"):
                bins[name] = int(spec[1:])
            else:
                bins[name] = [float(v) for v in spec.split(",")]
        except ValueError:
            spec = ""
        if not name or not spec:
            raise ValueError(
                f"--bins {value!r} is not valid; write age=40,65 (cut points) or age=q4 (quantile bins)"
            )
    return bins


def subgroups(
    store: Path = STORE_ARGUMENT,
    attribute: Annotated[
        list[str] | None,
        typer.Option(
            "--attribute", "-a", help="Metadata column to analyse (repeatable; default: all)."
        ),
    ] = None,
    test_set: Annotated[
        list[str] | None, typer.Option("--test-set", help="Primary test set(s) (default: iid).")
    ] = None,
    per_class: bool = typer.Option(
        False, "--per-class", help="Also analyse each true class on its own."
    ),
    per_test_set: bool = typer.Option(
        False,
        "--per-test-set",
        help="Also analyse each test set and test attribute x shift interactions.",
    ),
    bins: Annotated[
        list[str] | None,
        typer.Option(
            "--bins",
            help="Binning of a numeric column: age=40,65 (cut points) or age=q4 (quantiles).",
        ),
    ] = None,
    categorical: Annotated[
        list[str] | None,
        typer.Option("--categorical", help="Numeric column to treat as categorical."),
    ] = None,
    numeric: str = typer.Option(
        "bins", help="Test numeric columns across bins, or 'continuous' (odds ratio per SD)."
    ),
    cluster: str | None = typer.Option(
        None, help="Metadata column of the patient, for cluster-robust tests."
    ),
    min_group_size: int = typer.Option(10, help="Smaller groups are shown but not tested."),
    alpha: float = typer.Option(0.05, help="False discovery rate (Benjamini-Hochberg)."),
    plot: Annotated[
        Path | None, typer.Option(help="Write a forest plot of the ranked groups (.png or .svg).")
    ] = None,
    top: int = typer.Option(15, help="Rows of the ranked table to print."),
    seed: int = typer.Option(0, help="Seed of the Monte-Carlo exact tests."),
    pool: bool = typer.Option(
        False,
        "--pool",
        help="Analyse the chosen test sets as one scope (default: each on its own).",
    ),
    keep_label_derived: bool = typer.Option(
        False,
        "--keep-label-derived",
        help="Also test metadata columns that restate the label (left out by default).",
    ),
    no_verify: NoVerify = False,
) -> None:
    """Which patients does the classifier fail? Error rates, tests and odds ratios per group.

    Saves the ranked table and the attribute, multivariable, interaction and skipped tables as artifacts of the store (subgroups, subgroups_attributes, ...).

    Example: silentscope subgroups audit_store -a age -a sex --bins age=40,65 --per-class --plot forest.png
    """
    from silentscope.audit.store import load_audit, write_artifacts
    from silentscope.subgroups import analyze_subgroups, forest_plot

    with user_errors():
        audit = load_audit(store, verify=not no_verify)
        result = analyze_subgroups(
            audit,
            attribute or None,
            test_sets=test_set or None,
            per_class=per_class,
            per_test_set=per_test_set,
            bins=parse_bins(bins or []),
            categorical=categorical or (),
            numeric=numeric,
            cluster=cluster,
            min_group_size=min_group_size,
            alpha=alpha,
            random_state=seed,
            pool=pool,
            keep_label_derived=keep_label_derived,
        )
        # One commit: a kill leaves the previous run's tables or this run's, never a mix.
        write_artifacts(store, {**result.artifacts(), "subgroups_settings": result.settings})
        if plot is not None:
            if plot.suffix.lower() not in (".png", ".svg"):
                raise ValueError(f"--plot {plot} must end in .png or .svg")
            tested = result.groups[result.groups["odds_ratio"].notna()]
            if len(tested):
                plot.write_bytes(forest_plot(tested, format=plot.suffix.lower()[1:]))
                console.print(f"[green]wrote[/] {plot}")
            else:
                err_console.print(f"[yellow]note[/] no group was tested, so {plot} was not written")
    _print_subgroups(result, top)
    console.print(f"saved artifacts {', '.join(result.artifacts())} in {store}")


def _print_subgroups(result, top: int) -> None:
    groups = result.groups
    table = Table(
        title=f"groups ranked by risk ({int(groups['significant'].sum())} significant at FDR {result.settings['alpha']})"
    )
    for column in (
        "scope",
        "group",
        "n",
        "error rate [95% CI]",
        "odds ratio [95% CI]",
        "q",
        "sig.",
    ):
        table.add_column(column)
    for _, row in groups.head(top).iterrows():
        table.add_row(
            f"{row['test_set']}, {row['class']}",
            f"{row['attribute']} = {row['group']}",
            str(row["n"]),
            _interval(row, "error_rate", "error_rate_low", "error_rate_high", 2),
            _interval(row, "odds_ratio", "or_low", "or_high", 2),
            _fmt(row["q_value"], 2),
            "[bold red]yes[/]" if row["significant"] else "",
        )
    print_table(table, keep=2)
    attributes = Table(title="attributes: univariable (associated) and multivariable (independent)")
    for column in ("scope", "attribute", "test", "q", "associated", "adjusted q", "independent"):
        attributes.add_column(column)
    for _, row in result.attributes.iterrows():
        attributes.add_row(
            f"{row['test_set']}, {row['class']}",
            row["attribute"],
            str(row["test"]),
            _fmt(row["q_value"], 2),
            "yes" if row["associated"] else "",
            _fmt(row["adjusted_q_value"], 2),
            "yes" if row["independent"] else "",
        )
    print_table(attributes, keep=2)
    if len(result.interactions):
        grows = result.interactions[result.interactions["significant"]]
        console.print(
            f"attribute x test-set interactions: {len(grows)} of {len(result.interactions)} significant"
        )
    _print_skipped(result.skipped)


def register(app: typer.Typer) -> None:
    app.command("subgroups")(subgroups)

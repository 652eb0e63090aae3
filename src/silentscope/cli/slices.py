"""``silentscope slices``: find, confirm and explain systematic failure slices of an audit store."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table

from silentscope.cli._common import console, user_errors
from silentscope.cli._tables import print_table

if TYPE_CHECKING:
    from silentscope.slices import SliceReport


def _slicer_params(
    slicer: str, components: int | None, gamma: float | None, gamma_hat: float | None
) -> dict:
    from silentscope.slices import SLICERS

    if slicer not in SLICERS:
        raise ValueError(f"unknown slicer {slicer!r}; choose from {', '.join(SLICERS)}")
    params = {}
    if slicer == "error_mixture":
        for name, value in (
            ("n_components", components),
            ("gamma", gamma),
            ("gamma_hat", gamma_hat),
        ):
            if value is not None:
                params[name] = value
    else:
        if gamma is not None or gamma_hat is not None:
            raise ValueError(
                "--gamma and --gamma-hat apply to the error_mixture slicer only; drop them"
            )
        if components is not None:
            params["n_slices"] = components
    return params


def _print(report: SliceReport) -> None:
    settings = report.settings
    console.print(
        f"[bold]{settings['n_samples']}[/] samples, {settings['n_errors']} errors; "
        f"modalities {', '.join(settings['modalities'])}; slicer {settings['slicer']}; "
        f"found on {1 - settings['confirm_fraction']:.0%}, confirmed on {settings['confirm_fraction']:.0%}"
    )
    for note in report.notes:
        console.print(f"[dim]note: {note}[/]")
    if report.slices.empty:
        console.print(f"[yellow]{report.summary_lines()[0]}[/]")
        return
    table = Table(title="Slices where the classifier fails (held-out error rate, FDR-controlled)")
    for column in (
        "#",
        "n",
        "error (95% CI)",
        "outside",
        "q",
        "stability",
        "found in",
        "report terms",
        "metadata",
        "confident errors",
    ):
        table.add_column(column, overflow="fold")
    for row in report.slices.itertuples():
        table.add_row(
            str(row.rank), str(row.size),
            f"{row.error_rate:.0%} ({row.ci_low:.0%}-{row.ci_high:.0%})", f"{row.complement_error_rate:.0%}",
            f"{row.q_value:.1g}", f"{row.stability:.2f}", getattr(row, "views", ""),
            row.top_terms.replace("; ", "\n"),
            row.metadata.replace("; ", "\n"), "\n".join(row.confident_errors.split(",")[:3]),
        )  # fmt: skip
    print_table(table)


def slices_command(
    store: Annotated[Path, typer.Argument(help="Audit store folder.")],
    modalities: Annotated[
        str | None,
        typer.Option(
            "--modalities",
            "-m",
            help="Comma-separated: image,text,metadata (default: all available).",
        ),
    ] = None,
    test_set: Annotated[
        list[str] | None,
        typer.Option(
            "--test-set", "-t", help="Test set to analyse (repeatable; default all but val)."
        ),
    ] = None,
    # Fixed text: naming the registry here would import scikit-learn on every CLI start;
    # a wrong name gets an error that lists the registered slicers.
    slicer: Annotated[
        str,
        typer.Option(help="Slicer: error_mixture (default), error_clusters or spotlight."),
    ] = "error_mixture",
    components: Annotated[
        int | None,
        typer.Option(help="Mixture components / slices searched (default: by data size)."),
    ] = None,
    gamma: Annotated[
        float | None, typer.Option(help="Label weight of the error-aware mixture (default 10).")
    ] = None,
    gamma_hat: Annotated[
        float | None,
        typer.Option(help="Prediction weight of the error-aware mixture (default 10)."),
    ] = None,
    fusion: Annotated[
        str, typer.Option(help="weighted (per-modality balance) or concat.")
    ] = "weighted",
    per_modality: Annotated[
        bool,
        typer.Option(
            "--per-modality/--joint-only",
            help="Also fit each modality alone and pool its slices with the joint fit's.",
        ),
    ] = True,
    text_embedding: Annotated[
        str, typer.Option(help="tfidf_svd (no model) or minilm (offline all-MiniLM-L6-v2).")
    ] = "tfidf_svd",
    seeds: Annotated[
        int, typer.Option(help="Seeds whose aligned fits vote on the slices (and give stability).")
    ] = 5,
    resamples: Annotated[int, typer.Option(help="Bootstrap refits for resampling stability.")] = 0,
    min_support: Annotated[
        int, typer.Option(help="Fewest samples a slice needs in each split.")
    ] = 20,
    alpha: Annotated[float, typer.Option(help="False discovery rate.")] = 0.05,
    max_slices: Annotated[int, typer.Option(help="Most slices shown.")] = 10,
    seed: Annotated[int, typer.Option(help="Random seed.")] = 0,
    save: Annotated[
        bool, typer.Option("--save/--no-save", help="Save the slices into the store.")
    ] = True,
    keep_label_derived: Annotated[
        bool,
        typer.Option(
            "--keep-label-derived",
            help="Keep metadata columns and report text that restate the label (left out by default).",
        ),
    ] = False,
) -> None:
    """Find groups of samples where the classifier fails, confirm them on held-out samples, explain them.

    Example: silentscope slices audit_store --modalities image,text,metadata --test-set iid
    """
    with user_errors():
        from silentscope.audit.store import load_audit
        from silentscope.slices import discover_slices

        chosen = [m.strip() for m in modalities.split(",") if m.strip()] if modalities else None
        params = _slicer_params(slicer, components, gamma, gamma_hat)
        audit = load_audit(store)
        with console.status("slice discovery") as status:
            report = discover_slices(
                audit, chosen, test_sets=test_set or None, slicer=slicer, slicer_params=params,
                fusion=fusion, per_modality=per_modality, text_embedding=text_embedding, n_seeds=seeds, n_resamples=resamples,
                min_support=min_support, alpha=alpha, max_slices=max_slices, random_state=seed,
                keep_label_derived=keep_label_derived,
                progress=lambda stage: status.update(f"slice discovery: {stage}"),
            )  # fmt: skip
        _print(report)
        if save:
            names = report.save(store)
            console.print(f"[green]saved[/] artifacts {', '.join(names)} in {store}")


def register(app: typer.Typer) -> None:
    """Add ``silentscope slices`` to the command line."""
    app.command("slices")(slices_command)

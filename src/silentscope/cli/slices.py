"""``silentscope slices``: find, confirm and explain systematic failure slices of an audit store."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.padding import Padding
from rich.table import Table

from silentscope.cli._common import NoVerify, console, user_errors
from silentscope.cli._tables import print_table

if TYPE_CHECKING:
    from silentscope.slices import SliceReport


def _arguments(saved: dict | None, given: dict, slicer_options: dict) -> dict:
    """discover_slices arguments: the saved run's (with --repeat), then the options given."""
    from silentscope.slices import SLICERS, rerun_arguments

    arguments = rerun_arguments(saved or {})
    arguments.update({key: value for key, value in given.items() if value is not None})
    slicer = arguments.get("slicer", "error_mixture")
    if slicer not in SLICERS:
        raise ValueError(f"unknown slicer {slicer!r}; choose from {', '.join(SLICERS)}")
    params = dict(arguments.get("slicer_params") or {})
    if slicer != "error_mixture":
        if slicer_options["gamma"] is not None or slicer_options["gamma_hat"] is not None:
            raise ValueError(
                "--gamma and --gamma-hat apply to the error_mixture slicer only; drop them"
            )
        slicer_options = {"n_slices": slicer_options["n_components"]}
    params.update({key: value for key, value in slicer_options.items() if value is not None})
    arguments["slicer_params"] = params
    return arguments


def _print(report: SliceReport) -> None:
    from silentscope.slices.notes import card_note
    from silentscope.slices.result import part_note, rule_description

    settings = report.settings
    console.print(
        f"[bold]{settings['n_samples']}[/] samples, {settings['n_errors']} errors; "
        f"modalities {', '.join(settings['modalities'])}; slicer {settings['slicer']}; "
        f"found on {1 - settings['confirm_fraction']:.0%}, confirmed on {settings['confirm_fraction']:.0%}"
    )
    params = ", ".join(f"{k} {v}" for k, v in settings["slicer_params"].items()) or "defaults"
    console.print(
        f"[dim]settings (saved with the slices): min_support {settings['min_support']}, "
        f"alpha {settings['alpha']}, {settings['n_seeds']} seeds, seed {settings['random_state']}, "
        f"representation {settings['n_components']} components per modality, slicer {params}[/]"
    )
    for note in report.notes:
        console.print(f"[dim]note: {note}[/]")
    if report.slices.empty:
        console.print(f"[yellow]{report.summary_lines()[-1]}[/]")
        return
    table = Table(title="Slices where the classifier fails (held-out error rate, FDR-controlled)")
    table.add_column("#", justify="right")
    for column in ("n", "error (95% CI)", "outside", "q", "stability"):
        table.add_column(column, justify="right")
    table.add_column("found in")
    table.add_column("absorbed", justify="right")
    for row in report.slices.itertuples():
        table.add_row(
            str(row.rank), str(row.size), f"{row.error_rate:.0%} ({row.ci_low:.0%}-{row.ci_high:.0%})",
            f"{row.complement_error_rate:.0%}", f"{row.q_value:.1g}", f"{row.stability:.2f}",
            getattr(row, "views", ""), str(getattr(row, "absorbed", "")),
        )  # fmt: skip
    print_table(table)
    # the explanations are sentences: one paragraph each under the table, not narrow columns
    for row in report.slices.itertuples():
        details = (
            ("part", part_note(row)),
            ("failures", card_note(row, "silence")),
            ("predicted", card_note(row, "prediction")),
            ("within", card_note(row, "nesting")),
            ("caveat", card_note(row, "caveat")),
            ("rule", rule_description(row)),
            ("report terms", row.top_terms),
            ("metadata", row.metadata),
            ("scope", getattr(row, "test_sets", "")),
            ("examples", _examples(row)),
        )
        console.print(f"[bold]#{row.rank}[/]")
        for label, text in details:
            if text:
                console.print(Padding(f"{label}: {text}", (0, 0, 0, 2)), highlight=False)


def _examples(row) -> str:
    """The card's examples: ``wrong`` (most confidently wrong) first, then ``typical``."""
    ids = getattr(row, "example_ids", None)
    kinds = getattr(row, "example_kinds", None)
    if not isinstance(ids, str) or not isinstance(kinds, str) or not ids:
        return ", ".join(row.confident_errors.split(",")[:3])
    refs = getattr(row, "example_images", None)
    names = refs.split(",") if isinstance(refs, str) and refs else ids.split(",")
    return ", ".join(
        f"{name} ({kind})" for name, kind in zip(names, kinds.split(","), strict=False)
    )


def slices_command(
    store: Annotated[Path, typer.Argument(help="Audit store folder.")],
    modalities: Annotated[
        str | None,
        typer.Option(
            "--modalities",
            "-m",
            help="Comma-separated: image,text,metadata,appearance (default: all available).",
        ),
    ] = None,
    test_set: Annotated[
        list[str] | None,
        typer.Option(
            "--test-set",
            "-t",
            help="Test set to analyse (repeatable; default the iid set alone, else all but val; "
            "several are pooled, copies of one image counted once).",
        ),
    ] = None,
    repeat: Annotated[
        bool,
        typer.Option(
            "--repeat",
            help="Rerun with the settings saved with the store's slices (e.g. the demo's); "
            "options given here still apply.",
        ),
    ] = False,
    # Fixed text: naming the registry here would import scikit-learn on every CLI start;
    # a wrong name gets an error that lists the registered slicers. Defaults (None here)
    # are discover_slices' own, so the command, the demo and the API agree.
    slicer: Annotated[
        str | None,
        typer.Option(help="Slicer: error_mixture (default), error_clusters or spotlight."),
    ] = None,
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
        str | None, typer.Option(help="weighted (per-modality balance, default) or concat.")
    ] = None,
    per_modality: Annotated[
        bool | None,
        typer.Option(
            "--per-modality/--joint-only",
            help="Also fit each modality alone and pool its slices with the joint fit's (default).",
        ),
    ] = None,
    class_blind: Annotated[
        bool | None,
        typer.Option(
            "--class-blind/--no-class-blind",
            help="Also fit every view blind to the class, to find causes that span classes (default).",
        ),
    ] = None,
    text_embedding: Annotated[
        str | None,
        typer.Option(help="tfidf_svd (no model, default) or minilm (offline all-MiniLM-L6-v2)."),
    ] = None,
    seeds: Annotated[
        int | None,
        typer.Option(help="Seeds whose aligned fits vote on the slices (default 5)."),
    ] = None,
    resamples: Annotated[
        int | None, typer.Option(help="Bootstrap refits for resampling stability (default 0).")
    ] = None,
    min_support: Annotated[
        int | None, typer.Option(help="Fewest samples a slice needs in each split (default 10).")
    ] = None,
    alpha: Annotated[
        float | None, typer.Option(help="False discovery rate (default 0.05).")
    ] = None,
    max_slices: Annotated[int | None, typer.Option(help="Most slices shown (default 10).")] = None,
    seed: Annotated[int | None, typer.Option(help="Random seed (default 0).")] = None,
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
    no_verify: NoVerify = False,
) -> None:
    """Find groups of samples where the classifier fails, confirm them on held-out samples, explain them.

    The settings are saved with the slices and printed; `--repeat` reruns with them.

    Example: silentscope slices audit_store --modalities image,text,metadata --test-set iid
    """
    with user_errors():
        from silentscope.audit.store import load_audit
        from silentscope.slices import discover_slices, read_slice_settings, settings_differences

        audit = load_audit(store, verify=not no_verify)
        saved = read_slice_settings(store)
        if repeat and saved is None:
            raise ValueError(f"{store} holds no saved slices to repeat; drop --repeat")
        chosen = [m.strip() for m in modalities.split(",") if m.strip()] if modalities else None
        given = {
            "modalities": chosen, "test_sets": test_set or None, "slicer": slicer,
            "fusion": fusion, "per_modality": per_modality, "class_blind": class_blind,
            "text_embedding": text_embedding,
            "n_seeds": seeds, "n_resamples": resamples, "min_support": min_support,
            "alpha": alpha, "max_slices": max_slices, "random_state": seed,
            "keep_label_derived": keep_label_derived or None,
        }  # fmt: skip
        mixture = {"n_components": components, "gamma": gamma, "gamma_hat": gamma_hat}
        arguments = _arguments(saved if repeat else None, given, mixture)
        with console.status("slice discovery") as status:
            report = discover_slices(
                audit,
                **arguments,
                progress=lambda stage: status.update(f"slice discovery: {stage}"),
            )
        _print(report)
        changed = settings_differences(saved, report.settings)
        if changed:
            console.print(
                f"[yellow]note:[/] the slices saved in this store were found with other settings: "
                f"{'; '.join(changed)}; `--repeat` reruns with the saved ones",
                soft_wrap=True, highlight=False,
            )  # fmt: skip
        if save:
            names = report.save(store)
            console.print(f"[green]saved[/] artifacts {', '.join(names)} in {store}")


def register(app: typer.Typer) -> None:
    """Add ``silentscope slices`` to the command line."""
    app.command("slices")(slices_command)

"""``silentscope import ...`` and ``silentscope info``: audit stores in and out."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.table import Table

from silentscope.cli._common import NoVerify, console, user_errors
from silentscope.cli._tables import print_table

import_app = typer.Typer(help="Import predictions into an audit store.", no_args_is_help=True)

OUT_OPTION = typer.Option(..., "--out", "-o", help="Audit store folder to create.")
OVERWRITE_OPTION = typer.Option(False, "--overwrite", help="Replace an existing store.")


def _saved(audit, out: Path, overwrite: bool) -> None:
    from silentscope.audit.store import save_audit

    save_audit(audit, out, overwrite=overwrite)
    console.print(
        f"[green]wrote[/] {out}: {audit.n_samples} samples, test sets {', '.join(audit.test_sets)}"
    )
    console.print(f"next: [bold]silentscope info {out}[/] or [bold]silentscope evaluate {out}[/]")


@import_app.command("table")
def import_table(
    path: Path = typer.Argument(..., help="CSV, TSV or Parquet file with one row per sample."),
    out: Path = OUT_OPTION,
    label_column: str = typer.Option("label", help="Column with the true class (index or name)."),
    id_column: str = typer.Option(
        "sample_id", help="Column with sample ids (row numbers if absent)."
    ),
    test_set_column: str = typer.Option(
        "test_set", help="Column with test-set names (all 'iid' if absent)."
    ),
    prob_prefix: str = typer.Option("prob_", help="Prefix of probability columns, one per class."),
    logit_prefix: str = typer.Option("logit_", help="Prefix of logit columns, one per class."),
    confidence_prefix: str = typer.Option("conf_", help="Prefix of external confidence columns."),
    text_column: str | None = typer.Option(None, help="Column with report text."),
    image_column: str | None = typer.Option(None, help="Column with image paths."),
    class_names: str | None = typer.Option(
        None, help="Comma-separated class names in class-number order; columns are matched by name."
    ),
    overwrite: bool = OVERWRITE_OPTION,
) -> None:
    """Import a table of predictions.

    Example: silentscope import table preds.csv --out audit_store --text-column report
    """
    from silentscope.audit.importers import from_table

    with user_errors():
        audit = from_table(
            path,
            label_column=label_column,
            id_column=id_column,
            test_set_column=test_set_column,
            prob_prefix=prob_prefix,
            logit_prefix=logit_prefix,
            confidence_prefix=confidence_prefix,
            text_column=text_column,
            image_column=image_column,
            class_names=class_names.split(",") if class_names else None,
        )
        _saved(audit, out, overwrite)


@import_app.command("arrays")
def import_arrays(
    logits: Path = typer.Option(
        ..., help=".npy file of logits (N x C), or probabilities with --probabilities."
    ),
    labels: Path = typer.Option(..., help=".npy file of class indices (N)."),
    out: Path = OUT_OPTION,
    test_set: Path | None = typer.Option(None, help=".npy file of test-set names (N)."),
    features: Path | None = typer.Option(None, help=".npy file of penultimate features (N x D)."),
    mc_logits: Path | None = typer.Option(None, help=".npy file of MC-dropout logits (N x C x M)."),
    probabilities: bool = typer.Option(False, help="The logits file holds probabilities."),
    class_names: str | None = typer.Option(None, help="Comma-separated class names."),
    overwrite: bool = OVERWRITE_OPTION,
) -> None:
    """Import NumPy arrays.

    Example: silentscope import arrays --logits logits.npy --labels labels.npy --out audit_store
    """
    from silentscope.audit.importers import from_arrays

    with user_errors():
        audit = from_arrays(
            logits,
            labels,
            test_set=test_set,
            features=features,
            mc_logits=mc_logits,
            probabilities=probabilities,
            class_names=class_names.split(",") if class_names else None,
        )
        _saved(audit, out, overwrite)


@import_app.command("fdshifts")
def import_fdshifts(
    path: Path = typer.Argument(
        ..., help="FD-Shifts experiment folder or its test_results/ folder."
    ),
    out: Path = OUT_OPTION,
    names: str | None = typer.Option(
        None,
        help="Comma-separated test-set names per dataset_idx (default: from hydra/config.yaml).",
    ),
    overwrite: bool = OVERWRITE_OPTION,
) -> None:
    """Import an FD-Shifts run (HEAD or v0.1.1 config layout): test sets named from its hydra/config.yaml.

    Noise studies become cor/<set>/1-5, in-class studies shift/<name>, new-class studies ood/<name>
    (label unknown to the classifier, own label kept as metadata fdshifts_label); see docs/fdshifts.md.

    Example: silentscope import fdshifts experiments/cifar10_paper_sweep/devries_run1 --out audit_store
    """
    from silentscope.audit.importers import from_fdshifts

    with user_errors():
        audit = from_fdshifts(path, test_set_names=names.split(",") if names else None)
        _saved(audit, out, overwrite)


def info(
    store: Path = typer.Argument(..., help="Audit store folder."),
    role: list[str] | None = typer.Option(
        None,
        "--role",
        help="Declare a metadata column's role first, recorded in the store: COLUMN=ROLE "
        "(identifier, index, file, ground_truth, label_derived, clinical, acquisition, attribute).",
    ),
    no_verify: NoVerify = False,
) -> None:
    """Summarise an audit store: samples and accuracy per test set, and which analyses it allows.

    Example: silentscope info audit_store --role site_code=acquisition
    """
    from silentscope.audit.capabilities import analysis_availability
    from silentscope.audit.health import model_health, stored_health
    from silentscope.audit.store import list_artifacts, load_audit, set_metadata_roles
    from silentscope.audit.validation import quoted
    from silentscope.metrics import balanced_accuracy

    with user_errors():
        if role:
            pairs = [item.partition("=") for item in role]
            for item, (name, _, value) in zip(role, pairs, strict=True):
                if not name or not value:
                    raise ValueError(
                        f"--role {item!r} is not valid; write COLUMN=ROLE, e.g. age=clinical"
                    )
            set_metadata_roles(store, {name: value for name, _, value in pairs})
        audit = load_audit(store, verify=not no_verify)
    console.print(
        f"[bold]{store}[/]  {audit.n_samples} samples, {audit.n_classes} classes: {quoted(audit.class_names)}",
        highlight=False,
    )
    # the verdict the store records (else the same rule now): info is the first thing a
    # user reads, so a degenerate classifier and imbalanced classes are said here too
    health = stored_health(audit.provenance) or model_health(audit)
    balanced = health.imbalanced
    table = Table(title="test sets")
    columns = ("test set", "kind", "samples", "accuracy", "balanced accuracy", "errors")
    for column in columns if balanced else [c for c in columns if c != "balanced accuracy"]:
        table.add_column(column, justify="left" if column in ("test set", "kind") else "right")
    for row in audit.summary().itertuples():
        cells = [row.test_set, row.kind, str(row.n), f"{row.accuracy:.3f}"]
        if balanced:
            mask = audit.test_set == row.test_set
            known = mask & (audit.label >= 0)  # new-class samples (label -1) have no recall
            cells.append(
                f"{balanced_accuracy(audit.predictions[known], audit.label[known]):.3f}"
                if known.any()
                else "-"
            )
        table.add_row(*cells, str(row.errors))
    print_table(table)
    if balanced:
        console.print(
            f"classes are imbalanced (largest {health.majority_rate:.0%} vs smallest "
            f"{health.minority_rate:.1%} on {health.split}): read balanced accuracy beside accuracy"
        )
    if health.degenerate:
        console.print(f"[bold red]degenerate classifier:[/] {health.reason}", highlight=False)
    inputs = sorted(audit.available_inputs())
    console.print(f"inputs: {', '.join(inputs)}")
    if audit.outputs == "probabilities":
        console.print(
            "outputs: probabilities (the logits are their logarithms, so CSFs that need the "
            "classifier's logits are unavailable)"
        )
    if audit.confidences:
        console.print(f"external confidences: {', '.join(sorted(audit.confidences))}")
    if audit.metadata is not None:
        # each column's role decides which analyses may use it (silentscope.audit.roles)
        roles = Table(title="metadata columns and their roles")
        for column in ("column", "role", "used by analyses", "why"):
            roles.add_column(column)
        for name, role in audit.metadata_roles.items():
            used = "yes" if role.analysable else "[yellow]no[/]"
            roles.add_row(name, f"{role.role} ({role.source})", used, role.reason)
        print_table(roles)
    analyses = Table(title="analyses")
    analyses.add_column("analysis")
    analyses.add_column("command")
    analyses.add_column("status")
    for analysis, reason in analysis_availability(audit):
        status = "[green]available[/]" if reason is None else f"[yellow]{reason}[/]"
        analyses.add_row(analysis.name, f"silentscope {analysis.command}", status)
    print_table(analyses)
    artifacts = list_artifacts(store)
    if artifacts:
        console.print(f"artifacts: {', '.join(artifacts)}")


store_app = typer.Typer(help="Check and maintain an audit store.", no_args_is_help=True)


@store_app.command("verify")
def verify(store: Path = typer.Argument(..., help="Audit store folder.")) -> None:
    """Check every file of a store against its recorded hash now (no cache), then load it.

    Example: silentscope store verify audit_store
    """
    from silentscope.audit.integrity import verify_store

    with user_errors():
        checked = verify_store(store)
    console.print(
        f"[green]ok[/] {store}: {len(checked)} files match their hashes: {', '.join(checked)}"
    )


@store_app.command("rehash")
def rehash(store: Path = typer.Argument(..., help="Audit store folder.")) -> None:
    """Record the hashes a store written by an older silentscope lacks.

    Only missing hashes are added; a file that no longer matches its recorded hash is
    refused. Run it on a store you know is as it was written.

    Example: silentscope store rehash audit_store
    """
    from silentscope.audit.integrity import rehash_store

    with user_errors():
        added = rehash_store(store)
    if added:
        console.print(f"[green]recorded[/] hashes in {store}: {', '.join(added)}")
    else:
        console.print(f"{store} already records every hash; nothing changed")


def register(app: typer.Typer) -> None:
    app.add_typer(import_app, name="import")
    app.add_typer(store_app, name="store")
    app.command("info")(info)

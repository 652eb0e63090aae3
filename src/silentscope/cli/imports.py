"""``silentscope import table|arrays|fdshifts``: predictions from the formats users have into an audit store."""

from __future__ import annotations

from pathlib import Path

import typer

from silentscope.cli._common import console, user_errors

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
    appearance: bool = typer.Option(
        True,
        help="With --image-column: read every image and add its appearance measures "
        "(brightness, sharpness, noise, ...), which slice discovery can name.",
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
        if image_column and appearance:
            from silentscope.data.appearance import measure_image_refs, with_appearance

            measures = measure_image_refs(audit.image_ref, base=path.resolve().parent)
            audit = with_appearance(audit, measures=measures)
            console.print(f"measured the appearance of {audit.n_samples} images")
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


def register(app: typer.Typer) -> None:
    app.add_typer(import_app, name="import")

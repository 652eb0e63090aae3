"""``silentscope train --task segmentation``: the same command, the segmentation workflow.

Names are checked first (:func:`~silentscope.preflight.check_segmentation_names`), then the
rules a study shares (:mod:`silentscope.models.segmentation_workflow`) train the U-Net and
audit it on iid and the unseen corruption test sets. Options that only mean something for a
classifier are refused by name rather than ignored.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from silentscope.cli._common import console, user_errors
from silentscope.cli._model_args import parse_pairs

#: Classification-only options of ``silentscope train`` and their defaults: any other
#: value given with ``--task segmentation`` is an error, not silently dropped.
CLASSIFICATION_ONLY = {
    "objective": ("--objective", "ce"),
    "objective_param": ("--objective-param", None),
    "backbone": ("--backbone", "auto"),
    "image_size": ("--image-size", None),
    "ensemble": ("--ensemble", 1),
    "augment_corruption": ("--augment-corruption", None),
    "threshold": ("--threshold", "0.5"),
    "feature_dtype": ("--feature-dtype", "float32"),
}
TASKS = ("classification", "segmentation")


def check_segmentation_options(task: str, arguments: dict[str, Any]) -> str:
    """Refuse an unknown task and classification-only options; return the ``--augment`` value.

    Examples
    --------
    >>> check_segmentation_options("segmentation", {"augment": ["texture"]})
    'texture'
    >>> check_segmentation_options("segmentation", {"objective": "dg"})
    Traceback (most recent call last):
    ...
    ValueError: --objective applies to classification only; drop it with --task segmentation (training variants are chosen with --augment texture|generic|none)
    """
    if task not in TASKS:
        raise ValueError(f"--task must be classification or segmentation, got {task!r}")
    for key, (flag, default) in CLASSIFICATION_ONLY.items():
        if arguments.get(key, default) not in (default, [] if default is None else default):
            raise ValueError(
                f"{flag} applies to classification only; drop it with --task segmentation "
                "(training variants are chosen with --augment texture|generic|none)"
            )
    augment = list(arguments.get("augment") or ["none"])
    if len(augment) != 1:
        raise ValueError(
            f"--task segmentation takes one --augment (texture, generic or none), got {augment}"
        )
    from silentscope.shifts.segmentation_suite import check_augment

    check_augment(augment[0])
    return augment[0]


def train_segmentation(
    *,
    task: str,
    dataset: str,
    out: Path,
    data_root: Path | None,
    data_option: list[str] | None,
    corruption: list[str] | None,
    severity: list[int] | None,
    epochs: int | None,
    width: int | None,
    dropout: float,
    batch_size: int | None,
    lr: float | None,
    patience: int | None,
    mc_samples: int,
    seed: int,
    device: str,
    threads: int | None,
    resume: bool,
    overwrite: bool,
    progress: bool,
    **classification: Any,
) -> None:
    """Train a segmentation network with one training variant and write its audit store."""
    with user_errors():
        augment = check_segmentation_options(task, classification)
        from silentscope.preflight import check_segmentation_names
        from silentscope.shifts.segmentation_suite import check_unseen, expand_test_corruptions

        corruptions = expand_test_corruptions(corruption or "none")
        if severity and not corruptions:
            raise ValueError("--severity needs at least one --corruption")
        check_segmentation_names(datasets=[dataset], corruptions=corruptions)
        check_unseen(corruptions, [augment])
        if out.exists() and any(out.iterdir()) and not (resume or overwrite):
            raise FileExistsError(
                f"{out} is not empty; pass --resume to continue that run or --overwrite to start over"
            )
        from silentscope.models.segmentation_workflow import (  # after the names: fail fast
            audit_segmented,
            fit_segmentation,
            load_segmentation_data,
        )

        options = parse_pairs(data_option or [], "--data-option")
        if data_root is not None:
            options["root"] = data_root
        data = load_segmentation_data(dataset, options)
        model = fit_segmentation(
            data,
            augment=augment,
            seed=seed,
            checkpoint_dir=out / "checkpoints",
            resume=resume,
            epochs=epochs,
            width=width,
            dropout=dropout,
            batch_size=batch_size,
            lr=lr,
            patience=patience,
            device=device,
            n_threads=threads,
            progress=progress,
        )
        model.save(out / "model.pt")
        model.history_.to_csv(out / "history.csv", index=False)
        audit, slices = audit_segmented(
            model,
            data,
            corruptions=corruptions,
            severities=list(severity or [1, 2, 3, 4, 5]),
            mc_samples=mc_samples if dropout > 0 else 0,
            seed=seed,
            provenance={
                "dataset_spec": str(dataset),
                "data_options": data_option or [],
                "augment": augment,
            },
        )
        from silentscope.audit.artifacts import write_artifact
        from silentscope.audit.store import save_audit
        from silentscope.audit.volume_slices import SLICES_ARTIFACT

        save_audit(audit, out / "audit", overwrite=True)
        write_artifact(out / "audit", SLICES_ARTIFACT, slices)
    console.print(
        f"[green]wrote[/] {out}: model.pt, history.csv, audit/ ({audit.n_samples} volumes)"
    )
    print_dice(audit)
    console.print(f"next: [bold]silentscope evaluate {out / 'audit'}[/]")


def print_dice(audit) -> None:
    """Mean Dice per test set of a segmentation AuditSet (1 - risk), no intervals."""
    from silentscope.cli._segmentation_views import print_audit_dice

    print_audit_dice(audit)

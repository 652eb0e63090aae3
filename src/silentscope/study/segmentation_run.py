"""The training run of a segmentation study: one variant, one seed -> U-Net -> audit.

The same rules as ``silentscope train --task segmentation``
(:mod:`silentscope.models.segmentation_workflow`): the run's objective is a training variant
(``baseline``, ``texture``, ``generic``), its test sets are iid and the unseen corruptions
of its dataset at its severities.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from silentscope.study.spec import RunSpec


def segmentation_train_and_audit(
    run: RunSpec, folder: Path, progress: Callable[..., None]
) -> tuple[Any, dict[str, Any]]:
    """Train ``run``'s variant with ``run.seed`` and audit val, iid and every corruption set."""
    from silentscope.audit.volume_slices import SLICES_ARTIFACT
    from silentscope.models.segmentation_workflow import (
        audit_segmented,
        fit_segmentation,
        load_segmentation_data,
    )
    from silentscope.shifts.segmentation_suite import expand_test_corruptions, variant_augment

    progress("loading data")
    data = load_segmentation_data(run.dataset.name, dict(run.dataset.options))
    augment = variant_augment(run.objective)
    train = run.study.train

    def on_epoch(row: dict[str, Any]) -> None:
        dice = row.get("val_dice", float("nan"))
        progress(
            f"training ({augment}) epoch {row['done']}/{row['total']}, val Dice {dice:.3f}",
            row["done"] / row["total"],
        )

    progress("training")
    started = time.perf_counter()
    model = fit_segmentation(
        data,
        augment=augment,
        seed=run.seed,
        checkpoint_dir=folder / "checkpoint",
        epochs=train.epochs,
        batch_size=train.batch_size,
        lr=train.learning_rate,
        progress=False,
        on_epoch=on_epoch,
        **train.options,
    )
    model.save(folder / "model.pt")
    trained = time.perf_counter()
    corruptions = expand_test_corruptions(run.dataset.corruptions)
    progress(f"inference on {len(corruptions) * len(run.dataset.severities) + 2} test sets")
    audit, slices = audit_segmented(
        model,
        data,
        corruptions=corruptions,
        severities=list(run.dataset.severities),
        mc_samples=train.mc_samples,
        seed=run.seed,
        provenance={
            "study": run.study.name,
            "run_id": run.run_id,
            "dataset_spec": run.dataset.model_dump(),
            "augment": augment,
        },
    )
    history = model.history_
    details = {
        "task": "segmentation",
        "augment": augment,
        "epochs_trained": int(len(history)),
        "best_val_dice": float(history["val_dice"].max()) if "val_dice" in history else None,
        "test_sets": list(audit.test_sets),
        "corruptions": corruptions,
        "train_seconds": round(trained - started, 1),
        "audit_seconds": round(time.perf_counter() - trained, 1),
        "artifacts": {SLICES_ARTIFACT: slices},  # written into the store beside the audit
    }
    return audit, details

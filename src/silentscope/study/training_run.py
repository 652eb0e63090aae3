"""The training pipeline of a run: dataset -> shifts -> train -> audit every test set."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from silentscope.audit.auditset import AuditSet
from silentscope.study.spec import DatasetSpec, RunSpec

#: Split-based shift builders by the name a study uses (``split_shifts: [{kind: ...}]``).
SPLIT_SHIFT_KINDS = ("acquisition", "manifestation", "subgroup", "prevalence")


def build_split_shifts(dataset, shifts: list[dict[str, Any]], seed: int):
    """Apply the study's split-based shifts; returns the re-split dataset and its test sets."""
    if not shifts:
        return dataset, {}
    from silentscope.shifts import splits

    builders = {
        "acquisition": splits.acquisition_shift,
        "manifestation": splits.manifestation_shift,
        "subgroup": splits.subgroup_shift,
        "prevalence": splits.prevalence_shift,
    }
    plan = None
    for i, shift in enumerate(shifts):
        options = dict(shift)
        kind = options.pop("kind", None)
        if kind not in builders:
            raise ValueError(
                f"split_shifts[{i}].kind must be one of {', '.join(SPLIT_SHIFT_KINDS)}, got {kind!r}"
            )
        options.setdefault("seed", seed)
        plan = builders[kind](dataset, base=plan, **options)
    return plan.apply(dataset)


def corruption_names(dataset, spec: DatasetSpec) -> list[str]:
    if spec.corruptions == "none":
        return []
    if spec.corruptions == "default":
        from silentscope.shifts.registry import default_suite

        channels = int(dataset.load_images([0]).shape[-1])
        return [c.name for c in default_suite(dataset.modality, channels)]
    from silentscope.shifts.registry import get_corruption

    for name in spec.corruptions:  # fail before hours of training, not after
        get_corruption(name, dataset.modality)
    return list(spec.corruptions)


def train_and_audit(
    run: RunSpec, folder: Path, progress: Callable[..., None]
) -> tuple[AuditSet, dict[str, Any]]:
    """Train ``run.objective`` with ``run.seed`` and audit iid, val and every shifted test set."""
    from silentscope.data import load_dataset
    from silentscope.models import Trainer
    from silentscope.models.eval_sets import corruption_test_sets

    progress("loading data")
    dataset = load_dataset(run.dataset.name, **run.dataset.options)
    dataset, test_sets = build_split_shifts(dataset, run.dataset.split_shifts, run.seed)
    corruptions = corruption_names(dataset, run.dataset)
    if corruptions:
        test_sets.update(
            corruption_test_sets(dataset, corruptions, run.dataset.severities, seed=run.seed)
        )
    train = run.study.train
    trainer = Trainer(
        objective=run.objective,
        epochs=train.epochs,
        batch_size=train.batch_size,
        lr=train.learning_rate,
        image_size=train.image_size,
        random_state=run.seed,
        progress=False,
        **train.options,
    )
    progress("training")
    trainer.fit(dataset, checkpoint_dir=folder / "checkpoint")
    trainer.save(folder / "model.pt")
    progress(f"inference on {len(test_sets) + 2} test sets")
    audit = trainer.audit(
        dataset,
        test_sets=test_sets,
        mc_samples=train.mc_samples,
        seed=run.seed,
        provenance={
            "study": run.study.name,
            "run_id": run.run_id,
            "dataset_spec": run.dataset.model_dump(),
        },
    )
    history = trainer.history_
    details = {
        "epochs_trained": int(len(history)),
        "best_val_accuracy": float(history["val_accuracy"].max())
        if "val_accuracy" in history
        else None,
        "test_sets": list(audit.test_sets),
        "corruptions": corruptions,
    }
    return audit, details

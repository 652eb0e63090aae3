"""The training pipeline of a run: dataset -> shifts -> train -> audit every test set."""

from __future__ import annotations

import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

from silentscope.audit.auditset import AuditSet
from silentscope.shifts.effect import NegligibleShiftWarning
from silentscope.study.spec import RunSpec

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


def build_test_data(run: RunSpec, progress: Callable[..., None]):
    """The run's dataset (re-split by its split shifts), shifted test sets and corruption plan.

    The corruption plan (:func:`~silentscope.models.eval_sets.plan_corruption_sets`) checks,
    before training, that every corruption changes this data's images; what it left out and
    why goes into the run record.
    """
    from silentscope.data import load_dataset
    from silentscope.models.eval_sets import plan_corruption_sets

    progress("loading data")
    dataset = load_dataset(run.dataset.name, **run.dataset.options)
    dataset, test_sets = build_split_shifts(dataset, run.dataset.split_shifts, run.seed)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", NegligibleShiftWarning)  # kept in plan.notes
        plan = plan_corruption_sets(
            dataset, run.dataset.corruptions, run.dataset.severities, seed=run.seed
        )
    test_sets.update(plan.test_sets)
    return dataset, test_sets, plan


def corruption_notes(spec) -> list[str]:
    """What the corruption check says about each trained dataset of a study, before any run.

    The same check every run repeats (:func:`build_test_data`), done once per dataset so
    the user reads it before hours of training rather than in the run records after.
    """
    notes, seen = [], set()
    if spec.task == "segmentation":  # its test corruptions were checked by the spec
        return notes
    for run in spec.runs():
        if run.members or run.dataset.store is not None or run.dataset.corruptions == "none":
            continue
        if run.dataset.key in seen:
            continue
        seen.add(run.dataset.key)
        _, _, plan = build_test_data(run, lambda *args, **kwargs: None)
        notes += [f"{run.dataset.key}: {note}" for note in plan.notes]
    return notes


def _provenance(run: RunSpec) -> dict[str, Any]:
    return {"study": run.study.name, "run_id": run.run_id, "dataset_spec": run.dataset.model_dump()}


def train_and_audit(
    run: RunSpec, folder: Path, progress: Callable[..., None]
) -> tuple[AuditSet | dict[str, AuditSet], dict[str, Any]]:
    """Train ``run.objective`` with ``run.seed`` and audit iid, val and every shifted test set.

    A multi-label objective (``bce``) gives one binary AuditSet per finding, by finding name
    (:func:`~silentscope.models.audit_multilabel`, threshold 0.5).
    """
    from silentscope.models import Trainer
    from silentscope.models.workflow import audit_trained, is_multi_label

    dataset, test_sets, plan = build_test_data(run, progress)
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
    started = time.perf_counter()

    def on_epoch(row: dict[str, Any]) -> None:
        accuracy = row.get("val_accuracy", float("nan"))
        progress(
            f"training ({row['stage']}) epoch {row['done']}/{row['total']}, val acc {accuracy:.3f}",
            row["done"] / row["total"],
        )

    trainer.fit(dataset, checkpoint_dir=folder / "checkpoint", on_epoch=on_epoch)
    trainer.save(folder / "model.pt")
    trained = time.perf_counter()
    progress(f"inference on {len(test_sets) + 2} test sets")
    multi_label = is_multi_label(run.objective)
    audit = audit_trained(
        trainer,
        dataset,
        objective=run.objective,
        test_sets=test_sets,
        mc_samples=train.mc_samples,
        seed=run.seed,
        provenance={**_provenance(run), "corruption_check": plan.record()},
    )
    history = trainer.history_
    details = {
        "epochs_trained": int(len(history)),
        "best_val_accuracy": float(history["val_accuracy"].max())
        if "val_accuracy" in history
        else None,
        "test_sets": list(next(iter(audit.values())).test_sets if multi_label else audit.test_sets),
        "corruptions": plan.corruptions,
        "corruption_check": plan.record(),
        "train_seconds": round(trained - started, 1),
        "audit_seconds": round(time.perf_counter() - trained, 1),
    }
    return audit, details


def ensemble_and_audit(
    run: RunSpec, folder: Path, progress: Callable[..., None]
) -> tuple[AuditSet, dict[str, Any]]:
    """Combine the finished member runs of ``run`` into a deep ensemble and audit it.

    The members are the study's runs of the same objective with the seeds ``run.members``
    (``folder`` sits in the study's ``runs/`` folder, beside them). Each member must have been
    trained on exactly this run's data split: a member trained on another split would have
    seen test images.
    """
    from silentscope.audit.store import read_manifest
    from silentscope.models.audit_model import audit_model
    from silentscope.models.checkpoint import load_model
    from silentscope.models.network import ensemble_from_models
    from silentscope.models.training import dataset_fingerprint

    runs_dir = folder.parent
    member_ids = run.member_run_ids()
    missing = [m for m in member_ids if not (runs_dir / m / "model.pt").is_file()]
    if missing:
        raise FileNotFoundError(
            f"ensemble {run.run_id} needs the finished runs {', '.join(missing)}; they failed or "
            "have not run yet (rerun the study once they succeed)"
        )
    dataset, test_sets, plan = build_test_data(run, progress)
    expected = dataset_fingerprint(dataset)
    for member in member_ids:
        # The manifest alone: no need to open and validate the member's arrays.
        provenance = read_manifest(runs_dir / member / "audit")["provenance"]
        trained_on = provenance["dataset"]["fingerprint"]
        if trained_on != expected:
            raise ValueError(
                f"ensemble member {member} was trained on a different data split than seed "
                f"{run.seed} gives ({trained_on} vs {expected}); ensembles need seed-independent "
                "splits (e.g. a split column, or a fixed `seed` in the dataset options)"
            )
    progress(f"loading {len(member_ids)} members")
    network = ensemble_from_models([load_model(runs_dir / m / "model.pt") for m in member_ids])
    progress(f"inference on {len(test_sets) + 2} test sets")
    audit = audit_model(
        network,
        dataset,
        test_sets=test_sets,
        mc_samples=0,  # an ensemble's mc_logits are its members' logits
        seed=run.seed,
        provenance={
            **_provenance(run),
            "corruption_check": plan.record(),
            "objective": run.objective,
            "ensemble": {"members": member_ids, "seeds": list(run.members)},
            "dataset": {"name": dataset.name, "fingerprint": expected},
        },
    )
    details = {
        "members": member_ids,
        "test_sets": list(audit.test_sets),
        "corruptions": plan.corruptions,
        "corruption_check": plan.record(),
    }
    return audit, details

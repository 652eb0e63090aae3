"""``silentscope train``: check names (:mod:`silentscope.preflight`), then train and audit
with the rules the study shares (:mod:`silentscope.models.workflow`)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from silentscope.cli._common import console, user_errors
from silentscope.cli._model_args import (
    CorruptionArg,
    DataOptionArg,
    DataRootArg,
    DatasetArg,
    DeviceArg,
    FeatureDtypeArg,
    SeverityArg,
    ThreadsArg,
    ThresholdArg,
    decision_threshold,
    load_data,
    option,
    parse_pairs,
    print_finding_stores,
    shift_plan,
)


def train(
    dataset: DatasetArg,
    out: Annotated[
        Path, option("Run folder: model.pt, history.csv, checkpoints/, audit/.", "--out", "-o")
    ],
    task: Annotated[
        str, option("classification, or segmentation (a dataset of volumes and label maps).")
    ] = "classification",
    objective: Annotated[
        str,
        option(
            "Training objective: ce, dg, confidnet, devries, or bce for a multi-label dataset "
            "(one audit store per finding)."
        ),
    ] = "ce",
    objective_param: Annotated[
        list[str] | None, option("Objective parameter KEY=VALUE (repeatable), e.g. reward=3.")
    ] = None,
    data_root: DataRootArg = None,
    data_option: DataOptionArg = None,
    epochs: Annotated[int | None, option("Training epochs (default by dataset size).")] = None,
    backbone: Annotated[str, option("small_cnn, resnet18 or auto (by image size).")] = "auto",
    width: Annotated[int | None, option("Backbone width (first-stage channels).")] = None,
    image_size: Annotated[int | None, option("Resize images to this side length.")] = None,
    dropout: Annotated[float, option("Dropout before the classifier head (MC dropout).")] = 0.3,
    batch_size: Annotated[int | None, option("Batch size (default by image size).")] = None,
    lr: Annotated[float | None, option("AdamW learning rate (default 1e-3).")] = None,
    patience: Annotated[int | None, option("Early-stopping patience in epochs (0: off).")] = None,
    augment: Annotated[
        list[str] | None,
        option(
            "Augmentations (repeatable): default, none, hflip, vflip, shift; for a segmentation "
            "task one of texture, generic, none."
        ),
    ] = None,
    augment_corruption: Annotated[
        str | None, option("Also train with this corruption (e.g. a texture filter).")
    ] = None,
    ensemble: Annotated[int, option("Train a deep ensemble of this many seeds.")] = 1,
    mc_samples: Annotated[int, option("MC-dropout samples at inference (0: none).")] = 20,
    threshold: ThresholdArg = "0.5",
    corruption: CorruptionArg = None,
    severity: SeverityArg = None,
    feature_dtype: FeatureDtypeArg = "float32",
    seed: Annotated[
        int, option("Seed of initialisation, shuffling, augmentation and dropout.")
    ] = 0,
    device: DeviceArg = "auto",
    threads: ThreadsArg = None,
    resume: Annotated[bool, option("Continue the interrupted run in --out.", "--resume")] = False,
    overwrite: Annotated[bool, option("Replace an existing run in --out.", "--overwrite")] = False,
    progress: Annotated[bool, option("Show progress bars.", "--progress/--no-progress")] = True,
) -> None:
    """Train a classifier with a failure-detection objective and write its audit store.

    Example: silentscope train --dataset medmnist:pneumoniamnist --data-root ../shared/data/medmnist --objective dg --epochs 10 --corruption gaussian_noise --out runs/pneumonia_dg
    Example: silentscope train --task segmentation --dataset mni152:tissue --augment texture --corruption default --out runs/seg_texture
    """
    from silentscope.preflight import check_names

    if task != "classification":
        from silentscope.cli._train_segmentation import train_segmentation

        arguments = dict(locals())
        del arguments["check_names"]
        return train_segmentation(**arguments)
    with user_errors():
        check_names(
            datasets=[dataset],
            corruptions=corruption or None,
            severities=severity or None,
            objectives=[objective],
        )
        from silentscope.models.workflow import (  # after the names: a typo fails fast
            audit_trained,
            check_training_request,
            fit_model,
            is_multi_label,
            mc_samples_for,
            training_augmentations,
        )

        check_training_request(objective, ensemble)
        if out.exists() and any(out.iterdir()) and not (resume or overwrite):
            raise FileExistsError(
                f"{out} is not empty; pass --resume to continue that run or --overwrite to start over"
            )
        multi_label = is_multi_label(objective)
        decision = decision_threshold(threshold) if multi_label else 0.5
        data = load_data(dataset, data_root, data_option or [])
        plan = shift_plan(data, corruption or [], severity or [], seed)
        model = fit_model(
            data,
            ensemble=ensemble,
            seed=seed,
            checkpoint_dir=out / "checkpoints",
            resume=resume,
            objective=objective,
            objective_params=parse_pairs(objective_param or [], "--objective-param"),
            backbone=backbone,
            width=width,
            image_size=image_size,
            dropout=dropout,
            epochs=epochs,
            batch_size=batch_size,
            lr=lr,
            patience=patience,
            augment=training_augmentations(augment, augment_corruption, data.modality),
            device=device,
            n_threads=threads,
            progress=progress,
        )
        model.save(out / "model.pt")
        model.history_.to_csv(out / "history.csv", index=False)
        mc_samples, note = mc_samples_for(mc_samples, dropout, ensemble)
        if note:
            console.print(f"note: {note}")
        audit = audit_trained(
            model,
            data,
            objective=objective,
            threshold=decision,
            test_sets=plan.test_sets,
            mc_samples=mc_samples,
            feature_dtype=feature_dtype,
            seed=seed,
            progress=progress,
            provenance={
                "dataset_spec": dataset,
                "data_options": data_option or [],
                "corruption_check": plan.record(),
            },
        )
        if multi_label:
            print_finding_stores(audit, out / "audit")
            return
        from silentscope.audit.health import stored_health
        from silentscope.audit.store import save_audit

        save_audit(audit, out / "audit", overwrite=True)
        console.print(
            f"[green]wrote[/] {out}: model.pt, history.csv, audit/ ({audit.n_samples} samples)"
        )
        console.print(audit.summary().to_string(index=False))
        health = stored_health(audit.provenance)
        if health is not None and health.degenerate:  # said during training; say it last
            console.print(f"[bold yellow]warning:[/] degenerate network: {health.reason}")
        console.print(f"next: [bold]silentscope info {out / 'audit'}[/]")


def register(app: typer.Typer) -> None:
    """Add ``train`` and ``audit-model`` to the ``silentscope`` command line."""
    from silentscope.cli import audit_model

    app.command("train")(train)
    audit_model.register(app)

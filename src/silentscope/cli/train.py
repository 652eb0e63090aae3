"""``silentscope train``: check names (:mod:`silentscope.preflight`), then train and audit
with the rules the study shares (:mod:`silentscope.models.workflow`)."""

from __future__ import annotations

import json
import warnings
from pathlib import Path
from typing import Annotated

import typer

from silentscope.cli._common import console, user_errors


def parse_pairs(pairs: list[str], what: str) -> dict:
    """KEY=VALUE pairs; values read as JSON where they parse (numbers, true/false), else text."""
    parsed = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise ValueError(f"{what} {pair!r} must look like KEY=VALUE")
        try:
            parsed[key] = json.loads(value)
        except json.JSONDecodeError:
            parsed[key] = value
    return parsed


def load_data(dataset: str, data_root: Path | None, data_option: list[str]):
    from silentscope.data import load_dataset

    options = parse_pairs(data_option, "--data-option")
    if data_root is not None:
        options["root"] = data_root
    return load_dataset(dataset, **options)


def shift_plan(data, corruption: list[str], severity: list[int], seed: int):
    """The corruption test sets, checked on a few images before any training; notes printed."""
    from silentscope.models.eval_sets import plan_corruption_sets
    from silentscope.shifts.effect import NegligibleShiftWarning

    if severity and not corruption:
        raise ValueError("--severity needs at least one --corruption")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", NegligibleShiftWarning)  # printed below, once
        plan = plan_corruption_sets(data, corruption or "none", severity or None, seed=seed)
    for note in plan.notes:
        console.print(f"[yellow]warning:[/] {note}", soft_wrap=True, highlight=False)
    return plan


def decision_threshold(text: str) -> float | str:
    """``--threshold``: "val" or a probability in (0, 1)."""
    if text == "val":
        return text
    try:
        value = float(text)
    except ValueError:
        value = float("nan")
    if not 0 < value < 1:
        raise ValueError(f"--threshold must be a probability in (0, 1) or 'val', got {text!r}")
    return value


def print_finding_stores(audits: dict, folder: Path) -> None:
    """Save one audit store per finding under ``folder`` and list them."""
    from silentscope.models.multilabel import save_finding_audits

    stores = save_finding_audits(audits, folder)  # the folder was checked before any work
    console.print(f"[green]wrote[/] one audit store per finding in {folder}:")
    for finding, store in stores.items():
        iid = audits[finding].select("iid")
        console.print(
            f"  {store.name}: {iid.n_samples} test images, accuracy {iid.correct.mean():.3f}"
        )
    console.print(f"next: [bold]silentscope info {next(iter(stores.values()))}[/]")


def _opt(help_text: str, *names: str):
    """A typer option in one line: its help first, then its flag names (default: derived)."""
    return typer.Option(*names, help=help_text)


DatasetArg = Annotated[
    str, _opt("Dataset name (e.g. medmnist:pneumoniamnist) or path.", "--dataset", "-d")
]
DataRootArg = Annotated[
    Path | None, _opt("Folder the dataset adapter reads from (root=).", "--data-root")
]
DataOptionArg = Annotated[
    list[str] | None, _opt("Adapter option KEY=VALUE (repeatable), e.g. size=64.", "--data-option")
]
CorruptionArg = Annotated[
    list[str] | None, _opt("Corruption test sets (repeatable); 'default' for the modality's suite.")
]
SeverityArg = Annotated[
    list[int] | None, _opt("Corruption severities 1-5 (repeatable; default all).")
]
ThresholdArg = Annotated[
    str,
    _opt(
        "Multi-label only: decision threshold of every finding, a probability such as 0.5, "
        "or 'val' (Youden's J on the validation split)."
    ),
]
FeatureDtypeArg = Annotated[str, _opt("float32 or float16 features.")]
DeviceArg = Annotated[str, _opt("auto (GPU when present), cpu or cuda.")]
ThreadsArg = Annotated[int | None, _opt("CPU threads (default: available cores).")]


def train(
    dataset: DatasetArg,
    out: Annotated[
        Path, _opt("Run folder: model.pt, history.csv, checkpoints/, audit/.", "--out", "-o")
    ],
    objective: Annotated[
        str,
        _opt(
            "Training objective: ce, dg, confidnet, devries, or bce for a multi-label dataset "
            "(one audit store per finding)."
        ),
    ] = "ce",
    objective_param: Annotated[
        list[str] | None, _opt("Objective parameter KEY=VALUE (repeatable), e.g. reward=3.")
    ] = None,
    data_root: DataRootArg = None,
    data_option: DataOptionArg = None,
    epochs: Annotated[int | None, _opt("Training epochs (default by dataset size).")] = None,
    backbone: Annotated[str, _opt("small_cnn, resnet18 or auto (by image size).")] = "auto",
    width: Annotated[int | None, _opt("Backbone width (first-stage channels).")] = None,
    image_size: Annotated[int | None, _opt("Resize images to this side length.")] = None,
    dropout: Annotated[float, _opt("Dropout before the classifier head (MC dropout).")] = 0.3,
    batch_size: Annotated[int | None, _opt("Batch size (default by image size).")] = None,
    lr: Annotated[float | None, _opt("AdamW learning rate (default 1e-3).")] = None,
    patience: Annotated[int | None, _opt("Early-stopping patience in epochs (0: off).")] = None,
    augment: Annotated[
        list[str] | None, _opt("Augmentations (repeatable): default, none, hflip, vflip, shift.")
    ] = None,
    augment_corruption: Annotated[
        str | None, _opt("Also train with this corruption (e.g. a texture filter).")
    ] = None,
    ensemble: Annotated[int, _opt("Train a deep ensemble of this many seeds.")] = 1,
    mc_samples: Annotated[int, _opt("MC-dropout samples at inference (0: none).")] = 20,
    threshold: ThresholdArg = "0.5",
    corruption: CorruptionArg = None,
    severity: SeverityArg = None,
    feature_dtype: FeatureDtypeArg = "float32",
    seed: Annotated[int, _opt("Seed of initialisation, shuffling, augmentation and dropout.")] = 0,
    device: DeviceArg = "auto",
    threads: ThreadsArg = None,
    resume: Annotated[bool, _opt("Continue the interrupted run in --out.", "--resume")] = False,
    overwrite: Annotated[bool, _opt("Replace an existing run in --out.", "--overwrite")] = False,
    progress: Annotated[bool, _opt("Show progress bars.", "--progress/--no-progress")] = True,
) -> None:
    """Train a classifier with a failure-detection objective and write its audit store.

    Example: silentscope train --dataset medmnist:pneumoniamnist --data-root ../shared/data/medmnist --objective dg --epochs 10 --corruption gaussian_noise --out runs/pneumonia_dg
    """
    from silentscope.preflight import check_names

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

"""``silentscope train`` and ``silentscope audit-model``: models in, audit stores out."""

from __future__ import annotations

import importlib
import json
from pathlib import Path
from typing import Annotated

import typer

from silentscope.cli._common import console, user_errors


def _parse_pairs(pairs: list[str], what: str) -> dict:
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


def _load_dataset(dataset: str, data_root: Path | None, data_option: list[str]):
    from silentscope.data import load_dataset

    options = _parse_pairs(data_option, "--data-option")
    if data_root is not None:
        options["root"] = data_root
    return load_dataset(dataset, **options)


def _shift_sets(data, corruption: list[str], severity: list[int], seed: int) -> dict:
    from silentscope.models.eval_sets import corruption_test_sets

    if not corruption:
        if severity:
            raise ValueError("--severity needs at least one --corruption")
        return {}
    names = list(corruption)
    if "default" in names:
        from silentscope.shifts.registry import default_suite

        channels = int(data.load_images([0]).shape[-1]) if len(data) else None
        suite = [c.name for c in default_suite(data.modality, channels)]
        names = [n for n in names if n != "default"] + [n for n in suite if n not in names]
    severities = tuple(severity) or (1, 2, 3, 4, 5)
    bad = [s for s in severities if s not in (1, 2, 3, 4, 5)]
    if bad:
        raise ValueError(f"--severity must be between 1 and 5, got {bad}")
    return corruption_test_sets(data, names, severities, seed=seed)


def _import_class(spec: str):
    module_name, sep, class_name = spec.partition(":")
    if not sep or not class_name:
        raise ValueError(f"--model-class {spec!r} must look like package.module:ClassName")
    try:
        module = importlib.import_module(module_name)
    except ImportError as error:
        raise ValueError(f"cannot import {module_name!r} for --model-class: {error}") from None
    if not hasattr(module, class_name):
        raise ValueError(f"module {module_name!r} has no class {class_name!r}")
    return getattr(module, class_name)


DatasetArg = Annotated[
    str,
    typer.Option("--dataset", "-d", help="Dataset name (e.g. medmnist:pneumoniamnist) or path."),
]
DataRootArg = Annotated[
    Path | None, typer.Option("--data-root", help="Folder the dataset adapter reads from (root=).")
]
DataOptionArg = Annotated[
    list[str] | None,
    typer.Option("--data-option", help="Adapter option KEY=VALUE (repeatable), e.g. size=64."),
]
CorruptionArg = Annotated[
    list[str] | None,
    typer.Option(help="Corruption test sets (repeatable); 'default' for the modality's suite."),
]
SeverityArg = Annotated[
    list[int] | None, typer.Option(help="Corruption severities 1-5 (repeatable; default all).")
]


def _threshold(text: str) -> float | str:
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


def _audit_findings(
    model, data, shifts, threshold, mc_samples, feature_dtype, seed, progress, folder, provenance
) -> None:
    """Audit a multi-label network per finding: one audit store per finding under ``folder``."""
    from silentscope.models.multilabel import audit_multilabel, save_finding_audits

    audits = audit_multilabel(
        model, data, test_sets=shifts, threshold=threshold, mc_samples=mc_samples,
        feature_dtype=feature_dtype, seed=seed, progress=progress, provenance=provenance,
    )  # fmt: skip
    # the folder was checked (--overwrite/--resume) before training
    stores = save_finding_audits(audits, folder)
    rows = []
    for finding, store in stores.items():
        iid = audits[finding].select("iid")
        rows.append(
            f"  {store.name}: {iid.n_samples} test images, accuracy {iid.correct.mean():.3f}"
        )
    console.print(f"[green]wrote[/] one audit store per finding in {folder}:")
    console.print("\n".join(rows))
    console.print(f"next: [bold]silentscope info {next(iter(stores.values()))}[/]")


def register(app: typer.Typer) -> None:
    """Add ``train`` and ``audit-model`` to the ``silentscope`` command line."""

    @app.command("train")
    def train(
        dataset: DatasetArg,
        out: Annotated[
            Path,
            typer.Option(
                "--out", "-o", help="Run folder: model.pt, history.csv, checkpoints/, audit/."
            ),
        ],
        objective: Annotated[
            str,
            typer.Option(
                help="Training objective: ce, dg, confidnet, devries, or bce for a multi-label "
                "dataset (one audit store per finding)."
            ),
        ] = "ce",
        objective_param: Annotated[
            list[str] | None,
            typer.Option(help="Objective parameter KEY=VALUE (repeatable), e.g. reward=3."),
        ] = None,
        data_root: DataRootArg = None,
        data_option: DataOptionArg = None,
        epochs: Annotated[
            int | None, typer.Option(help="Training epochs (default by dataset size).")
        ] = None,
        backbone: Annotated[
            str, typer.Option(help="small_cnn, resnet18 or auto (by image size).")
        ] = "auto",
        width: Annotated[
            int | None, typer.Option(help="Backbone width (first-stage channels).")
        ] = None,
        image_size: Annotated[
            int | None, typer.Option(help="Resize images to this side length.")
        ] = None,
        dropout: Annotated[
            float, typer.Option(help="Dropout before the classifier head (MC dropout).")
        ] = 0.3,
        batch_size: Annotated[
            int | None, typer.Option(help="Batch size (default by image size).")
        ] = None,
        lr: Annotated[
            float | None, typer.Option(help="AdamW learning rate (default 1e-3).")
        ] = None,
        patience: Annotated[
            int | None, typer.Option(help="Early-stopping patience in epochs (0: off).")
        ] = None,
        augment: Annotated[
            list[str] | None,
            typer.Option(help="Augmentations (repeatable): default, none, hflip, vflip, shift."),
        ] = None,
        augment_corruption: Annotated[
            str | None,
            typer.Option(help="Also train with this corruption (e.g. a texture filter)."),
        ] = None,
        ensemble: Annotated[
            int, typer.Option(help="Train a deep ensemble of this many seeds.")
        ] = 1,
        mc_samples: Annotated[
            int, typer.Option(help="MC-dropout samples at inference (0: none).")
        ] = 20,
        threshold: Annotated[
            str,
            typer.Option(
                help="Multi-label (bce) only: decision threshold of every finding, a "
                "probability such as 0.5, or 'val' (Youden's J on the validation split)."
            ),
        ] = "0.5",
        corruption: CorruptionArg = None,
        severity: SeverityArg = None,
        feature_dtype: Annotated[
            str, typer.Option(help="float32 or float16 features.")
        ] = "float32",
        seed: Annotated[
            int, typer.Option(help="Seed of initialisation, shuffling, augmentation and dropout.")
        ] = 0,
        device: Annotated[str, typer.Option(help="auto (GPU when present), cpu or cuda.")] = "auto",
        threads: Annotated[
            int | None, typer.Option(help="CPU threads (default: available cores).")
        ] = None,
        resume: Annotated[
            bool, typer.Option("--resume", help="Continue the interrupted run in --out.")
        ] = False,
        overwrite: Annotated[
            bool, typer.Option("--overwrite", help="Replace an existing run in --out.")
        ] = False,
        progress: Annotated[
            bool, typer.Option("--progress/--no-progress", help="Show progress bars.")
        ] = True,
    ) -> None:
        """Train a classifier with a failure-detection objective and write its audit store.

        Example: silentscope train --dataset medmnist:pneumoniamnist --data-root ../shared/data/medmnist --objective dg --epochs 10 --corruption gaussian_noise --out runs/pneumonia_dg
        """
        from silentscope.models import DeepEnsemble, Trainer
        from silentscope.models.augmentations import CorruptionAugmentation

        with user_errors():
            state = out / "checkpoints"
            if out.exists() and any(out.iterdir()) and not (resume or overwrite):
                raise FileExistsError(
                    f"{out} is not empty; pass --resume to continue that run or --overwrite to start over"
                )
            if ensemble < 1:
                raise ValueError(f"--ensemble must be at least 1, got {ensemble}")
            multi_label = objective == "bce"
            if multi_label and ensemble > 1:
                raise ValueError(
                    "deep ensembles of multi-label (bce) networks are not supported; drop --ensemble"
                )
            decision = _threshold(threshold) if multi_label else None
            data = _load_dataset(dataset, data_root, data_option or [])
            shifts = _shift_sets(data, corruption or [], severity or [], seed)
            augmentations = list(augment or ["default"])
            if augment_corruption:
                base = [a for a in augmentations if a not in ("default", "none")] or []
                if "default" in augmentations:
                    from silentscope.models.augmentations import DEFAULTS_BY_MODALITY

                    base = (
                        list(
                            DEFAULTS_BY_MODALITY.get(data.modality, DEFAULTS_BY_MODALITY["generic"])
                        )
                        + base
                    )
                augmentations = base + [
                    CorruptionAugmentation(augment_corruption, modality=data.modality)
                ]
            elif len(augmentations) == 1:
                augmentations = augmentations[0]
            params = {
                "objective": objective,
                "objective_params": _parse_pairs(objective_param or [], "--objective-param"),
                "backbone": backbone,
                "width": width,
                "image_size": image_size,
                "dropout": dropout,
                "epochs": epochs,
                "batch_size": batch_size,
                "lr": lr,
                "patience": patience,
                "augment": augmentations,
                "device": device,
                "n_threads": threads,
                "progress": progress,
            }
            if ensemble > 1:
                model = DeepEnsemble(n_members=ensemble, random_state=seed, **params)
                model.fit(data, checkpoint_dir=state, resume=resume)
                mc_samples = 0  # the members' logits take the place of MC samples
            else:
                model = Trainer(random_state=seed, **params)
                model.fit(
                    data,
                    checkpoint_dir=state,
                    resume=resume and (state / "training_state.pt").is_file(),
                )
            model.save(out / "model.pt")
            model.history_.to_csv(out / "history.csv", index=False)
            if mc_samples and dropout == 0:
                console.print(
                    "note: --dropout 0 leaves nothing to sample; no MC-dropout logits recorded"
                )
                mc_samples = 0
            provenance = {"dataset_spec": dataset, "data_options": data_option or []}
            if multi_label:
                _audit_findings(
                    model, data, shifts, decision, mc_samples, feature_dtype, seed, progress,
                    out / "audit", provenance,
                )  # fmt: skip
                return
            audit = model.audit(
                data,
                test_sets=shifts,
                mc_samples=mc_samples,
                feature_dtype=feature_dtype,
                seed=seed,
                progress=progress,
                out=out / "audit",
                overwrite=True,
                provenance=provenance,
            )
            console.print(
                f"[green]wrote[/] {out}: model.pt, history.csv, audit/ ({audit.n_samples} samples)"
            )
            console.print(audit.summary().to_string(index=False))
            console.print(f"next: [bold]silentscope info {out / 'audit'}[/]")

    @app.command("audit-model")
    def audit_model_command(
        checkpoint: Annotated[
            Path, typer.Argument(help="TorchScript file, silentscope model.pt, or state dict.")
        ],
        dataset: DatasetArg,
        out: Annotated[Path, typer.Option("--out", "-o", help="Audit store folder to create.")],
        data_root: DataRootArg = None,
        data_option: DataOptionArg = None,
        model_class: Annotated[
            str | None, typer.Option(help="package.module:ClassName, for a bare state dict.")
        ] = None,
        model_kwargs: Annotated[
            str, typer.Option(help="JSON keyword arguments of --model-class.")
        ] = "{}",
        feature_layer: Annotated[
            str | None, typer.Option(help="Module name whose output is the features.")
        ] = None,
        mc_samples: Annotated[
            int, typer.Option(help="MC-dropout samples (needs dropout layers).")
        ] = 0,
        batch_size: Annotated[int, typer.Option(help="Images per forward pass.")] = 256,
        threshold: Annotated[
            str,
            typer.Option(
                help="Multi-label networks only: decision threshold of every finding "
                "(a probability, or 'val' for Youden's J on the validation split)."
            ),
        ] = "0.5",
        corruption: CorruptionArg = None,
        severity: SeverityArg = None,
        feature_dtype: Annotated[
            str, typer.Option(help="float32 or float16 features.")
        ] = "float32",
        train_features: Annotated[
            bool,
            typer.Option(
                "--train-features/--no-train-features", help="Record training-set features."
            ),
        ] = True,
        seed: Annotated[int, typer.Option(help="Seed of the dropout masks and corruptions.")] = 0,
        device: Annotated[str, typer.Option(help="auto (GPU when present), cpu or cuda.")] = "auto",
        threads: Annotated[
            int | None, typer.Option(help="CPU threads (default: available cores).")
        ] = None,
        overwrite: Annotated[
            bool, typer.Option("--overwrite", help="Replace an existing store.")
        ] = False,
        progress: Annotated[
            bool, typer.Option("--progress/--no-progress", help="Show a progress bar.")
        ] = True,
    ) -> None:
        """Run any classifier checkpoint on a dataset (val, iid test, corruptions) into an audit store.

        The model receives float images (B, C, H, W) in [0, 1] and must return logits (B, C).

        Example: silentscope audit-model model.ts --dataset medmnist:pneumoniamnist --data-root ../shared/data/medmnist --feature-layer avgpool --mc-samples 20 --out audit_store
        """
        from silentscope.models.audit_model import audit_model
        from silentscope.models.checkpoint import load_model

        with user_errors():
            try:
                kwargs = json.loads(model_kwargs)
            except json.JSONDecodeError as error:
                raise ValueError(f"--model-kwargs is not valid JSON: {error}") from None
            if not isinstance(kwargs, dict):
                raise ValueError("--model-kwargs must be a JSON object, e.g. '{\"n_classes\": 2}'")
            cls = _import_class(model_class) if model_class else None
            model = load_model(checkpoint, cls, kwargs)
            data = _load_dataset(dataset, data_root, data_option or [])
            if getattr(model, "multi_label", False):  # a silentscope bce network
                if out.exists() and any(out.iterdir()) and not overwrite:
                    raise FileExistsError(f"{out} is not empty; pass --overwrite to replace it")
                _audit_findings(
                    model, data, _shift_sets(data, corruption or [], severity or [], seed),
                    _threshold(threshold), mc_samples, feature_dtype, seed, progress, out,
                    {"checkpoint": str(checkpoint), "dataset_spec": dataset},
                )  # fmt: skip
                return
            audit = audit_model(
                model,
                data,
                test_sets=_shift_sets(data, corruption or [], severity or [], seed),
                feature_layer=feature_layer,
                mc_samples=mc_samples,
                batch_size=batch_size,
                feature_dtype=feature_dtype,
                train_features=train_features,
                device=device,
                n_threads=threads,
                seed=seed,
                progress=progress,
                out=out,
                overwrite=overwrite,
                provenance={"checkpoint": str(checkpoint), "dataset_spec": dataset},
            )
            console.print(
                f"[green]wrote[/] {out}: {audit.n_samples} samples, test sets {', '.join(audit.test_sets)}"
            )
            console.print(f"next: [bold]silentscope info {out}[/]")

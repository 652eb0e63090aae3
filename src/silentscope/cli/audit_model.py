"""``silentscope audit-model``: any classifier checkpoint on a dataset into an audit store."""

from __future__ import annotations

import importlib
import json
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
    print_finding_stores,
    shift_plan,
)


def import_class(spec: str):
    """The class named by ``package.module:ClassName``."""
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


def audit_model_command(
    checkpoint: Annotated[
        Path, typer.Argument(help="TorchScript file, silentscope model.pt, or state dict.")
    ],
    dataset: DatasetArg,
    out: Annotated[Path, option("Audit store folder to create.", "--out", "-o")],
    data_root: DataRootArg = None,
    data_option: DataOptionArg = None,
    model_class: Annotated[
        str | None, option("package.module:ClassName, for a bare state dict.")
    ] = None,
    model_kwargs: Annotated[str, option("JSON keyword arguments of --model-class.")] = "{}",
    feature_layer: Annotated[
        str | None, option("Module name whose output is the features.")
    ] = None,
    mc_samples: Annotated[int, option("MC-dropout samples (needs dropout layers).")] = 0,
    batch_size: Annotated[int, option("Images per forward pass.")] = 256,
    threshold: ThresholdArg = "0.5",
    corruption: CorruptionArg = None,
    severity: SeverityArg = None,
    feature_dtype: FeatureDtypeArg = "float32",
    train_features: Annotated[
        bool, option("Record training-set features.", "--train-features/--no-train-features")
    ] = True,
    seed: Annotated[int, option("Seed of the dropout masks and corruptions.")] = 0,
    device: DeviceArg = "auto",
    threads: ThreadsArg = None,
    overwrite: Annotated[bool, option("Replace an existing store.", "--overwrite")] = False,
    progress: Annotated[bool, option("Show a progress bar.", "--progress/--no-progress")] = True,
) -> None:
    """Run any classifier checkpoint on a dataset (val, iid test, corruptions) into an audit store.

    The model receives float images (B, C, H, W) in [0, 1] and must return logits (B, C).

    Example: silentscope audit-model model.ts --dataset medmnist:pneumoniamnist --data-root ../shared/data/medmnist --feature-layer avgpool --mc-samples 20 --out audit_store
    """
    from silentscope.models.audit_model import audit_model
    from silentscope.models.checkpoint import load_model
    from silentscope.models.multilabel import audit_multilabel
    from silentscope.preflight import check_names

    with user_errors():
        check_names(datasets=[dataset], corruptions=corruption or None, severities=severity or None)
        try:
            kwargs = json.loads(model_kwargs)
        except json.JSONDecodeError as error:
            raise ValueError(f"--model-kwargs is not valid JSON: {error}") from None
        if not isinstance(kwargs, dict):
            raise ValueError("--model-kwargs must be a JSON object, e.g. '{\"n_classes\": 2}'")
        cls = import_class(model_class) if model_class else None
        model = load_model(checkpoint, cls, kwargs)
        data = load_data(dataset, data_root, data_option or [])
        plan = shift_plan(data, corruption or [], severity or [], seed)
        provenance = {
            "checkpoint": str(checkpoint),
            "dataset_spec": dataset,
            "corruption_check": plan.record(),
        }
        if getattr(model, "multi_label", False):  # a silentscope bce network
            if out.exists() and any(out.iterdir()) and not overwrite:
                raise FileExistsError(f"{out} is not empty; pass --overwrite to replace it")
            audits = audit_multilabel(
                model, data, test_sets=plan.test_sets, threshold=decision_threshold(threshold),
                mc_samples=mc_samples, feature_dtype=feature_dtype, seed=seed, progress=progress,
                provenance=provenance,
            )  # fmt: skip
            print_finding_stores(audits, out)
            return
        audit = audit_model(
            model,
            data,
            test_sets=plan.test_sets,
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
            provenance=provenance,
        )
        console.print(
            f"[green]wrote[/] {out}: {audit.n_samples} samples, test sets {', '.join(audit.test_sets)}"
        )
        console.print(f"next: [bold]silentscope info {out}[/]")


def register(app: typer.Typer) -> None:
    """Add ``audit-model`` to the ``silentscope`` command line."""
    app.command("audit-model")(audit_model_command)

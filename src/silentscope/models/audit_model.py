"""Turn any classifier into an AuditSet: inference on val, the iid test split and every shift."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
from rich.progress import Progress
from torch import nn

from silentscope.audit import IID, VALIDATION, AuditSet
from silentscope.audit.health import record_health
from silentscope.audit.store import save_audit
from silentscope.audit.validation import reject_probabilities_as_logits
from silentscope.data.appearance import (
    APPEARANCE_COLUMNS,
    appearance_measures,
    check_free,
    join_measures,
)
from silentscope.data.dataset import ImageDataset
from silentscope.models.eval_sets import TestSet, collect_sets, images_of
from silentscope.models.inference import EnsemblePredictor, make_predictor
from silentscope.models.runtime import resolve_device, torch_threads

FEATURE_DTYPES = {"float32": np.float32, "float16": np.float16}


def _mc_source(predictor) -> str:
    """How the MC samples were drawn, for provenance."""
    kind = type(predictor).__name__
    if kind == "EnsemblePredictor":
        return "ensemble members' logits"
    if kind == "NetPredictor":
        return "MC dropout; features repeated M times before the dropout layer, batched"
    where = {"first_dropout": "at the first dropout layer", "input": "at the input"}
    return f"MC dropout; batch repeated M times {where[predictor.mc_sampler.mode]}, batched"


class _Collector:
    def __init__(self):
        self.parts: dict[str, list] = {"logits": [], "features": [], "mc_logits": []}
        self.confidences: dict[str, list] = {}

    def add(self, out) -> None:
        self.parts["logits"].append(out.logits.numpy())
        if out.features is not None:
            self.parts["features"].append(out.features.numpy())
        if out.mc_logits is not None:
            self.parts["mc_logits"].append(out.mc_logits.numpy())
        for key, value in out.confidences.items():
            self.confidences.setdefault(key, []).append(value.numpy())

    def array(self, key: str, dtype=np.float32):
        parts = self.parts[key]
        return np.concatenate(parts).astype(dtype, copy=False) if parts else None


def _run(
    predictor, images: np.ndarray, batch_size: int, mc_samples: int, n_classes: int, collector, bar
):
    for start in range(0, len(images), batch_size):
        x = predictor.prepare(images[start : start + batch_size])
        out = predictor.predict(x, mc_samples)
        if out.logits.shape[1] != n_classes:
            raise ValueError(
                f"the model outputs {out.logits.shape[1]} values per image but the dataset has "
                f"{n_classes} classes; pass a model whose output matches the class count (or the "
                "matching dataset)"
            )
        collector.add(out)
        if bar is not None:
            bar[0].advance(bar[1], len(x))


def audit_model(
    model: nn.Module,
    dataset: ImageDataset,
    *,
    test_sets: Mapping[str, Any] | None = None,
    feature_layer: str | None = None,
    capture_features: bool = True,
    mc_samples: int = 0,
    batch_size: int = 256,
    preprocess: Callable[[np.ndarray], torch.Tensor] | None = None,
    feature_dtype: str = "float32",
    train_features: bool = True,
    include_val: bool = True,
    device: str = "auto",
    n_threads: int | None = None,
    seed: int = 0,
    provenance: dict[str, Any] | None = None,
    progress: bool = False,
    out: str | Path | None = None,
    overwrite: bool = False,
    appearance: bool = True,
) -> AuditSet:
    """Run a classifier on the validation split, the iid test split and every shifted test
    set, and return everything the analyses need as one :class:`~silentscope.audit.AuditSet`.

    Works for silentscope networks (features and external confidences native) and for any
    ``nn.Module`` that maps a batch of images to class logits (features captured with a
    forward hook).

    Parameters
    ----------
    model : nn.Module
        A classifier: ``model(x)`` returns logits (or log-probabilities) of shape (B, C).
    dataset : ImageDataset
        Its ``val`` split becomes test set ``val`` and its ``test`` split ``iid``; its
        ``train`` split gives ``train_features``.
    test_sets : mapping of str to ImageDataset, TestSet or (ImageDataset, transform), optional
        Shifted test sets by name (``cor/<name>/<severity>``, ``acq/<value>``, ...); see
        :func:`corruption_test_sets`. A name ``iid`` or ``val`` replaces the default one.
    feature_layer : str, optional
        For models other than silentscope networks: the module (in
        ``model.named_modules()``) whose output is recorded as features. By default the
        input of the last ``nn.Linear`` is recorded.
    capture_features : bool, default True
    mc_samples : int, default 0
        MC-dropout samples M (0 for none); needs dropout layers. The M samples are
        batched rather than run as M passes: silentscope networks repeat their features
        before the head's dropout; other modules repeat the batch at their first dropout
        layer where that is exact, else at the input (see
        :class:`~silentscope.models.mc_batching.MCSampler`).
    batch_size : int, default 256
    preprocess : callable, optional
        ``preprocess(uint8 images (n, H, W, C)) -> tensor``; default float (n, C, H, W) in
        [0, 1] (silentscope networks also resize to their training size).
    feature_dtype : {"float32", "float16"}
        float16 halves the memory of features.
    train_features : bool, default True
        Also record the training split's features (for Mahalanobis, ViM, kNN CSFs).
    include_val : bool, default True
    device : str, default "auto"
    n_threads : int, optional
    seed : int, default 0
        Seeds the dropout masks; test set k uses ``seed + k``.
    provenance : dict, optional
        Facts about model and training merged into the AuditSet's provenance.
    progress : bool, default False
        Show a rich progress bar.
    out : path, optional
        Also save the AuditSet as an audit store folder there.
    overwrite : bool, default False
        Replace an existing store at ``out``.
    appearance : bool, default True
        Also measure every audited image's appearance (brightness, contrast, sharpness,
        noise, banding, colour cast, clipping: :mod:`silentscope.data.appearance`) as it
        was fed to the model (a corrupted copy is measured corrupted) and add the measures
        to the metadata as acquisition columns ``image ...``; slice discovery reads them
        as its ``appearance`` modality and its rules can name them.

    Returns
    -------
    AuditSet

    Raises
    ------
    ValueError
        An unknown ``feature_layer`` (close names are listed), outputs whose width does
        not match the class count, inputs the model rejects, MC dropout for a model
        without dropout, or a multi-label network (audit it per finding with
        :func:`~silentscope.models.multilabel.audit_multilabel`).

    Examples
    --------
    >>> import numpy as np
    >>> from torch import nn
    >>> from silentscope.data.dataset import ImageDataset
    >>> rng = np.random.default_rng(0)
    >>> ds = ImageDataset("toy", rng.integers(0, 255, (30, 8, 8), dtype=np.uint8), rng.integers(0, 2, 30),
    ...                   ["a", "b"], ["train"] * 10 + ["val"] * 10 + ["test"] * 10, [str(i) for i in range(30)])
    >>> model = nn.Sequential(nn.Flatten(), nn.Linear(64, 16), nn.ReLU(), nn.Dropout(0.5), nn.Linear(16, 2))
    >>> audit = audit_model(model, ds, mc_samples=4, device="cpu")
    >>> audit.test_sets, audit.mc_logits.shape, audit.features.shape, audit.train_features.shape
    (('val', 'iid'), (20, 2, 4), (20, 16), (10, 16))
    """
    if getattr(model, "multi_label", False):
        raise ValueError(
            "this network is multi-label (one sigmoid output per finding), so it has no single "
            "decision per image; audit it per finding with silentscope.models.audit_multilabel"
        )
    return _audit_model(
        model,
        dataset,
        test_sets=test_sets,
        feature_layer=feature_layer,
        capture_features=capture_features,
        mc_samples=mc_samples,
        batch_size=batch_size,
        preprocess=preprocess,
        feature_dtype=feature_dtype,
        train_features=train_features,
        include_val=include_val,
        device=device,
        n_threads=n_threads,
        seed=seed,
        provenance=provenance,
        progress=progress,
        out=out,
        overwrite=overwrite,
        appearance=appearance,
    )


def _audit_model(
    model,
    dataset,
    *,
    test_sets,
    feature_layer,
    capture_features,
    mc_samples,
    batch_size,
    preprocess,
    feature_dtype,
    train_features,
    include_val,
    device,
    n_threads,
    seed,
    provenance,
    progress,
    out,
    overwrite,
    appearance=True,
) -> AuditSet:
    """:func:`audit_model` without the multi-label check (used per finding by audit_multilabel)."""
    if not isinstance(dataset, ImageDataset):
        raise ValueError(f"dataset must be an ImageDataset, got {type(dataset).__name__}")
    if int(mc_samples) < 0 or int(batch_size) < 1:
        raise ValueError(
            f"mc_samples must be >= 0 and batch_size >= 1, got {mc_samples} and {batch_size}"
        )
    if feature_dtype not in FEATURE_DTYPES:
        raise ValueError(
            f"feature_dtype must be one of {', '.join(FEATURE_DTYPES)}, got {feature_dtype!r}"
        )
    mc_samples, batch_size = int(mc_samples), int(batch_size)
    sets = collect_sets(dataset, test_sets, include_val)
    if appearance:  # before hours of inference, not after: a name clash is the user's to fix
        for test_set in sets.values():
            check_free(test_set.dataset.metadata)
    torch_device = resolve_device(device)
    predictor = make_predictor(
        model, torch_device, feature_layer, capture_features, preprocess, batch_size
    )
    try:
        if mc_samples and isinstance(predictor, EnsemblePredictor):
            raise ValueError(
                "an ensemble's mc_logits hold its members' logits; set mc_samples=0 for an EnsembleNet"
            )
        if mc_samples and not predictor.supports_mc:
            raise ValueError(
                "MC dropout needs dropout layers, and this model has none (or dropout=0); "
                "set mc_samples=0 or use a model with dropout"
            )
        with torch_threads(n_threads):
            results = _infer_all(
                predictor,
                dataset,
                sets,
                batch_size,
                mc_samples,
                seed,
                progress,
                train_features,
                torch_device,
                appearance,
            )
    finally:
        predictor.close()
    audit = _build_audit(
        model,
        dataset,
        sets,
        results,
        predictor,
        feature_dtype,
        mc_samples,
        batch_size,
        seed,
        torch_device,
        provenance,
    )
    # A network that predicts one class still gets metrics; its store says so (issue 13).
    record_health(audit, "the audited classifier", stacklevel=3)
    if out is not None:
        save_audit(audit, out, overwrite=overwrite)
    return audit


def _infer_all(
    predictor, dataset, sets, batch_size, mc_samples, seed, progress, train_features, device,
    appearance=False,
):  # fmt: skip
    results: dict[str, Any] = {}
    n_classes = dataset.n_classes
    total = sum(len(s.dataset) for s in sets.values())
    train = dataset.split_of("train") if train_features and predictor.has_features else None
    if train is not None and len(train) == 0:
        train = None
    total += 0 if train is None else len(train)
    with Progress(disable=not progress, transient=True) as bar_progress:
        task = bar_progress.add_task("inference", total=total)
        bar = (bar_progress, task)
        for k, (name, test_set) in enumerate(sets.items()):
            bar_progress.update(task, description=f"inference {name}")
            collector = _Collector()
            records: list[str] | None = None
            measured = []
            with torch.random.fork_rng(devices=[] if device.type != "cuda" else None):
                torch.manual_seed(int(seed) + k)
                for images, chunk_records in images_of(test_set, name):
                    _run(predictor, images, batch_size, mc_samples, n_classes, collector, bar)
                    if appearance:  # the images as the model saw them (corrupted copies too)
                        measured.append(appearance_measures(images))
                    if chunk_records is not None:
                        records = (records or []) + chunk_records
            results[name] = (collector, records, measured)
        if train is not None:
            bar_progress.update(task, description="inference train (features)")
            collector = _Collector()
            for images, _ in images_of(TestSet(train), "train"):
                _run(predictor, images, batch_size, 0, n_classes, collector, bar)
            results["__train__"] = (collector, None)
    return results


def _column(sets, getter, default):
    values = [getter(s.dataset) for s in sets.values()]
    if all(v is None for v in values):
        return None
    return np.concatenate(
        [
            np.full(len(s.dataset), default, dtype=object)
            if v is None
            else np.asarray(v, dtype=object)
            for s, v in zip(sets.values(), values, strict=True)
        ]
    )


def _build_audit(
    model,
    dataset,
    sets,
    results,
    predictor,
    feature_dtype,
    mc_samples,
    batch_size,
    seed,
    device,
    provenance,
) -> AuditSet:
    names = list(sets)
    collectors = [results[name][0] for name in names]
    dtype = FEATURE_DTYPES[feature_dtype]
    sample_ids = []
    for name, test_set in sets.items():
        ids = test_set.dataset.sample_ids.astype(str)
        sample_ids.append(ids if name in (VALIDATION, IID) else np.char.add(f"{name}:", ids))
    test_set_col = np.concatenate(
        [np.full(len(s.dataset), name, dtype=object) for name, s in sets.items()]
    )

    def cat(key, kind=np.float32):
        parts = [c.array(key, kind) for c in collectors]
        return None if any(p is None for p in parts) else np.concatenate(parts)

    confidence_names = collectors[0].confidences.keys()
    confidences = {
        key: np.concatenate([np.concatenate(c.confidences[key]) for c in collectors]).astype(
            np.float64
        )
        for key in confidence_names
    }
    shift = None
    if any(results[name][1] is not None for name in names):
        shift = np.concatenate(
            [
                np.asarray(
                    results[name][1]
                    if results[name][1] is not None
                    else ["{}"] * len(sets[name].dataset),
                    dtype=object,
                )
                for name in names
            ]
        )
    metadata = pd.concat([s.dataset.metadata for s in sets.values()], ignore_index=True)
    measured = [frame for name in names for frame in results[name][2]]
    if measured:
        metadata = join_measures(
            metadata if metadata.shape[1] else None, pd.concat(measured, ignore_index=True)
        )
    train_features = train_labels = None
    if "__train__" in results:
        train_features = results["__train__"][0].array("features", dtype)
        train_labels = dataset.split_of("train").labels
    facts = {
        "inference": {
            "predictor": type(predictor).__name__,
            "model_class": type(model).__name__,
            "feature_layer": getattr(predictor, "feature_layer", None)
            or ("penultimate" if predictor.has_features else None),
            "feature_dtype": feature_dtype,
            "mc_samples": mc_samples,
            "mc_logits": _mc_source(predictor) if results[names[0]][0].parts["mc_logits"] else None,
            "batch_size": batch_size,
            "seed": int(seed),
            "device": str(device),
            "torch": str(torch.__version__),
            "n_parameters": sum(p.numel() for p in model.parameters()),
            "test_sets": {name: len(s.dataset) for name, s in sets.items()},
        }
    }
    if isinstance(predictor, EnsemblePredictor):
        # an EnsembleNet's logits are its log mean-softmax: log-probabilities, whose energy
        # is 0 for every sample and whose maximum is the log of MSR (CSFs read this)
        facts["outputs"] = "probabilities"
        facts["ensemble"] = {"members": len(predictor.members)}
    merged = {**facts, **(provenance or {})}
    merged.setdefault("dataset", {"name": dataset.name, "class_names": list(dataset.class_names)})
    # the adapter's knowledge of its columns (e.g. MedMNIST's row index) becomes their role
    declared = dataset.info.get("metadata_roles") or {}
    roles = {name: role for name, role in declared.items() if name in metadata.columns}
    if measured:  # measured from the image as acquired: acquisition conditions
        roles.update({column: "acquisition" for column in APPEARANCE_COLUMNS})
        merged.setdefault("inference", {})["appearance"] = list(APPEARANCE_COLUMNS)
    logits = cat("logits")
    # before the AuditSet's own check, to name the fix for a model (an ensemble's log
    # mean-softmax is never on the simplex)
    reject_probabilities_as_logits(
        logits, "the model's outputs",
        "audit_model needs its logits: drop its final softmax (log_softmax outputs are fine)",
    )  # fmt: skip
    return AuditSet(
        sample_id=np.concatenate(sample_ids),
        test_set=test_set_col,
        label=np.concatenate([s.dataset.labels for s in sets.values()]).astype(np.int64),
        logits=logits,
        class_names=dataset.class_names,
        mc_logits=cat("mc_logits"),
        features=cat("features", dtype) if predictor.has_features else None,
        train_features=train_features,
        train_labels=train_labels,
        confidences=confidences,
        metadata=metadata if metadata.shape[1] else None,
        text=_column(sets, lambda d: d.text, ""),
        image_ref=_column(sets, lambda d: d.image_refs, ""),
        shift_params=shift,
        provenance=merged,
        metadata_roles=roles or None,
    )

"""Audit a segmentation network: one AuditSet row per volume, for every test set.

:func:`audit_segmentation` runs the U-Net on the validation volumes and on every test set
(``iid``, ``cor/<corruption>/<severity>``, ...), and reduces each volume to what the
model-free analyses read:

``risk``
    ``1 - mean Dice over the foreground classes`` by default (``risk="hd95"`` or
    ``"volume_error"`` as options; :mod:`silentscope.metrics.segmentation` defines them
    and the empty-class convention).
``confidences``
    Every segmentation CSF, ``<voxel>@<aggregator>`` (``msr@mean``, ``pe@foreground``, ...;
    :mod:`silentscope.confidence.segmentation`): ``evaluate`` ranks them as
    ``ext:msr@mean`` etc. against the risk.
``outcomes``
    ``dice_<class>`` per foreground class (NaN where the class is absent from both truth
    and prediction), and ``risk_<name>`` for every other requested risk.
``features``
    The bottleneck features averaged over space (for the viewer, kNN-type analyses).
``logits``, ``label``
    Summaries only: the log of the mean predicted probability of each class over the
    volume, and the class with the largest true volume. ``evaluate`` computes no
    classification metric and refuses the logit CSFs on a segmentation AuditSet.
``provenance``
    ``task="segmentation"``, the risk's definition, the CSFs with the volumes on which an
    aggregator fell back (``segmentation_csfs["fallbacks"]``), the MC settings, and the
    voxel-level health verdict (``health``; a network that predicts background everywhere
    is degenerate, with a :class:`~silentscope.audit.health.DegenerateModelWarning`), and
    ``caveats`` (e.g. a foreground class never predicted, also warned).
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from silentscope.audit import IID, VALIDATION, AuditSet
from silentscope.audit.health import check_segmentation, health_split, unpredicted_classes
from silentscope.audit.test_sets import parse_test_set
from silentscope.confidence.segmentation import VoxelInputs, resolve_segmentation_csfs, score_volume
from silentscope.metrics.segmentation import (
    RISK_DEFINITIONS,
    RISKS,
    dice_per_class,
    segmentation_risk,
)
from silentscope.models.segmentation_inference import segment_batches
from silentscope.models.segmentation_training import check_segmentation_set
from silentscope.models.unet import UNet
from silentscope.predictor.quality import with_quality_confidence


@dataclass
class SegmentationAudit:
    """What :func:`audit_segmentation` returns.

    Attributes
    ----------
    audit : AuditSet
        One row per volume of every test set (``val`` included when given).
    predictions : dict of str to ndarray
        Predicted label maps (N, *spatial) uint8 per test set, in the order of its volumes
        (for the report's slices through the worst volumes); empty unless
        ``keep_predictions=True``.
    """

    audit: AuditSet
    predictions: dict[str, np.ndarray] = field(default_factory=dict)


def _named_sets(splits_or_sets, test_sets) -> dict[str, Any]:
    sets: dict[str, Any] = {}
    if splits_or_sets is not None:
        if hasattr(splits_or_sets, "val") and hasattr(splits_or_sets, "test"):
            sets[VALIDATION] = splits_or_sets.val
            sets[IID] = splits_or_sets.test
        elif isinstance(splits_or_sets, Mapping):
            sets.update(splits_or_sets)
        else:
            raise ValueError(
                "splits_or_sets must be SegmentationSplits (its val and test splits are audited as "
                f"'val' and 'iid') or a dict of test-set name to SegmentationSet, got {type(splits_or_sets).__name__}"
            )
    sets.update(dict(test_sets or {}))
    if not sets:
        raise ValueError("nothing to audit: pass SegmentationSplits or at least one test set")
    for name in sets:
        parse_test_set(name)  # one clear error for a badly named test set
    return sets


def _shift_column(name: str, value, n: int) -> list[str]:
    if isinstance(value, str):
        return [value] * n
    values = [str(v) for v in value]
    if len(values) != n:
        raise ValueError(
            f"shift_params[{name!r}] holds {len(values)} entries for {n} volumes; give one JSON "
            "string per volume or one for the whole test set"
        )
    return values


def _class_indices(classes, names: tuple[str, ...]) -> list[int] | None:
    if classes is None:
        return None
    unknown = [c for c in classes if c not in names[1:]]
    if unknown or not classes:
        raise ValueError(
            f"risk_classes must name foreground classes among {list(names[1:])}, got {list(classes)}"
        )
    return [names.index(c) for c in classes]


def _ids(data, n: int) -> list[str]:
    ids = getattr(data, "ids", None)
    return (
        [str(i) for i in ids] if ids is not None and len(ids) == n else [str(i) for i in range(n)]
    )


def audit_segmentation(
    model: UNet,
    splits_or_sets=None,
    test_sets: Mapping[str, Any] | None = None,
    *,
    csfs: Sequence[str] | None = None,
    mc_samples: int = 10,
    risk: str = "dice",
    extra_risks: Sequence[str] = (),
    risk_classes: Sequence[str] | None = None,
    batch_size: int = 1,
    random_state: int = 0,
    device: str = "auto",
    n_threads: int | None = None,
    keep_predictions: bool = False,
    shift_params: Mapping[str, str] | None = None,
    provenance: Mapping[str, Any] | None = None,
    quality: bool = True,
) -> SegmentationAudit:
    """Run the network on every test set and build the per-volume AuditSet.

    Parameters
    ----------
    model : UNet
        A trained network (e.g. ``SegmentationTrainer.network_`` or :func:`load_unet`).
    splits_or_sets : SegmentationSplits or dict of str to SegmentationSet, optional
        Splits give ``val`` (from ``splits.val``) and ``iid`` (from ``splits.test``).
    test_sets : dict of str to SegmentationSet, optional
        More test sets by name, e.g. ``{"cor/rician_noise/3": ...}``; a name given here
        replaces the same name from ``splits_or_sets``.
    csfs : sequence of str, optional
        Segmentation CSF names (``msr@mean``, ...); default every one, the MC ones only
        with ``mc_samples > 0``.
    mc_samples : int, default 10
        MC-dropout passes per volume (0: none; then only ``msr@*`` and ``pe@*``).
    risk : {"dice", "hd95", "volume_error"}, default "dice"
        The risk failure detection is judged on.
    extra_risks : sequence of str
        Other risks stored as outcomes ``risk_<name>``.
    risk_classes : sequence of str, optional
        The foreground classes the risks average over (default every one), e.g. to leave
        out a class too small to segment reliably; recorded in the provenance. Dice per
        class is stored for every class either way.
    batch_size, random_state, device, n_threads
        Inference settings; ``random_state`` seeds the dropout masks.
    keep_predictions : bool, default False
        Return the predicted label maps.
    shift_params : dict of str to (str or sequence of str), optional
        Per test set, a JSON description of its shift (corruption, severity, seed) for
        every volume, or one JSON string per volume (e.g. each volume's drawn parameters).
    provenance : dict, optional
        Merged into the AuditSet's provenance (e.g. the trainer's ``provenance_``).
    quality : bool, default True
        Also fit the learned quality regressor on the validation volumes and add its
        confidence ``quality@learned``
        (:func:`~silentscope.predictor.quality.with_quality_confidence`); when it cannot
        be trained (too few validation volumes, or it learned nothing) the reason is
        recorded instead and ``evaluate`` lists it as unavailable.

    Returns
    -------
    SegmentationAudit

    Examples
    --------
    >>> from types import SimpleNamespace
    >>> labels = np.zeros((3, 8, 8, 8), np.int64); labels[:, 2:6, 2:6, 2:6] = 1
    >>> data = SimpleNamespace(images=labels[..., None].astype(np.float32), labels=labels,
    ...                        class_names=("background", "blob"))
    >>> net = UNet(n_classes=2, width=4, depth=2).eval()
    >>> import warnings; warnings.simplefilter("ignore")
    >>> result = audit_segmentation(net, {"iid": data}, mc_samples=3, device="cpu")
    >>> result.audit.n_samples, sorted(result.audit.confidences)[:2]
    (3, ['mcd_entropy@boundary', 'mcd_entropy@foreground'])
    """
    if risk not in RISKS or any(r not in RISKS for r in extra_risks):
        raise ValueError(
            f"risk and extra_risks must be among {', '.join(RISKS)}, got {risk!r} and {list(extra_risks)}"
        )
    if not isinstance(model, UNet):
        raise ValueError(
            f"audit_segmentation audits a silentscope UNet, got {type(model).__name__}; train one with "
            "SegmentationTrainer or load it with load_unet"
        )
    sets = _named_sets(splits_or_sets, test_sets)
    chosen = resolve_segmentation_csfs(csfs, mc=int(mc_samples) > 0)
    class_names: tuple[str, ...] | None = None
    columns: dict[str, list] = {
        "sample_id": [],
        "test_set": [],
        "label": [],
        "logits": [],
        "features": [],
    }
    scores: dict[str, list[float]] = {c.name: [] for c in chosen}
    fallbacks: dict[str, list[str]] = {c.name: [] for c in chosen}
    risks: list[float] = []
    outcomes: dict[str, list[float]] = {}
    metadata_frames, shifts = [], []
    predictions: dict[str, np.ndarray] = {}
    health_maps: tuple[list, list] = ([], [])
    health_on = health_split(sets)
    for name, data in sets.items():
        _, labels, names = check_segmentation_set(data, f"test set {name!r}")
        if class_names is None:
            class_names = names
        elif names != class_names:
            raise ValueError(
                f"test set {name!r} has class_names {list(names)}, not {list(class_names)}"
            )
        if len(names) != model.config["n_classes"]:
            raise ValueError(
                f"test set {name!r} has {len(names)} classes but the network predicts {model.config['n_classes']}"
            )
        labels = labels.numpy()
        chosen_classes = _class_indices(risk_classes, names)
        spacing = getattr(data, "spacing", None)
        ids = _ids(data, len(labels))
        kept = []
        for batch in segment_batches(
            model, data.images, mc_samples=mc_samples, batch_size=batch_size,
            random_state=random_state, device=device, n_threads=n_threads,
        ):  # fmt: skip
            for j in range(len(batch.predicted)):
                row = batch.start + j
                true, pred = labels[row], batch.predicted[j].astype(np.int64)
                inputs = VoxelInputs(
                    batch.probabilities[j],
                    None if batch.mc_mean is None else batch.mc_mean[j],
                    None if batch.mc_expected_entropy is None else batch.mc_expected_entropy[j],
                )
                for csf_name, aggregate in score_volume(inputs, pred, chosen).items():
                    scores[csf_name].append(aggregate.value)
                    if aggregate.fallback:
                        fallbacks[csf_name].append(f"{name}/{ids[row]}")
                risks.append(
                    segmentation_risk(true, pred, len(names), risk, spacing, chosen_classes)
                )
                dice = dice_per_class(true, pred, len(names))
                for k, class_name in enumerate(names[1:], start=1):
                    outcomes.setdefault(f"dice_{class_name}", []).append(dice[k])
                for extra in extra_risks:
                    value = segmentation_risk(
                        true, pred, len(names), extra, spacing, chosen_classes
                    )
                    outcomes.setdefault(f"risk_{extra}", []).append(value)
                mean_probability = batch.probabilities[j].reshape(len(names), -1).mean(axis=1)
                columns["logits"].append(np.log(np.maximum(mean_probability, 1e-12)))
                columns["label"].append(
                    int(np.bincount(true.ravel(), minlength=len(names)).argmax())
                )
                columns["features"].append(batch.features[j])
                columns["sample_id"].append(f"{name}/{ids[row]}")
                columns["test_set"].append(name)
                if name == health_on or health_on == "all":
                    health_maps[0].append(true)
                    health_maps[1].append(pred)
                if keep_predictions:
                    kept.append(batch.predicted[j])
        if keep_predictions:
            predictions[name] = np.stack(kept)
        metadata = getattr(data, "metadata", None)
        metadata_frames.append(
            metadata.reset_index(drop=True)
            if isinstance(metadata, pd.DataFrame) and len(metadata) == len(labels)
            else pd.DataFrame(index=range(len(labels)))
        )
        shifts += _shift_column(name, (shift_params or {}).get(name, "{}"), len(labels))
    health = check_segmentation(
        np.stack(health_maps[0]), np.stack(health_maps[1]), class_names, split=health_on
    )
    caveats = unpredicted_classes(
        np.stack(health_maps[0]), np.stack(health_maps[1]), class_names, split=health_on
    )
    metadata = pd.concat(metadata_frames, ignore_index=True)
    record = {
        **dict(provenance or {}),
        "task": "segmentation",
        "risk": RISK_DEFINITIONS[risk],
        "risk_name": risk,
        "risk_classes": list(class_names[1:])
        if risk_classes is None
        else [str(c) for c in risk_classes],
        "extra_risks": {r: RISK_DEFINITIONS[r] for r in extra_risks},
        "logits": "per-volume summary: log of the mean predicted probability of each class",
        "label": "per-volume summary: the class with the largest true volume",
        "outputs": "logits",
        "mc": {
            "samples": int(mc_samples),
            "seed": int(random_state),
            "source": "MC dropout, masks drawn per volume, batched after the first dropout site",
        },
        "segmentation_csfs": {
            "names": [c.name for c in chosen],
            "fallbacks": {k: v for k, v in fallbacks.items() if v},
        },
        "health": health.to_dict(),
        # the caller's caveats (e.g. the data's "one template anatomy") are kept, not replaced
        "caveats": [*(dict(provenance or {}).get("caveats") or []), *caveats],
    }
    n_fallback = {k: len(v) for k, v in fallbacks.items() if v}
    if n_fallback:
        warnings.warn(
            f"{max(n_fallback.values())} volume(s) have no predicted foreground: the foreground "
            "aggregators used their whole-volume mean there (listed in "
            "provenance['segmentation_csfs']['fallbacks'])",
            stacklevel=2,
        )
    health.warn("the audited segmentation network", stacklevel=2)
    if caveats and not health.degenerate:
        warnings.warn("the audited segmentation network: " + "; ".join(caveats), stacklevel=2)
    audit = AuditSet(
        sample_id=columns["sample_id"],
        test_set=columns["test_set"],
        label=np.asarray(columns["label"], dtype=np.int64),
        logits=np.asarray(columns["logits"], dtype=np.float32),
        class_names=class_names,
        features=np.asarray(columns["features"], dtype=np.float32),
        confidences={k: np.asarray(v) for k, v in scores.items()},
        metadata=metadata if metadata.shape[1] else None,
        shift_params=np.asarray(shifts, dtype=object) if shift_params else None,
        risk=np.clip(np.asarray(risks, dtype=np.float64), 0.0, 1.0),
        outcomes={k: np.asarray(v, dtype=np.float64) for k, v in outcomes.items()},
        provenance=record,
        metadata_roles={"patient_id": "identifier"} if "patient_id" in metadata.columns else None,
    )
    if quality:
        audit = with_quality_confidence(audit, random_state=random_state)
    return SegmentationAudit(audit=audit, predictions=predictions)


def dice_table(audit: AuditSet) -> pd.DataFrame:
    """Mean Dice per foreground class (and of the mean) per test set, with volumes counted.

    NaN Dice (a class absent from truth and prediction) is left out of its mean.

    Examples
    --------
    >>> audit = AuditSet(sample_id=["a", "b"], test_set=["iid", "iid"], label=[0, 0],
    ...                  logits=np.zeros((2, 2)), class_names=["bg", "x"], risk=[0.2, 0.4],
    ...                  outcomes={"dice_x": [0.8, 0.6]}, provenance={"task": "segmentation"})
    >>> dice_table(audit).round(3).to_dict("records")
    [{'test_set': 'iid', 'n': 2, 'dice_x': 0.7, 'mean_risk': 0.3}]
    """
    if audit.risk is None:
        raise ValueError(
            "dice_table needs a segmentation AuditSet (with risk and dice_<class> outcomes)"
        )
    dice = [k for k in audit.outcomes if k.startswith("dice_")]
    rows = []
    for name in audit.test_sets:
        mask = audit.test_set == name
        row = {"test_set": name, "n": int(mask.sum())}
        for k in dice:
            values = audit.outcomes[k][mask]
            row[k] = float(np.nanmean(values)) if np.isfinite(values).any() else float("nan")
        row["mean_risk"] = float(audit.risk[mask].mean())
        rows.append(row)
    return pd.DataFrame(rows)


__all__ = ["SegmentationAudit", "audit_segmentation", "dice_table"]

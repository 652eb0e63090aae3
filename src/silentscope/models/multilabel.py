"""Auditing a multi-label classifier per finding: one binary AuditSet for each finding.

Failure detection needs one decision per sample, and a multi-label network makes K of
them (one per finding). :func:`audit_multilabel` therefore runs inference once and splits
the outputs into K binary tasks ("absent" / "present") that share ids, features and
metadata, so every analysis of silentscope applies to each finding unchanged.
"""

from __future__ import annotations

import re
import shutil
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from silentscope.audit import VALIDATION, AuditSet
from silentscope.audit.store import save_audit
from silentscope.data.dataset import ImageDataset
from silentscope.models.audit_model import _audit_model
from silentscope.models.eval_sets import TestSet, _as_test_set, collect_sets
from silentscope.models.training import Trainer

#: Class names of every per-finding AuditSet.
FINDING_CLASSES = ("absent", "present")
#: Threshold rule that picks each finding's threshold on the validation split.
YOUDEN_ON_VAL = "val"


def audit_multilabel(
    model: Trainer | nn.Module,
    dataset: ImageDataset,
    *,
    test_sets: Mapping[str, Any] | None = None,
    threshold: float | str | Sequence[float] | Mapping[str, float] = 0.5,
    findings: Sequence[str] | None = None,
    mc_samples: int = 0,
    feature_layer: str | None = None,
    capture_features: bool = True,
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
) -> dict[str, AuditSet]:
    """Audit a multi-label classifier per finding: a dict of finding name to binary AuditSet.

    Inference runs once on the validation split, the iid test split and every shifted
    test set (as in :func:`~silentscope.models.audit_model.audit_model`). For finding
    :math:`k` with sigmoid logit :math:`z_k` and decision threshold :math:`t_k` the
    AuditSet holds the binary task "absent" / "present" with

    .. math:: \\text{logits} = [\\operatorname{logit}(t_k),\\; z_k], \\qquad
              \\operatorname{softmax}(\\text{logits})_1 = \\sigma(z_k - \\operatorname{logit} t_k),

    so its prediction (the argmax) is the thresholded decision :math:`\\sigma(z_k) > t_k`
    and, at the default :math:`t_k = 0.5`, its probabilities are exactly the sigmoid
    :math:`\\sigma(z_k)`. MC-dropout logits are built the same way from each MC sample.
    The raw logit :math:`z_k` is always ``logits[:, 1]``. Features, train features,
    external confidences, metadata, text and image references are shared by all
    findings (the same arrays); ``train_labels`` hold the finding's training targets.

    Parameters
    ----------
    model : Trainer or nn.Module
        A fitted :class:`~silentscope.models.training.Trainer` (its provenance is kept), a
        multi-label :class:`~silentscope.models.network.SilentNet`, or any module whose
        output is K logits per image, one per finding.
    dataset : ImageDataset
        A multi-label dataset (``targets`` and ``target_names``).
    test_sets : mapping of str to ImageDataset, TestSet or (ImageDataset, transform), optional
        Shifted test sets by name; each needs the same ``target_names`` as ``dataset``.
    threshold : float, "val", sequence of float or mapping of str to float, default 0.5
        Decision threshold on the probability, in (0, 1): one for all findings, one per
        finding (in ``target_names`` order, or by name), or ``"val"`` to choose each
        finding's threshold on the validation split by Youden's J statistic
        (sensitivity + specificity - 1; Youden, Cancer 3, 32-35, 1950).
    findings : sequence of str, optional
        Audit only these findings (exact names); default all.
    mc_samples : int, default 0
        MC-dropout samples M per image (0 for none).
    feature_layer, capture_features, batch_size, preprocess, feature_dtype, train_features, include_val, device, n_threads, seed, provenance, progress
        As in :func:`~silentscope.models.audit_model.audit_model`.

    Returns
    -------
    dict of str to AuditSet
        One binary AuditSet per finding, in ``target_names`` order. Each provenance has a
        ``multi_label`` entry: the finding, all findings, the threshold, its logit and how
        it was chosen.

    Raises
    ------
    ValueError
        A dataset or test set without targets or with other finding names, a dataset
        with a single finding (audit it as a two-class task instead), an unknown
        finding, a threshold outside (0, 1) or of the wrong length, ``threshold="val"``
        without a validation split holding both classes of a finding, a single-label
        silentscope network, or any error of ``audit_model``.

    Examples
    --------
    >>> import numpy as np
    >>> from silentscope.data.dataset import ImageDataset
    >>> from silentscope.models.network import SilentNet
    >>> rng = np.random.default_rng(0)
    >>> targets = rng.integers(0, 2, (24, 3))
    >>> ds = ImageDataset("toy", rng.integers(0, 255, (24, 12, 12), dtype=np.uint8),
    ...                   targets.any(1), ["no finding", "any finding"],
    ...                   ["train"] * 8 + ["val"] * 8 + ["test"] * 8, [str(i) for i in range(24)],
    ...                   targets=targets, target_names=["mass", "nodule", "effusion"])
    >>> net = SilentNet(n_classes=3, in_channels=1, objective="bce", width=4, image_size=12)
    >>> audits = audit_multilabel(net, ds, mc_samples=4, device="cpu")
    >>> list(audits), audits["mass"].class_names, audits["mass"].logits.shape
    (['mass', 'nodule', 'effusion'], ('absent', 'present'), (16, 2))
    >>> audits["mass"].mc_logits.shape, audits["mass"].features is audits["nodule"].features
    ((16, 2, 4), True)
    """
    net, base_provenance = _network_of(model)
    test_sets = _check_sets(dataset, test_sets)
    names = list(dataset.target_names)
    chosen = _chosen_findings(findings, names)
    view_sets = {
        name: TestSet(_outputs_view(ts.dataset), ts.transform) for name, ts in test_sets.items()
    }
    audit = _audit_model(
        net,
        _outputs_view(dataset),
        test_sets=view_sets,
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
        provenance={**base_provenance, **(provenance or {})},
        progress=progress,
        out=None,
        overwrite=False,
    )
    # The same order as audit_model's sets: val, iid, then test_sets as given.
    sets = collect_sets(dataset, test_sets, include_val)
    targets = np.concatenate([ts.dataset.targets for ts in sets.values()]).astype(np.int64)
    cuts, rule = _threshold_logits(threshold, names, audit, targets)
    train_targets = None
    if audit.train_features is not None:
        train_targets = dataset.split_of("train").targets.astype(np.int64)
    return {
        names[k]: _finding_audit(audit, targets, train_targets, k, names, cuts[k], rule)
        for k in chosen
    }


def _network_of(model) -> tuple[nn.Module, dict[str, Any]]:
    if isinstance(model, Trainer):
        model._check_fitted()
        return model.network_, dict(model.provenance_)
    if not isinstance(model, nn.Module):
        raise ValueError(
            f"model must be a fitted Trainer or an nn.Module, got {type(model).__name__}"
        )
    if hasattr(model, "multi_label") and not model.multi_label:
        raise ValueError(
            "this silentscope network is single-label (softmax over classes); audit it with "
            "audit_model, or train a multi-label one with objective='bce'"
        )
    return model, {}


def _check_sets(dataset: ImageDataset, test_sets) -> dict[str, TestSet]:
    if not isinstance(dataset, ImageDataset):
        raise ValueError(f"dataset must be an ImageDataset, got {type(dataset).__name__}")
    if not dataset.multi_label:
        raise ValueError(
            f"dataset {dataset.name!r} has no targets, so it is single-label; audit it with "
            "audit_model, or pass an ImageDataset with targets= and target_names="
        )
    if len(dataset.target_names) < 2:
        # The shared inference pass builds one AuditSet over all findings, which needs two.
        raise ValueError(
            f"dataset {dataset.name!r} has a single finding; audit_multilabel needs at least 2, so "
            "train it as a two-class classifier (objective 'ce') and audit it with audit_model"
        )
    checked = {}
    for name, value in dict(test_sets or {}).items():
        test_set = _as_test_set(name, value)
        if test_set.dataset.target_names != dataset.target_names:
            raise ValueError(
                f"test set {name!r} has findings {test_set.dataset.target_names} but the dataset has "
                f"{list(dataset.target_names)}; give every test set the same targets and target_names"
            )
        checked[name] = test_set
    return checked


def _chosen_findings(findings, names: list[str]) -> list[int]:
    if findings is None:
        return list(range(len(names)))
    if isinstance(findings, str):
        findings = [findings]
    unknown = [f for f in findings if f not in names]
    if unknown:
        raise ValueError(f"unknown finding(s) {unknown}; the dataset's findings are {names}")
    return [names.index(f) for f in findings]


def _outputs_view(dataset: ImageDataset) -> ImageDataset:
    """The dataset with one 'class' per finding, so that inference checks K outputs.

    Its labels are placeholders; the per-finding labels come from the targets.
    """
    return replace(
        dataset, labels=np.zeros(len(dataset), np.int64), class_names=dataset.target_names
    )


def _logit(p: float) -> float:
    return float(np.log(p) - np.log1p(-p))


def _threshold_logits(threshold, names, audit: AuditSet, targets) -> tuple[np.ndarray, str]:
    """The decision threshold of every finding on the logit scale, and the rule used."""
    k = len(names)
    if isinstance(threshold, str):
        if threshold != YOUDEN_ON_VAL:
            raise ValueError(
                f"threshold must be a probability, one per finding, or {YOUDEN_ON_VAL!r}; got {threshold!r}"
            )
        val = audit.test_set == VALIDATION
        if not val.any():
            raise ValueError(
                "threshold='val' needs the validation split; keep include_val=True and give the "
                "dataset val rows, or pass a fixed threshold such as 0.5"
            )
        cuts = [_youden_cut(audit.logits[val, j], targets[val, j], names[j]) for j in range(k)]
        return np.asarray(cuts), "Youden's J on the validation split"
    if isinstance(threshold, Mapping):
        missing = [n for n in names if n not in threshold]
        extra = [n for n in threshold if n not in names]
        if missing or extra:
            raise ValueError(
                f"threshold mapping must name every finding exactly: missing {missing}, unknown {extra}"
            )
        values = [threshold[n] for n in names]
    elif np.ndim(threshold) == 0:
        values = [threshold] * k
    else:
        values = list(threshold)
        if len(values) != k:
            raise ValueError(
                f"threshold needs one value per finding ({k}), got {len(values)}; or pass one number"
            )
    for name, value in zip(names, values, strict=True):
        if isinstance(value, bool) or not 0.0 < float(value) < 1.0:
            raise ValueError(
                f"the threshold of finding {name!r} must be a probability in (0, 1), got {value!r}"
            )
    return np.asarray([_logit(float(v)) for v in values]), "fixed"


def _youden_cut(z: np.ndarray, y: np.ndarray, name: str) -> float:
    """The logit cut maximising sensitivity + specificity - 1 (``z > cut`` is positive)."""
    positives, negatives = int(y.sum()), int(len(y) - y.sum())
    if positives == 0 or negatives == 0:
        raise ValueError(
            f"finding {name!r} has {positives} positive and {negatives} negative validation images; "
            "threshold='val' needs both, so pass a fixed threshold for it"
        )
    order = np.argsort(-z, kind="stable")
    z, y = z[order].astype(np.float64), y[order]
    last = np.r_[np.flatnonzero(np.diff(z) != 0), len(z) - 1]  # last row of each tied value
    tp = np.cumsum(y)[last]
    fp = last + 1 - tp
    best = int(np.argmax(tp / positives - fp / negatives))
    upper = z[last[best]]
    # Cut midway to the next lower value, so that z > cut keeps exactly the top groups.
    lower = z[last[best] + 1] if best + 1 < len(last) else upper - 1.0
    return float((upper + lower) / 2)


def _finding_audit(audit, targets, train_targets, k, names, cut, rule) -> AuditSet:
    z = audit.logits[:, k]
    logits = np.stack([np.full_like(z, cut), z], axis=1)
    mc = None
    if audit.mc_logits is not None:
        mc_z = audit.mc_logits[:, k, :]
        mc = np.stack([np.full_like(mc_z, cut), mc_z], axis=1)
    provenance = {
        **audit.provenance,
        "multi_label": {
            "finding": names[k],
            "findings": list(names),
            "threshold": float(1.0 / (1.0 + np.exp(-cut))),
            "threshold_logit": float(cut),
            "threshold_rule": rule,
            "logits": "[threshold logit, finding logit]; softmax gives sigmoid(z - threshold logit)",
        },
    }
    return AuditSet(
        sample_id=audit.sample_id,
        test_set=audit.test_set,
        label=targets[:, k],
        logits=logits,
        class_names=FINDING_CLASSES,
        mc_logits=mc,
        features=audit.features,
        train_features=audit.train_features,
        train_labels=None if train_targets is None else train_targets[:, k],
        confidences=audit.confidences,
        metadata=audit.metadata,
        text=audit.text,
        image_ref=audit.image_ref,
        shift_params=audit.shift_params,
        provenance=provenance,
        # declared roles carry over; inferred ones (label-derived above all) are re-inferred
        # against this finding's labels
        metadata_roles={
            name: role
            for name, role in (audit.metadata_roles or {}).items()
            if role.source == "declared"
        }
        or None,
    )


def finding_folders(findings: Sequence[str]) -> dict[str, str]:
    """A folder name for each finding's audit store: lower case, other characters as ``_``.

    Names that would collide get their position appended, so no store overwrites another.

    Examples
    --------
    >>> finding_folders(["Pleural Effusion", "pleural-effusion", "No Finding"])
    {'Pleural Effusion': 'pleural_effusion', 'pleural-effusion': 'pleural_effusion_1', 'No Finding': 'no_finding'}
    """
    folders: dict[str, str] = {}
    for i, finding in enumerate(findings):
        name = re.sub(r"[^a-z0-9]+", "_", str(finding).lower()).strip("_") or "finding"
        folders[finding] = f"{name}_{i}" if name in folders.values() else name
    return folders


def save_finding_audits(audits: Mapping[str, AuditSet], folder) -> dict[str, Path]:
    """Save each finding's AuditSet as its own store under ``folder``; their paths by finding.

    ``folder`` is replaced if it exists (its callers decide whether that is allowed).
    """
    folder = Path(folder)
    if folder.exists():
        shutil.rmtree(folder)
    stores = {}
    for finding, name in finding_folders(list(audits)).items():
        stores[finding] = folder / name
        save_audit(audits[finding], stores[finding])
    return stores

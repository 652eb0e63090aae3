"""Is the classifier degenerate? One model-free check of its predictions and labels.

A network that predicts one class for every image (or that is no better than always
predicting the majority class) still gets AURC, AUROC_f and calibration numbers, and
they look like any others: its confidence ranks nothing but noise around one class.
:func:`check_predictions` decides, from labels and predictions alone, whether that is
the case; :func:`model_health` applies it to an AuditSet (its validation split when it has
one, else its iid test set). Training, auditing, imports, evaluation, study tables, the
report and the viewer all use this one rule.

The rule
--------
The classifier is degenerate when, on the checked split,

1. it predicts a single class for every sample, or
2. its balanced accuracy (the mean per-class recall, over the classes present in the
   labels) is at most chance, ``1 / K``, plus ``margin`` (default 0.05).

Always predicting the majority class has balanced accuracy exactly ``1 / K`` and
accuracy equal to the majority rate; balanced accuracy ``<= 1 / K`` implies accuracy
``<= majority rate`` (``sum_k p_k r_k <= p_max * sum_k r_k``), so (2) reads "no better
than predicting the majority class", on both measures. The margin catches networks that
predict nearly one class (e.g. one minority image of 120 called right: balanced
accuracy 0.516), whose numbers mean as little. Accuracy alone is not used: on imbalanced
data a useful classifier can have accuracy below the majority rate.
"""

from __future__ import annotations

import warnings
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

#: Balanced accuracy at most this far above chance counts as "no better than chance".
DEFAULT_MARGIN = 0.05


@dataclass(frozen=True)
class ModelHealth:
    """The verdict of :func:`check_predictions`, with the numbers behind it.

    Attributes
    ----------
    degenerate : bool
        True when the classifier predicts one class or is no better than chance.
    reason : str
        One sentence with the numbers; why it is (or is not) degenerate.
    split : str
        The split checked (``val``, ``iid``, or ``all``).
    n_samples : int
    accuracy, balanced_accuracy, majority_rate, chance : float
        Measured on ``split``; ``chance`` is ``1 / K`` over the K classes in the labels.
    majority_class : str
    predicted_classes : tuple of str
        The classes predicted at least once.
    assessed : bool
        False when the split has fewer than two classes in its labels, so no verdict.
    """

    degenerate: bool
    reason: str
    split: str
    n_samples: int
    accuracy: float
    balanced_accuracy: float
    majority_rate: float
    majority_class: str
    chance: float
    predicted_classes: tuple[str, ...]
    assessed: bool = True
    margin: float = DEFAULT_MARGIN
    minority_rate: float = float("nan")

    @property
    def imbalanced(self) -> bool:
        """Whether the largest class is at least twice the smallest on the checked split.

        Then accuracy mostly measures the majority class, and balanced accuracy belongs
        beside it in headline tables.
        """
        return bool(self.minority_rate > 0 and self.majority_rate / self.minority_rate >= 2)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready values (for run records and store provenance), with ``imbalanced``."""
        out = asdict(self)
        out["predicted_classes"] = list(self.predicted_classes)
        out["imbalanced"] = self.imbalanced
        return out

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> ModelHealth:
        values = dict(values)
        values.pop("imbalanced", None)  # derived
        values["predicted_classes"] = tuple(values.get("predicted_classes", ()))
        return cls(**values)

    def warn(self, what: str = "the classifier", stacklevel: int = 2) -> None:
        """Issue a :class:`DegenerateModelWarning` when degenerate; nothing otherwise."""
        if self.degenerate:
            warnings.warn(
                f"{what} is degenerate: {self.reason}", DegenerateModelWarning, stacklevel + 1
            )


def degenerate_analysis_note(health: ModelHealth, what: str) -> str:
    """The sentence that says an analysis of a degenerate classifier finds classes; "" if healthy.

    Its errors are the samples of the classes it rarely or never predicts, so subgroups,
    slices or a misclassification predictor find where those classes are common. Results
    carry this sentence in their notes; :func:`warn_degenerate_analysis` also warns with it.
    """
    if not health.degenerate:
        return ""
    return (
        f"the {what} describe where the classes this classifier rarely or never predicts "
        f"are common, not where it fails: it is degenerate ({health.reason})"
    )


def warn_degenerate_analysis(health: ModelHealth, what: str, stacklevel: int = 2) -> None:
    """Warn that an analysis of a degenerate classifier's errors finds the classes, not failures."""
    if health.degenerate:
        warnings.warn(
            degenerate_analysis_note(health, what), DegenerateModelWarning, stacklevel + 1
        )


class DegenerateModelWarning(UserWarning):
    """A classifier predicts one class or is no better than the majority class."""


def check_predictions(
    labels,
    predictions,
    class_names=None,
    *,
    split: str = "val",
    margin: float = DEFAULT_MARGIN,
) -> ModelHealth:
    """Decide whether a classifier is degenerate from its labels and predictions.

    See the module docstring for the rule.

    Parameters
    ----------
    labels, predictions : array of int, shape (N,)
        True and predicted class indices.
    class_names : sequence of str, optional
        Names by class index; the indices themselves when None.
    split : str, default "val"
        Name of the split, quoted in the reason.
    margin : float, default 0.05
        Balanced accuracy at most ``chance + margin`` is "no better than chance".

    Returns
    -------
    ModelHealth

    Raises
    ------
    ValueError
        If the arrays are empty or differ in length.

    Examples
    --------
    >>> labels = [0] * 73 + [1] * 27
    >>> health = check_predictions(labels, [0] * 100, ["normal", "pneumonia"])
    >>> health.degenerate
    True
    >>> health.reason
    "predicts only 'normal' for all 100 val samples (accuracy 0.730 = majority rate 0.730, balanced accuracy 0.500 = chance)"
    >>> check_predictions(labels, [0] * 70 + [1] * 30, ["normal", "pneumonia"]).degenerate
    False
    """
    labels = np.asarray(labels).astype(np.int64).ravel()
    predictions = np.asarray(predictions).astype(np.int64).ravel()
    if len(labels) == 0 or len(labels) != len(predictions):
        raise ValueError(
            f"labels and predictions must be non-empty and equally long, got {len(labels)} "
            f"and {len(predictions)}"
        )
    n_names = int(max(labels.max(), predictions.max())) + 1
    names = [str(c) for c in (class_names if class_names is not None else range(n_names))]

    def name(index: int) -> str:
        return names[index] if index < len(names) else str(index)

    present, counts = np.unique(labels, return_counts=True)
    recalls = [float(np.mean(predictions[labels == c] == c)) for c in present]
    accuracy = float(np.mean(predictions == labels))
    balanced = float(np.mean(recalls))
    majority = int(present[np.argmax(counts)])
    majority_rate = float(counts.max() / len(labels))
    chance = 1.0 / len(present)
    predicted = tuple(name(int(c)) for c in np.unique(predictions))
    values = dict(
        split=split,
        n_samples=len(labels),
        accuracy=accuracy,
        balanced_accuracy=balanced,
        majority_rate=majority_rate,
        majority_class=name(majority),
        chance=chance,
        predicted_classes=predicted,
        margin=float(margin),
        minority_rate=float(counts.min() / len(labels)),
    )
    numbers = (
        f"accuracy {accuracy:.3f} vs majority rate {majority_rate:.3f}, "
        f"balanced accuracy {balanced:.3f} vs chance {chance:.3f}"
    )
    if len(present) < 2:
        reason = (
            f"not assessed: the {split} labels hold one class only ({name(majority)!r}, "
            f"{len(labels)} samples), so no classifier can be told from a constant one"
        )
        return ModelHealth(degenerate=False, reason=reason, assessed=False, **values)
    if len(predicted) == 1:
        relation = "=" if predicted[0] == name(majority) else "<"
        reason = (
            f"predicts only {predicted[0]!r} for all {len(labels)} {split} samples (accuracy "
            f"{accuracy:.3f} {relation} majority rate {majority_rate:.3f}, balanced accuracy "
            f"{balanced:.3f} = chance)"
        )
        return ModelHealth(degenerate=True, reason=reason, **values)
    if balanced <= chance + margin:
        reason = (
            f"no better than always predicting {name(majority)!r} on {len(labels)} {split} "
            f"samples: balanced accuracy {balanced:.3f} is not above chance {chance:.3f} "
            f"by more than {margin:.2f} (accuracy {accuracy:.3f} vs majority rate {majority_rate:.3f})"
        )
        return ModelHealth(degenerate=True, reason=reason, **values)
    reason = f"better than the majority class on {len(labels)} {split} samples: {numbers}"
    return ModelHealth(degenerate=False, reason=reason, **values)


#: Voxels :func:`check_segmentation` looks at, at most (evenly spaced; the rule needs rates).
MAX_VOXELS = 2_000_000


def check_segmentation(
    true_maps,
    predicted_maps,
    class_names=None,
    *,
    split: str = "val",
    margin: float = DEFAULT_MARGIN,
) -> ModelHealth:
    """Decide whether a segmentation network is degenerate: :func:`check_predictions` on voxels.

    Every voxel is a sample, so the classifier rule reads: the network is degenerate when it
    predicts one class (e.g. background) for every voxel of the split, or when its voxel
    balanced accuracy (mean per-class recall) is not above chance by more than ``margin``.
    Large splits are checked on at most :data:`MAX_VOXELS` evenly spaced voxels.

    Parameters
    ----------
    true_maps, predicted_maps : array of int, same shape (N, ...)
        True and predicted label maps of the split's volumes (or images).
    class_names : sequence of str, optional
    split : str, default "val"
    margin : float, default 0.05

    Returns
    -------
    ModelHealth
        With ``n_samples`` counting voxels; the reason says "voxels".

    Examples
    --------
    >>> truth = np.zeros((2, 4, 4), int); truth[:, 1:3, 1:3] = 1
    >>> check_segmentation(truth, np.zeros_like(truth), ["background", "tissue"]).reason
    "predicts only 'background' for all 32 val voxels (accuracy 0.750 = majority rate 0.750, balanced accuracy 0.500 = chance)"
    >>> check_segmentation(truth, truth, ["background", "tissue"]).degenerate
    False
    """
    true_maps, predicted_maps = np.asarray(true_maps), np.asarray(predicted_maps)
    if true_maps.shape != predicted_maps.shape:
        raise ValueError(
            f"true and predicted label maps must have the same shape, got {true_maps.shape} "
            f"and {predicted_maps.shape}"
        )
    labels, predictions = true_maps.ravel(), predicted_maps.ravel()
    if labels.size > MAX_VOXELS:
        rows = np.linspace(0, labels.size - 1, MAX_VOXELS).round().astype(np.int64)
        labels, predictions = labels[rows], predictions[rows]
    health = check_predictions(labels, predictions, class_names, split=split, margin=margin)
    reason = health.reason.replace(f"{split} samples", f"{split} voxels")
    return ModelHealth(**_fields(health, reason))


#: Pooled Dice over the split below which a predicted class counts as not segmented.
MIN_CLASS_DICE = 0.05


def unpredicted_classes(true_maps, predicted_maps, class_names, *, split: str = "val") -> list[str]:
    """One sentence per class present in the truth but never (or barely) segmented on the split.

    Not degenerate by the rule (the network may segment the other classes well), but every
    volume then has Dice (near) 0 for that class, which weighs on a risk averaged over
    classes. "Barely" means predicted somewhere but with a Dice pooled over the split's
    voxels below :data:`MIN_CLASS_DICE`: a few stray voxels must not hide a class the network
    does not segment.

    Examples
    --------
    >>> truth = np.zeros((1, 4), int); truth[0, 1] = 1; truth[0, 2:] = 2
    >>> unpredicted_classes(truth, np.where(truth == 1, 0, truth), ["background", "csf", "gm"])
    ["class 'csf' is in the val labels (1 voxel(s)) but never predicted: its Dice is 0 on every volume where it is present"]
    >>> stray = np.where(truth == 1, 0, truth); stray[0, 0] = 1  # one csf voxel, in the wrong place
    >>> unpredicted_classes(truth, stray, ["background", "csf", "gm"])
    ["class 'csf' is in the val labels (1 voxel(s)) but barely segmented: pooled Dice 0.000 on the val voxels"]
    """
    true_maps, predicted_maps = np.asarray(true_maps), np.asarray(predicted_maps)
    names = [str(c) for c in class_names]
    present = np.bincount(true_maps.ravel(), minlength=len(names))
    predicted = np.bincount(predicted_maps.ravel(), minlength=len(names))
    hits = np.bincount(true_maps[true_maps == predicted_maps].ravel(), minlength=len(names))
    sentences = []
    for k in range(1, len(names)):
        if present[k] == 0:
            continue
        start = f"class {names[k]!r} is in the {split} labels ({int(present[k])} voxel(s)) but "
        dice = 2 * hits[k] / (present[k] + predicted[k])
        if predicted[k] == 0:
            sentences.append(
                start + "never predicted: its Dice is 0 on every volume where it is present"
            )
        elif dice < MIN_CLASS_DICE:
            sentences.append(
                start + f"barely segmented: pooled Dice {dice:.3f} on the {split} voxels"
            )
    return sentences


def _fields(health: ModelHealth, reason: str) -> dict[str, Any]:
    values = health.to_dict()
    values.pop("imbalanced")
    values["predicted_classes"] = health.predicted_classes
    values["reason"] = reason
    return values


def health_split(test_sets) -> str:
    """The split the verdict is taken on: ``val``, else ``iid``, else ``all`` samples.

    Examples
    --------
    >>> health_split(["iid", "val", "cor/noise/1"]), health_split(["iid"]), health_split(["acq/b"])
    ('val', 'iid', 'all')
    """
    names = set(test_sets)
    return "val" if "val" in names else ("iid" if "iid" in names else "all")


def model_health(audit, *, margin: float = DEFAULT_MARGIN) -> ModelHealth:
    """:func:`check_predictions` on an AuditSet's validation split, else its iid test set.

    The validation split is the one the model was selected on; without it the iid test
    set is the closest, and without either all samples are checked (``split="all"``).

    Examples
    --------
    >>> import numpy as np
    >>> from silentscope.audit.auditset import AuditSet
    >>> audit = AuditSet(sample_id=list("abcd"), test_set=["val", "val", "iid", "iid"],
    ...                  label=[0, 1, 0, 1], logits=np.array([[3., 0], [3, 0], [3, 0], [0, 3]]),
    ...                  class_names=["a", "b"])
    >>> model_health(audit).split, model_health(audit).degenerate
    ('val', True)
    """
    if getattr(audit, "risk", None) is not None:
        return _segmentation_health(audit)
    split = health_split(audit.test_sets)
    rows = np.ones(audit.n_samples, bool) if split == "all" else audit.test_set == split
    return check_predictions(
        audit.label[rows],
        audit.predictions[rows],
        audit.class_names,
        split=split,
        margin=margin,
    )


def _segmentation_health(audit) -> ModelHealth:
    """A segmentation AuditSet's verdict: the one recorded from voxels at inference.

    Its per-volume labels and logits summarise class volumes and say nothing of the voxels,
    so the verdict of :func:`check_segmentation` recorded by ``audit_segmentation`` is used;
    without one the network is reported as not assessed, never as healthy.
    """
    recorded = stored_health(audit.provenance)
    if recorded is not None:
        return recorded
    return ModelHealth(
        degenerate=False,
        reason="not assessed: this segmentation AuditSet records no voxel-level health check "
        "(made without silentscope's audit_segmentation); check the label maps with check_segmentation",
        split=health_split(audit.test_sets),
        n_samples=0,
        accuracy=float("nan"),
        balanced_accuracy=float("nan"),
        majority_rate=float("nan"),
        majority_class="",
        chance=float("nan"),
        predicted_classes=(),
        assessed=False,
    )


def stored_health(provenance: dict[str, Any] | None) -> ModelHealth | None:
    """The verdict recorded in a store's provenance (``provenance["health"]``), if any."""
    values = (provenance or {}).get("health")
    return None if not values else ModelHealth.from_dict(values)


def record_health(audit, what: str = "the classifier", *, stacklevel: int = 2) -> ModelHealth:
    """Check ``audit`` with :func:`model_health`, record the verdict and warn if degenerate.

    The verdict goes into ``audit.provenance["health"]`` (so the audit store and run
    records carry it) and a :class:`DegenerateModelWarning` names the reason. Used where
    AuditSets are made: :func:`~silentscope.models.audit_model`, the importers.

    Examples
    --------
    >>> import numpy as np, warnings
    >>> from silentscope.audit.auditset import AuditSet
    >>> audit = AuditSet(sample_id=list("abc"), test_set=["iid"] * 3, label=[0, 1, 1],
    ...                  logits=np.array([[3., 0], [0, 3], [0, 3]]), class_names=["a", "b"])
    >>> with warnings.catch_warnings():
    ...     warnings.simplefilter("ignore")
    ...     health = record_health(audit)
    >>> audit.provenance["health"]["degenerate"], audit.provenance["health"]["split"]
    (False, 'iid')
    """
    health = model_health(audit)
    audit.provenance["health"] = health.to_dict()
    health.warn(what, stacklevel=stacklevel + 1)
    return health

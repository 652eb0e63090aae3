"""Simulated classifier outputs with planted failures, for testing slice discovery on real data.

When no trained classifier is at hand, real samples (real metadata, reports, images) can
be given simulated predictions whose errors concentrate where a failure is planted.
Every benchmark that uses this says so: it measures whether a slicer *recovers* a
planted failure, not how a particular network fails.
"""

from __future__ import annotations

import numpy as np


def simulate_logits(
    labels, n_classes: int, error_prob, random_state=0, confidence=(0.6, 0.98)
) -> np.ndarray:
    """Logits of a simulated classifier that errs on sample ``i`` with probability ``error_prob[i]``.

    Right or wrong, the predicted class gets a probability drawn uniformly from
    ``confidence`` (so errors are confident: silent failures), the rest is spread evenly
    over the other classes; a wrong prediction picks another class uniformly.

    Parameters
    ----------
    labels : array-like of int, shape (N,)
    n_classes : int
    error_prob : float or array-like of float, shape (N,)
    random_state : int or Generator, default=0
    confidence : (float, float), default=(0.6, 0.98)
        Range of the predicted class's probability; must lie in (1 / n_classes, 1).

    Returns
    -------
    ndarray of shape (N, n_classes)
        Log-probabilities (valid logits).

    Examples
    --------
    >>> logits = simulate_logits([0, 1, 1, 0], 2, [0.0, 0.0, 1.0, 1.0])
    >>> logits.argmax(axis=1).tolist()
    [0, 1, 0, 1]
    """
    labels = np.asarray(labels)
    if labels.ndim != 1 or not np.issubdtype(labels.dtype, np.integer):
        raise ValueError("labels must be a 1-D array of class indices")
    if int(n_classes) < 2 or labels.min() < 0 or labels.max() >= n_classes:
        raise ValueError(f"labels must lie in [0, {n_classes}) with n_classes >= 2")
    error_prob = np.broadcast_to(np.asarray(error_prob, dtype=np.float64), labels.shape)
    if ((error_prob < 0) | (error_prob > 1)).any():
        raise ValueError("error_prob must lie in [0, 1]")
    low, high = confidence
    if not 1.0 / n_classes < low <= high < 1:
        raise ValueError(f"confidence must satisfy 1/n_classes < low <= high < 1, got {confidence}")
    rng = np.random.default_rng(random_state)
    n = len(labels)
    wrong = rng.random(n) < error_prob
    shift = rng.integers(1, n_classes, n)
    predicted = np.where(wrong, (labels + shift) % n_classes, labels)
    top = rng.uniform(low, high, n)
    proba = np.repeat(((1 - top) / (n_classes - 1))[:, None], n_classes, axis=1)
    proba[np.arange(n), predicted] = top
    return np.log(proba)


def flip_labels(labels, n_classes: int, mask, rate: float, random_state=0) -> np.ndarray:
    """Labels with a fraction ``rate`` of the ``mask`` samples flipped to another class (label noise).

    Examples
    --------
    >>> flip_labels([0, 0, 0, 0], 2, [1, 1, 0, 0], 1.0).tolist()
    [1, 1, 0, 0]
    """
    labels = np.asarray(labels).copy()
    mask = np.asarray(mask, dtype=bool)
    if mask.shape != labels.shape:
        raise ValueError("mask must have one entry per label")
    if not 0 <= rate <= 1:
        raise ValueError(f"rate must lie in [0, 1], got {rate}")
    rng = np.random.default_rng(random_state)
    flip = mask & (rng.random(len(labels)) < rate)
    labels[flip] = (labels[flip] + rng.integers(1, n_classes, int(flip.sum()))) % n_classes
    return labels


#: Report sentences of the single-cause scenario (findings, some negated) and its devices.
_FINDINGS = (
    "Clear lungs.", "No pneumothorax.", "Mild cardiomegaly.", "No pleural effusion.",
    "Small pleural effusion.", "Patchy opacity in the right lower lobe.",
    "Degenerative changes of the spine.", "No focal consolidation.", "Stable mediastinum.",
    "Low lung volumes.", "Atelectasis at the left base.", "Healed rib fracture.",
)  # fmt: skip
_DEVICES = ("chest tube", "pacemaker", "central venous catheter", "endotracheal tube")


def single_cause_audit(
    n: int = 4000,
    random_state: int = 0,
    *,
    cause_share: float = 0.04,
    cause_error: float = 0.70,
    base_error: float = 0.08,
    cause: bool = True,
    n_features: int = 32,
):
    """An AuditSet whose failures have one cause: a device in the report AND one site.

    The case of issue 17: ``n`` samples (two per patient, both from one site), a share
    ``cause_share`` of which have a report mentioning a ``chest tube`` and come from site
    ``C``; the classifier errs there with probability ``cause_error`` and elsewhere with
    ``base_error``. Image features are pure noise (they carry nothing), the reports are
    templated findings with negations, the metadata (``site``, ``age``, ``sex``) is random
    apart from the cause. With ``cause=False`` every sample errs at ``base_error`` (a null
    scenario). Predictions come from :func:`simulate_logits`, so errors are confident.

    Returns
    -------
    audit : AuditSet
        One ``iid`` test set; ``metadata`` holds ``patient_id`` (an identifier), ``site``,
        ``age``, ``sex``.
    planted : ndarray of bool, shape (n,)
        The samples that share the cause (all False with ``cause=False``).

    Examples
    --------
    >>> audit, planted = single_cause_audit(400, cause_share=0.1)
    >>> audit.n_samples, int(planted.sum()) > 20
    (400, True)
    """
    import pandas as pd

    from silentscope.audit import AuditSet

    rng = np.random.default_rng(random_state)
    patients = np.arange(n) // 2
    n_patients = patients.max() + 1
    site = np.array(list("ABCD"))[rng.integers(0, 4, n_patients)][patients]
    # the device is mentioned in cause_share * 4 of the reports, so that one site in four
    # leaves cause_share of the samples both mentioning it and from site C
    device_rate = min(1.0, 4 * cause_share)
    device = np.where(
        rng.random(n) < device_rate, "chest tube", rng.choice(np.array(_DEVICES[1:]), n)
    )
    planted = (device == "chest tube") & (site == "C") & cause
    findings = np.array(_FINDINGS)
    text = [
        " ".join([*rng.choice(findings, 3, replace=False), f"{d.capitalize()} in place."])
        for d in device
    ]
    label = rng.integers(0, 2, n)
    logits = simulate_logits(label, 2, np.where(planted, cause_error, base_error), random_state=rng)
    metadata = pd.DataFrame(
        {
            "patient_id": [f"p{p}" for p in patients],
            "site": site,
            "age": rng.integers(20, 90, n_patients)[patients],
            "sex": rng.choice(["F", "M"], n_patients)[patients],
        }
    )
    audit = AuditSet(
        sample_id=[f"s{i}" for i in range(n)], test_set=["iid"] * n, label=label,
        logits=logits, class_names=["normal", "abnormal"],
        features=rng.normal(size=(n, n_features)), metadata=metadata, text=np.array(text),
        metadata_roles={"patient_id": "identifier"},
        provenance={"simulation": "silentscope.slices.simulation.single_cause_audit"},
    )  # fmt: skip
    return audit, planted


__all__ = ["flip_labels", "simulate_logits", "single_cause_audit"]

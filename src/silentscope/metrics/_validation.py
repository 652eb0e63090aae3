"""Input checks shared by every metric: one clear sentence per violation, before any math."""

from __future__ import annotations

import numpy as np


def _as_1d(values, name: str) -> np.ndarray:
    arr = np.asarray(values)
    if arr.ndim != 1:
        raise ValueError(f"{name} must be a 1-D array, got shape {arr.shape}")
    if arr.size == 0:
        raise ValueError(f"{name} is empty; metrics need at least one sample")
    return arr


def _check_real(arr: np.ndarray, name: str) -> None:
    if arr.dtype == bool:
        return
    if not (np.issubdtype(arr.dtype, np.integer) or np.issubdtype(arr.dtype, np.floating)):
        raise ValueError(f"{name} must hold real numbers, got dtype {arr.dtype}")


def check_finite(arr: np.ndarray, name: str) -> None:
    """Raise a ValueError naming the first NaN or infinite entry of ``arr``."""
    if not np.issubdtype(arr.dtype, np.floating):
        return
    bad = ~np.isfinite(arr)
    if bad.any():
        flat = np.flatnonzero(bad.ravel())[0]
        where = np.unravel_index(flat, arr.shape)
        index = int(where[0]) if arr.ndim == 1 else tuple(int(i) for i in where)
        kind = "NaN" if np.isnan(arr.ravel()[flat]) else "inf"
        raise ValueError(
            f"{name} contains {kind} at index {index}; drop or impute those samples first"
        )


def check_confidence(confidence, name: str = "confidence") -> np.ndarray:
    """Validate a 1-D, non-empty, finite, real-valued score array; return it as float64."""
    conf = _as_1d(confidence, name)
    _check_real(conf, name)
    check_finite(conf, name)
    return conf.astype(np.float64, copy=False)


def check_binary(correct, n: int, name: str = "correct") -> np.ndarray:
    """Validate a 1-D array of length ``n`` holding only 0/1 (or bool); return it as bool."""
    arr = _as_1d(correct, name)
    if arr.shape[0] != n:
        raise ValueError(
            f"confidence and {name} must have the same length, got {n} and {arr.shape[0]}"
        )
    if arr.dtype == bool:
        return arr
    _check_real(arr, name)
    check_finite(arr, name)
    bad = (arr != 0) & (arr != 1)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise ValueError(
            f"{name} must contain only 0/1 (or bool) values; found {arr[i].item()!r} at index "
            f"{i} (a continuous loss in [0, 1] goes to loss= of aurc, e_aurc, augrc, e_augrc, "
            "risk_at_coverage or bootstrap_ci; the ranking metrics need binary failure)"
        )
    return arr.astype(bool)


def check_confidence_correct(confidence, correct) -> tuple[np.ndarray, np.ndarray]:
    """Validate a (confidence, correct) pair; return (float64 confidence, bool correct)."""
    conf = check_confidence(confidence)
    return conf, check_binary(correct, conf.shape[0])


def check_loss(loss, n: int, name: str = "loss") -> np.ndarray:
    """Validate a per-sample loss of length ``n``: real, finite, in [0, 1]; return float64."""
    arr = _as_1d(loss, name)
    if arr.shape[0] != n:
        raise ValueError(
            f"confidence and {name} must have the same length, got {n} and {arr.shape[0]}"
        )
    _check_real(arr, name)
    check_finite(arr, name)
    arr = arr.astype(np.float64, copy=False)
    outside = (arr < 0) | (arr > 1)
    if outside.any():
        i = int(np.flatnonzero(outside)[0])
        raise ValueError(
            f"{name} must lie in [0, 1] (0 = no failure, 1 = complete failure); found "
            f"{arr[i].item()!r} at index {i}. Rescale the loss first (e.g. 1 - Dice)"
        )
    return arr


def check_confidence_risk(
    confidence, correct, loss
) -> tuple[np.ndarray, np.ndarray, np.ndarray | None]:
    """Validate confidence with either binary ``correct`` or a continuous ``loss`` in [0, 1].

    Returns (float64 confidence, bool correct, float64 loss or None). A loss that holds
    only 0 and 1 is returned as ``correct = loss == 0`` with loss None, so that binary
    data always take the exact integer-count path whichever way they were passed. For a
    continuous loss, ``correct`` is ``loss == 0`` (only used to order samples in ties).
    """
    if (correct is None) == (loss is None):
        raise ValueError(
            "pass exactly one of correct (0/1 per sample) and loss (a per-sample loss in "
            "[0, 1], e.g. 1 - Dice)"
        )
    conf = check_confidence(confidence)
    if loss is None:
        return conf, check_binary(correct, conf.shape[0]), None
    risk = check_loss(loss, conf.shape[0])
    correct = risk == 0
    if np.all(correct | (risk == 1)):
        return conf, correct, None
    return conf, correct, risk


def check_labels(labels, n: int, name: str = "labels") -> np.ndarray:
    """Validate class labels of length ``n`` (any sortable values, no NaN)."""
    arr = _as_1d(labels, name)
    if arr.shape[0] != n:
        raise ValueError(f"{name} must have length {n} like confidence, got {arr.shape[0]}")
    if arr.dtype.kind == "O":
        raise ValueError(f"{name} must be a numeric or string array, got dtype object")
    check_finite(arr, name)
    return arr


def check_sample_weight(sample_weight, n: int) -> np.ndarray:
    """Validate non-negative, finite sample weights of length ``n`` with a positive sum."""
    w = _as_1d(sample_weight, "sample_weight")
    if w.shape[0] != n:
        raise ValueError(f"sample_weight must have length {n}, got {w.shape[0]}")
    _check_real(w, "sample_weight")
    check_finite(w, "sample_weight")
    w = w.astype(np.float64, copy=False)
    if (w < 0).any():
        i = int(np.flatnonzero(w < 0)[0])
        raise ValueError(f"sample_weight must be non-negative; found {w[i].item()} at index {i}")
    if not w.sum() > 0:
        raise ValueError("sample_weight sums to zero; at least one sample must count")
    return w


def check_unit_interval(conf: np.ndarray, metric: str) -> None:
    """Raise unless every confidence lies in [0, 1] (calibration compares them to accuracy)."""
    outside = (conf < 0) | (conf > 1)
    if outside.any():
        i = int(np.flatnonzero(outside)[0])
        raise ValueError(
            f"{metric} needs confidences in [0, 1] (it compares them with accuracy); found "
            f"{conf[i].item()!r} at index {i}. Use a probability-like CSF such as the maximum "
            "softmax response, or rescale the scores first"
        )


def check_probs_labels(probs, labels) -> tuple[np.ndarray, np.ndarray]:
    """Validate an (N x C) probability matrix and integer labels in [0, C)."""
    p = np.asarray(probs)
    if p.ndim != 2:
        raise ValueError(f"probs must be a 2-D (n_samples x n_classes) array, got shape {p.shape}")
    if p.shape[0] == 0:
        raise ValueError("probs is empty; metrics need at least one sample")
    if p.shape[1] < 2:
        raise ValueError(f"probs must have at least 2 class columns, got {p.shape[1]}")
    _check_real(p, "probs")
    check_finite(p, "probs")
    p = p.astype(np.float64, copy=False)
    if (p < 0).any() or (p > 1).any():
        row = int(np.flatnonzero(((p < 0) | (p > 1)).any(axis=1))[0])
        raise ValueError(
            f"probs must lie in [0, 1]; row {row} does not. Apply a softmax to logits first"
        )
    sums = p.sum(axis=1)
    off = np.abs(sums - 1) > 1e-3
    if off.any():
        row = int(np.flatnonzero(off)[0])
        raise ValueError(
            f"each row of probs must sum to 1; row {row} sums to {sums[row]:.6g}. "
            "Apply a softmax to logits first"
        )
    y = check_class_labels(labels, p.shape[0], p.shape[1])
    return p, y


def check_class_labels(
    labels, n: int, n_classes: int | None = None, name: str = "labels"
) -> np.ndarray:
    """Validate integer class indices of length ``n`` (and below ``n_classes`` if given)."""
    y = _as_1d(labels, name)
    if y.shape[0] != n:
        raise ValueError(f"{name} must have length {n}, got {y.shape[0]}")
    if y.dtype == bool or not np.issubdtype(y.dtype, np.number):
        raise ValueError(f"{name} must hold integer class indices, got dtype {y.dtype}")
    check_finite(y, name)
    if np.issubdtype(y.dtype, np.floating):
        frac = y != np.round(y)
        if frac.any():
            i = int(np.flatnonzero(frac)[0])
            raise ValueError(
                f"{name} must hold integer class indices; found {y[i].item()!r} at index {i}"
            )
    y = y.astype(np.int64)
    high = n_classes if n_classes is not None else np.iinfo(np.int64).max
    bad = (y < 0) | (y >= high)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        bound = f"[0, {n_classes})" if n_classes is not None else "[0, inf)"
        raise ValueError(f"{name} must lie in {bound}; found {y[i].item()} at index {i}")
    return y

"""The classifier's final linear layer, given or recovered from (features, logits) pairs.

Feature-based CSFs that re-score through the head (ViM, ReAct) need its weight W and bias b.
The AuditSet holds no network weights, so unless they are passed the head is recovered by
least squares, z = W f + b, from the audited samples' penultimate features and logits. That
uses no labels, only the model's own deterministic map, and it is exact when the features
are the input of the final linear layer. Features that do not reproduce the logits
(relative residual above a tolerance) are refused: the CSF is then undefined.
"""

from __future__ import annotations

import numpy as np

from silentscope.audit import AuditSet
from silentscope.confidence.base import CSFUnavailableError, as_float64_rows, row_chunks


def _with_intercept(features: np.ndarray) -> np.ndarray:
    return np.hstack([features, np.ones((len(features), 1))])


def classification_head(
    audit: AuditSet, weight, bias, tolerance: float, csf: str
) -> tuple[np.ndarray, np.ndarray, float]:
    """``(weight (C, D), bias (C,), relative RMS residual)`` of the final linear layer.

    Parameters
    ----------
    audit : AuditSet
        Needs ``features`` (N, D) and ``logits`` (N, C).
    weight, bias : array-like or None
        The head if known (both or neither); it is then only checked for shape.
    tolerance : float
        Largest relative RMS residual accepted for a recovered head.
    csf : str
        Name of the CSF asking, for the error messages.

    Raises
    ------
    ValueError
        If only one of ``weight`` and ``bias`` is given, or their shapes are wrong.
    CSFUnavailableError
        If there are no more samples than feature dimensions, or the logits are not a
        linear function of the features.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> features = rng.normal(size=(20, 3))
    >>> w, b = rng.normal(size=(2, 3)), np.array([0.5, -0.5])
    >>> audit = AuditSet(sample_id=[str(i) for i in range(20)], test_set=["iid"] * 20,
    ...                  label=np.zeros(20, dtype=int), logits=features @ w.T + b,
    ...                  class_names=["no", "yes"], features=features)
    >>> weight, bias, residual = classification_head(audit, None, None, 1e-2, "ReAct")
    >>> bool(np.allclose(weight, w) and np.allclose(bias, b) and residual < 1e-10)
    True
    """
    if (weight is None) != (bias is None):
        raise ValueError("pass both weight and bias of the classification head, or neither")
    c, d = audit.n_classes, audit.features.shape[1]
    if weight is not None:
        weight = np.asarray(weight, dtype=np.float64)
        bias = np.asarray(bias, dtype=np.float64)
        if weight.shape != (c, d) or bias.shape != (c,):
            raise ValueError(
                f"weight and bias must have shapes ({c}, {d}) and ({c},), "
                f"got {weight.shape} and {bias.shape}"
            )
        return weight, bias, 0.0
    n = audit.n_samples
    if n <= d:
        raise CSFUnavailableError(
            f"{csf} cannot recover the classification head from {n} samples of {d}-dim "
            "features (it needs more samples than dimensions); pass weight= and bias="
        )
    # Normal equations accumulated in row blocks, so 100k x 512 features are never copied whole.
    gram = np.zeros((d + 1, d + 1))
    cross = np.zeros((d + 1, c))
    for start, stop in row_chunks(n, d + c):
        design = _with_intercept(as_float64_rows(audit.features, start, stop))
        gram += design.T @ design
        cross += design.T @ as_float64_rows(audit.logits, start, stop)
    solution = np.linalg.lstsq(gram, cross, rcond=None)[0]
    squared_residual, total, logit_sum = 0.0, 0.0, np.zeros(c)
    for start, stop in row_chunks(n, d + c):
        logits = as_float64_rows(audit.logits, start, stop)
        fitted = _with_intercept(as_float64_rows(audit.features, start, stop)) @ solution
        squared_residual += float(((logits - fitted) ** 2).sum())
        total += float((logits**2).sum())
        logit_sum += logits.sum(axis=0)
    spread = max(total - float((logit_sum**2).sum()) / n, 1e-300)
    relative = float(np.sqrt(squared_residual / spread))
    if relative > tolerance:
        raise CSFUnavailableError(
            f"{csf} needs the features of the layer whose linear map gives the logits, but a "
            f"least-squares head leaves a relative residual of {relative:.3g}; pass the "
            "penultimate-layer features, or weight= and bias= of the classification head"
        )
    return solution[:-1].T, solution[-1], relative

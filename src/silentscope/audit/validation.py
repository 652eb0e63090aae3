"""Checks behind the AuditSet contract.

Every check raises :class:`AuditSetError` with one sentence that names the field, the
first offending rows and the fix. Nothing is coerced or dropped silently.
"""

from __future__ import annotations

import numpy as np


class AuditSetError(ValueError):
    """An AuditSet (or an audit store) violates the data contract."""


def first_rows(mask: np.ndarray, limit: int = 5) -> str:
    """Render the first offending row indices of a boolean mask over samples."""
    rows = np.flatnonzero(mask)
    shown = ", ".join(str(r) for r in rows[:limit])
    more = f" and {len(rows) - limit} more" if len(rows) > limit else ""
    return f"{shown}{more}"


def quoted(names) -> str:
    """Names for a message, each quoted, so a name holding a comma stays one name.

    Examples
    --------
    >>> quoted(["malignant", "normal, benign"])
    "'malignant', 'normal, benign'"
    """
    return ", ".join(repr(str(name)) for name in names)


def check_length(field: str, values, n: int) -> None:
    if len(values) != n:
        raise AuditSetError(
            f"{field} has {len(values)} rows but the AuditSet has {n} samples; "
            "every per-sample field must have one row per sample"
        )


def check_finite(field: str, array: np.ndarray) -> None:
    if not np.issubdtype(array.dtype, np.number):
        raise AuditSetError(f"{field} must be numeric, got dtype {array.dtype}")
    # Chunked so that a memory-mapped million-row matrix is never copied whole.
    n = array.shape[0]
    step = max(1, 2_000_000 // max(1, int(np.prod(array.shape[1:], dtype=np.int64))))
    for start in range(0, n, step):
        block = np.asarray(array[start : start + step])
        finite = np.isfinite(block)
        if not finite.all():
            bad = np.zeros(n, dtype=bool)
            bad[start : start + len(block)] = ~finite.reshape(len(block), -1).all(axis=1)
            kind = "NaN" if np.isnan(block).any() else "infinite values"
            raise AuditSetError(
                f"{field} contains {kind} at rows {first_rows(bad)}; "
                "fix the model outputs or drop those samples before building the AuditSet"
            )


def check_labels(
    labels: np.ndarray, n_classes: int, unknown_allowed: np.ndarray | None = None
) -> None:
    """Labels must index the classes; ``-1`` only where ``unknown_allowed`` (ood/ rows)."""
    if labels.ndim != 1:
        raise AuditSetError(
            f"label must be 1-D (one class index per sample), got shape {labels.shape}"
        )
    if not np.issubdtype(labels.dtype, np.integer):
        raise AuditSetError(
            f"label must hold integer class indices, got dtype {labels.dtype}; "
            "map class names to indices with class_names"
        )
    bad = (labels < 0) | (labels >= n_classes)
    if unknown_allowed is not None:
        unknown = labels == -1  # UNKNOWN_LABEL: a new-class sample, allowed on ood/ test sets
        misplaced = unknown & ~unknown_allowed
        if misplaced.any():
            raise AuditSetError(
                f"label -1 (a class unknown to the classifier) at rows {first_rows(misplaced)}, which "
                "are not in an ood/ test set; only new-class samples may have it: name their test "
                "set ood/<dataset>, or give their class index"
            )
        bad &= ~unknown
    if bad.any():
        raise AuditSetError(
            f"label out of range [0, {n_classes - 1}] at rows {first_rows(bad)} "
            f"(values {np.unique(labels[bad])[:5].tolist()}); "
            "labels must index class_names"
        )


def check_unique_ids(sample_id: np.ndarray) -> None:
    order = np.argsort(sample_id, kind="stable")
    sorted_ids = sample_id[order]
    dup_sorted = np.zeros(len(sorted_ids), dtype=bool)
    if len(sorted_ids) > 1:
        dup_sorted[1:] = sorted_ids[1:] == sorted_ids[:-1]
    if dup_sorted.any():
        dup = np.zeros(len(sample_id), dtype=bool)
        dup[order[dup_sorted]] = True
        example = str(sample_id[dup][0])
        raise AuditSetError(
            f"sample_id has duplicates at rows {first_rows(dup)} (e.g. {example!r}); "
            "ids must be unique: prefix them with the test set if one image appears in several"
        )


def reject_probabilities_as_logits(logits: np.ndarray, what: str, fix: str) -> None:
    """A clear error when ``logits`` are in fact probabilities (every row in [0, 1], sum 1).

    Read as logits, probabilities would pass through a second softmax: the predicted class
    stays, but every confidence is flattened towards ``1 / n_classes`` and no error is
    raised anywhere after. Real logits never put every row of a table on the simplex.

    Examples
    --------
    >>> reject_probabilities_as_logits(np.array([[2.0, -1.0], [0.3, 0.1]]), "x", "y")
    >>> reject_probabilities_as_logits(np.array([[0.2, 0.8], [0.6, 0.4]]), "the logits", "fix")
    Traceback (most recent call last):
    ...
    silentscope.audit.validation.AuditSetError: the logits hold probabilities: every row lies in [0, 1] and sums to 1, and a softmax over them would flatten every confidence; fix
    """
    values = np.asarray(logits)
    if values.ndim != 2 or values.shape[1] < 2 or len(values) == 0:
        return
    # every AuditSet (each select() and load included) passes here: the first rows decide
    # for real logits without reading, or copying, the whole array
    if _on_simplex(values[:256]) and _on_simplex(values):
        raise AuditSetError(
            f"{what} hold probabilities: every row lies in [0, 1] and sums to 1, and a "
            f"softmax over them would flatten every confidence; {fix}"
        )


def _on_simplex(values: np.ndarray) -> bool:
    """Whether every row lies in [0, 1] and sums to 1 (within 1e-3)."""
    if not np.isfinite(values).all() or (values < 0).any() or (values > 1).any():
        return False
    return bool(np.allclose(values.sum(axis=1, dtype=np.float64), 1.0, atol=1e-3))

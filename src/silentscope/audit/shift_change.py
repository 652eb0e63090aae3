"""How much a corrupted test set differs from its clean images, and when that is nothing.

Each corrupted image records ``change`` in its ``shift_params``: the mean absolute
difference from the clean image, in grey levels (0-255). A test set whose images barely
changed (a blur below a pixel on a small image) is the iid set again, not a shift; this is
the one rule, :func:`is_negligible_shift`, that the shift builders (before training) and the
results tables (after evaluation) share.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable

import numpy as np

#: Mean absolute change (grey levels, 0-255) below which a corrupted set counts as unchanged.
#: Half a grey level: smaller changes are mostly rounding of a few pixels by one level.
NEGLIGIBLE_CHANGE = 0.5

#: The key of the measured change in a corruption record (``AuditSet.shift_params``).
CHANGE_KEY = "change"


def image_change(clean: np.ndarray, corrupted: np.ndarray) -> np.ndarray:
    """Per-image mean absolute difference in grey levels, shape (N,).

    Examples
    --------
    >>> clean = np.zeros((2, 4, 4, 1), np.uint8)
    >>> corrupted = clean.copy(); corrupted[1] = 3
    >>> image_change(clean, corrupted).tolist()
    [0.0, 3.0]
    """
    clean, corrupted = np.asarray(clean), np.asarray(corrupted)
    if clean.shape != corrupted.shape:
        raise ValueError(
            f"clean {clean.shape} and corrupted {corrupted.shape} images differ in shape"
        )
    difference = np.abs(clean.astype(np.int16) - corrupted.astype(np.int16))
    return difference.reshape(len(clean), -1).mean(axis=1)


def is_negligible_shift(change: float | None) -> bool:
    """Whether a measured change (grey levels) is too small for the set to count as a shift.

    ``None`` or NaN (no measure recorded, e.g. a split-based shift) is not negligible: only
    a measured change can say a set is unchanged.

    Examples
    --------
    >>> is_negligible_shift(0.0), is_negligible_shift(2.6), is_negligible_shift(None)
    (True, False, False)
    """
    if change is None:
        return False
    change = float(change)
    return not math.isnan(change) and change < NEGLIGIBLE_CHANGE


def records_change(shift_params: Iterable[str | None]) -> float:
    """Mean recorded ``change`` over samples' shift params (NaN where none is recorded).

    Examples
    --------
    >>> records_change(['{"corruption": "pixelate", "change": 1.0}', '{"change": 3.0}'])
    2.0
    >>> import math; math.isnan(records_change([None]))
    True
    """
    values = []
    for text in shift_params:
        if not text:
            continue
        record = json.loads(text) if isinstance(text, str) else text
        if isinstance(record, dict) and CHANGE_KEY in record:
            values.append(float(record[CHANGE_KEY]))
    return float(np.mean(values)) if values else float("nan")


def shift_changes(audit) -> dict[str, float]:
    """Measured change of every test set whose samples record one (corrupted sets).

    Parameters
    ----------
    audit : AuditSet

    Returns
    -------
    dict of str to float
        Test-set name to mean change in grey levels; sets without records are left out.

    Examples
    --------
    >>> from silentscope.audit import AuditSet
    >>> audit = AuditSet(sample_id=["a", "b"], test_set=["iid", "cor/gaussian_blur/5"],
    ...                  label=[0, 1], logits=np.eye(2) * 3, class_names=["no", "yes"],
    ...                  shift_params=["{}", '{"corruption": "gaussian_blur", "change": 0.0}'])
    >>> shift_changes(audit)
    {'cor/gaussian_blur/5': 0.0}
    """
    if audit.shift_params is None:
        return {}
    sets = np.asarray(audit.test_set)
    changes = {}
    for name in dict.fromkeys(sets.tolist()):
        change = records_change(audit.shift_params[sets == name])
        if not math.isnan(change):
            changes[name] = change
    return changes

"""Turning a label column (class names or indices) into class indices, with row-level errors."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from silentscope.data.errors import DatasetError


def _rows(mask: np.ndarray, limit: int = 5) -> str:
    rows = np.flatnonzero(mask)
    shown = ", ".join(str(r) for r in rows[:limit])
    return shown + (f" and {len(rows) - limit} more" if len(rows) > limit else "")


def encode_labels(
    values, class_names: Sequence[str] | None = None, *, source: str = "labels"
) -> tuple[np.ndarray, tuple[str, ...]]:
    """Class indices and class names from a column of names or integer indices.

    Parameters
    ----------
    values : array-like, shape (N,)
        Class names (strings) or integer class indices.
    class_names : sequence of str, optional
        The classes, in index order. Without it, names are the sorted distinct strings, or
        ``"0".."K-1"`` for integer labels with maximum K-1.
    source : str
        What the values are (a file name or column), used in error messages.

    Returns
    -------
    labels : ndarray of int64, shape (N,)
    class_names : tuple of str

    Raises
    ------
    DatasetError
        A label is missing, is not one of ``class_names``, or is an index out of range.

    Examples
    --------
    >>> encode_labels(["mel", "nv", "mel"])
    (array([0, 1, 0]), ('mel', 'nv'))
    >>> encode_labels([1, 0, 2], class_names=["a", "b", "c"])[0].tolist()
    [1, 0, 2]
    >>> encode_labels(["b", "x"], class_names=["a", "b"])
    Traceback (most recent call last):
    ...
    silentscope.data.errors.DatasetError: labels: row 1 has label 'x', which is not one of the class names ['a', 'b']; fix the row or add the class to class_names
    """
    series = pd.Series(np.asarray(values, dtype=object))
    missing = series.isna().to_numpy()
    if missing.any():
        raise DatasetError(
            f"{source}: the label is missing at rows {_rows(missing)}; every image needs a label"
        )
    numeric = pd.to_numeric(series, errors="coerce")
    if not numeric.isna().any() and series.map(lambda v: not isinstance(v, str)).all():
        as_float = numeric.to_numpy(dtype=float)
        fractional = as_float != np.round(as_float)
        if fractional.any():
            row = int(np.flatnonzero(fractional)[0])
            raise DatasetError(
                f"{source}: row {row} has label {as_float[row]!r}, which is not a class index"
            )
        labels = as_float.astype(np.int64)
        if class_names is None:
            if (labels < 0).any():
                raise DatasetError(f"{source}: negative class index at rows {_rows(labels < 0)}")
            class_names = [str(i) for i in range(int(labels.max()) + 1)]
        bad = (labels < 0) | (labels >= len(class_names))
        if bad.any():
            row = int(np.flatnonzero(bad)[0])
            raise DatasetError(
                f"{source}: row {row} has class index {labels[row]}, outside 0..{len(class_names) - 1} "
                f"of the class names {list(class_names)}; fix the row or pass all class names"
            )
        return labels, tuple(str(c) for c in class_names)
    names = series.astype(str).str.strip().to_numpy()
    if class_names is None:
        class_names = sorted(set(names))
    class_names = tuple(str(c) for c in class_names)
    if len(set(class_names)) != len(class_names):
        raise DatasetError(f"class_names must be unique, got {list(class_names)}")
    index = {name: i for i, name in enumerate(class_names)}
    labels = np.array([index.get(name, -1) for name in names], dtype=np.int64)
    unknown = labels < 0
    if unknown.any():
        row = int(np.flatnonzero(unknown)[0])
        raise DatasetError(
            f"{source}: row {row} has label {names[row]!r}, which is not one of the class names "
            f"{list(class_names)}; fix the row or add the class to class_names"
        )
    return labels, class_names

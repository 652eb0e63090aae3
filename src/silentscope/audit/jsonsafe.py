"""Plain Python values for JSON: the one conversion every JSON file and answer goes through.

Run records, store artifacts, result files and the viewer's answers hold numpy scalars
and arrays, paths and tuples that :func:`json.dumps` refuses; :func:`json_safe` turns them
into plain values. It lives at the bottom of the package (``audit``) so that every layer
above may use it.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import PurePath
from typing import Any

import numpy as np

_PLAIN = (str, int, float, bool, type(None))


def json_safe(
    value: Any, *, finite: bool = False, fallback: Callable[[Any], Any] | None = None
) -> Any:
    """``value`` with numpy scalars and arrays, paths and tuples made plain, recursively.

    Parameters
    ----------
    value : any
        Dicts (keys become strings), lists and tuples are converted item by item.
    finite : bool, default=False
        Also replace NaN and infinite floats by ``None`` (strict JSON, as a browser parses it).
    fallback : callable, optional
        Applied to any other value JSON cannot hold (e.g. ``str`` for display); by default
        such a value is left as it is, so that :func:`json.dumps` fails loudly on it.

    Returns
    -------
    any
        Dicts, lists, strings, numbers, booleans and ``None`` only (unless left for
        :func:`json.dumps` to refuse).

    Examples
    --------
    >>> from pathlib import Path
    >>> json_safe({"seed": np.int64(3), "sizes": (1, 2), "out": Path("runs"), 1: np.arange(2)})
    {'seed': 3, 'sizes': [1, 2], 'out': 'runs', '1': [0, 1]}
    >>> json_safe([np.float32("nan"), 2.5], finite=True)
    [None, 2.5]
    """
    if isinstance(value, dict):
        return {str(k): json_safe(v, finite=finite, fallback=fallback) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [json_safe(v, finite=finite, fallback=fallback) for v in value]
    if isinstance(value, np.ndarray):
        return json_safe(value.tolist(), finite=finite, fallback=fallback)
    if isinstance(value, np.generic):
        value = value.item()
    elif isinstance(value, PurePath):
        return str(value)
    if finite and isinstance(value, float) and not math.isfinite(value):
        return None
    if fallback is not None and not isinstance(value, _PLAIN):
        return fallback(value)
    return value


__all__ = ["json_safe"]

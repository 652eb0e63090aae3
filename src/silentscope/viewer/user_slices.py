"""Slices a person saves from the viewer: checked, written to the store, shown at once.

Saved slices live in the store's ``user_slices`` artifact (one row per sample and slice);
:func:`silentscope.viewer.data.load_viewer_data` reads them back as the ``saved`` source.
"""

from __future__ import annotations

import re

import numpy as np

from silentscope.audit.store import read_artifact, write_artifact
from silentscope.viewer.data import USER_SLICES_ARTIFACT, SliceSet, ViewerData, slice_column

_SLICE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9 _.\-]{0,63}$")


def save_slice(data: ViewerData, name: str, mask: np.ndarray, overwrite: bool = False) -> dict:
    """Save the rows in ``mask`` as a named slice in the store (artifact ``user_slices``).

    Raises
    ------
    ValueError
        If the name is invalid, the selection is empty, or the name exists and not ``overwrite``.
    """
    import pandas as pd

    if not _SLICE_NAME.match(name or ""):
        raise ValueError(
            "a slice name is 1-64 letters, digits, spaces, '_', '-' or '.', starting with a letter or digit"
        )
    rows = np.flatnonzero(mask)
    if len(rows) == 0:
        raise ValueError("the selection is empty; select samples before saving a slice")
    try:
        existing = read_artifact(data.store, USER_SLICES_ARTIFACT)
    except FileNotFoundError:
        existing = pd.DataFrame({"sample_id": pd.Series(dtype=str), "slice": pd.Series(dtype=str)})
    if name in set(existing["slice"].astype(str)):
        if not overwrite:
            raise FileExistsError(
                f"a saved slice named {name!r} exists; choose another name or overwrite it"
            )
        existing = existing[existing["slice"].astype(str) != name]
    ids = data.sample_id.take(rows).to_pylist()
    frame = pd.concat(
        [existing, pd.DataFrame({"sample_id": ids, "slice": name})], ignore_index=True
    )
    write_artifact(data.store, USER_SLICES_ARTIFACT, frame)
    saved = data.slices.get("saved") or SliceSet("saved", [], [])
    if name in saved.names:
        i = saved.names.index(name)
        saved.rows[i] = rows
    else:
        saved.names.append(name)
        saved.rows.append(rows)
    data.slices["saved"] = saved
    column = slice_column(saved, data.n_samples)
    data.columns[column.key] = column
    return {"name": name, "n": int(len(rows))}


__all__ = ["save_slice"]

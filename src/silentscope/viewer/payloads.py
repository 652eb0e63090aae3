"""What the viewer's API answers, as plain values computed from a :class:`ViewerData`.

No HTTP here: :mod:`silentscope.viewer.server` routes requests to these functions, and
:mod:`silentscope.viewer.export` embeds the same values in a shared page.
"""

from __future__ import annotations

import numpy as np

from silentscope import __version__
from silentscope.viewer.artifacts import SLICE_ID_COLUMNS
from silentscope.viewer.data import ViewerData
from silentscope.viewer.sampling import DEFAULT_MAX_DRAWN, drawn_rows


def drawn(data: ViewerData, max_drawn: int = DEFAULT_MAX_DRAWN) -> np.ndarray:
    """The rows the map draws (all, or a stratified subsample above ``max_drawn``); cached."""
    key = ("drawn", int(max_drawn))
    if key not in data.cache:
        data.cache[key] = drawn_rows(
            data.test_set_codes, data.label, data.correct, max_points=max_drawn
        )
    return data.cache[key]


def bounds(data: ViewerData) -> list[float]:
    """``[x_min, x_max, y_min, y_max]`` of the embedding over every sample."""
    if "bounds" not in data.cache:
        finite_x, finite_y = data.x[np.isfinite(data.x)], data.y[np.isfinite(data.y)]
        data.cache["bounds"] = [
            float(finite_x.min()) if finite_x.size else 0.0,
            float(finite_x.max()) if finite_x.size else 1.0,
            float(finite_y.min()) if finite_y.size else 0.0,
            float(finite_y.max()) if finite_y.size else 1.0,
        ]
    return data.cache["bounds"]


def meta(data: ViewerData, max_drawn: int = DEFAULT_MAX_DRAWN) -> dict:
    """What the front end needs to know before it fetches any column."""
    n_drawn = int(len(drawn(data, max_drawn)))
    return {
        "version": __version__,
        "store": data.store.name,
        "n": data.n_samples,
        "class_names": list(data.class_names),
        "test_sets": data.test_set_names,
        "csfs": list(data.confidences),
        "default_csf": data.default_csf,
        "columns": [column.describe() for column in data.columns.values()],
        "skipped_columns": data.skipped_columns,
        "subgroups_left_out": data.subgroups_left_out,
        "embedding": data.embedding_info,
        "has_text": data.has_text,
        "has_images": data.has_images,
        "slices": slice_list(data),
        "discovery_note": data.discovery_note,
        # a segmentation's "accuracy" is its mean Dice, 1 - mean risk, as evaluate reports it
        "accuracy": float(data.correct.mean() if data.risk is None else 1.0 - data.risk.mean()),
        "health": health(data).to_dict(),
        "bounds": bounds(data),
        "drawn": {"n": n_drawn, "subsampled": n_drawn < data.n_samples},
    }


def health(data: ViewerData):
    """Whether the store's classifier is degenerate (:func:`~silentscope.audit.health.model_health`'s
    rule on the same split), shown in the viewer's header."""
    from silentscope.audit.health import ModelHealth, check_predictions, health_split

    if data.is_segmentation and data.recorded_health:  # voxel-level, recorded at inference
        return ModelHealth.from_dict(data.recorded_health)
    split = health_split(data.test_set_names)
    if split == "all":
        rows = np.ones(data.n_samples, bool)
    else:
        rows = data.test_set_codes == data.test_set_names.index(split)
    return check_predictions(data.label[rows], data.prediction[rows], data.class_names, split=split)


def slice_list(data: ViewerData) -> list[dict]:
    """Every slice the page lists (discovered, saved, subgroups), with its size and accuracy."""
    out = []
    for slice_set in data.slices.values():
        summary = {}
        for record in slice_set.summary:
            key = next((record[c] for c in SLICE_ID_COLUMNS if c in record), None)
            if key is not None:
                summary[str(key)] = record
        for index, (name, rows) in enumerate(zip(slice_set.names, slice_set.rows, strict=True)):
            entry = {
                "source": slice_set.source,
                "index": index,
                "name": name,
                "n": int(len(rows)),
                "accuracy": float(data.correct[rows].mean()) if len(rows) else None,
            }
            if name in summary:
                entry["summary"] = summary[name]
                entry["examples"] = _examples(data, summary[name])
            out.append(entry)
    return out


def _examples(data: ViewerData, record: dict) -> list[dict]:
    """The slice card's example rows (chosen by slice discovery: errors first, then typical)."""
    ids, kinds = record.get("example_ids"), record.get("example_kinds")
    if not isinstance(ids, str) or not isinstance(kinds, str) or not ids:
        return []
    import pyarrow as pa
    import pyarrow.compute as pc

    rows = pc.index_in(pa.array(ids.split(","), pa.string()), value_set=data.sample_id)
    return [
        {"row": int(row), "kind": kind}
        for row, kind in zip(rows.to_pylist(), kinds.split(","), strict=False)
        if row is not None
    ]


_WIRE_TYPES = {"f": ("float32", "<f4"), "i": ("int16", "<i2"), "u": ("uint32", "<u4")}


def column_bytes(data: ViewerData, key: str, rows: np.ndarray | None = None) -> tuple[bytes, str]:
    """A column (of ``rows`` only, if given) as raw little-endian bytes and its dtype name.

    Raises
    ------
    KeyError
        If the column is unknown.
    """
    if key in ("x", "y"):
        values = data.x if key == "x" else data.y
    elif key in data.columns:
        values = data.columns[key].values
    else:
        raise KeyError(f"unknown column {key!r}")
    if rows is not None:
        values = values[rows]
    name, wire = _WIRE_TYPES[values.dtype.kind]
    return np.ascontiguousarray(values).astype(wire, copy=False).tobytes(), name


__all__ = ["bounds", "column_bytes", "drawn", "meta", "slice_list"]

"""A self-contained HTML page of the viewer, for sharing without a server.

The page holds the built front end, the columns of (a seeded, test-set-stratified
subsample of) the samples and thumbnails of the most telling ones: the most confident
failures per test set, class representatives, and a seeded sample of the rest. Filters,
lasso statistics (size, accuracy, AURC, class mix, metadata enrichment) and risk-coverage
curves are computed in the browser; report terms and saving slices need the live viewer.
The page says so, and says when it shows a subsample.
"""

from __future__ import annotations

import base64
import io
import json
import os
from pathlib import Path

import numpy as np
from PIL import Image

from silentscope.data.refs import shareable
from silentscope.viewer import queries
from silentscope.viewer.data import ViewerData
from silentscope.viewer.payloads import meta
from silentscope.viewer.sampling import drawn_rows, stratified_subsample
from silentscope.viewer.server import STATIC
from silentscope.viewer.thumbnails import ThumbnailCache, ThumbnailUnavailable

DEFAULT_MAX_POINTS = 50_000
DEFAULT_MAX_IMAGES = 300
_THUMBNAIL_SIZE = 96


def _encode(values: np.ndarray) -> dict:
    dtype, wire = {"f": ("float32", "<f4"), "i": ("int16", "<i2"), "u": ("uint32", "<u4")}[
        values.dtype.kind
    ]
    array = values.astype(wire, copy=False)
    return {
        "dtype": dtype,
        "data": base64.b64encode(np.ascontiguousarray(array).tobytes()).decode(),
    }


def _json_for_script(value) -> str:
    # "</" would end the <script> element early; "<\/" is the same JSON string.
    return json.dumps(value, separators=(",", ":"), allow_nan=False).replace("</", "<\\/")


def _clean(value):
    if isinstance(value, float) and not np.isfinite(value):
        return None
    return shareable(value) if isinstance(value, str) else value


def _data_uri(png: bytes) -> str:
    """A data URI of a thumbnail; colour photographs are re-encoded as JPEG, 4-5 times smaller."""
    picture = Image.open(io.BytesIO(png))
    if picture.mode != "RGB":
        return "data:image/png;base64," + base64.b64encode(png).decode()
    buffer = io.BytesIO()
    picture.save(buffer, format="JPEG", quality=82)
    return "data:image/jpeg;base64," + base64.b64encode(buffer.getvalue()).decode()


def export_rows(data: ViewerData, max_points: int = DEFAULT_MAX_POINTS, random_state: int = 0):
    """The store rows an exported page holds: all, or a seeded subsample stratified by test set.

    Examples
    --------
    >>> from silentscope.viewer.queries import _example_data
    >>> export_rows(_example_data()).tolist()  # four samples: all of them
    [0, 1, 2, 3]
    """
    if int(max_points) < 1:
        raise ValueError("max_points must be positive")
    return stratified_subsample(
        data.test_set_codes, int(max_points), min_per_group=100, random_state=random_state
    )


def export_payload(
    data: ViewerData,
    max_points: int = DEFAULT_MAX_POINTS,
    max_images: int = DEFAULT_MAX_IMAGES,
    random_state: int = 0,
) -> dict:
    """The data an exported page embeds (see :func:`export_html`)."""
    if int(max_points) < 1 or int(max_images) < 0:
        raise ValueError("max_points must be positive and max_images non-negative")
    n_total = data.n_samples
    rows = export_rows(data, max_points, random_state)
    subsampled = len(rows) < n_total
    position = np.full(n_total, -1, dtype=np.int64)
    position[rows] = np.arange(len(rows))

    columns = {"x": _encode(data.x[rows]), "y": _encode(data.y[rows])}
    for key, column in data.columns.items():
        columns[key] = _encode(column.values[rows])

    info = meta(data)
    info["n"] = int(len(rows))
    info["accuracy"] = float(data.correct[rows].mean())
    # Positions (within the page) of the points to draw: all up to the drawing limit.
    drawn = drawn_rows(data.test_set_codes[rows], data.label[rows], data.correct[rows])
    info["drawn"] = {"n": int(len(drawn)), "subsampled": len(drawn) < len(rows)}
    # the analyses' own summaries (held-out error, terms, ...) describe all samples: kept as is
    summaries = {(s["source"], s["index"]): s["summary"] for s in info["slices"] if "summary" in s}
    info["slices"] = []
    slices = {}
    for slice_set in data.slices.values():
        kept = [position[r][position[r] >= 0] for r in slice_set.rows]
        slices[slice_set.source] = [k.tolist() for k in kept]
        for index, (name, members) in enumerate(zip(slice_set.names, kept, strict=True)):
            info["slices"].append(
                {
                    "source": slice_set.source,
                    "index": index,
                    "name": name,
                    "n": int(len(members)),
                    "accuracy": float(data.correct[rows][members].mean()) if len(members) else None,
                }
            )
            if (slice_set.source, index) in summaries:
                info["slices"][-1]["summary"] = summaries[slice_set.source, index]
    note = "Exported view: statistics are computed in this page; report terms and saving slices need `silentscope view`."
    if subsampled:
        note = (
            f"Exported view of a subsample: {len(rows):,} of {n_total:,} samples (seeded, stratified by test set). "
            "Statistics describe the subsample; report terms and saving slices need `silentscope view`."
        )
    info["export"] = {
        "n_total": n_total,
        "n_shown": int(len(rows)),
        "subsampled": subsampled,
        "note": note,
    }

    full_mask = np.zeros(n_total, dtype=bool)
    full_mask[rows] = True
    wanted: list[int] = []
    for group in queries.confident_failures(data, full_mask, None, k=8):
        wanted.extend(group["rows"])
    reps = queries.representatives(data, full_mask, k=6)
    for group in reps:
        wanted.extend(group["rows"])
    rng = np.random.default_rng(random_state)
    wanted.extend(rng.permutation(rows)[: max(0, int(max_images))].tolist())
    thumbnails = {}
    if data.has_images and max_images > 0:
        cache = ThumbnailCache(
            data,
            folder=data.store / "viewer-cache" / f"thumbnails-{_THUMBNAIL_SIZE}",
            size=_THUMBNAIL_SIZE,
        )
        for row in dict.fromkeys(wanted):
            if len(thumbnails) >= max_images:
                break
            try:
                png = cache.get(row)
            except ThumbnailUnavailable:
                continue
            thumbnails[int(position[row])] = _data_uri(png)

    texts, text_codes = [], None
    if data.has_text:
        import pyarrow.compute as pc

        encoded = pc.dictionary_encode(data.text.take(rows)).combine_chunks()
        texts = [t or "" for t in encoded.dictionary.to_pylist()]
        text_codes = encoded.indices.to_numpy(zero_copy_only=False).astype(int).tolist()
    samples = {
        # an exported page is shared: ids that are absolute file paths keep only the file name
        "sample_id": [shareable(str(i)) for i in data.sample_id.take(rows).to_pylist()],
        "metadata": {
            name: [_clean(v) for v in values.take(rows).to_pylist()]
            for name, values in data.metadata.items()
        },
        "texts": texts,
        "text_codes": text_codes,
    }
    if len(drawn) < len(rows):
        columns["drawn"] = _encode(drawn.astype(np.uint32))
    return {
        "meta": info,
        "columns": columns,
        "samples": samples,
        "thumbnails": thumbnails,
        "slices": slices,
        "representatives": [
            {**group, "rows": [int(position[r]) for r in group["rows"]]} for group in reps
        ],
    }


def export_html(
    data: ViewerData,
    path: str | os.PathLike,
    max_points: int = DEFAULT_MAX_POINTS,
    max_images: int = DEFAULT_MAX_IMAGES,
    random_state: int = 0,
) -> Path:
    """Write a self-contained viewer page to ``path``.

    Parameters
    ----------
    data : ViewerData
    path : path-like
        The HTML file to write.
    max_points : int, default=50000
        At most this many samples, drawn per test set in proportion (seeded); the page
        says when it shows a subsample.
    max_images : int, default=300
        At most this many thumbnails (most confident failures and representatives first).
    random_state : int, default=0

    Returns
    -------
    Path
        The written file.

    Examples
    --------
    >>> import tempfile
    >>> from silentscope.viewer.queries import _example_data
    >>> page = export_html(_example_data(), tempfile.mkdtemp() + "/viewer.html")
    >>> text = page.read_text()
    >>> 'id="silentscope-data"' in text, "static/viewer.js" in text
    (True, False)
    """
    page = export_page(data, max_points, max_images, random_state)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(page, encoding="utf-8")
    os.replace(tmp, path)
    return path


def export_page(
    data: ViewerData,
    max_points: int = DEFAULT_MAX_POINTS,
    max_images: int = DEFAULT_MAX_IMAGES,
    random_state: int = 0,
) -> str:
    """The self-contained viewer page of :func:`export_html`, as a string."""
    payload = export_payload(
        data, max_points=max_points, max_images=max_images, random_state=random_state
    )
    page = (STATIC / "index.html").read_text()
    css = (STATIC / "viewer.css").read_text()
    js = (STATIC / "viewer.js").read_text().replace("</script", "<\\/script")
    page = page.replace('<link rel="stylesheet" href="static/viewer.css">', f"<style>{css}</style>")
    page = page.replace(
        '<script src="static/viewer.js"></script>',
        f'<script type="application/json" id="silentscope-data">{_json_for_script(payload)}</script>\n<script>{js}</script>',
    )
    return page


__all__ = [
    "DEFAULT_MAX_IMAGES",
    "DEFAULT_MAX_POINTS",
    "export_html",
    "export_page",
    "export_payload",
    "export_rows",
]

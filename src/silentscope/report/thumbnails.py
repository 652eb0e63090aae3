"""Images behind an AuditSet's image references, as small inline thumbnails.

An image reference is a file path (PNG/JPEG/...), ``<file.npy>#<index>`` or
``<file.npz>#<key>/<index>``. Where a sample's ``shift_params`` records a corruption, the
corruption is replayed from its recorded parameters, so the thumbnail shows what the
classifier saw.
"""

from __future__ import annotations

import base64
import io
import json
from functools import lru_cache
from pathlib import Path

import numpy as np
from PIL import Image


@lru_cache(maxsize=8)
def _array_file(path: str):
    if path.endswith(".npz"):
        return np.load(path, allow_pickle=False)
    return np.load(path, mmap_mode="r", allow_pickle=False)


def load_image_ref(ref: str, base: str | Path | None = None) -> np.ndarray:
    """The uint8 image (H, W, C) behind an image reference; a clear error if it is absent."""
    path_part, _, index_part = ref.partition("#")
    path = Path(path_part)
    if base is not None and not path.is_absolute():
        path = Path(base) / path
    if not path.is_file():
        raise FileNotFoundError(f"image {path} (from reference {ref!r}) does not exist")
    if index_part:
        data = _array_file(str(path))
        if path.suffix == ".npz":
            key, _, index = index_part.rpartition("/")
            if key not in data:
                raise KeyError(f"{path} has no array {key!r} (reference {ref!r})")
            image = np.asarray(data[key][int(index)])
        else:
            image = np.asarray(data[int(index_part)])
    else:
        with Image.open(path) as handle:
            image = np.asarray(handle.convert("RGB") if handle.mode not in ("L", "RGB") else handle)
    if image.ndim == 2:
        image = image[..., None]
    return image.astype(np.uint8)


def replay_shift(image: np.ndarray, shift_params: str | None) -> np.ndarray:
    """Re-apply a recorded corruption to one image (identity where none is recorded)."""
    if not shift_params:
        return image
    params = json.loads(shift_params)
    if not isinstance(params, dict) or "corruption" not in params:
        return image
    from silentscope.shifts import get_corruption

    corruption = get_corruption(params["corruption"])
    return corruption.apply(image[None], [params.get("params", params)])[0]


def thumbnail_data_uri(image: np.ndarray, size: int = 96) -> str:
    """A PNG data URI of the image scaled to ``size`` pixels (nearest for tiny images)."""
    array = image[..., 0] if image.shape[-1] == 1 else image
    picture = Image.fromarray(array)
    resample = Image.NEAREST if max(picture.size) < size else Image.BILINEAR
    picture = picture.resize((size, size), resample)
    buffer = io.BytesIO()
    picture.save(buffer, format="PNG", optimize=True)
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode()

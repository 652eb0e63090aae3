"""Small inline thumbnails for the report (images are read by :mod:`silentscope.data.refs`)."""

from __future__ import annotations

import base64
import io

import numpy as np
from PIL import Image


def thumbnail_data_uri(image: np.ndarray, size: int = 96) -> str:
    """A PNG data URI of the image scaled to ``size`` pixels (nearest for tiny images)."""
    array = image[..., 0] if image.shape[-1] == 1 else image
    picture = Image.fromarray(array)
    resample = Image.NEAREST if max(picture.size) < size else Image.BILINEAR
    picture = picture.resize((size, size), resample)
    buffer = io.BytesIO()
    picture.save(buffer, format="PNG", optimize=True)
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode()

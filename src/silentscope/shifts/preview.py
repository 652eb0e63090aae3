"""A picture grid of corruptions (rows) by severity (columns 0-5) to check them at a glance."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from silentscope.shifts.base import Corruption, check_images
from silentscope.shifts.registry import get_corruption
from silentscope.shifts.severity import MAX_SEVERITY

_GAP = 2
_BACKGROUND = (255, 255, 255)


def preview_grid(
    image: np.ndarray,
    corruptions: Sequence[str | Corruption],
    severities: Sequence[int] = tuple(range(MAX_SEVERITY + 1)),
    seed: int = 0,
    *,
    modality: str = "generic",
) -> np.ndarray:
    """Render one image under each corruption (rows) at each severity (columns).

    Every cell uses the same seed, so along a row only the magnitude changes.

    Parameters
    ----------
    image : array of uint8, shape (H, W, C) or (1, H, W, C)
    corruptions : sequence of str or Corruption
        Names (looked up with the modality's levels) or instances.
    severities : sequence of int, default 0-5
    seed : int, default 0
    modality : str, default "generic"

    Returns
    -------
    array of uint8, shape (rows, columns, 3)
        RGB grid with the corruption names on the left and the severities on top.

    Examples
    --------
    >>> image = np.random.default_rng(0).integers(0, 256, (32, 32, 1), dtype=np.uint8)
    >>> grid = preview_grid(image, ["gaussian_noise", "pixelate"])
    >>> grid.shape[2], grid.dtype
    (3, dtype('uint8'))
    """
    batch = check_images(image[None] if np.ndim(image) == 3 else image)
    if len(batch) != 1:
        raise ValueError(f"preview_grid takes one image, got {len(batch)}")
    if not corruptions:
        raise ValueError("preview_grid needs at least one corruption name")
    instances = [
        c if isinstance(c, Corruption) else get_corruption(c, modality) for c in corruptions
    ]
    height, width = batch.shape[1:3]
    font = ImageFont.load_default(size=max(10, min(16, height // 6)))
    label_width = max(int(font.getlength(c.name)) for c in instances) + 6 * _GAP
    header = font.size + 3 * _GAP
    canvas = Image.new(
        "RGB",
        (label_width + len(severities) * (width + _GAP), header + len(instances) * (height + _GAP)),
        _BACKGROUND,
    )
    draw = ImageDraw.Draw(canvas)
    for col, severity in enumerate(severities):
        x = label_width + col * (width + _GAP)
        draw.text((x + width // 2, _GAP), str(severity), fill=(0, 0, 0), font=font, anchor="mt")
    for row, corruption in enumerate(instances):
        y = header + row * (height + _GAP)
        draw.text((_GAP, y + height // 2), corruption.name, fill=(0, 0, 0), font=font, anchor="lm")
        for col, severity in enumerate(severities):
            params = corruption.sample_params(np.random.default_rng(seed), severity, 1)
            tile = corruption.apply(batch, params)[0]
            if tile.shape[-1] == 1:
                tile = np.repeat(tile, 3, axis=-1)
            canvas.paste(Image.fromarray(tile), (label_width + col * (width + _GAP), y))
    return np.asarray(canvas)


def save_png(grid: np.ndarray, path: str | Path) -> Path:
    """Write an RGB grid as PNG, creating the parent folder."""
    path = Path(path)
    if path.suffix.lower() != ".png":
        raise ValueError(
            f"the preview is written as PNG; give a path ending in .png, got {str(path)!r}"
        )
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(grid).save(path)
    return path

"""A PNG grid of example images: one row per class and per ground-truth slice."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from silentscope.data.dataset import ImageDataset
from silentscope.data.errors import DatasetError

_LABEL_WIDTH = 190
_BACKGROUND = (255, 255, 255)


def preview_groups(dataset: ImageDataset) -> dict[str, np.ndarray]:
    """Default rows of a preview: each class, then each boolean ``gt_slice_*`` column and
    each ``site`` value found in the metadata."""
    groups = {f"class: {name}": dataset.labels == i for i, name in enumerate(dataset.class_names)}
    for column in dataset.metadata.columns:
        values = dataset.metadata[column]
        if column.startswith("gt_slice_") and values.dtype == bool:
            groups[column.removeprefix("gt_")] = values.to_numpy()
    if "site" in dataset.metadata.columns:
        for value in sorted(dataset.metadata["site"].astype(str).unique()):
            groups[f"site: {value}"] = (dataset.metadata["site"].astype(str) == value).to_numpy()
    return groups


def preview_grid(
    dataset: ImageDataset,
    groups: Mapping[str, np.ndarray] | None = None,
    per_row: int = 8,
    cell: int = 96,
    seed: int = 0,
) -> Image.Image:
    """A grid image with ``per_row`` random examples of each group (seeded), labelled.

    Parameters
    ----------
    dataset : ImageDataset
    groups : mapping of row title to boolean mask, optional
        Default :func:`preview_groups`.
    per_row : int
        Examples per row.
    cell : int
        Side of each example in the grid, in pixels (nearest-neighbour upscaling keeps
        small images crisp).
    seed : int
        Which examples are drawn.

    Returns
    -------
    PIL.Image.Image

    Examples
    --------
    >>> import numpy as np
    >>> data = ImageDataset("toy", np.zeros((6, 8, 8), np.uint8), [0, 1] * 3, ["a", "b"],
    ...                     ["train"] * 6, list("uvwxyz"))
    >>> preview_grid(data, per_row=3, cell=16).size
    (238, 32)
    """
    groups = preview_groups(dataset) if groups is None else dict(groups)
    if not groups:
        raise DatasetError("nothing to preview: no groups were given")
    rng = np.random.default_rng(seed)
    font = ImageFont.load_default()
    grid = Image.new("RGB", (_LABEL_WIDTH + per_row * cell, len(groups) * cell), _BACKGROUND)
    draw = ImageDraw.Draw(grid)
    for r, (title, mask) in enumerate(groups.items()):
        rows = np.flatnonzero(np.asarray(mask, dtype=bool))
        draw.text(
            (6, r * cell + cell // 2 - 12), f"{title}\n(n={len(rows)})", fill=(0, 0, 0), font=font
        )
        if len(rows) == 0:
            continue
        chosen = np.sort(rng.choice(rows, size=min(per_row, len(rows)), replace=False))
        for c, image in enumerate(dataset.load_images(chosen)):
            tile = Image.fromarray(image[..., 0] if image.shape[-1] == 1 else image)
            resample = (
                Image.Resampling.NEAREST if image.shape[0] < cell else Image.Resampling.BILINEAR
            )
            grid.paste(
                tile.convert("RGB").resize((cell, cell), resample),
                (_LABEL_WIDTH + c * cell, r * cell),
            )
    return grid


def save_preview(dataset: ImageDataset, path: str | Path, **options) -> Path:
    """Save :func:`preview_grid` as a PNG file and return its path."""
    path = Path(path)
    if path.suffix.lower() != ".png":
        raise DatasetError(
            f"the preview is a PNG image; give a path ending in .png, got {path.name!r}"
        )
    path.parent.mkdir(parents=True, exist_ok=True)
    preview_grid(dataset, **options).save(path)
    return path

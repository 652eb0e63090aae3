"""A volume's slices in the report: image, label and prediction as a small grid of thumbnails."""

from __future__ import annotations

import html

import numpy as np

from silentscope.audit.volume_slices import PLANES, colour_labels
from silentscope.report.thumbnails import thumbnail_data_uri


def stack_panel_html(stack: np.ndarray, caption: str, size: int = 88) -> str:
    """One volume's entry of :func:`~silentscope.audit.volume_slices.slice_stack` as a grid (rows image/label/prediction)."""
    names = ("image", "label", "prediction")
    planes = PLANES[: stack.shape[1]] if stack.shape[1] > 1 else ("image",)
    header = "".join(f"<th>{p}</th>" for p in planes)
    body = []
    for k, name in enumerate(names):
        cells = []
        for p in range(stack.shape[1]):
            picture = stack[k, p] if k == 0 else colour_labels(stack[k, p])
            cells.append(
                f"<td><img src='{thumbnail_data_uri(_with_channel(picture), size)}' alt='{name}'></td>"
            )
        body.append(f"<tr><td>{name}</td>{''.join(cells)}</tr>")
    return (
        f"<div class='volume'><table class='slices'><tr><th></th>{header}</tr>{''.join(body)}"
        f"</table><p class='note'>{html.escape(caption)}</p></div>"
    )


def _with_channel(picture: np.ndarray) -> np.ndarray:
    return picture[..., None] if picture.ndim == 2 else picture

"""Slices through volumes, stored beside a segmentation audit for the report and the viewer.

A volume is shown by its three orthogonal mid-slices (axial, coronal, sagittal through the
centre), a 2-D image by itself. Intensities are scaled to grey levels per volume (1st to
99th percentile, so one bright voxel does not black out the rest); label maps are coloured
with one fixed colour per class, background black, so a label and a prediction compare
by colour.
"""

from __future__ import annotations

import numpy as np

#: Class colours (RGB) after the black background: CSF, grey matter, white matter, ...
CLASS_COLOURS = np.array(
    [
        [0, 0, 0],
        [66, 133, 244],
        [219, 68, 55],
        [244, 180, 0],
        [15, 157, 88],
        [171, 71, 188],
        [0, 172, 193],
        [255, 112, 67],
    ],
    dtype=np.uint8,
)
PLANES = ("axial", "coronal", "sagittal")


def mid_slices(volume: np.ndarray) -> list[np.ndarray]:
    """The three orthogonal mid-slices of a (D, H, W[, C]) volume, or [image] for a 2-D image.

    Examples
    --------
    >>> volume = np.arange(4 * 6 * 8).reshape(4, 6, 8)
    >>> [s.shape for s in mid_slices(volume)]
    [(6, 8), (4, 8), (4, 6)]
    >>> int(mid_slices(volume)[0][0, 0]) == int(volume[2, 0, 0])
    True
    """
    array = np.asarray(volume)
    if array.ndim in (3, 4) and array.shape[-1] == 1:  # (H, W, 1) image, (D, H, W, 1) volume
        array = array[..., 0]
    if array.ndim == 2:
        return [array]
    if array.ndim != 3:
        raise ValueError(f"a volume must have shape (D, H, W) or (D, H, W, 1), got {volume.shape}")
    d, h, w = (n // 2 for n in array.shape)
    return [array[d], array[:, h], array[:, :, w]]


def grey_levels(
    image: np.ndarray, low: float | None = None, high: float | None = None
) -> np.ndarray:
    """Intensities as uint8 grey levels between ``low`` and ``high`` (default 1st/99th percentile).

    Examples
    --------
    >>> grey_levels(np.array([[0.0, 0.5], [1.0, 2.0]]), 0.0, 1.0).tolist()
    [[0, 128], [255, 255]]
    """
    image = np.asarray(image, dtype=float)
    if low is None or high is None:
        low, high = np.percentile(image, [1, 99])
    scaled = (image - low) / (high - low) if high > low else np.zeros_like(image)
    return np.clip(np.rint(scaled * 255), 0, 255).astype(np.uint8)


def colour_labels(labels: np.ndarray) -> np.ndarray:
    """A label map as RGB, one colour per class (:data:`CLASS_COLOURS`, cycling after 8).

    Examples
    --------
    >>> colour_labels(np.array([[0, 2]])).tolist()
    [[[0, 0, 0], [219, 68, 55]]]
    """
    labels = np.asarray(labels).astype(np.int64)
    return CLASS_COLOURS[labels % len(CLASS_COLOURS)]


#: The store artifact holding every volume's mid-slices (see :func:`slice_stack`).
SLICES_ARTIFACT = "volume_slices"


def slice_stack(images, labels, predictions) -> np.ndarray:
    """Mid-slices of image, label and prediction of every volume, as one uint8 array.

    Parameters
    ----------
    images : array (N, D, H, W[, 1]) or (N, H, W[, 1])
        Intensities as the network saw them (corrupted where a test set corrupts).
    labels, predictions : int arrays (N, D, H, W) or (N, H, W)

    Returns
    -------
    ndarray of uint8, shape (N, 3, P, S, S)
        Axis 1: image grey levels (1st-99th percentile of the volume), label, prediction;
        axis 2: the planes (3 for volumes: axial, coronal, sagittal; 1 for images); each
        slice padded with zeros to the largest side S.

    Examples
    --------
    >>> images = np.random.default_rng(0).random((2, 4, 6, 6, 1))
    >>> labels = np.ones((2, 4, 6, 6), int)
    >>> stack = slice_stack(images, labels, labels)
    >>> stack.shape, stack.dtype, int(stack[0, 1, 1, 3, 0]), int(stack[0, 1, 1, 5, 0])
    ((2, 3, 3, 6, 6), dtype('uint8'), 1, 0)
    """
    images, labels, predictions = map(np.asarray, (images, labels, predictions))
    if labels.shape != predictions.shape or len(images) != len(labels):
        raise ValueError(
            f"labels {labels.shape} and predictions {predictions.shape} must match, with one "
            f"image per label map ({len(images)} images)"
        )
    side = max(labels.shape[1:])
    planes = 3 if labels.ndim == 4 else 1
    out = np.zeros((len(labels), 3, planes, side, side), np.uint8)
    for i in range(len(labels)):
        grey = grey_levels(images[i][..., 0] if images[i].ndim > labels[i].ndim else images[i])
        for k, volume in enumerate((grey, labels[i], predictions[i])):
            for p, picture in enumerate(mid_slices(volume)):
                out[i, k, p, : picture.shape[0], : picture.shape[1]] = picture
    return out

"""Aggregators: one confidence per volume from a voxel confidence map, registered by exact name.

An aggregator takes a voxel confidence map ``c`` and the predicted label map ``y`` of
one volume (same shape, 2D or 3D; class 0 is the background) and returns one number
(higher = more confident) and whether it had to fall back (see ``foreground``).

``mean``
    ``mean_v c_v`` over every voxel.
``foreground``
    Mean over the voxels predicted as a foreground class (``y_v > 0``). A volume with no
    predicted foreground falls back to the mean over every voxel, and the fallback is
    counted and reported (:class:`Aggregate`), never hidden: such a volume is usually a
    failed one that is confidently "all background".
``boundary``
    Boundary-weighted mean ``sum_v w_v c_v / sum_v w_v`` with ``w_v = 10`` on voxels of
    the predicted boundaries (a face-neighbour has another predicted class) and 1
    elsewhere: errors concentrate at boundaries (FD-Shifts' segmentation study weighs them).
``patch_q05``, ``patch_q25``
    The 5% and 25% quantiles of the patch means, over non-overlapping patches of 8 voxels
    a side (border patches smaller): low when some region is uncertain, even if the
    rest of the volume is confident.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

#: Weight of a predicted-boundary voxel in the ``boundary`` aggregator (others weigh 1).
BOUNDARY_WEIGHT = 10.0
#: Side (voxels) of the patches of the ``patch_*`` aggregators.
PATCH_SIZE = 8


@dataclass(frozen=True)
class Aggregate:
    """One volume's aggregated confidence and whether the aggregator fell back."""

    value: float
    fallback: bool = False


@dataclass(frozen=True)
class Aggregator:
    """A registered aggregator: name, description and ``function(conf, predicted) -> Aggregate``."""

    name: str
    description: str
    function: Callable[[np.ndarray, np.ndarray], Aggregate]

    def __call__(self, confidence, predicted) -> Aggregate:
        confidence, predicted = np.asarray(confidence, dtype=np.float64), np.asarray(predicted)
        if confidence.shape != predicted.shape:
            raise ValueError(
                f"the confidence map {confidence.shape} and the predicted label map "
                f"{predicted.shape} must have the same shape"
            )
        if confidence.size == 0 or not np.isfinite(confidence).all():
            raise ValueError("the confidence map must be non-empty and finite")
        return self.function(confidence, predicted)


def boundary_mask(predicted: np.ndarray) -> np.ndarray:
    """Voxels with a face-neighbour of another predicted class.

    Examples
    --------
    >>> boundary_mask(np.array([[0, 0, 1, 1]])).astype(int).tolist()
    [[0, 1, 1, 0]]
    """
    predicted = np.asarray(predicted)
    mask = np.zeros(predicted.shape, dtype=bool)
    for axis in range(predicted.ndim):
        lo = [slice(None)] * predicted.ndim
        hi = [slice(None)] * predicted.ndim
        lo[axis], hi[axis] = slice(None, -1), slice(1, None)
        differs = predicted[tuple(lo)] != predicted[tuple(hi)]
        mask[tuple(lo)] |= differs
        mask[tuple(hi)] |= differs
    return mask


def patch_means(confidence: np.ndarray, size: int = PATCH_SIZE) -> np.ndarray:
    """Means over non-overlapping patches of ``size`` voxels a side (border patches smaller).

    Examples
    --------
    >>> patch_means(np.arange(6.0).reshape(1, 6), size=4).tolist()
    [1.5, 4.5]
    """
    confidence = np.asarray(confidence, dtype=np.float64)
    pads = [(0, (-n) % size) for n in confidence.shape]
    values = np.pad(confidence, pads, constant_values=0.0)
    counts = np.pad(np.ones_like(confidence), pads, constant_values=0.0)
    shape = []
    for n in values.shape:
        shape += [n // size, size]
    axes = tuple(range(1, 2 * confidence.ndim, 2))
    sums = values.reshape(shape).sum(axis=axes)
    n = counts.reshape(shape).sum(axis=axes)
    return (sums[n > 0] / n[n > 0]).ravel()


def _mean(confidence, predicted) -> Aggregate:
    return Aggregate(float(confidence.mean()))


def _foreground(confidence, predicted) -> Aggregate:
    foreground = predicted > 0
    if not foreground.any():
        return Aggregate(float(confidence.mean()), fallback=True)
    return Aggregate(float(confidence[foreground].mean()))


def _boundary(confidence, predicted) -> Aggregate:
    weights = np.where(boundary_mask(predicted), BOUNDARY_WEIGHT, 1.0)
    return Aggregate(float((weights * confidence).sum() / weights.sum()))


def _patch_quantile(q: float) -> Callable[[np.ndarray, np.ndarray], Aggregate]:
    def aggregate(confidence, predicted) -> Aggregate:
        return Aggregate(float(np.quantile(patch_means(confidence), q)))

    return aggregate


#: Aggregators by exact name, in display order.
AGGREGATORS: dict[str, Aggregator] = {
    a.name: a
    for a in (
        Aggregator("mean", "mean over every voxel", _mean),
        Aggregator(
            "foreground",
            "mean over the predicted foreground (every voxel when none is predicted, reported)",
            _foreground,
        ),
        Aggregator(
            "boundary",
            f"mean weighted {BOUNDARY_WEIGHT:g}x on predicted class boundaries",
            _boundary,
        ),
        Aggregator(
            "patch_q05",
            f"5% quantile of the means of {PATCH_SIZE}-voxel patches",
            _patch_quantile(0.05),
        ),
        Aggregator(
            "patch_q25",
            f"25% quantile of the means of {PATCH_SIZE}-voxel patches",
            _patch_quantile(0.25),
        ),
    )
}


__all__ = [
    "AGGREGATORS",
    "BOUNDARY_WEIGHT",
    "PATCH_SIZE",
    "Aggregate",
    "Aggregator",
    "boundary_mask",
    "patch_means",
]

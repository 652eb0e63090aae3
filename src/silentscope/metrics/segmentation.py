"""Per-volume segmentation quality and the risk that failure detection ranks.

Class 0 is the background; the *foreground classes* are 1..K-1. Every function takes one
volume's true and predicted label maps (integer arrays of the same shape, 2D or 3D).

Empty-class convention
    A foreground class absent from both the truth and the prediction has no Dice (NaN,
    as nnU-Net reports it): there is nothing to overlap, so it neither rewards nor
    penalises the volume and is left out of the mean. A class absent from the truth but
    predicted, or present but not predicted, has Dice 0. A volume in which *no*
    foreground class is present in either map has risk 0 (nothing to get wrong).

Risks, all in [0, 1] (0 = perfect):

``dice``
    ``1 - mean Dice over the foreground classes`` (FD-Shifts' segmentation counterpart,
    risk = 1 - Dice).
``hd95``
    Mean over foreground classes of the 95th-percentile symmetric Hausdorff distance,
    divided by the volume's diagonal (in the same physical units) and capped at 1; a class
    present in one map only counts 1.
``volume_error``
    Mean over foreground classes of the relative volume error ``|V_pred - V_true| / V_true``,
    capped at 1; a class predicted but absent from the truth counts 1.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

#: Names of the per-volume risks :func:`segmentation_risk` computes.
RISKS = ("dice", "hd95", "volume_error")

#: One sentence per risk, for run records and captions.
RISK_DEFINITIONS = {
    "dice": "1 - mean Dice over the foreground classes (a class absent from truth and "
    "prediction is left out; none present in either: risk 0)",
    "hd95": "mean over foreground classes of HD95 / volume diagonal, capped at 1 (a class in "
    "one map only counts 1; absent from both: left out)",
    "volume_error": "mean over foreground classes of |V_pred - V_true| / V_true, capped at 1 "
    "(predicted but absent from the truth counts 1; absent from both: left out)",
}


def _check_maps(true, pred) -> tuple[np.ndarray, np.ndarray]:
    true, pred = np.asarray(true), np.asarray(pred)
    if true.shape != pred.shape:
        raise ValueError(
            f"true and predicted label maps must have the same shape, got {true.shape} and {pred.shape}"
        )
    if true.ndim not in (2, 3):
        raise ValueError(f"label maps must be 2D or 3D, got shape {true.shape}")
    for name, values in (("true", true), ("predicted", pred)):
        if not np.issubdtype(values.dtype, np.integer):
            raise ValueError(f"the {name} label map must hold integer classes, got {values.dtype}")
    return true, pred


def dice_per_class(true, pred, n_classes: int) -> np.ndarray:
    """Dice of every class of one volume, ``2 |T & P| / (|T| + |P|)``; NaN where absent from both.

    Parameters
    ----------
    true, pred : array of int, same shape (2D or 3D)
    n_classes : int
        K, background included.

    Returns
    -------
    ndarray of shape (K,)
        Dice per class in [0, 1], NaN for a class in neither map (see the module docstring).

    Examples
    --------
    >>> t = np.array([[0, 1, 1], [0, 2, 2]]); p = np.array([[0, 1, 0], [0, 0, 0]])
    >>> dice_per_class(t, p, 4).round(3).tolist()
    [0.571, 0.667, 0.0, nan]
    """
    true, pred = _check_maps(true, pred)
    k = int(n_classes)
    t = np.bincount(true.ravel(), minlength=k)[:k]
    p = np.bincount(pred.ravel(), minlength=k)[:k]
    both = np.bincount(true.ravel()[true.ravel() == pred.ravel()], minlength=k)[:k]
    total = (t + p).astype(np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(total > 0, 2.0 * both / total, np.nan)


def _surface(mask: np.ndarray) -> np.ndarray:
    # Voxels of the mask with a face-neighbour outside it (or on the volume's border).
    structure = ndimage.generate_binary_structure(mask.ndim, 1)
    eroded = ndimage.binary_erosion(mask, structure, border_value=0)
    return mask & ~eroded


def hd95_per_class(true, pred, n_classes: int, spacing=None) -> np.ndarray:
    """95th-percentile symmetric Hausdorff distance per class, in the units of ``spacing``.

    The surface of a mask is its voxels with a face-neighbour outside it. For each surface
    voxel of one map, the distance to the nearest surface voxel of the other; HD95 is the
    larger of the two directions' 95th percentiles (as MONAI computes it). NaN for a class
    absent from both maps, inf for a class present in one map only.

    Examples
    --------
    >>> t = np.zeros((1, 8), int); t[0, 1:3] = 1
    >>> p = np.zeros((1, 8), int); p[0, 4:6] = 1
    >>> float(hd95_per_class(t, p, 2)[1])  # distances 3 and 2 each way: 95th percentile
    2.95
    """
    true, pred = _check_maps(true, pred)
    spacing = _spacing(spacing, true.ndim)
    out = np.full(int(n_classes), np.nan)
    for c in range(int(n_classes)):
        a, b = true == c, pred == c
        if not a.any() and not b.any():
            continue
        if not a.any() or not b.any():
            out[c] = np.inf
            continue
        sa, sb = _surface(a), _surface(b)
        to_b = ndimage.distance_transform_edt(~sb, sampling=spacing)
        to_a = ndimage.distance_transform_edt(~sa, sampling=spacing)
        out[c] = max(np.percentile(to_b[sa], 95), np.percentile(to_a[sb], 95))
    return out


def volume_error_per_class(true, pred, n_classes: int) -> np.ndarray:
    """Relative volume error ``|V_pred - V_true| / V_true`` per class (uncapped).

    NaN for a class absent from both maps, inf for a class predicted but absent from the truth.

    Examples
    --------
    >>> t = np.array([[1, 1, 1, 1]]); p = np.array([[1, 1, 1, 0]])
    >>> volume_error_per_class(t, p, 2).tolist()
    [inf, 0.25]
    """
    true, pred = _check_maps(true, pred)
    k = int(n_classes)
    t = np.bincount(true.ravel(), minlength=k)[:k].astype(np.float64)
    p = np.bincount(pred.ravel(), minlength=k)[:k].astype(np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        error = np.abs(p - t) / t
    error[(t == 0) & (p == 0)] = np.nan
    error[(t == 0) & (p > 0)] = np.inf
    return error


def _spacing(spacing, ndim: int) -> tuple[float, ...]:
    if spacing is None:
        return (1.0,) * ndim
    values = tuple(float(s) for s in np.atleast_1d(spacing))
    if len(values) != ndim or not all(np.isfinite(v) and v > 0 for v in values):
        raise ValueError(f"spacing must hold {ndim} positive numbers, got {spacing!r}")
    return values


def _mean_foreground(values: np.ndarray, classes=None) -> float:
    fg = values[1:] if classes is None else values[list(classes)]
    fg = fg[~np.isnan(fg)]
    return float(fg.mean()) if fg.size else 0.0


def segmentation_risk(
    true, pred, n_classes: int, risk: str = "dice", spacing=None, classes=None
) -> float:
    """One volume's risk in [0, 1] (0 = perfect): see :data:`RISKS` and the module docstring.

    Parameters
    ----------
    true, pred : array of int, same shape
    n_classes : int
    risk : {"dice", "hd95", "volume_error"}, default "dice"
    spacing : sequence of float, optional
        Voxel size per axis (for ``hd95``); 1 per axis when None.
    classes : sequence of int, optional
        The classes averaged (default every foreground class, 1..K-1), e.g. to leave out a
        class too small to segment reliably.

    Returns
    -------
    float in [0, 1]

    Examples
    --------
    >>> t = np.array([[0, 1, 1], [0, 2, 2]]); p = np.array([[0, 1, 0], [0, 0, 0]])
    >>> round(segmentation_risk(t, p, 3), 4)  # Dice 0.667 (class 1) and 0 (class 2)
    0.6667
    >>> segmentation_risk(np.zeros((2, 2), int), np.zeros((2, 2), int), 3)
    0.0
    >>> round(segmentation_risk(t, p, 3, classes=[1]), 4)  # class 1 only
    0.3333
    """
    if classes is not None:
        classes = [int(c) for c in classes]
        if not classes or any(not 0 < c < int(n_classes) for c in classes):
            raise ValueError(
                f"classes must be foreground class indices in 1..{int(n_classes) - 1}, got {classes}"
            )
    if risk == "dice":  # as a loss, so that no class present in either map gives 0
        return _mean_foreground(1.0 - dice_per_class(true, pred, n_classes), classes)
    if risk == "hd95":
        true, pred = _check_maps(true, pred)
        sp = _spacing(spacing, true.ndim)
        diagonal = float(np.sqrt(sum((n * s) ** 2 for n, s in zip(true.shape, sp, strict=True))))
        scaled = np.minimum(hd95_per_class(true, pred, n_classes, sp) / diagonal, 1.0)
        return _mean_foreground(scaled, classes)
    if risk == "volume_error":
        return _mean_foreground(
            np.minimum(volume_error_per_class(true, pred, n_classes), 1.0), classes
        )
    raise ValueError(f"unknown risk {risk!r}; choose from {', '.join(RISKS)}")


__all__ = [
    "RISKS",
    "RISK_DEFINITIONS",
    "dice_per_class",
    "hd95_per_class",
    "segmentation_risk",
    "volume_error_per_class",
]

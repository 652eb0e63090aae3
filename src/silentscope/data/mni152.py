"""``mni152:tissue``: brain-tissue segmentation volumes generated from the MNI152 template.

ALL VOLUMES DERIVE FROM ONE TEMPLATE ANATOMY. The T1 volume and the grey- and white-matter
probability maps of the ICBM 2009a nonlinear symmetric MNI152 template (Fonov et al.,
NeuroImage 2011), as shipped in the ``nilearn`` wheel (``nilearn/datasets/data/``; read from
the installed package, nothing is downloaded), are deformed and re-imaged into many
volumes, following the generative idea of SynthSeg (Billot et al., Medical Image Analysis
2023): a random smooth elastic and affine warp, then a contrast (gamma) change, a smooth
multiplicative bias field and a thicker-slice (lower resolution) acquisition. Every
generated volume is its own "patient", but the anatomical variation between volumes is only
what the warps create: a model's Dice here says how well it segments deformed copies of one
brain, not how it generalises across people. :class:`~silentscope.data.segmentation.SegmentationSplits`
carries that sentence in ``caveats``.

Classes: 0 background (outside the brain mask), 1 CSF, 2 grey matter, 3 white matter. The
template ships no CSF map: CSF is the brain-mask share that is neither grey nor white matter,
``p_csf = mask * clip(1 - p_gm - p_wm, 0, 1)`` with ``mask = T1 > 0`` (the template's T1 is
brain-extracted), and ``p_bg = 1 - mask``. The label of a voxel is the argmax of the four
warped probabilities, so labels follow the same warp as the image.

Axes: (D, H, W) = (superior to inferior, anterior to posterior, left to right), so
``volume[d]`` is an axial slice with the front of the head in the first row, and
``volume[:, h]`` (coronal) and ``volume[:, :, w]`` (sagittal) have the top of the head there. The crop around the
brain is padded to a cube and resampled to ``size`` voxels a side (about 190 mm / size).

Examples
--------
>>> splits = make_mni152_tissue(size=16, n_train=2, n_val=1, n_test=1, seed=0)
>>> splits.train.images.shape, splits.train.labels.dtype, splits.class_names[1:]
((2, 16, 16, 16, 1), dtype('uint8'), ('csf', 'grey_matter', 'white_matter'))
>>> splits.caveats[0][:48]
'All volumes derive from one template anatomy (MN'
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
import pandas as pd

from silentscope.data.errors import DatasetError
from silentscope.data.segmentation import (
    SegmentationSet,
    SegmentationSplits,
    check_count,
    register_segmentation_dataset,
)

CLASS_NAMES = ("background", "csf", "grey_matter", "white_matter")
TEMPLATE = "mni_icbm152_{}_tal_nlin_sym_09a_converted.nii.gz"
CAVEAT = (
    "All volumes derive from one template anatomy (MNI152 ICBM 2009a, deformed and re-imaged "
    "per volume): Dice here measures segmentation of warped copies of one brain, not "
    "generalisation across people."
)
_MARGIN = 1.05  # cube side / largest brain extent: room for rotations and shrinking
_CONTROL_POINTS = 5  # per axis, of the elastic displacement grid
_BIAS_POINTS = 4  # per axis, of the log bias field grid


def template_folder() -> Path:
    """The folder of the installed ``nilearn`` package that holds the MNI152 files.

    Found without importing nilearn (which is slow to import); raises a DatasetError saying
    ``pip install nilearn`` when the package is missing.
    """
    spec = importlib.util.find_spec("nilearn")
    if spec is None or not spec.submodule_search_locations:
        raise DatasetError(
            "mni152:tissue needs the MNI152 template files of the nilearn package, which is not "
            "installed; install it with `pip install nilearn`"
        )
    folder = Path(list(spec.submodule_search_locations)[0]) / "datasets" / "data"
    missing = [
        TEMPLATE.format(k)
        for k in ("t1", "gm", "wm")
        if not (folder / TEMPLATE.format(k)).is_file()
    ]
    if missing:
        raise DatasetError(
            f"the installed nilearn lacks {missing[0]} in {folder}; reinstall it with "
            "`pip install --force-reinstall nilearn`"
        )
    return folder


@lru_cache(maxsize=4)
def template(size: int) -> tuple[np.ndarray, np.ndarray, float]:
    """The template resampled to a ``size``-voxel cube, cached per size for this process.

    Returns
    -------
    t1 : float32 array (size, size, size), in [0, 1]
    probabilities : float32 array (4, size, size, size)
        Background, CSF, grey and white matter; they sum to 1 per voxel.
    spacing : float
        Isotropic voxel size in mm.
    """
    import nibabel
    from scipy import ndimage  # imported on use: slow to import with silentscope.data

    folder = template_folder()
    t1, gm, wm = (
        np.asarray(nibabel.load(folder / TEMPLATE.format(k)).dataobj) for k in ("t1", "gm", "wm")
    )
    # (x, y, z) RAS -> (z flipped, y flipped, x): every mid-slice shows upright, with the
    # top of the head (coronal, sagittal) or the front (axial) in the first row.
    t1, gm, wm = (a.transpose(2, 1, 0)[::-1, ::-1, :] for a in (t1, gm, wm))
    inside = np.argwhere(t1 > 0)
    low, high = inside.min(axis=0), inside.max(axis=0) + 1
    side = int(np.ceil((high - low).max() * _MARGIN))
    # Work on the brain's bounding box (plus room for the filter): a third of the voxels.
    start = np.maximum(low - 8, 0)
    stop = np.minimum(high + 8, t1.shape)
    box = tuple(slice(a, b) for a, b in zip(start, stop, strict=True))
    t1, gm, wm = (a[box].astype(np.float32) / 255 for a in (t1, gm, wm))
    centre = (low + high) / 2 - start
    mask = (t1 > 0).astype(np.float32)
    gm *= mask
    wm *= mask
    csf = mask * np.clip(1 - gm - wm, 0, 1)
    channels = (t1, 1 - mask, csf, gm, wm)
    # Block-average-like resampling: Gaussian anti-aliasing, then linear sampling at the
    # centres of the output voxels of the cube around the brain.
    step = side / size
    coords = [centre[a] + (np.arange(size) + 0.5) * step - side / 2 - 0.5 for a in range(3)]
    grid = np.stack(np.meshgrid(*coords, indexing="ij"))
    sigma = 0.4 * step if step > 1 else 0.0
    resampled = []
    for channel, fill in zip(channels, (0.0, 1.0, 0.0, 0.0, 0.0), strict=True):
        smooth = ndimage.gaussian_filter(channel, sigma) if sigma else channel
        resampled.append(ndimage.map_coordinates(smooth, grid, order=1, mode="constant", cval=fill))
    t1_small = resampled[0].astype(np.float32)
    probabilities = np.stack(resampled[1:]).astype(np.float32)
    probabilities /= probabilities.sum(axis=0, keepdims=True)
    t1_small.setflags(write=False)
    probabilities.setflags(write=False)
    return t1_small, probabilities, float(step)


@dataclass(frozen=True)
class DeformationRanges:
    """Ranges of the per-volume random changes (the ``mni152:tissue`` options).

    Parameters
    ----------
    rotation : float
        Largest rotation about each axis, degrees (uniform in +-rotation).
    scaling : float
        Largest relative scaling per axis (log-uniform in 1 +- scaling).
    translation : float
        Largest shift per axis, as a fraction of the side.
    elastic : float
        Standard deviation of the smooth elastic displacement, as a fraction of the side
        (drawn on a 5 x 5 x 5 control grid and interpolated with cubic splines).
    gamma : float
        Standard deviation of ``log(gamma)``; intensities become ``x ** gamma``.
    bias : float
        Standard deviation of the smooth log bias field (4 x 4 x 4 control grid).
    thickness : float
        Largest slice thickness, in voxels, of the simulated acquisition along one random
        axis (uniform in [1, thickness]); 1 keeps the full resolution.
    """

    rotation: float = 10.0
    scaling: float = 0.1
    translation: float = 0.03
    elastic: float = 0.025
    gamma: float = 0.2
    bias: float = 0.1
    thickness: float = 2.5

    def __post_init__(self) -> None:
        for name, value in vars(self).items():
            if not np.isfinite(value) or value < 0:
                raise DatasetError(f"{name} must be a finite number >= 0, got {value!r}")
        if self.thickness < 1:
            raise DatasetError(f"thickness must be >= 1 voxel, got {self.thickness!r}")


def draw_parameters(rng: np.random.Generator, ranges: DeformationRanges, size: int) -> dict:
    """Every random quantity of one volume, drawn before anything is applied."""
    return {
        "rotation": rng.uniform(-ranges.rotation, ranges.rotation, 3),
        "scale": np.exp(rng.uniform(-np.log1p(ranges.scaling), np.log1p(ranges.scaling), 3)),
        "translation": rng.uniform(-ranges.translation, ranges.translation, 3) * size,
        "elastic": rng.standard_normal((3, *(_CONTROL_POINTS,) * 3)) * ranges.elastic * size,
        "gamma": float(np.exp(rng.normal(0.0, ranges.gamma))),
        "bias": rng.standard_normal((_BIAS_POINTS,) * 3) * ranges.bias,
        "thickness": float(rng.uniform(1.0, ranges.thickness)),
        "thickness_axis": int(rng.integers(0, 3)),
    }


def _rotation_matrix(degrees: np.ndarray) -> np.ndarray:
    a, b, c = np.deg2rad(degrees)
    rx = np.array([[1, 0, 0], [0, np.cos(a), -np.sin(a)], [0, np.sin(a), np.cos(a)]])
    ry = np.array([[np.cos(b), 0, np.sin(b)], [0, 1, 0], [-np.sin(b), 0, np.cos(b)]])
    rz = np.array([[np.cos(c), -np.sin(c), 0], [np.sin(c), np.cos(c), 0], [0, 0, 1]])
    return rx @ ry @ rz


@lru_cache(maxsize=16)
def _spline_matrix(points: int, size: int) -> np.ndarray:
    """(size, points) matrix of 1-D cubic-spline upsampling (``ndimage.zoom``, order 3)."""
    from scipy import ndimage  # imported on use: slow to import with silentscope.data

    columns = [
        ndimage.zoom(unit, size / points, order=3, mode="nearest", grid_mode=True)
        for unit in np.eye(points)
    ]
    return np.stack(columns, axis=1)


def _upsample(control: np.ndarray, size: int) -> np.ndarray:
    """A smooth field of ``size`` voxels a side from a coarse control grid (cubic spline).

    Tensor-product splines are separable: three small matrix products give what
    ``ndimage.zoom(control, order=3)`` gives, about 50 times faster.
    """
    m = _spline_matrix(control.shape[0], size)
    return np.einsum("ai,bj,ck,ijk->abc", m, m, m, control, optimize=True)


def sampling_grid(params: dict, size: int) -> np.ndarray:
    """Template coordinates (3, size, size, size) sampled by each output voxel.

    ``x -> A (x - c) + c + t + u(x)``: rotation and scaling about the centre ``c``, a shift
    ``t`` and the elastic displacement ``u``.
    """
    centre = (size - 1) / 2
    axis = np.arange(size, dtype=np.float32) - centre
    grid = np.stack(np.meshgrid(axis, axis, axis, indexing="ij")).reshape(3, -1)
    matrix = _rotation_matrix(params["rotation"]) / params["scale"][:, None]
    warped = (matrix @ grid).reshape(3, size, size, size) + centre
    warped += params["translation"][:, None, None, None]
    for a in range(3):
        warped[a] += _upsample(params["elastic"][a], size)
    return warped.astype(np.float32)


def render(params: dict, size: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One volume: image (size^3, float32 in [0, 1]), labels (uint8), warped probabilities."""
    from scipy import ndimage  # imported on use: slow to import with silentscope.data

    t1, probabilities, _ = template(size)
    grid = sampling_grid(params, size)
    warped = np.stack(
        [
            ndimage.map_coordinates(p, grid, order=1, mode="constant", cval=float(k == 0))
            for k, p in enumerate(probabilities)
        ]
    )
    labels = warped.argmax(axis=0).astype(np.uint8)
    image = ndimage.map_coordinates(t1, grid, order=1, mode="constant", cval=0.0)
    np.clip(image, 0, 1, out=image)
    image **= params["gamma"]
    image *= np.exp(_upsample(params["bias"], size))
    thickness = params["thickness"]
    if thickness > 1.01:
        # Thick slices: average over the slab (Gaussian of FWHM = thickness), keep every
        # thickness-th slice, interpolate back onto the grid.
        axis = params["thickness_axis"]
        image = ndimage.gaussian_filter1d(image, thickness / 2.355, axis=axis, mode="nearest")
        coarse = max(2, int(round(size / thickness)))
        positions = np.linspace(0, size - 1, coarse)
        kept = ndimage.map_coordinates(
            image, _axis_grid(image.shape, axis, positions), order=1, mode="nearest"
        )
        back = np.linspace(0, coarse - 1, size)
        image = ndimage.map_coordinates(
            kept, _axis_grid(kept.shape, axis, back), order=1, mode="nearest"
        )
    brain = labels > 0
    top = float(np.percentile(image[brain], 99.5)) if brain.any() else float(image.max())
    image /= max(top, 1e-6)
    np.clip(image, 0, 1, out=image)
    return image.astype(np.float32), labels, warped


def _axis_grid(shape: tuple[int, ...], axis: int, positions: np.ndarray) -> np.ndarray:
    """Coordinates that resample ``axis`` at ``positions`` and keep the other axes."""
    axes = [np.arange(n, dtype=np.float64) for n in shape]
    axes[axis] = positions
    return np.stack(np.meshgrid(*axes, indexing="ij"))


def _split(
    split: str, n: int, seeds: np.random.SeedSequence, size: int, ranges: DeformationRanges
) -> SegmentationSet:
    images = np.empty((n, size, size, size, 1), np.float32)
    labels = np.empty((n, size, size, size), np.uint8)
    rows = []
    for i, child in enumerate(seeds.spawn(n)):
        params = draw_parameters(np.random.default_rng(child), ranges, size)
        image, label, _ = render(params, size)
        images[i, ..., 0] = image
        labels[i] = label
        rows.append(_record(f"mni152_{split}_{i:04d}", split, params))
    metadata = pd.DataFrame(rows, columns=_COLUMNS)
    ids = tuple(metadata["volume_id"])
    spacing = (template(size)[2],) * 3
    return SegmentationSet(images, labels, CLASS_NAMES, metadata, ids, spacing)


_COLUMNS = [
    "volume_id",
    "patient_id",
    "split",
    "template",
    "rotation_d",
    "rotation_h",
    "rotation_w",
    "scale_d",
    "scale_h",
    "scale_w",
    "gamma",
    "bias_std",
    "slice_thickness",
    "thickness_axis",
]


def _record(volume_id: str, split: str, params: dict) -> list:
    return [
        volume_id,
        volume_id,  # each generated volume is its own "patient" (of one template anatomy)
        split,
        "MNI152NLin2009aSym",
        *np.round(params["rotation"], 3),
        *np.round(params["scale"], 4),
        round(params["gamma"], 4),
        round(float(params["bias"].std()), 4),
        round(params["thickness"], 3),
        "DHW"[params["thickness_axis"]],
    ]


@register_segmentation_dataset("mni152:tissue")
def make_mni152_tissue(
    size: int = 48,
    n_train: int = 40,
    n_val: int = 10,
    n_test: int = 20,
    seed: int = 0,
    rotation: float = 10.0,
    scaling: float = 0.1,
    translation: float = 0.03,
    elastic: float = 0.025,
    gamma: float = 0.2,
    bias: float = 0.1,
    thickness: float = 2.5,
) -> SegmentationSplits:
    """Generate the ``mni152:tissue`` splits: warped, re-imaged copies of the MNI152 brain.

    All volumes derive from one template anatomy (see the module docstring); the returned
    splits say so in ``caveats``.

    Parameters
    ----------
    size : int, default 48
        Voxels a side (8-128); 48 is about 4 mm isotropic, 64 about 3 mm.
    n_train, n_val, n_test : int
        Volumes per split. Each split draws from its own seed stream, so the test volumes of
        a seed do not change with ``n_train``.
    seed : int
        The same seed gives the same arrays.
    rotation, scaling, translation, elastic, gamma, bias, thickness : float
        Ranges of the per-volume changes (:class:`DeformationRanges`); all 0 (and
        thickness 1) gives the template itself.

    Returns
    -------
    SegmentationSplits
        Images (N, size, size, size, 1) in [0, 1]; uint8 labels with
        :data:`CLASS_NAMES`; metadata with the drawn parameters of each volume.

    Examples
    --------
    >>> splits = make_mni152_tissue(size=16, n_train=1, n_val=1, n_test=1, seed=3)
    >>> again = make_mni152_tissue(size=16, n_train=1, n_val=1, n_test=1, seed=3)
    >>> bool((splits.test.images == again.test.images).all())
    True
    """
    size = check_count("size", size, 8)
    if size > 128:
        raise DatasetError(f"size must be at most 128 voxels a side, got {size}")
    counts = [
        check_count(name, value)
        for name, value in (("n_train", n_train), ("n_val", n_val), ("n_test", n_test))
    ]
    seed = check_count("seed", seed)
    ranges = DeformationRanges(rotation, scaling, translation, elastic, gamma, bias, thickness)
    streams = np.random.SeedSequence(seed).spawn(3)
    sets = [
        _split(split, n, stream, size, ranges)
        for split, n, stream in zip(("train", "val", "test"), counts, streams, strict=True)
    ]
    info = {"source": str(template_folder()), "seed": seed, "size": size, **vars(ranges)}
    return SegmentationSplits(*sets, name="mni152:tissue", caveats=(CAVEAT,), info=info)


@register_segmentation_dataset("mni152:tissue2d")
def make_mni152_tissue_2d(
    size: int = 64,
    n_train: int = 80,
    n_val: int = 20,
    n_test: int = 40,
    seed: int = 0,
    rotation: float = 10.0,
    scaling: float = 0.1,
    translation: float = 0.03,
    elastic: float = 0.025,
    gamma: float = 0.2,
    bias: float = 0.1,
    thickness: float = 2.5,
) -> SegmentationSplits:
    """The 2-D form of ``mni152:tissue``: one axial slice of each generated volume.

    Each image is the axial slice, at a depth drawn uniformly from the central fifth of
    the volume (recorded as ``slice_index``), of its own volume generated as
    :func:`make_mni152_tissue` does, with the same options and the same caveat: all images
    derive from one template anatomy.

    Examples
    --------
    >>> splits = make_mni152_tissue_2d(size=16, n_train=2, n_val=1, n_test=1)
    >>> splits.train.images.shape, splits.ndim_spatial, splits.train.spacing
    ((2, 16, 16, 1), 2, (11.9375, 11.9375))
    """
    volumes = make_mni152_tissue(
        size, n_train, n_val, n_test, seed, rotation, scaling, translation, elastic, gamma,
        bias, thickness,
    )  # fmt: skip
    rng = np.random.default_rng(np.random.SeedSequence([seed, 2]))
    sets = []
    for _, part in volumes.items():
        low, high = int(round(0.4 * size)), int(round(0.6 * size))
        depth = rng.integers(low, max(high, low + 1), len(part))
        rows = np.arange(len(part))
        metadata = part.metadata.assign(slice_index=depth)
        sets.append(
            SegmentationSet(
                np.ascontiguousarray(part.images[rows, depth]),
                np.ascontiguousarray(part.labels[rows, depth]),
                part.class_names,
                metadata,
                part.ids,
                None if part.spacing is None else part.spacing[1:],
            )
        )
    info = {**volumes.info, "slices": "axial, central fifth"}
    return SegmentationSplits(*sets, name="mni152:tissue2d", caveats=(CAVEAT,), info=info)

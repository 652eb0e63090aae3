"""The corruption contract: one registered object per corruption, parameters drawn then applied.

Following TorchIO's split between ``make_params`` and ``apply_transform``, a corruption first
draws every random quantity for a batch (:meth:`Corruption.sample_params`: magnitudes,
per-image seeds, positions, angles) and then applies them (:meth:`Corruption.apply`). The
drawn parameters are plain arrays with one row per image, so they can be stored as JSON
next to each sample and replayed to reproduce the corrupted image exactly.

Spatial lengths (blur radii, mark sizes) are given in pixels of a
:data:`REFERENCE_SIZE` = 224 pixel image, the resolution at which ImageNet-C and
MedMNIST-C defined their constants, and are scaled by ``min(H, W) / 224`` when applied: the
same severity then means the same physical blur at every resolution (corrupting, then
downsampling, roughly equals downsampling, then corrupting; CIFAR-10-C scaled ImageNet-C's
constants in the same way). Scaled alone, mild blurs would vanish at small sizes
(MedMNIST-C's X-ray Gaussian blur, sigma 0.8-2.0 px at 224, is 0.1-0.25 px at 28 and
changed a 28-pixel image by 0.00 grey levels at every severity), so blurs are never made
smaller than the smallest visible kernel: :func:`visible_length` adds the offset that brings
the mildest level to that minimum and keeps the steps between severities.
``silentscope shifts preview`` shows what each severity does at a given size, and
:mod:`silentscope.shifts.effect` measures it before a study trains. Pixel-level
corruptions (noise, JPEG, pixelation, photometric changes, texture filters) act on the
stored pixels and are not rescaled. Positions are recorded as fractions of the image size.
"""

from __future__ import annotations

import numbers
import re
from collections.abc import Mapping, Sequence
from typing import ClassVar

import numpy as np

from silentscope.data.dataset import MODALITIES
from silentscope.shifts.severity import MAX_SEVERITY, draw_severities, level_values

#: Image size (pixels, shorter side) at which spatial constants are defined.
REFERENCE_SIZE = 224

_NAME = re.compile(r"^[a-z][a-z0-9_]*$")
_REGISTRY: dict[str, type[Corruption]] = {}


class Corruption:
    """Base class of a registered image corruption.

    Subclasses set the class attributes below and implement :meth:`_apply` (and
    :meth:`draw` when they need random quantities beyond a per-image seed).

    Attributes
    ----------
    name : str
        Registry name, also used in test-set names (``cor/<name>/<severity>``).
    family : str
        The module (family) the corruption belongs to.
    modalities : tuple of str
        Modalities whose default suite contains this corruption.
    levels : mapping
        ``{modality: {parameter: five magnitudes}}``; ``"generic"`` is required and used
        for modalities without their own table.
    identity : mapping
        ``{parameter: magnitude}`` that leaves the image unchanged (severity 0).
    inverse : frozenset of str
        Parameters interpolated on their reciprocal (identity ``inf``).
    integer : frozenset of str
        Parameters rounded to integers after interpolation (JPEG quality, counts).
    drawn : tuple of str
        Names of the extra per-image parameters returned by :meth:`draw`.
    stochastic : bool
        Whether each image gets its own ``seed`` for pixel-level randomness.
    channels : tuple of int
        Supported channel counts (1 = grey, 3 = RGB).
    volumes : bool
        Whether 3-D volumes (N, D, H, W, C) are supported besides 2-D images.
    no_volumes : str
        Why a 2-D-only corruption has no 3-D form (said when it is given volumes).
    """

    name: ClassVar[str] = ""
    family: ClassVar[str] = ""
    modalities: ClassVar[tuple[str, ...]] = ()
    levels: ClassVar[Mapping[str, Mapping[str, Sequence[float]]]] = {}
    identity: ClassVar[Mapping[str, float]] = {}
    inverse: ClassVar[frozenset[str]] = frozenset()
    integer: ClassVar[frozenset[str]] = frozenset()
    drawn: ClassVar[tuple[str, ...]] = ()
    stochastic: ClassVar[bool] = False
    channels: ClassVar[tuple[int, ...]] = (1, 3)
    volumes: ClassVar[bool] = False
    no_volumes: ClassVar[str] = "it is defined on 2-D images only"

    def __init__(self, modality: str = "generic"):
        if modality not in MODALITIES:
            raise ValueError(
                f"unknown modality {modality!r}; choose one of {', '.join(MODALITIES)}"
            )
        self.modality = modality

    def __repr__(self) -> str:
        return f"{type(self).__name__}(modality={self.modality!r})"

    @property
    def severity_levels(self) -> dict[str, tuple[float, ...]]:
        """The five magnitudes per parameter used for this instance's modality."""
        table = self.levels.get(self.modality, self.levels["generic"])
        return {key: tuple(values) for key, values in table.items()}

    @property
    def param_names(self) -> tuple[str, ...]:
        """Keys of the dict returned by :meth:`sample_params`."""
        seed = ("seed",) if self.stochastic else ()
        return ("severity", *self.levels["generic"], *seed, *self.drawn)

    def sample_params(self, rng: np.random.Generator, severity, n: int) -> dict[str, np.ndarray]:
        """Draw the parameters of ``n`` images.

        With a fixed generator state, raising the severity only raises the magnitudes:
        every other draw (seeds, positions, angles) is the same, so severities are
        comparable image by image.

        Parameters
        ----------
        rng : numpy.random.Generator
        severity : int or (float, float)
            An integer 0-5 or a range of severities to draw per image.
        n : int
            Number of images.

        Returns
        -------
        dict of str to array
            One row per image: ``severity``, the magnitudes, ``seed`` for stochastic
            corruptions and the extra draws named in :attr:`drawn`.
        """
        if not isinstance(rng, np.random.Generator):
            raise ValueError(f"rng must be a numpy.random.Generator, got {type(rng).__name__}")
        if not isinstance(n, numbers.Integral) or n < 0:
            raise ValueError(f"n must be a non-negative integer, got {n!r}")
        severities = draw_severities(rng, severity, int(n))
        params = {"severity": severities}
        for key, values in self.severity_levels.items():
            values = level_values(
                values, self.identity[key], severities, inverse=key in self.inverse
            )
            params[key] = np.rint(values).astype(np.int64) if key in self.integer else values
        if self.stochastic:
            params["seed"] = rng.integers(0, 2**31 - 1, size=n, dtype=np.int64)
        params.update(self.draw(rng, params, int(n)))
        return params

    def draw(self, rng: np.random.Generator, params: dict[str, np.ndarray], n: int) -> dict:
        """Extra per-image random parameters (none by default)."""
        return {}

    def apply(self, images: np.ndarray, params: Mapping[str, np.ndarray]) -> np.ndarray:
        """Apply drawn parameters to a batch of uint8 images.

        Parameters
        ----------
        images : array of uint8, shape (N, H, W, C) (or (N, D, H, W, C) for volumes)
        params : dict of str to array
            As returned by :meth:`sample_params` for ``N`` images (or rebuilt from records).

        Returns
        -------
        array of uint8, same shape as ``images``
            Images at severity 0 are returned unchanged.
        """
        images = check_images(images, self)
        params = self._check_params(params, len(images))
        active = params["severity"] > 0
        if len(images) == 0:
            return images.copy()
        if active.all():
            return self._apply(images, params)
        out = images.copy()
        if active.any():
            subset = {key: value[active] for key, value in params.items()}
            out[active] = self._apply(images[active], subset)
        return out

    def _apply(self, images: np.ndarray, params: dict[str, np.ndarray]) -> np.ndarray:
        raise NotImplementedError

    def _check_params(self, params: Mapping[str, np.ndarray], n: int) -> dict[str, np.ndarray]:
        if not isinstance(params, Mapping):
            raise ValueError(
                f"params for {self.name} must be the dict returned by sample_params, "
                f"got {type(params).__name__}"
            )
        missing = [key for key in self.param_names if key not in params]
        if missing:
            raise ValueError(
                f"params for {self.name} lack {', '.join(map(repr, missing))}; "
                "pass the dict returned by sample_params"
            )
        checked = {}
        for key in self.param_names:
            value = np.asarray(params[key])
            if value.ndim == 0 or len(value) != n:
                raise ValueError(
                    f"params[{key!r}] for {self.name} must have one row per image "
                    f"({n}), got shape {value.shape}"
                )
            checked[key] = value
        severity = checked["severity"].astype(float)
        if not np.all((severity >= 0) & (severity <= MAX_SEVERITY)):
            raise ValueError(f"params['severity'] for {self.name} must lie within 0-{MAX_SEVERITY}")
        checked["severity"] = severity
        return checked


def register(cls: type[Corruption]) -> type[Corruption]:
    """Class decorator adding a corruption to the registry under its exact ``name``."""
    if not _NAME.match(cls.name):
        raise ValueError(f"corruption name {cls.name!r} must be snake_case (a-z, 0-9, _)")
    if cls.name in _REGISTRY:
        raise ValueError(f"a corruption named {cls.name!r} is already registered")
    unknown = set(cls.modalities) - set(MODALITIES)
    if unknown:
        raise ValueError(f"{cls.name}: unknown modalities {sorted(unknown)}")
    if "generic" not in cls.levels:
        raise ValueError(f"{cls.name}: levels need a 'generic' table")
    keys = set(cls.levels["generic"])
    for modality, table in cls.levels.items():
        if set(table) != keys or any(len(v) != MAX_SEVERITY for v in table.values()):
            raise ValueError(
                f"{cls.name}: levels[{modality!r}] needs five values for {sorted(keys)}"
            )
    if set(cls.identity) != keys:
        raise ValueError(f"{cls.name}: identity must name exactly {sorted(keys)}")
    _REGISTRY[cls.name] = cls
    return cls


def check_images(images, corruption: Corruption | None = None, volumes: bool = False) -> np.ndarray:
    """Validate a uint8 batch (N, H, W, C), or (N, D, H, W, C) where volumes are supported.

    Volumes are supported where ``corruption`` has a 3-D form, or, without a corruption,
    when ``volumes`` is true (callers that check each corruption later).

    Examples
    --------
    >>> check_images(np.zeros((2, 8, 8, 1), np.uint8)).shape
    (2, 8, 8, 1)
    """
    images = np.ascontiguousarray(images)
    volumes = corruption.volumes if corruption is not None else volumes
    if images.dtype != np.uint8:
        raise ValueError(
            f"images must be uint8 (0-255), got {images.dtype}; scale them to 0-255 and "
            "cast with images.astype(np.uint8)"
        )
    if images.ndim == 5 and corruption is not None and not volumes:
        raise ValueError(
            f"{corruption.name} takes 2-D images (N, H, W, C) only, got volumes of shape "
            f"{images.shape} ({corruption.no_volumes}); choose a corruption marked 3-D in "
            "`silentscope shifts list`"
        )
    shapes = "(N, H, W, C) or (N, D, H, W, C)" if volumes else "(N, H, W, C)"
    if images.ndim not in ((4, 5) if volumes else (4,)) or images.shape[-1] not in (1, 3):
        raise ValueError(
            f"images must have shape {shapes} with C = 1 or 3, got {images.shape}; "
            "add a channel axis to grey images with images[..., None]"
        )
    if min(images.shape[1:-1]) < 4:
        raise ValueError(
            f"images must be at least 4 x 4 pixels (4 voxels a side for volumes), got {images.shape[1:-1]}"
        )
    if corruption is not None and images.shape[-1] not in corruption.channels:
        needs = (
            "RGB images (C = 3)" if corruption.channels == (3,) else f"C in {corruption.channels}"
        )
        raise ValueError(
            f"{corruption.name} needs {needs}, got C = {images.shape[-1]}; "
            "choose another corruption or convert the images"
        )
    return images


def spatial_scale(images: np.ndarray) -> float:
    """Factor from reference pixels (224-pixel image) to this image's pixels (or voxels).

    The shortest spatial side counts: H or W of an image, D, H or W of a volume.
    """
    return min(images.shape[1:-1]) / REFERENCE_SIZE


def visible_length(value: float, scale: float, mildest: float, minimum: float) -> float:
    """A reference length in this image's pixels, with the mildest level at least ``minimum``.

    ``value * scale``, plus, on images smaller than the reference where the mildest level
    would fall below ``minimum`` pixels (and blur nothing), the offset that lifts it to
    ``minimum``: every severity then blurs, and the steps between severities keep their
    scaled size. Values below the mildest level (fractional severities) get a proportional
    part of the offset, so severity 0 stays the identity.

    Parameters
    ----------
    value : float
        Length in reference (224-pixel) pixels.
    scale : float
        :func:`spatial_scale` of the images.
    mildest : float
        The severity-1 value of the corruption's table.
    minimum : float
        Smallest length in pixels that visibly changes an image.

    Examples
    --------
    >>> round(visible_length(0.8, 28 / 224, 0.8, 0.5), 3)  # X-ray Gaussian blur, severity 1
    0.5
    >>> round(visible_length(2.0, 28 / 224, 0.8, 0.5), 3)  # severity 5: the same step above
    0.65
    >>> visible_length(2.0, 1.0, 0.8, 0.5)  # at the reference size: unchanged
    2.0
    """
    scaled = value * scale
    if scale >= 1 or mildest <= 0:
        return scaled
    offset = max(0.0, minimum - mildest * scale)
    return scaled + offset * min(1.0, value / mildest)


def to_float(images: np.ndarray) -> np.ndarray:
    """uint8 images as float32 in [0, 1]."""
    return images.astype(np.float32) * np.float32(1 / 255)


def to_uint8(values: np.ndarray) -> np.ndarray:
    """float images in [0, 1] as uint8, rounded to nearest and clipped (modifies its input)."""
    values *= 255
    values += 0.5
    np.clip(values, 0, 255, out=values)
    return values.astype(np.uint8)

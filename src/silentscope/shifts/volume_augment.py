"""Corruptions on float volumes: training augmentations and test-set corruption for segmentation.

Segmentation images are float arrays in [0, 1], (B, D, H, W, C) volumes or (B, H, W, C)
images (:class:`~silentscope.data.segmentation.SegmentationSet`). The registered corruptions
work on uint8; :func:`corrupt_float` quantises the selected volumes to 256 levels, corrupts
them and scales them back, and records the drawn parameters per volume like
:func:`~silentscope.shifts.corrupt` does.

Three training variants of the texture-filter study (Chai, Rueckert and Fetit, MIUA 2021)
are built from named corruption lists:

- **baseline**: no intensity augmentation;
- **texture filters**: :func:`texture_filter_augmentation`, one of
  :data:`TEXTURE_FILTERS` (anisotropic diffusion, bilateral filter, texture noise, Sobel
  edges) per augmented volume, in 3-D;
- **generic intensity augmentation**: :func:`intensity_augmentation`, one of
  :data:`GENERIC_INTENSITY` (Gaussian noise and blur, brightness, contrast, gamma: the
  intensity part of nnU-Net's default augmentation) per augmented volume.

None of them uses the MRI artifacts of :data:`MRI_TEST_CORRUPTIONS`, which are kept for the
unseen-shift test sets.

Examples
--------
>>> import numpy as np
>>> augment = texture_filter_augmentation(p=1.0)
>>> batch = np.random.default_rng(0).random((2, 8, 12, 12, 1), dtype=np.float32)
>>> out, records = augment.augment(batch, np.random.default_rng(0))
>>> out.shape, out.dtype, records[0]["corruption"] in TEXTURE_FILTERS
((2, 8, 12, 12, 1), dtype('float32'), True)
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from silentscope.shifts.base import Corruption
from silentscope.shifts.corruption_augment import TEXTURE_FILTERS
from silentscope.shifts.registry import get_corruption
from silentscope.shifts.severity import severity_range

#: The intensity augmentations of nnU-Net's default pipeline, as registered corruptions.
GENERIC_INTENSITY = (
    "gaussian_noise",
    "gaussian_blur",
    "brightness_up",
    "brightness_down",
    "contrast_up",
    "contrast_down",
    "gamma_corr_up",
    "gamma_corr_down",
)
#: MRI acquisition artifacts kept out of training: the unseen test shifts.
MRI_TEST_CORRUPTIONS = (
    "rician_noise",
    "kspace_motion",
    "ghosting",
    "kspace_spike",
    "gibbs_ringing",
    "bias_field",
)

__all__ = [
    "GENERIC_INTENSITY",
    "MRI_TEST_CORRUPTIONS",
    "TEXTURE_FILTERS",
    "VolumeAugmentation",
    "corrupt_float",
    "intensity_augmentation",
    "texture_filter_augmentation",
]


def _check_float(images) -> np.ndarray:
    images = np.asarray(images)
    if images.ndim not in (4, 5) or not np.issubdtype(images.dtype, np.floating):
        raise ValueError(
            f"images must be a float array (B, D, H, W, C) or (B, H, W, C), got {images.dtype} "
            f"of shape {images.shape}"
        )
    if images.size and (float(images.min()) < 0 or float(images.max()) > 1):
        raise ValueError(
            f"images must lie in [0, 1] to be corrupted (they span {float(images.min()):.3g} to "
            f"{float(images.max()):.3g}); scale them first, e.g. load folders with "
            "intensity='percentile'"
        )
    return images


def corrupt_float(
    images: np.ndarray,
    name: str | Corruption,
    severity,
    rng: np.random.Generator,
    modality: str = "mri",
) -> tuple[np.ndarray, list[dict]]:
    """Corrupt float images or volumes in [0, 1] with a registered corruption.

    Parameters
    ----------
    images : float array (N, D, H, W, C) or (N, H, W, C), values in [0, 1]
    name : str or Corruption
    severity : int or (float, float)
        0-5, or a range to draw one real severity per volume.
    rng : numpy.random.Generator
        Source of every draw; the same state gives the same output.
    modality : str, default "mri"
        Selects the corruption's severity levels.

    Returns
    -------
    corrupted : float32 array, same shape, in [0, 1] (256 levels)
    records : list of dict
        The drawn parameters of each volume (as :func:`~silentscope.shifts.corrupt`).

    Examples
    --------
    >>> volumes = np.full((1, 8, 8, 8, 1), 0.5, np.float32)
    >>> noisy, records = corrupt_float(volumes, "rician_noise", 5, np.random.default_rng(0))
    >>> bool(noisy.std() > 0.05), records[0]["sigma"]
    (True, 0.12)
    """
    from silentscope.shifts.apply import corrupt

    images = _check_float(images)
    quantised = np.rint(images * 255).astype(np.uint8)
    corrupted, records = corrupt(quantised, name, severity, rng, modality=modality)
    return corrupted.astype(np.float32) * np.float32(1 / 255), records


class VolumeAugmentation:
    """Corrupt a random part of each float batch, one random corruption and severity each.

    Parameters
    ----------
    names : sequence of str
        Registered corruptions with a 3-D form, drawn uniformly per augmented volume.
    severity : (float, float), default (1.0, 5.0)
        Range of the real severity drawn per augmented volume.
    p : float, default 0.5
        Probability that a volume is augmented; the others pass unchanged (not quantised).
    modality : str, default "mri"
        Selects the corruptions' severity levels.

    name : str, default "volume_augmentation"
        Provenance name (what training records list).

    Call it as ``augmentation(images, rng)`` for the augmented batch, or
    ``augmentation.augment(images, rng)`` for the batch and one record per volume (None
    for volumes left unchanged). All randomness comes from ``rng``. It is also a training
    augmentation of :class:`~silentscope.segmentation.SegmentationTrainer`:
    ``augmentation(x, generator)`` on a torch batch (B, C, D, H, W) (or (B, C, H, W)) in
    [0, 1] with a ``torch.Generator`` draws a NumPy seed from the generator and returns a
    tensor of the input's dtype and device.

    Examples
    --------
    >>> import torch
    >>> augment = texture_filter_augmentation(p=1.0)
    >>> x = torch.rand(2, 1, 8, 8, 8)
    >>> out = augment(x, torch.Generator().manual_seed(0))
    >>> out.shape, out.dtype, bool((out != x).any()), augment.name
    (torch.Size([2, 1, 8, 8, 8]), torch.float32, True, 'texture_filters')
    """

    def __init__(
        self,
        names: Sequence[str],
        severity=(1.0, 5.0),
        p: float = 0.5,
        modality: str = "mri",
        name: str = "volume_augmentation",
    ):
        if isinstance(names, str) or len(names) == 0:
            raise ValueError("names must be a non-empty list of corruption names")
        if not 0.0 <= p <= 1.0:
            raise ValueError(f"p must be a probability in [0, 1], got {p!r}")
        self.names = tuple(names)
        self.name = name
        self.severity = severity_range(severity)
        self.p = p
        self.modality = modality
        self.corruptions = [get_corruption(name, modality) for name in self.names]
        flat = [c.name for c in self.corruptions if not c.volumes]
        if flat:
            raise ValueError(
                f"{flat[0]} has no 3-D form and cannot augment volumes; choose corruptions marked "
                "3-D in `silentscope shifts list`"
            )

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(names={list(self.names)}, severity={self.severity}, "
            f"p={self.p}, modality={self.modality!r})"
        )

    def __call__(self, images, rng):
        if type(images).__module__.split(".")[0] == "torch":
            return self._torch(images, rng)
        return self.augment(images, rng)[0]

    def _torch(self, x, generator):
        import torch

        if isinstance(generator, torch.Generator):
            rng = np.random.default_rng(int(torch.randint(0, 2**62, (1,), generator=generator)))
        elif isinstance(generator, np.random.Generator):
            rng = generator
        else:
            raise ValueError(
                f"pass a torch.Generator or numpy.random.Generator, got {type(generator).__name__}"
            )
        if x.ndim not in (4, 5):
            raise ValueError(
                f"torch batches must have shape (B, C, D, H, W) or (B, C, H, W), got {tuple(x.shape)}"
            )
        channels_last = x.detach().to("cpu", torch.float32).movedim(1, -1).numpy()
        out = torch.from_numpy(self.augment(channels_last, rng)[0]).movedim(-1, 1)
        return out.to(device=x.device, dtype=x.dtype).contiguous()

    def augment(
        self, images: np.ndarray, rng: np.random.Generator
    ) -> tuple[np.ndarray, list[dict | None]]:
        """The augmented batch (float32) and the drawn parameters of each volume."""
        if not isinstance(rng, np.random.Generator):
            raise ValueError(f"rng must be a numpy.random.Generator, got {type(rng).__name__}")
        images = _check_float(images)
        n = len(images)
        chosen = np.flatnonzero(rng.random(n) < self.p)
        which = rng.integers(0, len(self.corruptions), len(chosen))
        out = images.astype(np.float32, copy=True)
        records: list[dict | None] = [None] * n
        for j, corruption in enumerate(self.corruptions):
            rows = chosen[which == j]
            if len(rows):
                out[rows], drawn = corrupt_float(
                    images[rows], corruption, self.severity, rng, self.modality
                )
                for row, record in zip(rows, drawn, strict=True):
                    records[row] = record
        return out, records

    def describe(self) -> str:
        """A short provenance string, e.g. ``texture:anisotropic_diffusion+...:1-5:p=0.5``."""
        low, high = self.severity
        return f"{'+'.join(self.names)}:{low:g}-{high:g}:p={self.p:g}"


def texture_filter_augmentation(
    names: Sequence[str] = TEXTURE_FILTERS, severity=(1.0, 5.0), p: float = 0.5
) -> VolumeAugmentation:
    """The texture-filter training augmentation (Chai, Rueckert and Fetit, MIUA 2021), in 3-D.

    Each volume is, with probability ``p``, filtered by one of the texture filters
    (anisotropic diffusion, bilateral filter, texture noise, Sobel edges) at a severity
    drawn from ``severity``: texture is flattened or replaced while shapes stay, so the
    network learns from shape.

    Examples
    --------
    >>> augment = texture_filter_augmentation(p=0.5)
    >>> batch = np.random.default_rng(1).random((4, 8, 8, 8, 1), dtype=np.float32)
    >>> out = augment(batch, np.random.default_rng(0))
    >>> int(sum(not np.array_equal(a, b) for a, b in zip(out, batch)))  # about half augmented
    3
    """
    unknown = [name for name in names if name not in TEXTURE_FILTERS]
    if unknown:
        raise ValueError(
            f"{unknown[0]!r} is not a texture filter; choose from {', '.join(TEXTURE_FILTERS)}"
        )
    return VolumeAugmentation(names, severity, p, name="texture_filters")


def intensity_augmentation(
    names: Sequence[str] = GENERIC_INTENSITY, severity=(1.0, 5.0), p: float = 0.5
) -> VolumeAugmentation:
    """Generic intensity augmentation: noise, blur, brightness, contrast or gamma, per volume.

    The comparison arm of the texture-filter study: the intensity transforms of nnU-Net's
    default augmentation, drawn from :data:`GENERIC_INTENSITY`, with the same ``p`` and
    severity range as :func:`texture_filter_augmentation`.

    Examples
    --------
    >>> augment = intensity_augmentation(p=1.0)
    >>> out, records = augment.augment(np.full((2, 8, 8, 8, 1), 0.5, np.float32),
    ...                                np.random.default_rng(0))
    >>> [r["corruption"] in GENERIC_INTENSITY for r in records]
    [True, True]
    """
    texture = [name for name in names if name in TEXTURE_FILTERS or name in MRI_TEST_CORRUPTIONS]
    if texture:
        raise ValueError(
            f"{texture[0]!r} is a texture filter or an MRI test corruption, not a generic intensity "
            "augmentation; keep the study's arms apart"
        )
    return VolumeAugmentation(names, severity, p, name="generic_intensity")

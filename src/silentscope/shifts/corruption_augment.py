"""Corruptions as a training augmentation, applied to whole numpy or torch batches.

The default draws from the texture filters of Chai, Rueckert and Fetit (MIUA 2021), whose
training-time use made segmentation models texture-invariant and robust to unseen noise;
any registered corruption can be used (MedMNIST-C's augmentation draws from its whole
corruption list in the same way).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from silentscope.shifts.base import check_images
from silentscope.shifts.registry import get_corruption
from silentscope.shifts.severity import severity_range

#: The texture filters (:mod:`silentscope.shifts.texture`).
TEXTURE_FILTERS = ("anisotropic_diffusion", "bilateral_filter", "texture_noise", "sobel_edges")


class CorruptionAugment:
    """Corrupt a random subset of each batch, one random corruption and severity per image.

    Parameters
    ----------
    names : sequence of str, default: the four texture filters
        Registered corruptions to draw from, uniformly.
    severity : (float, float), default (1.0, 5.0)
        Range from which each corrupted image draws a real severity.
    p : float, default 0.5
        Probability that an image is corrupted; the rest pass unchanged.
    modality : str, default "generic"
        Selects each corruption's severity levels.
    random_state : int, default 0
        Seeds the generator created here; successive calls continue its stream, so a
        training run is reproducible while every batch gets new draws.

    Examples
    --------
    >>> augment = CorruptionAugment(p=1.0, random_state=0)
    >>> batch = np.random.default_rng(0).integers(0, 256, (4, 32, 32, 1), dtype=np.uint8)
    >>> out = augment(batch)
    >>> out.shape, out.dtype, bool((out != batch).any())
    ((4, 32, 32, 1), dtype('uint8'), True)
    >>> import torch
    >>> tensor = torch.rand(2, 3, 16, 16)  # (N, C, H, W) floats in [0, 1]
    >>> augment(tensor).shape
    torch.Size([2, 3, 16, 16])
    """

    def __init__(
        self,
        names: Sequence[str] = TEXTURE_FILTERS,
        severity=(1.0, 5.0),
        p: float = 0.5,
        modality: str = "generic",
        random_state: int = 0,
    ):
        if isinstance(names, str) or len(names) == 0:
            raise ValueError(
                "names must be a non-empty list of corruption names, e.g. ['sobel_edges']"
            )
        if not 0.0 <= p <= 1.0:
            raise ValueError(f"p must be a probability in [0, 1], got {p!r}")
        self.names = tuple(names)
        self.severity = severity_range(severity)
        self.p = p
        self.modality = modality
        self.random_state = random_state
        self.corruptions_ = [get_corruption(name, modality) for name in self.names]
        self.rng_ = np.random.default_rng(random_state)

    def __call__(self, images):
        """Augment a batch: uint8 numpy (N, H, W, C), or a torch tensor (N, C, H, W).

        Torch tensors may be uint8 or float in [0, 1]; floats are quantised to 256 levels
        for the corruption and returned as floats of the same dtype and device.
        """
        if type(images).__module__.split(".")[0] == "torch":
            return self._torch(images)
        images = check_images(images)
        n = len(images)
        chosen = np.flatnonzero(self.rng_.random(n) < self.p)
        which = self.rng_.integers(0, len(self.corruptions_), len(chosen))
        out = images.copy()
        for j, corruption in enumerate(self.corruptions_):
            rows = chosen[which == j]
            if len(rows):
                params = corruption.sample_params(self.rng_, self.severity, len(rows))
                out[rows] = corruption.apply(images[rows], params)
        return out

    def _torch(self, tensor):
        import torch

        if tensor.ndim != 4 or tensor.shape[1] not in (1, 3):
            raise ValueError(
                f"torch batches must have shape (N, C, H, W) with C = 1 or 3, got {tuple(tensor.shape)}"
            )
        is_float = tensor.dtype.is_floating_point
        array = tensor.detach().cpu()
        if is_float:
            array = (array.clamp(0, 1) * 255).round().to(torch.uint8)
        elif tensor.dtype != torch.uint8:
            raise ValueError(f"torch batches must be uint8 or float in [0, 1], got {tensor.dtype}")
        result = torch.from_numpy(self(array.permute(0, 2, 3, 1).numpy())).permute(0, 3, 1, 2)
        if is_float:
            result = result.to(tensor.dtype) / 255
        return result.contiguous().to(tensor.device)

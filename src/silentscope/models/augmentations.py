"""Training augmentations on float image batches, registered by exact name.

An augmentation is called as ``aug(x, generator) -> x`` on a batch (B, C, H, W) in
[0, 1]; all randomness comes from ``generator``, so training is reproducible and a
resumed run draws the same augmentations. Work is vectorised over the batch.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Protocol

import numpy as np
import torch
from torch.nn import functional

from silentscope.shifts.apply import corrupt as corrupt_batch

AUGMENTATIONS: dict[str, type] = {}

#: Augmentations used when ``augment="default"``, by dataset modality. Left-right flips
#: are left out for radiographs and tomography, where laterality is anatomy.
DEFAULTS_BY_MODALITY = {
    "xray": ("shift",),
    "ct": ("shift",),
    "mri": ("shift",),
    "dermatoscopy": ("hflip", "vflip", "shift"),
    "histology": ("hflip", "vflip", "shift"),
    "fundus": ("hflip", "shift"),
    "generic": ("hflip", "shift"),
}


class Augmentation(Protocol):
    def __call__(self, x: torch.Tensor, generator: torch.Generator) -> torch.Tensor: ...


def register_augmentation(name: str):
    """Class decorator adding an augmentation to :data:`AUGMENTATIONS` under ``name``."""

    def decorator(cls):
        if name in AUGMENTATIONS:
            raise ValueError(f"augmentation {name!r} is already registered")
        AUGMENTATIONS[name] = cls
        cls.name = name
        return cls

    return decorator


def _coin(x: torch.Tensor, p: float, generator: torch.Generator) -> torch.Tensor:
    return (torch.rand(x.shape[0], generator=generator) < p).to(x.device)[:, None, None, None]


@register_augmentation("hflip")
class HorizontalFlip:
    """Mirror left-right with probability ``p``.

    Examples
    --------
    >>> x = torch.arange(4.0).view(1, 1, 1, 4)
    >>> HorizontalFlip(p=1.0)(x, torch.Generator()).flatten().tolist()
    [3.0, 2.0, 1.0, 0.0]
    """

    def __init__(self, p: float = 0.5):
        self.p = p

    def __call__(self, x: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        return torch.where(_coin(x, self.p, generator), x.flip(3), x)


@register_augmentation("vflip")
class VerticalFlip:
    """Mirror top-bottom with probability ``p``.

    Examples
    --------
    >>> x = torch.arange(3.0).view(1, 1, 3, 1)
    >>> VerticalFlip(p=1.0)(x, torch.Generator()).flatten().tolist()
    [2.0, 1.0, 0.0]
    """

    def __init__(self, p: float = 0.5):
        self.p = p

    def __call__(self, x: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        return torch.where(_coin(x, self.p, generator), x.flip(2), x)


@register_augmentation("shift")
class RandomShift:
    """Translate each image by up to ``fraction`` of its side in x and y (edge padding).

    Examples
    --------
    >>> x = torch.rand(4, 1, 28, 28)
    >>> RandomShift(0.1)(x, torch.Generator().manual_seed(0)).shape
    torch.Size([4, 1, 28, 28])
    """

    def __init__(self, fraction: float = 0.1):
        if not 0 <= fraction < 0.5:
            raise ValueError(f"shift fraction must be in [0, 0.5), got {fraction}")
        self.fraction = fraction

    def __call__(self, x: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        b, _, h, w = x.shape
        s = int(round(self.fraction * min(h, w)))
        if s == 0:
            return x
        padded = functional.pad(x, (s, s, s, s), mode="replicate")
        dy = torch.randint(0, 2 * s + 1, (b,), generator=generator).to(x.device)
        dx = torch.randint(0, 2 * s + 1, (b,), generator=generator).to(x.device)
        rows = (dy[:, None] + torch.arange(h, device=x.device))[:, :, None]
        cols = (dx[:, None] + torch.arange(w, device=x.device))[:, None, :]
        batch = torch.arange(b, device=x.device)[:, None, None]
        # Advanced indexing moves the channel axis last: (B, H, W, C).
        return padded.permute(0, 2, 3, 1)[batch, rows, cols].permute(0, 3, 1, 2).contiguous()


@register_augmentation("corruption")
class CorruptionAugmentation:
    """Apply a corruption of the shift suite to a random part of each batch.

    The hook for training with the texture-filter augmentation of Chai, Rueckert and
    Fetit (2021), or any corruption registered in :mod:`silentscope.shifts`: each image
    is corrupted with probability ``p`` at a severity drawn from ``severities``, seeded
    from the training generator.

    Parameters
    ----------
    corruption : str
        Registered corruption name.
    severities : sequence of int, default (1, 2, 3)
    p : float, default 0.5
    modality : str, default "generic"
        Selects the modality's severity levels.
    corrupt : callable, optional
        ``corrupt(images_uint8, name, severity, seed, modality=...) -> (images, params)``;
        by default :func:`silentscope.shifts.apply.corrupt`.

    Examples
    --------
    >>> def invert(images, name, severity, seed, modality="generic"):
    ...     return 255 - images, [{}] * len(images)
    >>> aug = CorruptionAugmentation("invert", p=1.0, corrupt=invert)
    >>> aug(torch.zeros(2, 1, 4, 4), torch.Generator()).min().item()
    1.0
    """

    def __init__(
        self,
        corruption: str,
        severities: Sequence[int] = (1, 2, 3),
        p: float = 0.5,
        modality: str = "generic",
        corrupt: Callable | None = None,
    ):
        if not 0 <= p <= 1 or not severities:
            raise ValueError(
                f"p must be in [0, 1] and severities non-empty, got p={p}, severities={severities}"
            )
        self.corruption = corruption
        self.modality = modality
        self.severities = tuple(int(s) for s in severities)
        self.p = p
        self._corrupt = corrupt

    def _corrupt_fn(self) -> Callable:
        return self._corrupt if self._corrupt is not None else corrupt_batch

    def __call__(self, x: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        chosen = torch.nonzero(torch.rand(x.shape[0], generator=generator) < self.p).flatten()
        if len(chosen) == 0:
            return x
        severity = self.severities[
            int(torch.randint(len(self.severities), (1,), generator=generator))
        ]
        seed = int(torch.randint(2**31 - 1, (1,), generator=generator))
        chosen = chosen.to(x.device)
        images = (x[chosen].permute(0, 2, 3, 1) * 255.0).round().clamp(0, 255).byte().cpu().numpy()
        corrupted, _ = self._corrupt_fn()(
            images, self.corruption, severity, seed, modality=self.modality
        )
        corrupted = torch.from_numpy(np.ascontiguousarray(corrupted)).to(x.device)
        if corrupted.ndim == 3:
            corrupted = corrupted[..., None]
        out = x.clone()
        out[chosen] = corrupted.permute(0, 3, 1, 2).float() / 255.0
        return out


def build_augmentations(augment, modality: str = "generic") -> list[Augmentation]:
    """Resolve ``augment`` to a list of augmentation callables.

    Parameters
    ----------
    augment : None, "none", "default", or sequence of names / callables
        ``default`` picks per modality (:data:`DEFAULTS_BY_MODALITY`).
    modality : str

    Examples
    --------
    >>> [type(a).__name__ for a in build_augmentations("default", "xray")]
    ['RandomShift']
    >>> build_augmentations(None)
    []
    """
    if augment is None or (isinstance(augment, str) and augment == "none"):
        return []
    if isinstance(augment, str) and augment == "default":
        augment = DEFAULTS_BY_MODALITY.get(modality, DEFAULTS_BY_MODALITY["generic"])
    elif isinstance(augment, str):
        augment = (augment,)
    resolved = []
    for item in augment:
        if isinstance(item, str):
            if item not in AUGMENTATIONS or item == "corruption":
                names = sorted(set(AUGMENTATIONS) - {"corruption"})
                raise ValueError(
                    f"unknown augmentation {item!r}; choose from {', '.join(names)}, 'default' or "
                    "'none' (a corruption augmentation is passed as CorruptionAugmentation(name))"
                )
            resolved.append(AUGMENTATIONS[item]())
        elif callable(item):
            resolved.append(item)
        else:
            raise ValueError(f"an augmentation must be a name or a callable, got {item!r}")
    return resolved


def describe_augmentations(augmentations: Sequence[Augmentation]) -> list[str]:
    """Readable names of augmentations, for provenance."""
    names = []
    for aug in augmentations:
        name = getattr(aug, "name", type(aug).__name__)
        if isinstance(aug, CorruptionAugmentation):
            name = f"corruption:{aug.corruption}:{list(aug.severities)}:p={aug.p}"
        names.append(name)
    return names

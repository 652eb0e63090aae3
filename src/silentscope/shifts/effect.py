"""Check, before any training, that every corruption test set really changes the images.

A blur whose radius is below a pixel at the data's image size, or a mark smaller than a
pixel, leaves the images as they were: ``cor/<name>/<severity>`` would then be the iid set
again, reported as a shift. :func:`measure_effects` corrupts a few images at each requested
severity and measures the change (mean absolute difference, grey levels);
:class:`CorruptionEffect` says which severities are negligible
(:func:`~silentscope.audit.is_negligible_shift`) or no stronger than the one below.
"""

from __future__ import annotations

import zlib
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from silentscope.audit.shift_change import NEGLIGIBLE_CHANGE, image_change, is_negligible_shift
from silentscope.shifts.apply import corrupt
from silentscope.shifts.base import check_images
from silentscope.shifts.registry import get_corruption


class NegligibleShiftWarning(UserWarning):
    """A corruption test set that would barely change the images (left out, or not graded)."""


#: A severity must change the images by at least this much more than the one below it
#: (grey levels) to count as stronger.
MIN_STEP = 0.05


@dataclass(frozen=True)
class CorruptionEffect:
    """The measured change of one corruption at each requested severity.

    Attributes
    ----------
    name : str
    severities : tuple of int
    changes : tuple of float
        Mean absolute difference from the clean images, grey levels, per severity.
    image_size : tuple of int
        (height, width) of the images, or (depth, height, width) of the volumes, measured.
    """

    name: str
    severities: tuple[int, ...]
    changes: tuple[float, ...]
    image_size: tuple[int, ...]

    @property
    def negligible(self) -> tuple[int, ...]:
        """Severities whose change is negligible: their test set would be the clean one."""
        return tuple(
            s for s, c in zip(self.severities, self.changes, strict=True) if is_negligible_shift(c)
        )

    @property
    def not_increasing(self) -> tuple[tuple[int, int], ...]:
        """Pairs (lower, higher) of consecutive requested severities where the change does not grow."""
        pairs = zip(
            self.severities, self.severities[1:], self.changes, self.changes[1:], strict=False
        )
        return tuple((a, b) for a, b, ca, cb in pairs if cb < ca + MIN_STEP)

    @property
    def useless(self) -> bool:
        """Whether no requested severity changes the images."""
        return len(self.negligible) == len(self.severities)

    def describe(self) -> str:
        """The changes, e.g. ``gaussian_blur at 28x28: 0.00, 0.00 grey levels at severities 1, 5``."""
        values = ", ".join(f"{c:.2f}" for c in self.changes)
        return (
            f"{self.name} at {'x'.join(map(str, self.image_size))} "
            f"{'px' if len(self.image_size) == 2 else 'voxels'} changes the images by "
            f"{values} grey levels at severities {', '.join(map(str, self.severities))}"
        )

    def problem(self) -> str | None:
        """One sentence on what is wrong (with the fix), or None when every severity shifts."""
        fix = "use larger images (e.g. the dataset option size=64) or leave this corruption out"
        if self.negligible:
            which = ", ".join(map(str, self.negligible))
            verb = "severity {} is" if len(self.negligible) == 1 else "severities {} are"
            return (
                f"{self.describe()}: {verb.format(which)} under {NEGLIGIBLE_CHANGE} grey "
                f"levels, the clean test set again, not a shift; {fix}"
            )
        if self.not_increasing:
            pairs = ", ".join(f"{a}->{b}" for a, b in self.not_increasing)
            return (
                f"{self.describe()}: severity {pairs} does not change them more, so those test "
                "sets measure the same shift"
            )
        return None


def measure_effects(
    images: np.ndarray,
    names: Sequence[str],
    severities: Sequence[int],
    modality: str = "generic",
    seed: int = 0,
) -> list[CorruptionEffect]:
    """Corrupt ``images`` with each corruption at each severity and measure the change.

    Meant as a cheap check on a few (8-16) validation images before training.

    Parameters
    ----------
    images : array of uint8, shape (N, H, W, C), or volumes (N, D, H, W, C)
    names : sequence of str
        Registered corruption names (with a 3-D form, for volumes).
    severities : sequence of int
    modality : str, default "generic"
        Whose severity levels to use.
    seed : int, default 0

    Returns
    -------
    list of CorruptionEffect, one per name

    Examples
    --------
    >>> images = np.random.default_rng(0).integers(0, 256, (4, 28, 28, 1), dtype=np.uint8)
    >>> effect = measure_effects(images, ["gaussian_noise"], [1, 5], "xray")[0]
    >>> effect.changes[0] < effect.changes[1], effect.problem() is None
    (True, True)
    """
    images = check_images(images, volumes=True)
    effects = []
    for name in names:
        corruption = get_corruption(name, modality)
        changes = []
        for severity in severities:
            rng = np.random.default_rng([seed, zlib.crc32(name.encode())])
            corrupted, _ = corrupt(images, corruption, int(severity), rng)
            changes.append(round(float(image_change(images, corrupted).mean()), 3))
        effects.append(
            CorruptionEffect(
                name, tuple(int(s) for s in severities), tuple(changes), tuple(images.shape[1:-1])
            )
        )
    return effects

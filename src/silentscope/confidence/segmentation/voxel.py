"""Per-voxel confidence maps of a segmentation network, registered by exact name.

Every map is a *confidence* (higher = more confident), computed per voxel from the softmax
probabilities ``p`` (K classes) of the deterministic pass and, for the MC-dropout maps,
from M stochastic passes ``p_1..p_M`` with mean ``p_bar``:

``msr``
    Maximum softmax response, ``max_k p_k``.
``pe``
    Negative predictive entropy of the deterministic softmax, ``sum_k p_k log p_k``.
``mcd_entropy``
    Negative entropy of the MC-averaged softmax, ``sum_k p_bar_k log p_bar_k``.
``mcd_mi``
    Negative mutual information between the prediction and the dropout masks,
    ``-(H(p_bar) - mean_m H(p_m))`` (the BALD score; Gal et al. 2017).

Entropies use the natural logarithm, with ``0 log 0 = 0``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np


def entropy(probabilities: np.ndarray, axis: int = 0) -> np.ndarray:
    """Shannon entropy (nats) along ``axis``, with ``0 log 0 = 0``.

    Examples
    --------
    >>> entropy(np.array([[0.5, 1.0], [0.5, 0.0]])).round(4).tolist()
    [0.6931, 0.0]
    """
    p = np.asarray(probabilities, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        terms = np.where(p > 0, p * np.log(np.where(p > 0, p, 1.0)), 0.0)
    return -terms.sum(axis=axis) + 0.0  # + 0.0 turns -0.0 into 0.0


@dataclass(frozen=True)
class VoxelInputs:
    """What the voxel maps of one volume are computed from.

    Attributes
    ----------
    probabilities : ndarray (K, *spatial)
        Softmax of the deterministic pass.
    mc_mean : ndarray (K, *spatial), optional
        Softmax averaged over the M MC-dropout passes.
    mc_expected_entropy : ndarray (*spatial), optional
        ``mean_m H(p_m)``, the mean entropy of the M passes.
    """

    probabilities: np.ndarray
    mc_mean: np.ndarray | None = None
    mc_expected_entropy: np.ndarray | None = None

    @property
    def has_mc(self) -> bool:
        return self.mc_mean is not None and self.mc_expected_entropy is not None


@dataclass(frozen=True)
class VoxelCSF:
    """A registered per-voxel confidence: its name, what it needs, and how it is computed."""

    name: str
    display_name: str
    needs_mc: bool
    function: Callable[[VoxelInputs], np.ndarray]
    description: str

    def __call__(self, inputs: VoxelInputs) -> np.ndarray:
        if self.needs_mc and not inputs.has_mc:
            raise ValueError(
                f"voxel confidence {self.name!r} needs MC-dropout passes; run inference with mc_samples > 0"
            )
        return np.asarray(self.function(inputs), dtype=np.float64)


def _msr(inputs: VoxelInputs) -> np.ndarray:
    return inputs.probabilities.max(axis=0)


def _pe(inputs: VoxelInputs) -> np.ndarray:
    return -entropy(inputs.probabilities)


def _mcd_entropy(inputs: VoxelInputs) -> np.ndarray:
    return -entropy(inputs.mc_mean)


def _mcd_mi(inputs: VoxelInputs) -> np.ndarray:
    # H(mean) >= mean H by concavity; float error can make it a hair negative.
    return -np.maximum(entropy(inputs.mc_mean) - inputs.mc_expected_entropy, 0.0)


#: Per-voxel confidences by exact name, in display order.
VOXEL_CSFS: dict[str, VoxelCSF] = {
    c.name: c
    for c in (
        VoxelCSF("msr", "MSR", False, _msr, "maximum softmax response max_k p_k"),
        VoxelCSF("pe", "PE", False, _pe, "negative predictive entropy of the softmax"),
        VoxelCSF(
            "mcd_entropy",
            "MCD entropy",
            True,
            _mcd_entropy,
            "negative entropy of the MC-dropout mean softmax",
        ),
        VoxelCSF(
            "mcd_mi",
            "MCD MI",
            True,
            _mcd_mi,
            "negative mutual information of prediction and dropout masks (BALD)",
        ),
    )
}


def voxel_confidences(inputs: VoxelInputs, names=None) -> dict[str, np.ndarray]:
    """The named voxel confidence maps of one volume (default: every one its inputs allow).

    Examples
    --------
    >>> p = np.array([[0.9, 0.5], [0.1, 0.5]])  # 2 classes x 2 voxels
    >>> maps = voxel_confidences(VoxelInputs(p))
    >>> sorted(maps), maps["msr"].tolist()
    (['msr', 'pe'], [0.9, 0.5])
    """
    if names is None:
        names = [n for n, c in VOXEL_CSFS.items() if inputs.has_mc or not c.needs_mc]
    unknown = [n for n in names if n not in VOXEL_CSFS]
    if unknown:
        raise ValueError(
            f"unknown voxel confidence {unknown[0]!r}; choose from {', '.join(VOXEL_CSFS)}"
        )
    return {name: VOXEL_CSFS[name](inputs) for name in names}


__all__ = ["VOXEL_CSFS", "VoxelCSF", "VoxelInputs", "entropy", "voxel_confidences"]

"""Segmentation CSFs: one registered name per voxel confidence x aggregator, ``<voxel>@<aggregator>``.

``msr@mean`` is the mean maximum softmax response of a volume, ``mcd_mi@foreground`` the
mean negative mutual information over its predicted foreground, and so on for every pair
of :data:`~silentscope.confidence.segmentation.voxel.VOXEL_CSFS` and
:data:`~silentscope.confidence.segmentation.aggregators.AGGREGATORS`. Each is found by its
exact name (:func:`get_segmentation_csf`), carries a numpydoc docstring with an example,
and gives one confidence per volume, higher = more confident.

These scores are computed at inference, where the voxel maps exist
(:func:`silentscope.segmentation.audit_segmentation`), and stored in the per-volume
AuditSet as external confidences under the same names, so ``evaluate`` ranks them as
``ext:msr@mean`` etc. against the continuous per-volume risk.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from silentscope._suggest import unknown_name
from silentscope.confidence.segmentation.aggregators import AGGREGATORS, Aggregate
from silentscope.confidence.segmentation.voxel import VOXEL_CSFS, VoxelInputs

SEPARATOR = "@"

_DOC = """{display} aggregated by {aggregator}: {voxel_description}; {aggregator_description}.

Registered as ``{name}``; higher = more confident.{mc_note}

Parameters
----------
inputs : VoxelInputs
    Softmax probabilities (K, *spatial) of one volume{mc_inputs}.
predicted : array of int (*spatial)
    The predicted label map (arg-max of the deterministic softmax).

Returns
-------
Aggregate
    ``value`` (the volume's confidence) and ``fallback`` (True when the aggregator had
    to fall back, e.g. no predicted foreground).

Examples
--------
>>> import numpy as np
>>> from silentscope.confidence.segmentation import VoxelInputs, get_segmentation_csf
>>> p = np.array([[[0.9, 0.6], [0.2, 0.3]], [[0.1, 0.4], [0.8, 0.7]]])  # 2 classes, 2x2 voxels
>>> mc = VoxelInputs(p, mc_mean=p, mc_expected_entropy=np.full((2, 2), 0.3))
>>> csf = get_segmentation_csf("{name}")
>>> bool(np.isfinite(csf(mc, p.argmax(0)).value))
True
"""


@dataclass(frozen=True)
class SegmentationCSF:
    """A voxel confidence aggregated to one score per volume (see the module docstring)."""

    name: str
    voxel: str
    aggregator: str
    doc: str = field(repr=False, default="")

    @property
    def needs_mc(self) -> bool:
        return VOXEL_CSFS[self.voxel].needs_mc

    @property
    def display_name(self) -> str:
        return f"{VOXEL_CSFS[self.voxel].display_name} @ {self.aggregator}"

    def __call__(self, inputs: VoxelInputs, predicted) -> Aggregate:
        return AGGREGATORS[self.aggregator](VOXEL_CSFS[self.voxel](inputs), predicted)


def _make(voxel: str, aggregator: str) -> SegmentationCSF:
    name = f"{voxel}{SEPARATOR}{aggregator}"
    v, a = VOXEL_CSFS[voxel], AGGREGATORS[aggregator]
    doc = _DOC.format(
        display=v.display_name,
        aggregator=aggregator,
        voxel_description=v.description,
        aggregator_description=a.description,
        name=name,
        mc_note=" Needs MC-dropout passes (``mc_samples > 0``)." if v.needs_mc else "",
        mc_inputs=", and its MC-dropout mean softmax and mean entropy" if v.needs_mc else "",
    )
    csf = SegmentationCSF(name, voxel, aggregator, doc)
    object.__setattr__(csf, "__doc__", doc)
    return csf


#: Every segmentation CSF by exact name: voxel confidences x aggregators.
SEGMENTATION_CSFS: dict[str, SegmentationCSF] = {
    csf.name: csf for csf in (_make(v, a) for v in VOXEL_CSFS for a in AGGREGATORS)
}


def segmentation_csf_names(mc: bool = True) -> tuple[str, ...]:
    """Registered names, in display order; without the MC ones when ``mc`` is False.

    Examples
    --------
    >>> segmentation_csf_names(mc=False)[:3]
    ('msr@mean', 'msr@foreground', 'msr@boundary')
    >>> len(segmentation_csf_names())
    20
    """
    return tuple(n for n, c in SEGMENTATION_CSFS.items() if mc or not c.needs_mc)


def get_segmentation_csf(name: str) -> SegmentationCSF:
    """The segmentation CSF registered under exactly ``name`` (e.g. ``"pe@foreground"``).

    Raises
    ------
    ValueError
        For an unregistered name; the message suggests the closest and lists the rest.

    Examples
    --------
    >>> get_segmentation_csf("msr@mean").voxel
    'msr'
    """
    if name not in SEGMENTATION_CSFS:
        raise ValueError(
            unknown_name(
                "segmentation CSF", name, list(SEGMENTATION_CSFS), "named <voxel>@<aggregator>"
            )
        )
    return SEGMENTATION_CSFS[name]


def resolve_segmentation_csfs(names: Sequence[str] | None, mc: bool) -> list[SegmentationCSF]:
    """The CSFs to compute: every one the inputs allow by default; a clear error for MC ones without MC."""
    if names is None:
        return [SEGMENTATION_CSFS[n] for n in segmentation_csf_names(mc)]
    names = [names] if isinstance(names, str) else list(names)
    csfs = [get_segmentation_csf(n) for n in dict.fromkeys(names)]
    needing = [c.name for c in csfs if c.needs_mc and not mc]
    if needing:
        raise ValueError(
            f"{', '.join(needing)} need MC-dropout passes; pass mc_samples > 0 or leave them out"
        )
    return csfs


def score_volume(
    inputs: VoxelInputs, predicted, csfs: Sequence[SegmentationCSF]
) -> dict[str, Aggregate]:
    """Every requested CSF of one volume; each voxel map is computed once.

    Examples
    --------
    >>> p = np.array([[0.9, 0.6, 0.2], [0.1, 0.4, 0.8]])
    >>> out = score_volume(VoxelInputs(p), p.argmax(0), resolve_segmentation_csfs(["msr@mean"], mc=False))
    >>> round(out["msr@mean"].value, 4)
    0.7667
    """
    maps: dict[str, np.ndarray] = {}
    out = {}
    for csf in csfs:
        if csf.voxel not in maps:
            maps[csf.voxel] = VOXEL_CSFS[csf.voxel](inputs)
        out[csf.name] = AGGREGATORS[csf.aggregator](maps[csf.voxel], predicted)
    return out


def describe_segmentation_csfs() -> pd.DataFrame:
    """One row per segmentation CSF: name, voxel confidence, aggregator, needs MC, description.

    Examples
    --------
    >>> describe_segmentation_csfs().set_index("name").loc["mcd_mi@mean", "needs_mc"]
    np.True_
    """
    return pd.DataFrame(
        [
            {
                "name": c.name,
                "display_name": c.display_name,
                "voxel": c.voxel,
                "aggregator": c.aggregator,
                "needs_mc": c.needs_mc,
                "description": c.doc.splitlines()[0],
            }
            for c in SEGMENTATION_CSFS.values()
        ]
    )


__all__ = [
    "SEGMENTATION_CSFS",
    "SEPARATOR",
    "SegmentationCSF",
    "describe_segmentation_csfs",
    "get_segmentation_csf",
    "resolve_segmentation_csfs",
    "score_volume",
    "segmentation_csf_names",
]

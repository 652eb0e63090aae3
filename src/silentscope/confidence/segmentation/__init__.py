"""Failure detection for segmentation: per-voxel confidences aggregated to one score per volume.

- :mod:`~silentscope.confidence.segmentation.voxel`: voxel confidence maps (``msr``, ``pe``,
  ``mcd_entropy``, ``mcd_mi``);
- :mod:`~silentscope.confidence.segmentation.aggregators`: named aggregators (``mean``,
  ``foreground``, ``boundary``, ``patch_q05``, ``patch_q25``);
- :mod:`~silentscope.confidence.segmentation.registry`: one registered CSF per pair,
  ``<voxel>@<aggregator>`` (e.g. ``msr@mean``, ``pe@foreground``).

Examples
--------
>>> import numpy as np
>>> p = np.array([[0.9, 0.6, 0.2], [0.1, 0.4, 0.8]])  # 2 classes x 3 voxels
>>> round(get_segmentation_csf("msr@foreground")(VoxelInputs(p), p.argmax(0)).value, 2)
0.8
"""

from silentscope.confidence.segmentation.aggregators import AGGREGATORS, Aggregate, Aggregator
from silentscope.confidence.segmentation.registry import (
    SEGMENTATION_CSFS,
    SegmentationCSF,
    describe_segmentation_csfs,
    get_segmentation_csf,
    resolve_segmentation_csfs,
    score_volume,
    segmentation_csf_names,
)
from silentscope.confidence.segmentation.voxel import (
    VOXEL_CSFS,
    VoxelCSF,
    VoxelInputs,
    entropy,
    voxel_confidences,
)

__all__ = [
    "AGGREGATORS",
    "Aggregate",
    "Aggregator",
    "SEGMENTATION_CSFS",
    "SegmentationCSF",
    "VOXEL_CSFS",
    "VoxelCSF",
    "VoxelInputs",
    "describe_segmentation_csfs",
    "entropy",
    "get_segmentation_csf",
    "resolve_segmentation_csfs",
    "score_volume",
    "segmentation_csf_names",
    "voxel_confidences",
]

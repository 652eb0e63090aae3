"""Distribution shifts: the corruption registry (5 severities, seeded, parameters recorded).

Each corruption is one registered object with a ``name``, the ``modalities`` whose default
suite holds it, five-level magnitude tables, ``sample_params(rng, severity, n)`` and
``apply(images, params)``. Look one up by its exact name with :func:`get_corruption`, list
them with :func:`corruption_names`, or take a modality's :func:`default_suite`;
:func:`corrupt` does both steps and returns one JSON-serialisable record per image, which
:func:`replay` turns back into the same images.

Examples
--------
>>> import numpy as np
>>> from silentscope.shifts import corrupt, default_suite
>>> images = np.random.default_rng(0).integers(0, 256, (8, 28, 28, 1), dtype=np.uint8)
>>> [c.name for c in default_suite("xray")][:3]
['gaussian_noise', 'shot_noise', 'impulse_noise']
>>> noisy, records = corrupt(images, "gaussian_noise", 3, seed=0, modality="xray")
>>> records[0]["corruption"], records[0]["severity"]
('gaussian_noise', 3)
"""

from silentscope.shifts.apply import (
    corrupt,
    corruption_test_sets,
    records_to_json,
    replay,
    to_records,
)
from silentscope.shifts.base import REFERENCE_SIZE, Corruption, check_images, register
from silentscope.shifts.corruption_augment import CorruptionAugment
from silentscope.shifts.effect import CorruptionEffect, NegligibleShiftWarning, measure_effects
from silentscope.shifts.registry import FAMILIES, corruption_names, default_suite, get_corruption
from silentscope.shifts.segmentation_sets import segmentation_test_sets
from silentscope.shifts.severity import SEVERITIES, severity_range
from silentscope.shifts.splits import SplitPlan as SplitPlan
from silentscope.shifts.splits import acquisition_shift as acquisition_shift
from silentscope.shifts.splits import base_plan as base_plan
from silentscope.shifts.splits import manifestation_shift as manifestation_shift
from silentscope.shifts.splits import numeric_bands as numeric_bands
from silentscope.shifts.splits import prevalence_shift as prevalence_shift
from silentscope.shifts.splits import subgroup_shift as subgroup_shift
from silentscope.shifts.suite import expand_corruptions, test_set_severities
from silentscope.shifts.volume_augment import (
    GENERIC_INTENSITY,
    MRI_TEST_CORRUPTIONS,
    TEXTURE_FILTERS,
    VolumeAugmentation,
    corrupt_float,
    intensity_augmentation,
    texture_filter_augmentation,
)

__all__ = [
    "FAMILIES",
    "GENERIC_INTENSITY",
    "MRI_TEST_CORRUPTIONS",
    "NegligibleShiftWarning",
    "REFERENCE_SIZE",
    "SEVERITIES",
    "TEXTURE_FILTERS",
    "VolumeAugmentation",
    "Corruption",
    "CorruptionEffect",
    "CorruptionAugment",
    "check_images",
    "corrupt",
    "corrupt_float",
    "corruption_test_sets",
    "corruption_names",
    "default_suite",
    "expand_corruptions",
    "get_corruption",
    "intensity_augmentation",
    "measure_effects",
    "records_to_json",
    "register",
    "replay",
    "segmentation_test_sets",
    "severity_range",
    "test_set_severities",
    "texture_filter_augmentation",
    "to_records",
]

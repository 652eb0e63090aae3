"""Corrupted copies of a segmentation test set: ``cor/<corruption>/<severity>``, seeded.

The segmentation counterpart of :func:`~silentscope.shifts.corruption_test_sets`: every
corruption draws from a seed derived from ``seed`` and its name, the same at every
severity, so along the severities of one volume only the magnitude changes. Corruptions
change intensities, never the anatomy, so the label maps are kept. The drawn parameters of
each volume come back as JSON strings, the form of ``AuditSet.shift_params``.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterator, Sequence

import numpy as np

from silentscope.data.segmentation import SegmentationSet
from silentscope.shifts.apply import records_to_json
from silentscope.shifts.registry import get_corruption
from silentscope.shifts.severity import SEVERITIES
from silentscope.shifts.suite import test_set_severities
from silentscope.shifts.volume_augment import MRI_TEST_CORRUPTIONS, corrupt_float


def segmentation_test_sets(
    volumes: SegmentationSet,
    names: Sequence[str] = MRI_TEST_CORRUPTIONS,
    severities: Sequence[int] = SEVERITIES,
    seed: int = 0,
    modality: str = "mri",
) -> Iterator[tuple[str, SegmentationSet, np.ndarray]]:
    """Yield ``(test-set name, corrupted set, shift_params)`` for every corruption and severity.

    Parameters
    ----------
    volumes : SegmentationSet
        The clean test set; images in [0, 1].
    names : sequence of str, default :data:`MRI_TEST_CORRUPTIONS`
        Corruptions with a 3-D form (for volumes) to apply.
    severities : sequence of int, default 1-5
    seed : int
    modality : str, default "mri"
        Selects the corruptions' severity levels.

    Yields
    ------
    name : str
        ``cor/<corruption>/<severity>``.
    corrupted : SegmentationSet
        Same labels, ids, metadata and spacing; corrupted images (float32 in [0, 1]).
    shift_params : array of str
        One JSON record per volume (corruption, severity and every drawn parameter).

    Examples
    --------
    >>> from silentscope.data import make_mni152_tissue
    >>> test = make_mni152_tissue(size=16, n_train=0, n_val=0, n_test=2).test
    >>> sets = list(segmentation_test_sets(test, ["ghosting"], severities=[1, 5]))
    >>> [name for name, _, _ in sets], sets[1][1].labels is test.labels
    (['cor/ghosting/1', 'cor/ghosting/5'], True)
    """
    if not isinstance(volumes, SegmentationSet):
        raise ValueError(f"volumes must be a SegmentationSet, got {type(volumes).__name__}")
    if isinstance(names, str):
        raise ValueError(f"names must be a list of corruption names, got the string {names!r}")
    corruptions = [get_corruption(name, modality) for name in names]
    if volumes.ndim_spatial == 3:
        flat = [c.name for c in corruptions if not c.volumes]
        if flat:
            raise ValueError(
                f"{flat[0]} has no 3-D form; choose corruptions marked 3-D in `silentscope shifts list`"
            )
    severities = test_set_severities(severities)
    for corruption in corruptions:
        corruption_seed = np.random.SeedSequence([seed, zlib.crc32(corruption.name.encode())])
        for severity in severities:
            rng = np.random.default_rng(corruption_seed)
            images, records = corrupt_float(volumes.images, corruption, severity, rng, modality)
            corrupted = SegmentationSet(
                images,
                volumes.labels,
                volumes.class_names,
                volumes.metadata,
                volumes.ids,
                volumes.spacing,
            )
            yield f"cor/{corruption.name}/{severity}", corrupted, records_to_json(records)

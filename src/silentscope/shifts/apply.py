"""Corrupt a batch by name and severity, record the parameters per image, and replay them.

The records are JSON-serialisable dicts, one per image (corruption, modality, severity and
every drawn parameter); they are what the AuditSet stores in ``shift_params``, and
:func:`replay` turns them back into the exact corrupted images.
"""

from __future__ import annotations

import json
import numbers
import zlib
from collections.abc import Iterator, Sequence

import numpy as np

from silentscope.shifts.base import Corruption, check_images
from silentscope.shifts.registry import get_corruption
from silentscope.shifts.severity import SEVERITIES
from silentscope.shifts.suite import expand_corruptions, test_set_severities


def corrupt(
    images: np.ndarray,
    name: str | Corruption,
    severity,
    seed: int | np.random.Generator = 0,
    *,
    modality: str = "generic",
) -> tuple[np.ndarray, list[dict]]:
    """Corrupt a batch of images and return the parameters drawn for each image.

    Parameters
    ----------
    images : array of uint8, shape (N, H, W, C)
        Grey (C = 1) or RGB (C = 3) images; corruptions with ``volumes = True`` (MRI,
        texture filters, noise, blur, pixelation, photometric changes) also take volumes
        (N, D, H, W, C).
    name : str or Corruption
        Exact registry name (see :func:`~silentscope.shifts.corruption_names`) or an
        instance from :func:`~silentscope.shifts.get_corruption` /
        :func:`~silentscope.shifts.default_suite`.
    severity : int or (float, float)
        0-5 (0 returns the images unchanged), or a range to draw one severity per image.
    seed : int or numpy.random.Generator, default 0
        The same seed gives identical output; images within a batch get different draws.
    modality : str, default "generic"
        Selects the modality's severity levels when ``name`` is a string.

    Returns
    -------
    corrupted : array of uint8, same shape as ``images``
    records : list of dict
        One JSON-serialisable dict per image: ``corruption``, ``modality``, ``severity``
        and every drawn parameter.

    Raises
    ------
    ValueError
        For an unknown name or modality, an invalid severity or images that are not
        uint8 (N, H, W, C).

    Examples
    --------
    >>> images = np.random.default_rng(0).integers(0, 256, (4, 32, 32, 3), dtype=np.uint8)
    >>> blurred, records = corrupt(images, "motion_blur", 2, seed=1)
    >>> blurred.shape, blurred.dtype
    ((4, 32, 32, 3), dtype('uint8'))
    >>> sorted(records[0])
    ['angle', 'corruption', 'modality', 'radius', 'severity', 'sigma']
    >>> bool(np.array_equal(replay(images, records), blurred))
    True
    """
    corruption = name if isinstance(name, Corruption) else get_corruption(name, modality)
    images = check_images(images, corruption)
    if isinstance(seed, numbers.Integral) and not isinstance(seed, bool):
        rng = np.random.default_rng(int(seed))
    elif isinstance(seed, np.random.Generator):
        rng = seed
    else:
        raise ValueError(f"seed must be an integer or a numpy.random.Generator, got {seed!r}")
    params = corruption.sample_params(rng, severity, len(images))
    return corruption.apply(images, params), to_records(corruption, params)


def corruption_test_sets(
    images: np.ndarray,
    modality: str = "generic",
    names: Sequence[str] | None = None,
    severities: Sequence[int] = SEVERITIES,
    seed: int = 0,
) -> Iterator[tuple[str, np.ndarray, list[dict]]]:
    """Yield every corruption test set of a suite: ``(name, corrupted, records)``.

    Test sets are named ``cor/<corruption>/<severity>`` as the AuditSet expects. Each
    corruption draws from a seed derived from ``seed`` and its name, the same at every
    severity, so along the severities of one image only the magnitude changes.

    Parameters
    ----------
    images : array of uint8, shape (N, H, W, C)
    modality : str, default "generic"
        Whose default suite and severity levels to use.
    names : sequence of str, optional
        Corruptions to run (default: the modality's suite for the images' channel count).
    severities : sequence of int, default 1-5
    seed : int, default 0

    Examples
    --------
    >>> images = np.random.default_rng(0).integers(0, 256, (2, 16, 16, 1), dtype=np.uint8)
    >>> sets = list(corruption_test_sets(images, "xray", names=["pixelate"], severities=[1, 5]))
    >>> [name for name, _, _ in sets]
    ['cor/pixelate/1', 'cor/pixelate/5']
    """
    images = check_images(images, volumes=True)  # each corruption checks its own 3-D form
    expanded = expand_corruptions("default" if names is None else names, modality, images.shape[-1])
    severities = test_set_severities(severities)
    for corruption in (get_corruption(name, modality) for name in expanded):
        corruption_seed = np.random.SeedSequence([seed, zlib.crc32(corruption.name.encode())])
        for severity in severities:
            rng = np.random.default_rng(corruption_seed)
            corrupted, records = corrupt(images, corruption, severity, rng)
            yield f"cor/{corruption.name}/{severity}", corrupted, records


def to_records(corruption: Corruption, params: dict[str, np.ndarray]) -> list[dict]:
    """Split drawn parameters into one JSON-serialisable dict per image.

    Examples
    --------
    >>> from silentscope.shifts import get_corruption
    >>> noise = get_corruption("gaussian_noise")
    >>> params = noise.sample_params(np.random.default_rng(0), 1, 2)
    >>> to_records(noise, params)[0]["sigma"]
    0.04
    """
    n = len(params["severity"])
    columns = {key: np.asarray(params[key]).tolist() for key in corruption.param_names}
    records = []
    for i in range(n):
        record = {"corruption": corruption.name, "modality": corruption.modality}
        for key, values in columns.items():
            value = values[i]
            if key == "severity" and float(value).is_integer():
                value = int(value)
            record[key] = value
        records.append(record)
    return records


def replay(images: np.ndarray, records: Sequence[dict]) -> np.ndarray:
    """Re-apply recorded parameters: the exact images :func:`corrupt` produced.

    Parameters
    ----------
    images : array of uint8, shape (N, ...)
        The clean images, in the order of ``records``.
    records : sequence of dict (or JSON strings)
        One record per image, as returned by :func:`corrupt`; corruptions may differ
        between images.

    Returns
    -------
    array of uint8, same shape as ``images``
    """
    records = [json.loads(r) if isinstance(r, str) else r for r in records]
    images = np.asarray(images)
    if len(records) != len(images):
        raise ValueError(
            f"replay needs one record per image: {len(records)} records, {len(images)} images"
        )
    out = np.empty_like(images)
    groups: dict[tuple[str, str], list[int]] = {}
    for i, record in enumerate(records):
        if not isinstance(record, dict) or "corruption" not in record:
            raise ValueError(f"record {i} is not a corruption record (a dict with 'corruption')")
        groups.setdefault((record["corruption"], record.get("modality", "generic")), []).append(i)
    for (name, modality), rows in groups.items():
        corruption = get_corruption(name, modality)
        params = {}
        for key in corruption.param_names:
            missing = [i for i in rows if key not in records[i]]
            if missing:
                raise ValueError(f"record {missing[0]} ({name}) lacks the parameter {key!r}")
            params[key] = np.asarray([records[i][key] for i in rows])
        out[rows] = corruption.apply(images[rows], params)
    return out


def records_to_json(records: Sequence[dict]) -> np.ndarray:
    """Records as an array of JSON strings, the form of ``AuditSet.shift_params``.

    Examples
    --------
    >>> records_to_json([{"corruption": "pixelate", "severity": 1}])[0]
    '{"corruption": "pixelate", "severity": 1}'
    """
    return np.asarray([json.dumps(r) for r in records], dtype=object)


def replay_shift(image: np.ndarray, shift_params: str | None) -> np.ndarray:
    """Re-apply the corruption recorded in a sample's ``shift_params`` (identity where none is).

    Examples
    --------
    >>> image = np.full((8, 8, 1), 128, dtype=np.uint8)
    >>> bool((replay_shift(image, None) == image).all())
    True
    >>> record = '{"corruption": "gaussian_noise", "modality": "generic", "severity": 5, "sigma": 0.3, "seed": 1}'
    >>> bool((replay_shift(image, record) != image).any())
    True
    """
    if not shift_params:
        return image
    record = json.loads(shift_params)
    if not isinstance(record, dict) or "corruption" not in record:
        return image  # a shift without a corruption (e.g. a held-out site) leaves the image as is
    return replay(image[None], [record])[0]

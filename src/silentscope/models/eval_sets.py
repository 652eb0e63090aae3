"""The sets inference runs on: dataset splits, optionally transformed by an image shift."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import numpy as np

from silentscope.audit import IID, VALIDATION, parse_test_set
from silentscope.data.dataset import ImageDataset

_CHUNK = 4096


@dataclass
class TestSet:
    """Images to evaluate: a dataset's rows, optionally transformed (an image shift).

    Parameters
    ----------
    dataset : ImageDataset
        All its rows are evaluated (pass a split or subset).
    transform : callable, optional
        ``transform(images) -> images`` or ``-> (images, params)`` on uint8 (n, H, W, C),
        called once with all images of the set. ``params`` is one dict (or JSON string)
        per image, or one dict for all, stored in ``AuditSet.shift_params``.
    """

    __test__ = False  # not a pytest test class despite the name

    dataset: ImageDataset
    transform: Callable | None = None


def corruption_test_sets(
    dataset: ImageDataset,
    corruptions,
    severities=(1, 2, 3, 4, 5),
    seed: int = 0,
) -> dict[str, TestSet]:
    """Test sets ``cor/<corruption>/<severity>`` of a dataset's test split.

    Each (corruption, severity) pair gets its own seed derived from ``seed``; the
    parameters drawn per image are recorded as shift params.

    Parameters
    ----------
    dataset : ImageDataset
        Its ``test`` split is corrupted.
    corruptions : sequence of str
        Names in the :mod:`silentscope.shifts` registry.
    severities : sequence of int, default 1-5
    seed : int, default 0

    Returns
    -------
    dict of str to TestSet

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> ds = ImageDataset("toy", rng.integers(0, 255, (6, 8, 8), dtype=np.uint8), [0, 1] * 3,
    ...                   ["a", "b"], ["train", "val", "test"] * 2, [str(i) for i in range(6)])
    >>> sets = corruption_test_sets(ds, ["gaussian_noise"], severities=(1, 5))
    >>> list(sets), len(sets["cor/gaussian_noise/5"].dataset)
    (['cor/gaussian_noise/1', 'cor/gaussian_noise/5'], 2)
    >>> images, params = sets["cor/gaussian_noise/5"].transform(ds.split_of("test").load_images())
    >>> params[0]["severity"]
    5
    """
    from silentscope.shifts.apply import corrupt

    test = dataset.split_of("test")
    if len(test) == 0:
        raise ValueError(f"dataset {dataset.name!r} has no test split to corrupt")
    modality = dataset.modality
    sets = {}
    for i, name in enumerate(corruptions):
        for severity in severities:
            derived = int(
                np.random.SeedSequence([int(seed), i, int(severity)]).generate_state(1)[0]
            )

            def transform(images, name=name, severity=int(severity), derived=derived):
                return corrupt(images, name, severity, derived, modality=modality)

            sets[f"cor/{name}/{int(severity)}"] = TestSet(test, transform)
    return sets


def _as_test_set(name: str, value) -> TestSet:
    if isinstance(value, TestSet):
        return value
    if isinstance(value, ImageDataset):
        return TestSet(value)
    if isinstance(value, tuple) and len(value) == 2 and isinstance(value[0], ImageDataset):
        return TestSet(value[0], value[1])
    raise ValueError(
        f"test set {name!r} must be an ImageDataset, a TestSet or (ImageDataset, transform); "
        f"got {type(value).__name__}"
    )


def collect_sets(dataset: ImageDataset, test_sets, include_val: bool) -> dict[str, TestSet]:
    sets: dict[str, TestSet] = {}
    if include_val and (dataset.split == "val").any():
        sets[VALIDATION] = TestSet(dataset.split_of("val"))
    if (dataset.split == "test").any():
        sets[IID] = TestSet(dataset.split_of("test"))
    for name, value in dict(test_sets or {}).items():
        parse_test_set(name)  # raises with the naming convention if invalid
        test_set = _as_test_set(name, value)
        if test_set.dataset.class_names != dataset.class_names:
            raise ValueError(
                f"test set {name!r} has classes {list(test_set.dataset.class_names)} but the dataset has "
                f"{list(dataset.class_names)}; every test set must use the same class names"
            )
        if len(test_set.dataset) == 0:
            raise ValueError(f"test set {name!r} is empty")
        sets[name] = test_set
    if not sets:
        raise ValueError(
            f"dataset {dataset.name!r} has no val or test split and no test_sets were given; "
            "nothing to evaluate"
        )
    return sets


def _shift_records(params, n: int, name: str) -> list[str]:
    if isinstance(params, Mapping):
        return [json.dumps(dict(params), default=str)] * n
    params = list(params)
    if len(params) != n:
        raise ValueError(
            f"the transform of test set {name!r} returned {len(params)} params for {n} images"
        )
    return [p if isinstance(p, str) else json.dumps(p, default=str) for p in params]


def images_of(test_set: TestSet, name: str):
    """Yield (images, shift records or None) chunks of a test set."""
    dataset = test_set.dataset
    if test_set.transform is None:
        for start in range(0, len(dataset), _CHUNK):
            yield dataset.load_images(np.arange(start, min(start + _CHUNK, len(dataset)))), None
        return
    result = test_set.transform(dataset.load_images())
    images, params = result if isinstance(result, tuple) else (result, None)
    images = np.asarray(images)
    if len(images) != len(dataset):
        raise ValueError(
            f"the transform of test set {name!r} returned {len(images)} images for {len(dataset)}"
        )
    yield images, None if params is None else _shift_records(params, len(images), name)

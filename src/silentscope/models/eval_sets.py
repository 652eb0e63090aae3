"""The sets inference runs on: dataset splits, optionally transformed by an image shift."""

from __future__ import annotations

import json
import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import numpy as np

from silentscope.audit import IID, VALIDATION, parse_test_set
from silentscope.audit.shift_change import CHANGE_KEY, image_change
from silentscope.data.dataset import ImageDataset
from silentscope.shifts.apply import corrupt
from silentscope.shifts.effect import NegligibleShiftWarning, measure_effects
from silentscope.shifts.suite import DEFAULT, expand_corruptions, test_set_severities

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


@dataclass
class CorruptionPlan:
    """The corruption test sets of a dataset, decided and checked before any training.

    Attributes
    ----------
    test_sets : dict of str to TestSet
        ``cor/<corruption>/<severity>`` sets to audit.
    corruptions : list of str
        The corruptions kept (``"default"`` expanded).
    severities : tuple of int
    effects : list of CorruptionEffect
        The change each corruption made to a few validation images, per severity.
    dropped : dict of str to str
        Test sets left out, with the reason (their images would be unchanged).
    notes : list of str
        Warnings to show the user (also raised as :class:`NegligibleShiftWarning`).
    """

    test_sets: dict[str, TestSet]
    corruptions: list[str]
    severities: tuple[int, ...]
    effects: list = field(default_factory=list)
    dropped: dict[str, str] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    def record(self) -> dict:
        """JSON-safe summary for a run record: kept corruptions, measured changes, drops, notes."""
        return {
            "corruptions": list(self.corruptions),
            "severities": list(self.severities),
            "checked_change": {
                effect.name: dict(zip(map(str, effect.severities), effect.changes, strict=True))
                for effect in self.effects
            },
            "dropped": dict(self.dropped),
            "notes": list(self.notes),
        }


def plan_corruption_sets(
    dataset: ImageDataset,
    corruptions,
    severities=None,
    seed: int = 0,
    *,
    n_check: int = 16,
) -> CorruptionPlan:
    """Expand, validate and check the corruption test sets of a dataset, before training.

    Names are expanded (``"default"`` is the modality's suite) and checked, severities
    checked, and every corruption applied to up to ``n_check`` validation images at each
    severity: a test set whose images would barely change
    (:func:`~silentscope.audit.is_negligible_shift`) is left out with the reason, and a
    corruption named explicitly that changes nothing at any severity is refused.

    Parameters
    ----------
    dataset : ImageDataset
        Its ``test`` split is corrupted; its ``val`` split (else test) is checked.
    corruptions : str or sequence of str
        Names, ``"default"`` or ``"none"`` (see :func:`~silentscope.shifts.expand_corruptions`).
    severities : sequence of int, optional
        1-5 (default all).
    seed : int, default 0
    n_check : int, default 16
        Images measured per corruption and severity (0: no check).

    Returns
    -------
    CorruptionPlan

    Raises
    ------
    ValueError
        Unknown corruption (with the closest name), invalid severity, no test split, or a
        named corruption that does not change the images at any requested severity.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> ds = ImageDataset("toy", rng.integers(0, 255, (6, 8, 8), dtype=np.uint8), [0, 1] * 3,
    ...                   ["a", "b"], ["train", "val", "test"] * 2, [str(i) for i in range(6)])
    >>> plan = plan_corruption_sets(ds, ["gaussian_noise"], severities=(1, 5))
    >>> list(plan.test_sets), plan.notes
    (['cor/gaussian_noise/1', 'cor/gaussian_noise/5'], [])
    """
    severities = test_set_severities(severities)
    test = dataset.split_of("test")
    modality = dataset.modality
    channels = int(test.load_images([0]).shape[-1]) if len(test) else None
    names = expand_corruptions(corruptions, modality, channels)
    if names and len(test) == 0:
        raise ValueError(f"dataset {dataset.name!r} has no test split to corrupt")
    requested = [corruptions] if isinstance(corruptions, str) else list(corruptions or [])
    explicit = {name for name in requested if name != DEFAULT}
    plan = CorruptionPlan({}, [], severities)
    if names and n_check:
        sample = dataset.split_of("val") if (dataset.split == "val").any() else test
        images = sample.load_images(np.arange(min(n_check, len(sample))))
        plan.effects = measure_effects(images, names, severities, modality, seed)
    keep = {name: set(severities) for name in names}
    for effect in plan.effects:
        problem = effect.problem()
        if problem is None:
            continue
        if effect.useless and effect.name in explicit:
            raise ValueError(problem)
        for severity in effect.negligible:
            keep[effect.name].discard(severity)
            plan.dropped[f"cor/{effect.name}/{severity}"] = (
                f"changes the images by {effect.changes[effect.severities.index(severity)]:.2f} "
                "grey levels: not a shift"
            )
        plan.notes.append(problem + (" (left out)" if effect.negligible else ""))
    for note in plan.notes:
        warnings.warn(note, NegligibleShiftWarning, stacklevel=2)
    for i, name in enumerate(names):
        if not keep[name]:
            continue
        plan.corruptions.append(name)
        for severity in severities:
            if severity not in keep[name]:
                continue
            derived = int(np.random.SeedSequence([int(seed), i, severity]).generate_state(1)[0])

            def transform(images, name=name, severity=severity, derived=derived):
                return corrupt(images, name, severity, derived, modality=modality)

            plan.test_sets[f"cor/{name}/{severity}"] = TestSet(test, transform)
    return plan


def corruption_test_sets(
    dataset: ImageDataset,
    corruptions,
    severities=(1, 2, 3, 4, 5),
    seed: int = 0,
) -> dict[str, TestSet]:
    """Test sets ``cor/<corruption>/<severity>`` of a dataset's test split.

    Each (corruption, severity) pair gets its own seed derived from ``seed``; the
    parameters drawn per image, and each image's measured change, are recorded as shift
    params. Names and severities are checked at once, and sets that would not change the
    images are left out with a :class:`~silentscope.shifts.effect.NegligibleShiftWarning`
    (see :func:`plan_corruption_sets`, which also returns the reasons).

    Parameters
    ----------
    dataset : ImageDataset
        Its ``test`` split is corrupted.
    corruptions : str or sequence of str
        Names in the :mod:`silentscope.shifts` registry, or ``"default"``.
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
    return plan_corruption_sets(dataset, corruptions, severities, seed).test_sets


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


def _shift_records(params, clean: np.ndarray, images: np.ndarray, name: str) -> list[str]:
    """One JSON record per image, each with its measured ``change`` from the clean image.

    The change (mean absolute difference in grey levels) is what says whether the set is a
    shift at all (:func:`~silentscope.audit.is_negligible_shift`); a transform that records
    its own ``change`` keeps it.
    """
    n = len(images)
    if isinstance(params, Mapping):
        params = [dict(params)] * n
    params = list(params)
    if len(params) != n:
        raise ValueError(
            f"the transform of test set {name!r} returned {len(params)} params for {n} images"
        )
    changes = image_change(clean, images) if clean.shape == images.shape else [None] * n
    records = []
    for param, change in zip(params, changes, strict=True):
        record = json.loads(param) if isinstance(param, str) else dict(param)
        if isinstance(record, dict) and change is not None:
            record.setdefault(CHANGE_KEY, round(float(change), 3))
        records.append(json.dumps(record, default=str))
    return records


def images_of(test_set: TestSet, name: str):
    """Yield (images, shift records or None) chunks of a test set."""
    dataset = test_set.dataset
    if test_set.transform is None:
        for start in range(0, len(dataset), _CHUNK):
            yield dataset.load_images(np.arange(start, min(start + _CHUNK, len(dataset)))), None
        return
    clean = dataset.load_images()
    result = test_set.transform(clean)
    images, params = result if isinstance(result, tuple) else (result, None)
    images = np.asarray(images)
    if len(images) != len(dataset):
        raise ValueError(
            f"the transform of test set {name!r} returned {len(images)} images for {len(dataset)}"
        )
    yield images, None if params is None else _shift_records(params, clean, images, name)

"""The segmentation data contract: volumes (or 2-D images), label maps, metadata, splits.

A :class:`SegmentationSet` holds float32 images ``(N, D, H, W, C)`` (3-D) or ``(N, H, W, C)``
(2-D) and integer label maps ``(N, D, H, W)`` / ``(N, H, W)`` with values in ``[0, K)``
(class 0 is the background), one metadata row per volume (with its ``patient_id``), and the
voxel spacing. :class:`SegmentationSplits` holds train, val and test sets with no patient in
two of them. Loaders are found by exact name with :func:`load_segmentation_dataset`:
``mni152:tissue`` (the embedded default, :mod:`silentscope.data.mni152`; ``mni152:tissue2d``
for its 2-D form) and ``folder``
(NIfTI or npz, :mod:`silentscope.data.segmentation_folder`); a path is loaded as a folder.

Examples
--------
>>> import numpy as np, pandas as pd
>>> images = np.zeros((2, 8, 8, 8, 1), np.float32)
>>> labels = np.zeros((2, 8, 8, 8), np.uint8); labels[:, 2:6, 2:6, 2:6] = 1
>>> volumes = SegmentationSet(images, labels, ("background", "tumour"),
...                           pd.DataFrame({"patient_id": ["p1", "p2"]}), ("v1", "v2"), (1.0, 1.0, 1.0))
>>> volumes.ndim_spatial, volumes.n_classes, len(volumes)
(3, 2, 2)
"""

from __future__ import annotations

import inspect
import numbers
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from silentscope._suggest import closest_name
from silentscope.data.errors import DatasetError
from silentscope.data.patient_split import check_no_patient_leakage

SEGMENTATION_SPLITS = ("train", "val", "test")


@dataclass(frozen=True, eq=False)
class SegmentationSet:
    """Images and label maps of N volumes (3-D) or images (2-D), with metadata.

    Parameters
    ----------
    images : float array, shape (N, D, H, W, C) or (N, H, W, C)
        Intensities, channels last; any float dtype is stored as float32. No NaN or inf.
    labels : integer array, shape (N, D, H, W) or (N, H, W)
        Class index per voxel, in ``[0, K)``; stored with its own integer dtype.
    class_names : tuple of str
        K >= 2 distinct names; index 0 is the background.
    metadata : pandas.DataFrame
        N rows (reset to a 0..N-1 index) with a ``patient_id`` column without gaps.
    ids : tuple of str
        N distinct volume ids.
    spacing : tuple of float or None
        Voxel size in mm per spatial axis (D, H, W or H, W), or None when unknown.

    Raises
    ------
    DatasetError
        One sentence naming the field at fault: shapes that disagree, labels out of range,
        NaN or inf intensities, a missing ``patient_id``, duplicate ids.

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> SegmentationSet(np.zeros((1, 4, 4, 1), np.float32), np.full((1, 4, 4), 2),
    ...                 ("background", "lesion"), pd.DataFrame({"patient_id": ["p"]}), ("a",))
    Traceback (most recent call last):
    ...
    silentscope.data.errors.DatasetError: labels hold 2 in volume 'a', outside 0..1 for the 2 class names ('background', 'lesion'); fix the label map or add the missing class names
    """

    images: np.ndarray
    labels: np.ndarray
    class_names: tuple[str, ...]
    metadata: pd.DataFrame
    ids: tuple[str, ...]
    spacing: tuple[float, ...] | None = None

    def __post_init__(self) -> None:
        images = np.asarray(self.images)
        labels = np.asarray(self.labels)
        if not np.issubdtype(images.dtype, np.floating):
            raise DatasetError(
                f"images must be a float array (intensities), got {images.dtype}; cast with "
                "images.astype(np.float32)"
            )
        if images.ndim not in (4, 5) or images.shape[-1] < 1:
            raise DatasetError(
                f"images must have shape (N, D, H, W, C) or (N, H, W, C) with channels last, "
                f"got {images.shape}; add a channel axis with images[..., None]"
            )
        if labels.ndim != images.ndim - 1 or labels.shape != images.shape[:-1]:
            raise DatasetError(
                f"labels of shape {labels.shape} do not match images of shape {images.shape}; "
                f"labels must have shape {images.shape[:-1]} (the images without their channel axis)"
            )
        if not np.issubdtype(labels.dtype, np.integer):
            raise DatasetError(
                f"labels must be an integer array (class indices), got {labels.dtype}; round "
                "and cast label maps with np.rint(labels).astype(np.int64)"
            )
        images = images.astype(np.float32, copy=False)
        object.__setattr__(self, "images", images)
        object.__setattr__(self, "labels", labels)
        n = len(images)
        ids = tuple(str(i) for i in self.ids)
        object.__setattr__(self, "ids", ids)
        if len(ids) != n:
            raise DatasetError(
                f"ids has {len(ids)} entries for {n} volumes; give one id per volume"
            )
        if len(set(ids)) != n:
            duplicate = pd.Series(ids)[pd.Series(ids).duplicated()].iloc[0]
            raise DatasetError(f"volume id {duplicate!r} appears twice; ids must be unique")
        names = tuple(str(c) for c in self.class_names)
        object.__setattr__(self, "class_names", names)
        if len(names) < 2 or len(set(names)) != len(names):
            raise DatasetError(
                f"class_names must be at least 2 distinct names with the background first, got {list(names)}"
            )
        self._check_finite(images, ids)
        self._check_labels(labels, ids, names)
        self._check_metadata(n, ids)
        self._check_spacing(images.ndim - 2)

    @staticmethod
    def _check_finite(images: np.ndarray, ids: tuple[str, ...]) -> None:
        for i in range(len(images)):  # per volume: no full-size boolean copy of the whole set
            if not np.isfinite(images[i]).all():
                raise DatasetError(
                    f"images of volume {ids[i]!r} hold NaN or inf values; fill or drop them first"
                )

    @staticmethod
    def _check_labels(labels: np.ndarray, ids: tuple[str, ...], names: tuple[str, ...]) -> None:
        if labels.size == 0:
            return
        per_volume_min = labels.reshape(len(labels), -1).min(axis=1)
        per_volume_max = labels.reshape(len(labels), -1).max(axis=1)
        bad = np.flatnonzero((per_volume_min < 0) | (per_volume_max >= len(names)))
        if len(bad):
            i = int(bad[0])
            value = per_volume_min[i] if per_volume_min[i] < 0 else per_volume_max[i]
            raise DatasetError(
                f"labels hold {int(value)} in volume {ids[i]!r}, outside 0..{len(names) - 1} for "
                f"the {len(names)} class names {names}; fix the label map or add the missing class names"
            )

    def _check_metadata(self, n: int, ids: tuple[str, ...]) -> None:
        metadata = self.metadata
        if not isinstance(metadata, pd.DataFrame):
            raise DatasetError(
                f"metadata must be a pandas DataFrame, got {type(metadata).__name__}"
            )
        if len(metadata) != n:
            raise DatasetError(
                f"metadata has {len(metadata)} rows for {n} volumes; give one row per volume"
            )
        if "patient_id" not in metadata.columns:
            raise DatasetError(
                "metadata has no 'patient_id' column; add one (the volume id when each volume "
                "is its own patient)"
            )
        missing = metadata["patient_id"].isna().to_numpy()
        if missing.any():
            raise DatasetError(
                f"metadata's patient_id is missing for volume {ids[int(np.flatnonzero(missing)[0])]!r}; "
                "give every volume a patient id"
            )
        object.__setattr__(self, "metadata", metadata.reset_index(drop=True))

    def _check_spacing(self, spatial: int) -> None:
        if self.spacing is None:
            return
        spacing = tuple(float(s) for s in self.spacing)
        if len(spacing) != spatial or not all(np.isfinite(s) and s > 0 for s in spacing):
            raise DatasetError(
                f"spacing must be {spatial} positive voxel sizes in mm (one per spatial axis) or "
                f"None, got {self.spacing!r}"
            )
        object.__setattr__(self, "spacing", spacing)

    def __len__(self) -> int:
        return len(self.images)

    @property
    def ndim_spatial(self) -> int:
        """2 for images (N, H, W, C), 3 for volumes (N, D, H, W, C)."""
        return self.images.ndim - 2

    @property
    def n_classes(self) -> int:
        """K, the number of classes including the background."""
        return len(self.class_names)

    @property
    def n_channels(self) -> int:
        """C, the number of image channels."""
        return self.images.shape[-1]

    @property
    def spatial_shape(self) -> tuple[int, ...]:
        """(D, H, W) or (H, W)."""
        return tuple(self.images.shape[1:-1])

    @property
    def patient_ids(self) -> np.ndarray:
        """The ``patient_id`` of each volume, as strings."""
        return self.metadata["patient_id"].astype(str).to_numpy()

    def subset(self, indices) -> SegmentationSet:
        """The volumes at ``indices`` (integer positions or a boolean mask), as a new set.

        Examples
        --------
        >>> import numpy as np, pandas as pd
        >>> s = SegmentationSet(np.zeros((3, 4, 4, 1), np.float32), np.zeros((3, 4, 4), int),
        ...                     ("background", "x"), pd.DataFrame({"patient_id": list("abc")}),
        ...                     ("0", "1", "2"))
        >>> s.subset([2, 0]).ids
        ('2', '0')
        """
        index = np.arange(len(self))[indices]
        index = np.atleast_1d(index)
        return SegmentationSet(
            self.images[index],
            self.labels[index],
            self.class_names,
            self.metadata.iloc[index].reset_index(drop=True),
            tuple(self.ids[i] for i in index),
            self.spacing,
        )


@dataclass(frozen=True, eq=False)
class SegmentationSplits:
    """Train, validation and test sets of one segmentation dataset, split by patient.

    Parameters
    ----------
    train, val, test : SegmentationSet
        Same class names, spatial dimensionality, channels and spacing; no patient and no
        volume id in two splits.
    name : str
        Dataset name (e.g. ``mni152:tissue``).
    caveats : tuple of str
        What every result on this data must carry (e.g. "all volumes derive from one
        template anatomy"); reports and run records repeat them. The caveats of
        :func:`class_caveats` (rare classes, classes absent from test volumes) are added.
    info : dict
        Provenance: loader options, seed, source files.

    Raises
    ------
    DatasetError
        A patient or volume id in two splits, or splits that disagree on classes, channels,
        dimensionality or spacing.
    """

    train: SegmentationSet
    val: SegmentationSet
    test: SegmentationSet
    name: str
    caveats: tuple[str, ...] = ()
    info: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        sets = dict(self.items())
        for split, value in sets.items():
            if not isinstance(value, SegmentationSet):
                raise DatasetError(
                    f"{self.name}: {split} must be a SegmentationSet, got {type(value).__name__}"
                )
        reference = self.train
        for split, value in sets.items():
            for attribute in ("class_names", "ndim_spatial", "n_channels", "spacing"):
                if getattr(value, attribute) != getattr(reference, attribute):
                    raise DatasetError(
                        f"{self.name}: the {split} split has {attribute} "
                        f"{getattr(value, attribute)!r} but train has {getattr(reference, attribute)!r}; "
                        "all splits must share them"
                    )
        split = np.concatenate([np.full(len(s), k) for k, s in sets.items()])
        patients = np.concatenate([s.patient_ids for s in sets.values()])
        try:
            check_no_patient_leakage(split, patients)
        except DatasetError as error:
            raise DatasetError(f"{self.name}: {error}") from None
        ids = pd.Series(np.concatenate([np.asarray(s.ids, dtype=object) for s in sets.values()]))
        if ids.duplicated().any():
            raise DatasetError(
                f"{self.name}: volume id {ids[ids.duplicated()].iloc[0]!r} is in two splits; "
                "ids must be unique across splits"
            )
        caveats = [str(c) for c in self.caveats]
        caveats += [c for c in class_caveats(self) if c not in caveats]
        object.__setattr__(self, "caveats", tuple(caveats))

    def items(self) -> Iterator[tuple[str, SegmentationSet]]:
        """``(split name, set)`` for train, val and test, in that order."""
        return iter((("train", self.train), ("val", self.val), ("test", self.test)))

    def __getitem__(self, split: str) -> SegmentationSet:
        if split not in SEGMENTATION_SPLITS:
            raise KeyError(
                f"unknown split {split!r}; choose one of {', '.join(SEGMENTATION_SPLITS)}"
            )
        return getattr(self, split)

    @property
    def class_names(self) -> tuple[str, ...]:
        return self.train.class_names

    @property
    def ndim_spatial(self) -> int:
        return self.train.ndim_spatial


#: A foreground class below this share of the training voxels gets a caveat.
RARE_CLASS_SHARE = 0.02


def class_caveats(splits: SegmentationSplits) -> list[str]:
    """Sentences on classes whose Dice will mislead: rare in training, absent from test volumes.

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> def part(ids, labels):
    ...     return SegmentationSet(np.zeros(labels.shape + (1,), np.float32), labels,
    ...                            ("background", "lesion"), pd.DataFrame({"patient_id": ids}), ids)
    >>> train = np.zeros((2, 10, 10), np.uint8); train[:, 0, 0] = 1
    >>> test = np.zeros((2, 10, 10), np.uint8); test[0, :5] = 1
    >>> splits = SegmentationSplits(part(("a", "b"), train), part((), train[:0]),
    ...                             part(("c", "d"), test), name="toy")
    >>> for caveat in splits.caveats: print(caveat)
    class 'lesion' covers 1.0% of the training voxels (below 2%): its Dice rests on few voxels and varies widely between volumes
    class 'lesion' is absent from 1 of 2 test volumes: Dice is undefined there (no true and, if predicted empty, no predicted voxels); say how the risk treats absent classes
    """
    notes = []
    names = splits.class_names
    train = splits.train.labels
    if train.size:
        share = np.bincount(train.reshape(-1), minlength=len(names)) / train.size
        for k in range(1, len(names)):
            if share[k] < RARE_CLASS_SHARE:
                notes.append(
                    f"class {names[k]!r} covers {100 * share[k]:.1f}% of the training voxels (below "
                    f"{100 * RARE_CLASS_SHARE:g}%): its Dice rests on few voxels and varies widely "
                    "between volumes"
                )
    test = splits.test.labels
    if len(test):
        flat = test.reshape(len(test), -1)
        for k in range(1, len(names)):
            absent = int((~(flat == k).any(axis=1)).sum())
            if absent:
                notes.append(
                    f"class {names[k]!r} is absent from {absent} of {len(test)} test volumes: Dice "
                    "is undefined there (no true and, if predicted empty, no predicted voxels); say "
                    "how the risk treats absent classes"
                )
    return notes


#: Loader name -> loader returning :class:`SegmentationSplits`.
SEGMENTATION_DATASETS: dict[str, Callable[..., SegmentationSplits]] = {}


def register_segmentation_dataset(name: str):
    """Register a segmentation loader under an exact name (a decorator); names must be new.

    Examples
    --------
    >>> @register_segmentation_dataset("toy_seg")
    ... def _toy(n: int = 2):
    ...     ...
    >>> "toy_seg" in available_segmentation_datasets()
    True
    >>> del SEGMENTATION_DATASETS["toy_seg"]
    """

    def decorate(loader: Callable[..., SegmentationSplits]) -> Callable[..., SegmentationSplits]:
        if name in SEGMENTATION_DATASETS:
            raise ValueError(f"a segmentation dataset named {name!r} is already registered")
        SEGMENTATION_DATASETS[name] = loader
        return loader

    return decorate


def available_segmentation_datasets() -> list[str]:
    """Every name :func:`load_segmentation_dataset` accepts.

    Examples
    --------
    >>> available_segmentation_datasets()[:3]
    ['mni152:tissue', 'mni152:tissue2d', 'folder']
    """
    return list(SEGMENTATION_DATASETS)


def load_segmentation_dataset(name_or_path: str | Path, **options) -> SegmentationSplits:
    """Load a segmentation dataset by exact name, or a folder / ``.npz`` file by path.

    Parameters
    ----------
    name_or_path : str or Path
        ``mni152:tissue`` (embedded, no download; options ``size``, ``n_train``, ``n_val``,
        ``n_test``, ``seed`` and the deformation ranges), ``folder`` (needs ``root=``), any
        name added with :func:`register_segmentation_dataset`; or the path of a folder or
        ``.npz`` file laid out as :func:`~silentscope.data.segmentation_folder.load_segmentation_folder`
        describes.
    **options
        Passed to the loader; unknown option names are refused.

    Returns
    -------
    SegmentationSplits

    Raises
    ------
    DatasetError
        Unknown name (with the closest known one) or an option the loader does not take.

    Examples
    --------
    >>> splits = load_segmentation_dataset("mni152:tissue", size=16, n_train=2, n_val=1, n_test=1)
    >>> splits.train.images.shape, splits.class_names
    ((2, 16, 16, 16, 1), ('background', 'csf', 'grey_matter', 'white_matter'))
    >>> load_segmentation_dataset("mni152:tisue")
    Traceback (most recent call last):
    ...
    silentscope.data.errors.DatasetError: unknown segmentation dataset 'mni152:tisue'; did you mean 'mni152:tissue'? (not a registered name nor an existing folder or .npz file)
    """
    text = str(name_or_path)
    if text in SEGMENTATION_DATASETS:
        return _call(text, SEGMENTATION_DATASETS[text], options)
    path = Path(text).expanduser()
    if path.is_dir() or (path.is_file() and path.suffix.lower() == ".npz"):
        return _call("folder", SEGMENTATION_DATASETS["folder"], options, path)
    close = closest_name(text, available_segmentation_datasets())
    hint = (
        f"; did you mean {close!r}?" if close else f" (known: {', '.join(SEGMENTATION_DATASETS)})"
    )
    raise DatasetError(
        f"unknown segmentation dataset {text!r}{hint} (not a registered name nor an existing "
        "folder or .npz file)"
    )


def _call(name: str, loader: Callable[..., SegmentationSplits], options: dict, *args):
    parameters = inspect.signature(loader).parameters
    accepted = [
        p
        for p, value in parameters.items()
        if value.kind not in (inspect.Parameter.VAR_KEYWORD, inspect.Parameter.VAR_POSITIONAL)
    ][len(args) :]
    unknown = [key for key in options if key not in accepted]
    if unknown:
        raise DatasetError(
            f"the {name} segmentation dataset takes no option {unknown[0]!r}; its options are "
            f"{', '.join(accepted)}"
        )
    return loader(*args, **options)


def check_count(name: str, value, minimum: int = 0) -> int:
    """An integer option >= ``minimum``, or a one-sentence DatasetError."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < minimum:
        raise DatasetError(f"{name} must be an integer >= {minimum}, got {value!r}")
    return int(value)

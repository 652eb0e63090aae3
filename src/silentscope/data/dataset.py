"""The dataset interface that every adapter returns and training and inference consume.

Images are always uint8 arrays in (N, H, W, C) layout (C = 1 for grey, 3 for RGB), either
held in memory or loaded lazily from files by an :class:`ImageSource`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Protocol, runtime_checkable

import numpy as np
import pandas as pd

SPLITS = ("train", "val", "test")
MODALITIES = (
    "xray",
    "ct",
    "mri",
    "dermatoscopy",
    "fundus",
    "histology",
    "generic",
    # Appended for MedMNIST (OCTMNIST, BreastMNIST, BloodMNIST/TissueMNIST); no corruption suite
    # may assume this tuple is closed.
    "oct",
    "ultrasound",
    "microscopy",
)


@runtime_checkable
class ImageSource(Protocol):
    """Indexable images: ``source[indices]`` returns uint8 of shape (n, H, W, C)."""

    def __len__(self) -> int: ...

    def __getitem__(self, indices) -> np.ndarray: ...


class ArrayImages:
    """Images held in one uint8 array (N, H, W, C); the default :class:`ImageSource`."""

    def __init__(self, images: np.ndarray):
        images = np.asarray(images)
        if images.ndim == 3:  # grey images without a channel axis
            images = images[..., None]
        if images.ndim != 4 or images.shape[-1] not in (1, 3):
            raise ValueError(
                f"images must have shape (N, H, W) or (N, H, W, C) with C in (1, 3), got {images.shape}"
            )
        if images.dtype != np.uint8:
            raise ValueError(
                f"images must be uint8 (0-255), got {images.dtype}; scale and cast them first"
            )
        self.array = images

    def __len__(self) -> int:
        return len(self.array)

    def __getitem__(self, indices) -> np.ndarray:
        return self.array[indices]

    @property
    def shape(self) -> tuple[int, ...]:
        return self.array.shape


@dataclass(eq=False)
class ImageDataset:
    """Images, labels and sample facts of one dataset, with its train/val/test split.

    Parameters
    ----------
    name : str
        Dataset name (e.g. ``pneumoniamnist``).
    images : ImageSource
        uint8 images, (N, H, W, C).
    labels : array of int, shape (N,)
    class_names : sequence of str
    split : array of str, shape (N,)
        ``train``, ``val`` or ``test`` per sample.
    sample_ids : array of str, shape (N,)
    metadata : DataFrame with N rows
        Attributes per sample (age, sex, site, patient_id, planted-slice ground truth, ...).
    text : array of str, optional
        Report text per sample.
    image_refs : array of str, optional
        Where each image comes from (file path or ``<array file>#<index>``).
    modality : str
        One of :data:`MODALITIES`; selects the default corruption suite.
    info : dict
        Dataset-level facts (source, licence, seed, planted failure modes, ...).
    targets : array of 0/1, shape (N, K), optional
        Multi-label targets: ``targets[i, k] = 1`` when finding ``k`` is present in image
        ``i``. ``labels`` then stays the single-label view every other tool reads (for
        ChestMNIST: no finding / any finding).
    target_names : sequence of str, length K, optional
        Names of the findings; required with ``targets``.

    Examples
    --------
    >>> ds = ImageDataset("toy", np.zeros((3, 4, 4), np.uint8), [0, 1, 1], ["none", "any"],
    ...                   ["train", "val", "test"], ["a", "b", "c"],
    ...                   targets=[[0, 0], [1, 0], [1, 1]], target_names=["mass", "nodule"])
    >>> ds.multi_label, ds.split_of("test").targets.tolist()
    (True, [[1, 1]])
    """

    name: str
    images: ImageSource
    labels: np.ndarray
    class_names: tuple[str, ...]
    split: np.ndarray
    sample_ids: np.ndarray
    metadata: pd.DataFrame = field(default_factory=pd.DataFrame)
    text: np.ndarray | None = None
    image_refs: np.ndarray | None = None
    modality: str = "generic"
    info: dict[str, Any] = field(default_factory=dict)
    targets: np.ndarray | None = None
    target_names: tuple[str, ...] | None = None

    def __post_init__(self) -> None:
        if isinstance(self.images, np.ndarray):
            self.images = ArrayImages(self.images)
        n = len(self.images)
        self.labels = np.asarray(self.labels, dtype=np.int64).reshape(-1)
        self.split = np.asarray(self.split).astype(str)
        self.sample_ids = np.asarray(self.sample_ids).astype(str)
        self.class_names = tuple(str(c) for c in self.class_names)
        if len(self.metadata) == 0 and self.metadata.shape[1] == 0:
            self.metadata = pd.DataFrame(index=range(n))
        for name, values in (
            ("labels", self.labels),
            ("split", self.split),
            ("sample_ids", self.sample_ids),
            ("metadata", self.metadata),
        ):
            if len(values) != n:
                raise ValueError(f"{self.name}: {name} has {len(values)} rows for {n} images")
        bad_split = ~np.isin(self.split, SPLITS)
        if bad_split.any():
            raise ValueError(
                f"{self.name}: split must be one of {SPLITS}; row {int(np.flatnonzero(bad_split)[0])} "
                f"has {self.split[bad_split][0]!r}"
            )
        bad_label = (self.labels < 0) | (self.labels >= len(self.class_names))
        if bad_label.any():
            row = int(np.flatnonzero(bad_label)[0])
            raise ValueError(
                f"{self.name}: label {self.labels[row]} at row {row} is outside 0..{len(self.class_names) - 1}"
            )
        if self.modality not in MODALITIES:
            raise ValueError(
                f"{self.name}: modality must be one of {MODALITIES}, got {self.modality!r}"
            )
        self.metadata = self.metadata.reset_index(drop=True)
        self._check_targets(n)

    def _check_targets(self, n: int) -> None:
        if self.targets is None:
            if self.target_names is not None:
                raise ValueError(
                    f"{self.name}: target_names were given without targets; pass the (N, K) 0/1 "
                    "target matrix too, or drop target_names"
                )
            return
        targets = np.asarray(self.targets)
        if targets.ndim != 2 or len(targets) != n or targets.shape[1] < 1:
            raise ValueError(
                f"{self.name}: targets must have shape (N, K) = ({n}, K) with K >= 1, got {targets.shape}"
            )
        if targets.dtype == bool:
            targets = targets.astype(np.uint8)
        bad = ~np.isin(targets, (0, 1))
        if bad.any():
            row, col = (int(i[0]) for i in np.nonzero(bad))
            raise ValueError(
                f"{self.name}: targets must be 0 or 1; row {row}, column {col} holds {targets[row, col].item()!r}"
            )
        if self.target_names is None:
            raise ValueError(
                f"{self.name}: targets need target_names (one name per column, {targets.shape[1]} here)"
            )
        names = tuple(str(name) for name in self.target_names)
        if len(names) != targets.shape[1] or len(set(names)) != len(names):
            raise ValueError(
                f"{self.name}: target_names must be {targets.shape[1]} distinct names, one per targets "
                f"column; got {list(names)}"
            )
        self.targets = targets.astype(np.uint8)
        self.target_names = names

    def __len__(self) -> int:
        return len(self.labels)

    @property
    def n_classes(self) -> int:
        return len(self.class_names)

    @property
    def multi_label(self) -> bool:
        """Whether the dataset carries multi-label ``targets``."""
        return self.targets is not None

    def subset(self, rows) -> ImageDataset:
        """The dataset restricted to rows (boolean mask or indices); images stay lazy."""
        rows = np.asarray(rows)
        if rows.dtype == bool:
            rows = np.flatnonzero(rows)
        return replace(
            self,
            images=_SubsetImages(self.images, rows),
            labels=self.labels[rows],
            split=self.split[rows],
            sample_ids=self.sample_ids[rows],
            metadata=self.metadata.iloc[rows].reset_index(drop=True),
            text=None if self.text is None else self.text[rows],
            image_refs=None if self.image_refs is None else self.image_refs[rows],
            targets=None if self.targets is None else self.targets[rows],
        )

    def split_of(self, name: str) -> ImageDataset:
        """One split (``train``, ``val`` or ``test``)."""
        if name not in SPLITS:
            raise ValueError(f"split must be one of {SPLITS}, got {name!r}")
        return self.subset(self.split == name)

    def load_images(self, indices: Sequence[int] | np.ndarray | None = None) -> np.ndarray:
        """Images as one uint8 array (all of them if ``indices`` is None)."""
        if indices is None:
            indices = np.arange(len(self))
        return self.images[np.asarray(indices)]


class _SubsetImages:
    """A lazy view of an ImageSource restricted to some rows."""

    def __init__(self, source: ImageSource, rows: np.ndarray):
        if isinstance(source, _SubsetImages):  # collapse nested views
            rows = source.rows[rows]
            source = source.source
        self.source = source
        self.rows = rows

    def __len__(self) -> int:
        return len(self.rows)

    def __getitem__(self, indices) -> np.ndarray:
        return self.source[self.rows[indices]]

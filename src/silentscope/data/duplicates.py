"""Duplicate images by content hash: groups, label conflicts inside groups, cross-split leakage."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from silentscope.data.errors import DatasetError
from silentscope.data.files import FileImages, md5_of_file, read_image

#: ``bytes``: MD5 of each file's bytes (byte-identical copies); ``pixels``: MD5 of the decoded
#: pixels with their shape (catches re-saved copies and in-memory arrays); ``auto``: bytes for
#: file-backed datasets, pixels for arrays.
HASH_METHODS = ("auto", "bytes", "pixels")


def hash_pixels(images: np.ndarray) -> np.ndarray:
    """MD5 of each image's pixels and shape, for a batch (N, H, W[, C]).

    Examples
    --------
    >>> import numpy as np
    >>> images = np.zeros((3, 4, 4), np.uint8); images[2, 0, 0] = 1
    >>> hashes = hash_pixels(images)
    >>> bool(hashes[0] == hashes[1]), bool(hashes[0] == hashes[2])
    (True, False)
    """
    images = np.ascontiguousarray(images)
    if images.ndim == 3:
        images = images[..., None]
    prefix = repr(images.shape[1:]).encode()
    return np.array(
        [
            hashlib.md5(prefix + image.tobytes(), usedforsecurity=False).hexdigest()
            for image in images
        ],
        dtype=object,
    )


def image_hashes(dataset, method: str = "auto", batch_size: int = 512) -> tuple[np.ndarray, str]:
    """Content hash per sample of an ImageDataset, and the method actually used.

    ``pixels`` on a file-backed dataset decodes each file at its stored size and colour, so
    two files that decode to the same pixels match even if their bytes differ.
    """
    if method not in HASH_METHODS:
        raise DatasetError(f"duplicate method must be one of {HASH_METHODS}, got {method!r}")
    source = dataset.images
    files = source if isinstance(source, FileImages) else None
    if (
        files is None
        and getattr(source, "source", None) is not None
        and isinstance(source.source, FileImages)
    ):
        files = FileImages(source.source.paths[source.rows])
    if method == "auto":
        method = "bytes" if files is not None else "pixels"
    if method == "bytes":
        if files is None:
            raise DatasetError(
                f"{dataset.name}: byte hashing needs image files but the images are an array; use method='pixels'"
            )
        return np.array([md5_of_file(p) for p in files.paths], dtype=object), method
    if files is not None:
        return np.array(
            [hash_pixels(read_image(p)[None])[0] for p in files.paths], dtype=object
        ), method
    hashes = [
        hash_pixels(dataset.images[np.arange(start, min(start + batch_size, len(dataset)))])
        for start in range(0, len(dataset), batch_size)
    ]
    return np.concatenate(hashes) if hashes else np.array([], dtype=object), method


@dataclass(frozen=True)
class DuplicateReport:
    """Groups of samples with identical content, and what is wrong with them.

    Attributes
    ----------
    members : DataFrame
        One row per sample that has at least one duplicate: ``group``, ``row``,
        ``sample_id``, ``label``, ``split``, ``hash``. Groups are numbered from 0 in order of
        their first row.
    n_samples : int
        Samples examined.
    method : str
        The hash method (``bytes`` or ``pixels``).
    class_names : tuple of str
    """

    members: pd.DataFrame
    n_samples: int
    method: str
    class_names: tuple[str, ...] = ()

    @property
    def groups(self) -> pd.DataFrame:
        """One row per group: size, labels, splits, ``label_conflict`` and ``cross_split``."""
        if self.members.empty:
            return pd.DataFrame(
                columns=[
                    "group",
                    "size",
                    "labels",
                    "splits",
                    "label_conflict",
                    "cross_split",
                    "sample_ids",
                ]
            )
        names = np.asarray(self.class_names, dtype=object)

        def label_text(values):
            values = sorted(set(values))
            return [str(names[v]) if len(names) else str(v) for v in values]

        grouped = self.members.groupby("group", sort=True)
        table = pd.DataFrame(
            {
                "size": grouped.size(),
                "labels": grouped["label"].agg(label_text),
                "splits": grouped["split"].agg(lambda s: sorted(set(s))),
                "sample_ids": grouped["sample_id"].agg(list),
            }
        )
        table["label_conflict"] = table["labels"].map(len) > 1
        table["cross_split"] = table["splits"].map(len) > 1
        return table.reset_index()[
            ["group", "size", "labels", "splits", "label_conflict", "cross_split", "sample_ids"]
        ]

    @property
    def n_groups(self) -> int:
        return int(self.members["group"].nunique()) if len(self.members) else 0

    @property
    def n_label_conflicts(self) -> int:
        """Groups whose members carry different labels."""
        return int(self.groups["label_conflict"].sum()) if self.n_groups else 0

    @property
    def n_cross_split(self) -> int:
        """Groups whose members sit in more than one split (train/test leakage)."""
        return int(self.groups["cross_split"].sum()) if self.n_groups else 0

    def cross_split_pairs(self) -> dict[str, int]:
        """Number of groups shared by each pair of splits, e.g. ``{"train+val": 8}``."""
        counts: dict[str, int] = {}
        for splits in (
            self.groups.loc[self.groups["cross_split"], "splits"] if self.n_groups else []
        ):
            key = "+".join(splits)
            counts[key] = counts.get(key, 0) + 1
        return dict(sorted(counts.items()))

    def rows_to_drop(self) -> np.ndarray:
        """Rows to drop to deduplicate: all but the first of each group, and every member of
        a group whose labels conflict (no label of it can be trusted)."""
        drop = np.zeros(self.n_samples, dtype=bool)
        if not self.n_groups:
            return drop
        conflicting = set(self.groups.loc[self.groups["label_conflict"], "group"])
        members = self.members.sort_values("row")
        first = ~members.duplicated("group")
        in_conflict = members["group"].isin(conflicting)
        drop[members.loc[~first | in_conflict, "row"].to_numpy()] = True
        return drop

    def summary(self) -> dict[str, Any]:
        """JSON-serialisable counts (for provenance, the CLI and reports)."""
        return {
            "method": self.method,
            "n_samples": int(self.n_samples),
            "n_groups": self.n_groups,
            "n_duplicate_samples": len(self.members),
            "n_label_conflicts": self.n_label_conflicts,
            "n_cross_split": self.n_cross_split,
            "cross_split_pairs": self.cross_split_pairs(),
        }


def find_duplicates(
    hashes, labels=None, split=None, sample_ids=None, *, class_names=(), method: str = "given"
) -> DuplicateReport:
    """Group samples with equal hashes and report label conflicts and cross-split leakage.

    Parameters
    ----------
    hashes : array-like of str, shape (N,)
        Content hash per sample (see :func:`hash_pixels`, :func:`image_hashes`).
    labels : array of int, shape (N,), optional
    split : array of str, shape (N,), optional
    sample_ids : array of str, shape (N,), optional
    class_names : sequence of str
        Names used for labels in the report.
    method : str
        Recorded in the report.

    Returns
    -------
    DuplicateReport

    Examples
    --------
    >>> report = find_duplicates(["a", "b", "a", "c", "c"], labels=[0, 1, 1, 0, 0],
    ...                          split=["train", "train", "test", "val", "val"])
    >>> report.summary()["n_groups"], report.n_label_conflicts, report.n_cross_split
    (2, 1, 1)
    >>> report.rows_to_drop().tolist()
    [True, False, True, False, True]
    """
    hashes = np.asarray(hashes, dtype=object).astype(str)
    n = len(hashes)
    frame = pd.DataFrame(
        {
            "row": np.arange(n),
            "sample_id": np.arange(n).astype(str)
            if sample_ids is None
            else np.asarray(sample_ids).astype(str),
            "label": np.zeros(n, dtype=np.int64)
            if labels is None
            else np.asarray(labels, dtype=np.int64),
            "split": np.full(n, "all") if split is None else np.asarray(split).astype(str),
            "hash": hashes,
        }
    )
    if len(frame) != n or any(len(frame[c]) != n for c in frame):
        raise DatasetError("hashes, labels, split and sample_ids must have one row per sample")
    members = frame[frame["hash"].duplicated(keep=False)].copy()
    first_row = members.groupby("hash")["row"].transform("min")
    members["group"] = pd.factorize(first_row, sort=True)[0]
    members = members[["group", "row", "sample_id", "label", "split", "hash"]].reset_index(
        drop=True
    )
    return DuplicateReport(members, n, method, tuple(str(c) for c in class_names))


def duplicate_report(dataset, method: str = "auto") -> DuplicateReport:
    """The duplicate report of an :class:`~silentscope.data.dataset.ImageDataset`.

    Examples
    --------
    >>> import numpy as np
    >>> from silentscope.data.dataset import ImageDataset
    >>> images = np.zeros((3, 4, 4), np.uint8); images[1] = 9
    >>> dataset = ImageDataset("toy", images, [0, 1, 1], ["a", "b"], ["train", "val", "test"],
    ...                        ["x", "y", "z"])
    >>> duplicate_report(dataset).summary()["n_label_conflicts"]
    1
    """
    hashes, used = image_hashes(dataset, method)
    return find_duplicates(
        hashes,
        dataset.labels,
        dataset.split,
        dataset.sample_ids,
        class_names=dataset.class_names,
        method=used,
    )

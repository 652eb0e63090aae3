"""The ``folder`` segmentation loader: a user's NIfTI images and label maps, or one ``.npz``.

Layout of a folder::

    root/
      images/<id>.nii.gz   one image per volume (.nii or .nii.gz): 3-D (X, Y, Z), 4-D with
                           channels last (X, Y, Z, C), or 2-D (X, Y) for a 2-D dataset
      labels/<id>.nii.gz   its integer label map on the same grid (same shape and affine)
      metadata.csv         optional: an ``id`` column (the file name without extension),
                           ``patient_id`` (else each volume is its own patient), ``split``
                           (train/val/test; else a seeded patient-level split) and any
                           other per-volume columns, which are kept
      classes.txt          optional: one class name per line, background first

Or one ``.npz`` file with ``images`` (N, D, H, W[, C]) or (N, H, W[, C]) and ``labels``
(N, D, H, W) / (N, H, W), optionally ``ids``, ``patient_ids``, ``split``, ``spacing`` and
``class_names``; a metadata CSV may be passed with ``metadata=`` and is matched by ``id``.

Whether the data are 2-D or 3-D is read from the label maps: an image with one more axis
than its label map has channels last. Array axes are kept as stored (NIfTI voxel order).
All volumes must share one grid size and spacing (resample them beforehand); nothing is
resampled here. Intensities are scaled per volume to [0, 1] between their 0.5th and
99.5th percentiles (``intensity="percentile"``, the default, which the corruptions and
texture filters expect; the two values are kept in the metadata as ``intensity_low`` and
``intensity_high``), or kept as stored (``intensity="none"``).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from silentscope.data.errors import DatasetError
from silentscope.data.patient_split import DEFAULT_FRACTIONS, patient_split
from silentscope.data.segmentation import (
    SEGMENTATION_SPLITS,
    SegmentationSet,
    SegmentationSplits,
    check_count,
    register_segmentation_dataset,
)

_NIFTI = (".nii.gz", ".nii")
_INTENSITY = ("percentile", "none")


def _stem(path: Path) -> str | None:
    for suffix in _NIFTI:
        if path.name.endswith(suffix):
            return path.name[: -len(suffix)]
    return None


def _nifti_files(folder: Path) -> dict[str, Path]:
    if not folder.is_dir():
        raise DatasetError(
            f"{folder} does not exist; a segmentation folder needs images/ and labels/ with one "
            "NIfTI file per volume (see silentscope.data.segmentation_folder)"
        )
    files = {}
    for path in sorted(folder.iterdir()):
        stem = _stem(path)
        if stem is None:
            continue
        if stem in files:
            raise DatasetError(f"{folder} holds both {files[stem].name} and {path.name}; keep one")
        files[stem] = path
    if not files:
        raise DatasetError(f"{folder} holds no .nii or .nii.gz files")
    return files


def _read_nifti(root: Path):
    import nibabel

    images = _nifti_files(root / "images")
    labels = _nifti_files(root / "labels")
    unlabelled = sorted(set(images) - set(labels))
    if unlabelled:
        raise DatasetError(
            f"image {unlabelled[0]!r} has no label map in {root / 'labels'}; add it or remove the image"
        )
    orphan = sorted(set(labels) - set(images))
    if orphan:
        raise DatasetError(f"label map {orphan[0]!r} has no image in {root / 'images'}")
    arrays, maps, spacing = [], [], None
    for stem, image_path in images.items():
        image = nibabel.load(image_path)
        label = nibabel.load(labels[stem])
        label_data = np.asanyarray(label.dataobj)
        if not np.allclose(image.affine, label.affine, atol=1e-3):
            raise DatasetError(
                f"label map {labels[stem].name} is not on the grid of {image_path.name} (different "
                "affine); resample it onto the image"
            )
        spatial = label_data.ndim
        zooms = tuple(float(z) for z in image.header.get_zooms()[:spatial])
        if spacing is None:
            spacing = zooms
        elif not np.allclose(zooms, spacing, rtol=1e-3):
            raise DatasetError(
                f"{image_path.name} has voxel spacing {zooms} mm but earlier volumes have {spacing}; "
                "resample all volumes to one spacing"
            )
        arrays.append(np.asarray(image.dataobj, dtype=np.float32))
        maps.append(_integer_labels(label_data, labels[stem].name))
    return arrays, maps, list(images), spacing


def _integer_labels(values: np.ndarray, where: str) -> np.ndarray:
    values = np.asarray(values)
    if np.issubdtype(values.dtype, np.integer):
        return values.astype(np.int64)
    rounded = np.rint(values)
    if not np.isfinite(values).all() or not np.array_equal(rounded, values):
        raise DatasetError(
            f"label map {where} holds non-integer values; store class indices (0 = background)"
        )
    return rounded.astype(np.int64)


def _stack(arrays: list[np.ndarray], maps: list[np.ndarray], ids: list[str]):
    spatial = maps[0].ndim
    if spatial not in (2, 3):
        raise DatasetError(
            f"label map {ids[0]!r} has {spatial} axes; label maps must be 2-D or 3-D"
        )
    images = []
    for image, label, volume in zip(arrays, maps, ids, strict=True):
        if image.ndim == label.ndim:
            image = image[..., None]
        if image.shape[:-1] != label.shape:
            raise DatasetError(
                f"volume {volume!r}: image of shape {image.shape} does not fit its label map of shape "
                f"{label.shape}; the image must have the label map's shape (plus channels last)"
            )
        if images and image.shape != images[0].shape:
            raise DatasetError(
                f"volume {volume!r} has shape {image.shape} but {ids[0]!r} has {images[0].shape}; "
                "resample all volumes to one grid size and channel count"
            )
        images.append(image)
    return np.stack(images), np.stack(maps)


def _read_npz(path: Path):
    with np.load(path, allow_pickle=False) as data:
        missing = [key for key in ("images", "labels") if key not in data.files]
        if missing:
            raise DatasetError(
                f"{path.name} has no {missing[0]!r} array; a segmentation .npz needs 'images' and "
                f"'labels' (it has {', '.join(data.files)})"
            )
        contents = {key: data[key] for key in data.files}
    images = np.asarray(contents.pop("images"), dtype=np.float32)
    labels = _integer_labels(contents.pop("labels"), f"'labels' in {path.name}")
    if images.ndim == labels.ndim:
        images = images[..., None]
    n = len(labels)
    ids = [str(i) for i in contents.pop("ids", [f"volume_{i:04d}" for i in range(n)])]
    spacing = contents.pop("spacing", None)
    spacing = None if spacing is None else tuple(float(s) for s in np.ravel(spacing))
    return images, labels, ids, spacing, contents


def _metadata(ids: list[str], table, extra: dict) -> pd.DataFrame:
    frame = pd.DataFrame({"id": ids})
    if table is not None:
        table = Path(table).expanduser()
        if not table.is_file():
            raise DatasetError(f"metadata table {table} does not exist")
        given = pd.read_csv(table)
        if "id" not in given.columns:
            raise DatasetError(
                f"{table.name} has no 'id' column; add one holding each volume's file name "
                "without extension"
            )
        given["id"] = given["id"].astype(str)
        if given["id"].duplicated().any():
            raise DatasetError(
                f"{table.name} lists volume {given['id'][given['id'].duplicated()].iloc[0]!r} twice"
            )
        unknown = sorted(set(ids) - set(given["id"]))
        if unknown:
            raise DatasetError(f"{table.name} has no row for volume {unknown[0]!r}; add one")
        frame = frame.merge(given, on="id", how="left")
    for key, column in (("patient_ids", "patient_id"), ("split", "split")):
        if key in extra:
            frame[column] = np.asarray(extra[key]).astype(str)
    if "patient_id" not in frame.columns:
        frame["patient_id"] = frame["id"]
    return frame


def _class_names(given, root: Path, extra: dict, labels: np.ndarray) -> tuple[str, ...]:
    if given is None and (root / "classes.txt").is_file():
        given = [
            line.strip() for line in (root / "classes.txt").read_text().splitlines() if line.strip()
        ]
    if given is None and "class_names" in extra:
        given = [str(c) for c in extra["class_names"]]
    if given is None:
        k = max(int(labels.max()) + 1 if labels.size else 2, 2)
        given = ["background", *(f"class_{i}" for i in range(1, k))]
    return tuple(str(c) for c in given)


def _normalise(images: np.ndarray, frame: pd.DataFrame, intensity: str) -> np.ndarray:
    if intensity == "none":
        return images
    low = np.empty(len(images))
    high = np.empty(len(images))
    for i in range(len(images)):
        low[i], high[i] = np.percentile(images[i], (0.5, 99.5))
        scale = high[i] - low[i] if high[i] > low[i] else 1.0
        images[i] = np.clip((images[i] - low[i]) / scale, 0, 1)
    frame["intensity_low"] = low
    frame["intensity_high"] = high
    return images


@register_segmentation_dataset("folder")
def load_segmentation_folder(
    root,
    class_names=None,
    metadata=None,
    fractions=DEFAULT_FRACTIONS,
    seed: int = 0,
    intensity: str = "percentile",
) -> SegmentationSplits:
    """Load a folder of NIfTI images and label maps, or one ``.npz``, as patient-level splits.

    Parameters
    ----------
    root : str or Path
        The folder (``images/``, ``labels/``, optional ``metadata.csv`` and ``classes.txt``)
        or the ``.npz`` file, laid out as the module docstring says.
    class_names : sequence of str, optional
        Background first; default ``classes.txt``, the npz's ``class_names``, or
        ``background, class_1, ...`` up to the largest label.
    metadata : path, optional
        A metadata CSV with an ``id`` column; default ``root/metadata.csv`` when present.
    fractions : (train, val, test), default (0.7, 0.1, 0.2)
        Shares of the patients when the metadata has no ``split`` column.
    seed : int
        Seed of that split.
    intensity : {"percentile", "none"}
        Per-volume scaling to [0, 1] (0.5th-99.5th percentile), or the stored values.

    Returns
    -------
    SegmentationSplits

    Examples
    --------
    >>> import numpy as np, tempfile, pathlib
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "toy.npz"
    >>> labels = np.zeros((10, 8, 8, 8), np.uint8); labels[:, 2:5, 2:5, 2:5] = 1
    >>> np.savez(path, images=labels.astype(np.float32), labels=labels)
    >>> splits = load_segmentation_folder(path, class_names=["background", "cube"])
    >>> len(splits.train), len(splits.val), len(splits.test), splits.ndim_spatial
    (7, 1, 2, 3)
    """
    root = Path(root).expanduser()
    if intensity not in _INTENSITY:
        raise DatasetError(f"intensity must be one of {', '.join(_INTENSITY)}, got {intensity!r}")
    seed = check_count("seed", seed)
    extra: dict = {}
    if root.suffix.lower() == ".npz":
        if not root.is_file():
            raise DatasetError(f"{root} does not exist")
        images, labels, ids, spacing, extra = _read_npz(root)
        base = root.parent
    else:
        if not root.is_dir():
            raise DatasetError(f"{root} is neither a folder nor an .npz file")
        arrays, maps, ids, spacing = _read_nifti(root)
        images, labels = _stack(arrays, maps, ids)
        base = root
        if metadata is None and (root / "metadata.csv").is_file():
            metadata = root / "metadata.csv"
    if len(set(ids)) != len(ids):
        raise DatasetError(f"{root.name} lists a volume id twice; ids must be unique")
    frame = _metadata(ids, metadata, extra)
    images = _normalise(images, frame, intensity)
    names = _class_names(class_names, base, extra, labels)
    if "split" in frame.columns:
        split = frame["split"].astype(str).to_numpy()
        bad = ~np.isin(split, SEGMENTATION_SPLITS)
        if bad.any():
            raise DatasetError(
                f"the split column holds {split[bad][0]!r} for volume {ids[int(np.flatnonzero(bad)[0])]!r}; "
                "use train, val or test"
            )
    else:
        split = patient_split(
            np.zeros(len(ids), int),
            frame["patient_id"].astype(str),
            fractions,
            seed,
            stratify=False,
        )
        frame["split"] = split
    sets = {}
    for name in SEGMENTATION_SPLITS:
        rows = np.flatnonzero(split == name)
        sets[name] = SegmentationSet(
            images[rows],
            labels[rows],
            names,
            frame.iloc[rows].reset_index(drop=True),
            tuple(ids[i] for i in rows),
            spacing,
        )
    info = {"source": str(root), "seed": seed, "intensity": intensity}
    return SegmentationSplits(**sets, name=root.stem if root.is_file() else root.name, info=info)

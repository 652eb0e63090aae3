"""Images on disk plus a metadata table (CSV or Parquet), or one sub-folder per class.

Two layouts are read:

* a table with one row per image: a file column (relative to the image folder), a label
  column (class names or indices) and any metadata and report-text columns;
* without a table, ``<root>/<class>/<image>`` or ``<root>/<split>/<class>/<image>``.

Images are decoded lazily (see :class:`~silentscope.data.files.FileImages`).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from silentscope.data.dataset import SPLITS, ImageDataset
from silentscope.data.duplicates import DuplicateReport, find_duplicates
from silentscope.data.errors import DatasetError
from silentscope.data.files import FileImages, md5_of_file
from silentscope.data.labels import encode_labels
from silentscope.data.patient_split import (
    DEFAULT_FRACTIONS,
    check_no_patient_leakage,
    patient_split,
)

AUTO = "auto"
#: Table files looked for in the root folder, in order, when no table is given.
TABLE_NAMES = ("metadata.csv", "metadata.parquet", "labels.csv", "labels.parquet")
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".gif", ".webp")
#: ``keep``: keep every row; ``report``: keep every row and store the duplicate report in
#: ``info["duplicates"]``; ``deduplicate``: drop all but the first copy of each byte-identical
#: group and every copy of a group whose labels conflict, recording what was dropped.
DUPLICATE_POLICIES = ("keep", "report", "deduplicate")
_AUTO_COLUMNS = {
    "split": ("split",),
    "patient": ("patient_id", "patient"),
    "text": ("text", "report"),
}


def read_table(path: str | Path) -> pd.DataFrame:
    """Read a CSV, TSV or Parquet table, with a clear error for other formats.

    Examples
    --------
    >>> import tempfile
    >>> path = tempfile.mkdtemp() + "/t.csv"
    >>> _ = open(path, "w").write("file,label\\na.png,x\\n")
    >>> read_table(path).columns.tolist()
    ['file', 'label']
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"metadata table {path} does not exist")
    suffix = path.suffix.lower()
    try:
        if suffix == ".csv":
            return pd.read_csv(path)
        if suffix in (".tsv", ".tab"):
            return pd.read_csv(path, sep="\t")
        if suffix in (".parquet", ".pq"):
            return pd.read_parquet(path)
    except (ValueError, OSError, pd.errors.ParserError) as error:
        raise DatasetError(f"cannot read the table {path}: {error}") from None
    raise DatasetError(
        f"table {path} must be .csv, .tsv or .parquet, got {suffix or 'no suffix'!r}"
    )


def scan_class_folders(root: str | Path) -> pd.DataFrame:
    """A table (``file``, ``label`` and maybe ``split``) from ``<root>/[<split>/]<class>/<image>``.

    Examples
    --------
    >>> import tempfile, numpy as np
    >>> from pathlib import Path
    >>> from PIL import Image
    >>> root = Path(tempfile.mkdtemp())
    >>> for cls in ("benign", "malignant"):
    ...     (root / cls).mkdir()
    ...     Image.fromarray(np.zeros((8, 8), np.uint8)).save(root / cls / "a.png")
    >>> scan_class_folders(root).to_dict("list")
    {'file': ['benign/a.png', 'malignant/a.png'], 'label': ['benign', 'malignant']}
    """
    root = Path(root)
    folders = sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))
    if not folders:
        raise DatasetError(
            f"{root} has neither a metadata table ({', '.join(TABLE_NAMES)}) nor class sub-folders; "
            "pass table=... or arrange images as <root>/<class>/<image>"
        )
    by_split = {p.name for p in folders} <= set(SPLITS)
    rows = []
    for top in folders:
        class_folders = sorted(p for p in top.iterdir() if p.is_dir()) if by_split else [top]
        for folder in class_folders:
            for file in sorted(folder.iterdir()):
                if file.suffix.lower() in IMAGE_SUFFIXES:
                    row = {"file": file.relative_to(root).as_posix(), "label": folder.name}
                    if by_split:
                        row["split"] = top.name
                    rows.append(row)
    if not rows:
        raise DatasetError(f"no image files ({', '.join(IMAGE_SUFFIXES)}) found under {root}")
    return pd.DataFrame(rows)


def _resolve_column(table: pd.DataFrame, value: str | None, kind: str, source: str) -> str | None:
    if value is None:
        return None
    if value == AUTO:
        return next((c for c in _AUTO_COLUMNS[kind] if c in table.columns), None)
    if value not in table.columns:
        raise DatasetError(
            f"{source} has no column {value!r} ({kind}); its columns are {list(table.columns)}"
        )
    return value


def _check_files(paths: np.ndarray, source: str) -> None:
    missing = np.array([not Path(p).is_file() for p in paths], dtype=bool)
    if missing.any():
        rows = np.flatnonzero(missing)
        raise FileNotFoundError(
            f"{len(rows)} image file(s) listed in {source} do not exist, first {paths[rows[0]]} (row {rows[0]}); "
            "fix the file column or the image folder (image_dir)"
        )


def verify_images(images: FileImages) -> None:
    """Open every file once and raise on the first unreadable image or mismatched shape."""
    for row in range(len(images)):
        images[row]


def load_folder(
    root: str | Path,
    table: str | Path | pd.DataFrame | None = None,
    *,
    image_column: str = "file",
    label_column: str = "label",
    class_names: Sequence[str] | None = None,
    split_column: str | None = AUTO,
    patient_column: str | None = AUTO,
    text_column: str | None = AUTO,
    id_column: str | None = None,
    metadata_columns: Sequence[str] | None = None,
    image_dir: str | Path | None = None,
    size: int | tuple[int, int] | None = None,
    color: str = "auto",
    fractions: Sequence[float] = DEFAULT_FRACTIONS,
    seed: int = 0,
    modality: str = "generic",
    name: str | None = None,
    duplicates: str = "keep",
    verify: bool = False,
) -> ImageDataset:
    """Images in a folder with a metadata table (or class sub-folders) as an ImageDataset.

    Parameters
    ----------
    root : str or Path
        The dataset folder (or the table file itself).
    table : path or DataFrame, optional
        One row per image. Default: the first of :data:`TABLE_NAMES` in ``root``, else the
        class-folder layout.
    image_column, label_column : str
        File path (relative to ``image_dir`` or absolute) and label (class name or index).
    class_names : sequence of str, optional
        Classes in index order; default: sorted distinct names (or ``0..K-1``).
    split_column : str or None
        Column with ``train``/``val``/``test``; ``"auto"`` uses ``split`` if present. Without
        one, a patient-level split is drawn (:func:`patient_split`, ``fractions``, ``seed``).
    patient_column : str or None
        Patient id, so that no patient spans two splits; ``"auto"`` uses ``patient_id`` or
        ``patient`` if present. Without one, every image counts as its own patient.
    text_column : str or None
        Report text; ``"auto"`` uses ``text`` or ``report`` if present. Missing text is ``""``.
    id_column : str, optional
        Sample ids; default: the file path as written in the table.
    metadata_columns : sequence of str, optional
        Columns kept as metadata; default: every column not used above.
    image_dir : str or Path, optional
        Base of relative file paths; default ``<root>/images`` if it exists, else ``root``.
    size : int or (height, width), optional
        Resize on load; without it all images must share one size.
    color : {"auto", "grey", "rgb"}
        See :class:`~silentscope.data.files.FileImages`.
    fractions, seed
        Of the patient-level split, when the table has no split column.
    modality : str
        One of :data:`~silentscope.data.dataset.MODALITIES`.
    name : str, optional
        Dataset name; default: the folder name.
    duplicates : {"keep", "report", "deduplicate"}
        See :data:`DUPLICATE_POLICIES`.
    verify : bool
        Decode every image once now, so that unreadable files and size or channel mismatches
        fail at load time rather than during training.

    Returns
    -------
    ImageDataset

    Raises
    ------
    FileNotFoundError
        The table or an image file is missing (the first missing file and its row are named).
    DatasetError
        A named column is absent, a label is unknown, a split value is invalid, a patient is
        in two splits, sample ids repeat, or (with ``verify``) an image is unreadable.

    Examples
    --------
    >>> import tempfile, numpy as np, pandas as pd
    >>> from pathlib import Path
    >>> from PIL import Image
    >>> root = Path(tempfile.mkdtemp())
    >>> for i in range(20):
    ...     Image.fromarray(np.full((12, 12, 3), 10 * i, np.uint8)).save(root / f"{i}.png")
    >>> pd.DataFrame({"file": [f"{i}.png" for i in range(20)], "label": ["a", "b"] * 10,
    ...               "patient_id": np.arange(20) // 2, "age": np.arange(20) + 40}).to_csv(
    ...     root / "metadata.csv", index=False)
    >>> data = load_folder(root, size=8)
    >>> data.class_names, data.load_images([0]).shape, data.metadata.columns.tolist()
    (('a', 'b'), (1, 8, 8, 3), ['patient_id', 'age'])
    """
    root = Path(root)
    if root.is_file():
        table, root = root if table is None else table, root.parent
    if not root.is_dir():
        raise FileNotFoundError(f"dataset folder {root} does not exist")
    if duplicates not in DUPLICATE_POLICIES:
        raise DatasetError(f"duplicates must be one of {DUPLICATE_POLICIES}, got {duplicates!r}")
    if table is None:
        found = next((root / n for n in TABLE_NAMES if (root / n).is_file()), None)
        frame, source = (
            (read_table(found), found.name) if found else (scan_class_folders(root), f"{root}/")
        )
        if found is None:
            image_dir = root if image_dir is None else image_dir
    elif isinstance(table, pd.DataFrame):
        frame, source = table.copy(), "the table"
    else:
        frame, source = read_table(table), Path(table).name
    frame = frame.reset_index(drop=True)
    if len(frame) == 0:
        raise DatasetError(f"{source} has no rows")
    for column, what in ((image_column, "image file"), (label_column, "label")):
        if column not in frame.columns:
            raise DatasetError(
                f"{source} has no {what} column {column!r}; its columns are {list(frame.columns)} "
                f"(pass {'image_column' if what == 'image file' else 'label_column'}=...)"
            )
    split_column = _resolve_column(frame, split_column, "split", source)
    patient_column = _resolve_column(frame, patient_column, "patient", source)
    text_column = _resolve_column(frame, text_column, "text", source)
    if id_column is not None and id_column not in frame.columns:
        raise DatasetError(
            f"{source} has no id column {id_column!r}; its columns are {list(frame.columns)}"
        )

    if frame[image_column].isna().any():
        row = int(np.flatnonzero(frame[image_column].isna())[0])
        raise DatasetError(f"{source}: row {row} has no image file; every row needs one")
    files = frame[image_column].astype(str).to_numpy()
    if image_dir is None:
        image_dir = root / "images" if (root / "images").is_dir() else root
    paths = np.array([str(Path(image_dir) / f) for f in files], dtype=object)
    _check_files(paths, source)
    labels, class_names = encode_labels(
        frame[label_column].to_numpy(), class_names, source=f"{source}, column {label_column!r}"
    )
    sample_ids = (frame[id_column] if id_column else frame[image_column]).astype(str).to_numpy()
    repeated = pd.Series(sample_ids).duplicated(keep=False).to_numpy()
    if repeated.any():
        rows = np.flatnonzero(repeated)[:2]
        raise DatasetError(
            f"{source}: rows {rows[0]} and {rows[1]} have the same sample id {sample_ids[rows[0]]!r}; "
            "each row must name its own image (or pass a unique id_column)"
        )

    info: dict = {
        "source": str(root),
        "table": source,
        "image_dir": str(image_dir),
        "size": size,
        "color": color,
    }
    keep = np.ones(len(frame), dtype=bool)
    report: DuplicateReport | None = None
    if duplicates != "keep":
        given_split = frame[split_column].astype(str).to_numpy() if split_column else None
        report = find_duplicates(
            [md5_of_file(p) for p in paths], labels, given_split, sample_ids,
            class_names=class_names, method="bytes",
        )  # fmt: skip
        info["duplicates"] = report.summary()
        if duplicates == "deduplicate":
            keep = ~report.rows_to_drop()
            info["dropped_duplicates"] = sample_ids[~keep].tolist()

    if split_column:
        split = frame[split_column].astype(str).str.strip().to_numpy()
        bad = ~np.isin(split, SPLITS)
        if bad.any():
            row = int(np.flatnonzero(bad)[0])
            raise DatasetError(
                f"{source}: row {row} has split {split[row]!r}; the {split_column!r} column must hold "
                f"{' / '.join(SPLITS)}"
            )
        info["split"] = f"column {split_column!r}"
    else:
        groups = frame[patient_column].astype(str).to_numpy() if patient_column else None
        split = np.full(len(frame), "train", dtype=object)
        split[keep] = patient_split(
            labels[keep], None if groups is None else groups[keep], fractions, seed
        )
        split = split.astype(str)
        info["split"] = {
            "patient_column": patient_column,
            "fractions": list(map(float, fractions)),
            "seed": seed,
        }
    if patient_column:
        check_no_patient_leakage(split[keep], frame[patient_column].astype(str).to_numpy()[keep])

    used = {image_column, label_column, split_column, text_column, id_column} - {None}
    if metadata_columns is None:
        metadata_columns = [c for c in frame.columns if c not in used]
    missing = [c for c in metadata_columns if c not in frame.columns]
    if missing:
        raise DatasetError(
            f"{source} has no metadata column(s) {missing}; its columns are {list(frame.columns)}"
        )
    if patient_column and patient_column in metadata_columns:
        # the table told us which column is the patient: it is an identifier, never a property
        info["metadata_roles"] = {
            patient_column: {
                "role": "identifier",
                "reason": "is the patient column of the image table (declared by load_folder)",
            }
        }
    text = None
    if text_column:
        text = frame[text_column].fillna("").astype(str).to_numpy()
    rows = np.flatnonzero(keep)
    images = FileImages(paths[rows], size=size, color=color)
    if verify:
        verify_images(images)
    return ImageDataset(
        name=name or root.name,
        images=images,
        labels=labels[rows],
        class_names=class_names,
        split=split[rows],
        sample_ids=sample_ids[rows],
        metadata=frame.loc[rows, list(metadata_columns)].reset_index(drop=True),
        text=None if text is None else text[rows],
        image_refs=paths[rows].astype(str),
        modality=modality,
        info=info,
    )


__all__ = [
    "DUPLICATE_POLICIES",
    "TABLE_NAMES",
    "load_folder",
    "read_table",
    "scan_class_folders",
    "verify_images",
]

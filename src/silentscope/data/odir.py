"""ODIR-5K colour fundus photographs (one image per eye) with age, sex and diagnostic text.

The layout is the one in silentscope's shared data folder: ``<root>/images/*.jpg`` and
``<root>/metadata.csv`` with one row per image (``file, patient_id, eye, age, sex,
label_code, keywords, N, D, G, C, A, H, M, O, md5, n_files_same_bytes``).

**Label choice.** ODIR's eight labels ``N D G C A H M O`` are *patient-level* (both eyes
together), so they are not used as the target. The target is the per-eye ``label_code``
mapped to one class (single-label). ``DH`` (diabetic and hypertensive retinopathy in the
same eye) maps to diabetic retinopathy, the first-named finding. The 176 ``DH`` images are
byte-identical copies of the 176 ``H`` images, so the mapping keeps a real label conflict
that :func:`~silentscope.data.duplicates.duplicate_report` finds; pass
``duplicates="deduplicate"`` to drop both copies before training.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from silentscope.data.dataset import ImageDataset
from silentscope.data.errors import DatasetError
from silentscope.data.folder import load_folder, read_table
from silentscope.data.patient_split import DEFAULT_FRACTIONS

CODE_CLASSES = {
    "N": "normal",
    "D": "diabetic retinopathy",
    "G": "glaucoma",
    "C": "cataract",
    "A": "age-related macular degeneration",
    "H": "hypertensive retinopathy",
    "M": "pathological myopia",
    "O": "other abnormality",
}
#: How a per-eye ``label_code`` becomes one class, per label scheme.
LABEL_SCHEMES: dict[str, dict[str, str]] = {
    "code": {**CODE_CLASSES, "DH": CODE_CLASSES["D"]},
    "normal_abnormal": {
        code: "normal" if code == "N" else "abnormal" for code in (*CODE_CLASSES, "DH")
    },
}
_CLASS_ORDER = {
    "code": tuple(CODE_CLASSES.values()),
    "normal_abnormal": ("normal", "abnormal"),
}
METADATA_COLUMNS = ("patient_id", "age", "sex", "eye", "label_code")
#: What the adapter knows of its columns (see :mod:`silentscope.audit.roles`).
ODIR_ROLES = {
    "patient_id": {
        "role": "identifier",
        "reason": "is the ODIR patient number (declared by the ODIR adapter)",
    },
    "age": "clinical",
    "sex": "clinical",
    "eye": "acquisition",
    "label_code": {
        "role": "label_derived",
        "reason": "is the per-eye diagnosis code that the class is mapped from (declared by the "
        "ODIR adapter)",
    },
}


def load_odir(
    root: str | Path,
    size: int | None = 64,
    label_scheme: str = "code",
    duplicates: str = "report",
    fractions: Sequence[float] = DEFAULT_FRACTIONS,
    seed: int = 0,
    verify: bool = False,
) -> ImageDataset:
    """ODIR-5K as a single-label fundus dataset with a patient-level split.

    Parameters
    ----------
    root : str or Path
        Folder with ``metadata.csv`` and ``images/``.
    size : int or None
        Resize on load (64 to 96 px suits a CPU; the files are 256 px). ``None`` keeps 256.
    label_scheme : {"code", "normal_abnormal"}
        ``code``: eight classes from the per-eye code (``DH`` as diabetic retinopathy);
        ``normal_abnormal``: ``N`` against every other code.
    duplicates : {"keep", "report", "deduplicate"}
        See :data:`~silentscope.data.folder.DUPLICATE_POLICIES`; ``report`` (default) keeps
        every image and stores the byte-duplicate report in ``info["duplicates"]``.
    fractions, seed
        Patient-level split (no patient in two splits), stratified by label.
    verify : bool
        Decode every image once at load time.

    Returns
    -------
    ImageDataset
        ``text`` = the per-eye diagnostic keywords; metadata = ``patient_id, age, sex, eye,
        label_code``; modality ``fundus``.

    Examples
    --------
    >>> import os, tempfile, numpy as np, pandas as pd
    >>> from PIL import Image
    >>> root = tempfile.mkdtemp(); os.mkdir(f"{root}/images")
    >>> rows = []
    >>> for pid in range(10):
    ...     for eye, code in (("left", "N"), ("right", "DH" if pid % 2 else "D")):
    ...         file = f"{pid}_{eye}.jpg"
    ...         Image.fromarray(np.full((32, 32, 3), pid * 20, np.uint8)).save(f"{root}/images/{file}")
    ...         rows.append(dict(file=file, patient_id=pid, eye=eye, age=50 + pid, sex="Female",
    ...                          label_code=code, keywords="normal fundus" if code == "N" else "retinopathy"))
    >>> pd.DataFrame(rows).to_csv(f"{root}/metadata.csv", index=False)
    >>> data = load_odir(root, size=16, label_scheme="normal_abnormal")
    >>> data.class_names, data.info["duplicates"]["n_groups"]
    (('normal', 'abnormal'), 10)
    """
    if label_scheme not in LABEL_SCHEMES:
        raise DatasetError(
            f"label_scheme must be one of {tuple(LABEL_SCHEMES)}, got {label_scheme!r}"
        )
    root = Path(root)
    table = read_table(root / "metadata.csv")
    needed = ["file", "label_code", "keywords", *METADATA_COLUMNS]
    missing = [c for c in dict.fromkeys(needed) if c not in table.columns]
    if missing:
        raise DatasetError(
            f"{root / 'metadata.csv'} lacks the ODIR columns {missing}; it needs {list(dict.fromkeys(needed))}"
        )
    mapping = LABEL_SCHEMES[label_scheme]
    codes = table["label_code"].astype(str).str.strip()
    unknown = ~codes.isin(list(mapping))
    if unknown.any():
        row = int(np.flatnonzero(unknown.to_numpy())[0])
        raise DatasetError(
            f"metadata.csv row {row} has label_code {codes[row]!r}, which is not an ODIR code "
            f"({', '.join(mapping)}); fix the row"
        )
    frame = pd.DataFrame(
        {"file": table["file"], "label": codes.map(mapping), "text": table["keywords"]}
    )
    for column in METADATA_COLUMNS:
        frame[column] = table[column]
    dataset = load_folder(
        root,
        frame,
        image_column="file",
        label_column="label",
        class_names=_CLASS_ORDER[label_scheme],
        split_column=None,
        patient_column="patient_id",
        text_column="text",
        metadata_columns=list(METADATA_COLUMNS),
        image_dir=root / "images",
        size=size,
        color="rgb",
        fractions=fractions,
        seed=seed,
        modality="fundus",
        name="odir",
        duplicates=duplicates,
        verify=verify,
    )
    dataset.info.update(
        {
            "dataset": "ODIR-5K",
            "label_scheme": label_scheme,
            "label_mapping": mapping,
            "licence": "research use only",
            "metadata_roles": ODIR_ROLES,
        }
    )
    return dataset

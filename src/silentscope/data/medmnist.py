"""MedMNIST v2/v3 (2D) from the official npz files, with the official task types and class names.

Files are read from a root folder exactly as the ``medmnist`` package names them:
``<root>/<flag>.npz`` for 28 px and ``<root>/<flag>_<size>.npz`` for 64, 128 and 224 px
(MedMNIST+), each holding ``{train,val,test}_images`` (uint8, (N, H, W) or (N, H, W, 3)) and
``{train,val,test}_labels`` (uint8, (N, 1); (N, 14) 0/1 findings for the multi-label
ChestMNIST).

Metadata (tasks, labels, split sizes) follow the ``INFO`` table of the medmnist package
(Yang et al., "MedMNIST v2", Scientific Data 10, 41, 2023).
"""

from __future__ import annotations

import os
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from silentscope._suggest import unknown_name
from silentscope.data.dataset import ImageDataset
from silentscope.data.errors import DatasetError

SIZES = (28, 64, 128, 224)
_SPLITS = ("train", "val", "test")
#: Tasks silentscope audits; others are listed in the table but refused with a clear error.
SUPPORTED_TASKS = ("binary-class", "multi-class", "ordinal-regression", "multi-label, binary-class")
MULTI_LABEL = "multi-label, binary-class"
#: The single-label view of a multi-label dataset: does the image show any finding?
ANY_FINDING_CLASSES = ("no finding", "any finding")

_ORGANS = (
    "bladder", "femur-left", "femur-right", "heart", "kidney-left", "kidney-right",
    "liver", "lung-left", "lung-right", "pancreas", "spleen",
)  # fmt: skip


@dataclass(frozen=True)
class MedMNISTInfo:
    """Facts about one 2D MedMNIST dataset.

    ``modality`` (one of :data:`~silentscope.data.dataset.MODALITIES`) selects silentscope's
    corruption suite; ``imaging`` says what the images show. ``n_samples`` are the official
    (train, val, test) sizes.
    """

    flag: str
    python_class: str
    task: str
    class_names: tuple[str, ...]
    n_channels: int
    n_samples: tuple[int, int, int]
    modality: str
    imaging: str
    license: str = "CC BY 4.0"


def _info(flag, cls, task, names, channels, samples, modality, imaging, license="CC BY 4.0"):
    return MedMNISTInfo(
        flag, cls, task, tuple(names), channels, samples, modality, imaging, license
    )


#: The 2D MedMNIST v2 datasets.
MEDMNIST_INFO: dict[str, MedMNISTInfo] = {
    info.flag: info
    for info in (
        _info("pathmnist", "PathMNIST", "multi-class",
              ("adipose", "background", "debris", "lymphocytes", "mucus", "smooth muscle",
               "normal colon mucosa", "cancer-associated stroma", "colorectal adenocarcinoma epithelium"),
              3, (89996, 10004, 7180), "histology", "colon pathology (H&E)"),
        _info("chestmnist", "ChestMNIST", "multi-label, binary-class",
              ("atelectasis", "cardiomegaly", "effusion", "infiltration", "mass", "nodule", "pneumonia",
               "pneumothorax", "consolidation", "edema", "emphysema", "fibrosis", "pleural", "hernia"),
              1, (78468, 11219, 22433), "xray", "chest X-ray"),
        _info("dermamnist", "DermaMNIST", "multi-class",
              ("actinic keratoses and intraepithelial carcinoma", "basal cell carcinoma",
               "benign keratosis-like lesions", "dermatofibroma", "melanoma", "melanocytic nevi",
               "vascular lesions"),
              3, (7007, 1003, 2005), "dermatoscopy", "dermatoscopy", "CC BY-NC 4.0"),
        _info("octmnist", "OCTMNIST", "multi-class",
              ("choroidal neovascularization", "diabetic macular edema", "drusen", "normal"),
              1, (97477, 10832, 1000), "oct", "retinal OCT"),
        _info("pneumoniamnist", "PneumoniaMNIST", "binary-class", ("normal", "pneumonia"),
              1, (4708, 524, 624), "xray", "paediatric chest X-ray"),
        _info("retinamnist", "RetinaMNIST", "ordinal-regression", ("0", "1", "2", "3", "4"),
              3, (1080, 120, 400), "fundus", "fundus camera (diabetic retinopathy grade)"),
        _info("breastmnist", "BreastMNIST", "binary-class", ("malignant", "normal, benign"),
              1, (546, 78, 156), "ultrasound", "breast ultrasound"),
        _info("bloodmnist", "BloodMNIST", "multi-class",
              ("basophil", "eosinophil", "erythroblast",
               "immature granulocytes(myelocytes, metamyelocytes and promyelocytes)", "lymphocyte",
               "monocyte", "neutrophil", "platelet"),
              3, (11959, 1712, 3421), "microscopy", "blood cell microscopy (stained smear)"),
        _info("tissuemnist", "TissueMNIST", "multi-class",
              ("Collecting Duct, Connecting Tubule", "Distal Convoluted Tubule",
               "Glomerular endothelial cells", "Interstitial endothelial cells", "Leukocytes",
               "Podocytes", "Proximal Tubule Segments", "Thick Ascending Limb"),
              1, (165466, 23640, 47280), "microscopy", "kidney cortex microscopy (grey)"),
        _info("organamnist", "OrganAMNIST", "multi-class", _ORGANS,
              1, (34581, 6491, 17778), "ct", "abdominal CT (axial)"),
        _info("organcmnist", "OrganCMNIST", "multi-class", _ORGANS,
              1, (13000, 2392, 8268), "ct", "abdominal CT (coronal)"),
        _info("organsmnist", "OrganSMNIST", "multi-class", _ORGANS,
              1, (13940, 2452, 8829), "ct", "abdominal CT (sagittal)"),
    )
}  # fmt: skip


def default_root() -> Path:
    """``$MEDMNIST_ROOT`` if set, else ``~/.medmnist`` (the medmnist package's default)."""
    return Path(os.environ.get("MEDMNIST_ROOT", Path.home() / ".medmnist"))


def medmnist_info(flag: str) -> MedMNISTInfo:
    """The table entry of a MedMNIST flag, with an error listing the known flags.

    Examples
    --------
    >>> medmnist_info("pneumoniamnist").class_names
    ('normal', 'pneumonia')
    >>> medmnist_info("octmnist").imaging
    'retinal OCT'
    """
    if flag not in MEDMNIST_INFO:
        raise DatasetError(unknown_name("MedMNIST dataset", flag, MEDMNIST_INFO))
    return MEDMNIST_INFO[flag]


def medmnist_path(flag: str, root: str | Path | None = None, size: int = 28) -> Path:
    """Where the medmnist package keeps a flag's file: ``<flag>.npz`` or ``<flag>_<size>.npz``.

    Examples
    --------
    >>> medmnist_path("dermamnist", "/data", size=64).as_posix()
    '/data/dermamnist_64.npz'
    """
    if size not in SIZES:
        raise DatasetError(f"MedMNIST size must be one of {SIZES}, got {size!r}")
    root = default_root() if root is None else Path(root)
    return root / (f"{flag}.npz" if size == 28 else f"{flag}_{size}.npz")


def download_medmnist(flag: str, root: str | Path | None = None, size: int = 28) -> Path:
    """Download a flag's npz file with the ``medmnist`` package (only when asked for).

    Raises
    ------
    DatasetError
        The medmnist package is not installed or the download failed (e.g. no network).
    """
    info = medmnist_info(flag)
    root = default_root() if root is None else Path(root)
    try:
        import medmnist
    except ImportError:
        raise DatasetError(
            f"downloading {flag} needs the medmnist package, which is not installed; "
            f"run `pip install medmnist` or place {medmnist_path(flag, root, size).name} in {root} yourself"
        ) from None
    root.mkdir(parents=True, exist_ok=True)
    options = {"split": "train", "download": True, "root": str(root)}
    if size != 28:
        options["size"] = size  # MedMNIST+ (medmnist >= 3) only
    try:
        getattr(medmnist, info.python_class)(**options)
    except Exception as error:  # the package raises bare RuntimeError/URLError/TypeError
        raise DatasetError(
            f"could not download {flag} ({size} px) into {root}: {error}; check the network connection "
            f"(and medmnist>=3 for sizes other than 28) or copy the file there by hand"
        ) from None
    return medmnist_path(flag, root, size)


def _read_npz(path: Path, info: MedMNISTInfo, size: int) -> dict[str, np.ndarray]:
    needed = [f"{split}_{kind}" for split in _SPLITS for kind in ("images", "labels")]
    with open(path, "rb") as handle:
        if handle.read(2) != b"PK":  # numpy would try to unpickle it and suggest allow_pickle
            raise DatasetError(
                f"cannot read {path}: it is not an npz archive (it lacks the zip header); copy or "
                "download it again"
            )
    # A truncated or damaged file fails when opened (BadZipFile) or only when an array is
    # decompressed (zlib.error, EOFError, ValueError); both are the same problem for the user.
    try:
        with np.load(path, allow_pickle=False) as archive:
            missing = [key for key in needed if key not in archive.files]
            if missing:
                raise DatasetError(
                    f"{path} lacks the keys {missing} (it has {archive.files}); a MedMNIST file holds "
                    f"{needed}"
                )
            arrays = {key: archive[key] for key in needed}
    except DatasetError:
        raise
    except (OSError, ValueError, EOFError, zipfile.BadZipFile, zlib.error) as error:
        if "pickle" in str(error):
            reason = "it holds Python objects, which silentscope never loads"
        else:
            lines = str(error).strip().splitlines()
            reason = (
                f"{lines[0] if lines else type(error).__name__}; the file is truncated or damaged"
            )
        raise DatasetError(
            f"cannot read {path} as a MedMNIST npz file ({reason}): copy or download it again"
        ) from None
    for split in _SPLITS:
        images, labels = arrays[f"{split}_images"], arrays[f"{split}_labels"]
        channels = 1 if images.ndim == 3 else images.shape[-1]
        if images.ndim not in (3, 4) or images.dtype != np.uint8 or channels not in (1, 3):
            raise DatasetError(
                f"{path}: {split}_images must be uint8 of shape (N, H, W) or (N, H, W, 3), got "
                f"{images.dtype} {images.shape}"
            )
        if images.shape[1:3] != (size, size):
            raise DatasetError(
                f"{path}: {split}_images are {images.shape[1]}x{images.shape[2]} px but size={size} was "
                f"asked for; pass size={images.shape[1]} or use the {size} px file"
            )
        if channels != info.n_channels:
            raise DatasetError(
                f"{path}: {split}_images have {channels} channel(s) but {info.flag} has {info.n_channels}; "
                "the file belongs to another dataset"
            )
        if info.task == MULTI_LABEL:
            n_findings = len(info.class_names)
            if labels.ndim != 2 or labels.shape[1] != n_findings:
                raise DatasetError(
                    f"{path}: {split}_labels has shape {labels.shape}; {info.flag} is multi-label and needs "
                    f"(N, {n_findings}), one 0/1 column per finding"
                )
            bad = ~np.isin(labels, (0, 1))
            if bad.any():
                row, col = (int(i[0]) for i in np.nonzero(bad))
                raise DatasetError(
                    f"{path}: {split}_labels row {row}, column {col} holds {labels[row, col]}; "
                    f"{info.flag} findings are 0 or 1"
                )
        elif labels.ndim == 2 and labels.shape[1] != 1:
            raise DatasetError(
                f"{path}: {split}_labels has {labels.shape[1]} columns; single-label files have shape (N, 1)"
            )
        if len(labels) != len(images):
            raise DatasetError(
                f"{path}: {split}_labels has {len(labels)} rows for {len(images)} {split}_images"
            )
    return arrays


def load_medmnist(
    flag: str, root: str | Path | None = None, size: int = 28, download: bool = False
) -> ImageDataset:
    """A 2D MedMNIST dataset with its official train/val/test split.

    Parameters
    ----------
    flag : str
        One of :data:`MEDMNIST_INFO` (``pneumoniamnist``, ``dermamnist``, ...).
    root : str or Path, optional
        Folder with the npz files; default :func:`default_root`.
    size : {28, 64, 128, 224}
        Image size; sizes above 28 are the MedMNIST+ files ``<flag>_<size>.npz``.
    download : bool
        If the file is absent, download it with the ``medmnist`` package. Never done
        unless asked.

    Returns
    -------
    ImageDataset
        Sample ids ``<flag>/<split>/<index>``, image refs ``<file>#<split>_images/<index>``
        and metadata column ``source_index`` (the index inside the split's array). The
        multi-label ChestMNIST comes with ``targets`` (N, 14) and ``target_names`` (the
        14 findings); its ``labels`` are then the single-label view
        :data:`ANY_FINDING_CLASSES` (1 when any finding is present). Train a multi-label
        model on it with ``Trainer(objective="bce")`` and audit it per finding with
        :func:`silentscope.models.multilabel.audit_multilabel`.

    Raises
    ------
    DatasetError
        Unknown flag, missing file without ``download``, missing keys, images of the
        wrong size or channel count, or labels of the wrong shape or range.

    Examples
    --------
    >>> import numpy as np, tempfile
    >>> root = tempfile.mkdtemp()
    >>> rng = np.random.default_rng(0)
    >>> arrays = {f"{s}_{k}": (rng.integers(0, 255, (n, 28, 28), dtype=np.uint8) if k == "images"
    ...           else rng.integers(0, 2, (n, 1), dtype=np.uint8))
    ...           for s, n in (("train", 6), ("val", 2), ("test", 3)) for k in ("images", "labels")}
    >>> np.savez(f"{root}/breastmnist.npz", **arrays)
    >>> data = load_medmnist("breastmnist", root)
    >>> len(data), data.info["imaging"], data.class_names
    (11, 'breast ultrasound', ('malignant', 'normal, benign'))
    """
    info = medmnist_info(flag)
    if info.task not in SUPPORTED_TASKS:
        raise DatasetError(
            f"{flag} is a {info.task} task, which silentscope does not support; pick one of the "
            f"{', '.join(SUPPORTED_TASKS)} datasets"
        )
    path = medmnist_path(flag, root, size)
    if not path.is_file():
        if not download:
            raise FileNotFoundError(
                f"{path} does not exist; point root (--root, --data-root) at the folder that holds "
                f"{path.name}, copy the file there, or fetch it with the option download=true "
                "(--option / --data-option download=true; needs the medmnist package and network)"
            )
        path = download_medmnist(flag, path.parent, size)
    arrays = _read_npz(path, info, size)
    images, labels, split, index = [], [], [], []
    multi_label = info.task == MULTI_LABEL
    for name in _SPLITS:
        split_images = arrays[f"{name}_images"]
        images.append(split_images if split_images.ndim == 4 else split_images[..., None])
        split_labels = arrays[f"{name}_labels"]
        labels.append(split_labels if multi_label else split_labels.reshape(-1).astype(np.int64))
        split.append(np.full(len(split_images), name))
        index.append(np.arange(len(split_images)))
    targets = np.concatenate(labels).astype(np.uint8) if multi_label else None
    labels_all = targets.any(axis=1).astype(np.int64) if multi_label else np.concatenate(labels)
    class_names = ANY_FINDING_CLASSES if multi_label else info.class_names
    bad = labels_all >= len(class_names)
    if bad.any():
        row = int(np.flatnonzero(bad)[0])
        raise DatasetError(
            f"{path}: label {labels_all[row]} at row {row} is outside 0..{len(class_names) - 1} of {flag}'s classes"
        )
    split_all, index_all = np.concatenate(split), np.concatenate(index)
    sample_ids = np.char.add(
        np.char.add(f"{flag}/", split_all), np.char.add("/", index_all.astype(str))
    )
    refs = np.char.add(
        np.char.add(f"{path}#", split_all), np.char.add("_images/", index_all.astype(str))
    )
    counts = tuple(int((split_all == name).sum()) for name in _SPLITS)
    return ImageDataset(
        name=flag if size == 28 else f"{flag}_{size}",
        images=np.concatenate(images),
        labels=labels_all,
        class_names=class_names,
        split=split_all,
        sample_ids=sample_ids,
        metadata=pd.DataFrame({"source_index": index_all}),
        image_refs=refs,
        modality=info.modality,
        info={
            "source": "MedMNIST",
            "flag": flag,
            "size": size,
            "file": str(path),
            "task": info.task,
            "imaging": info.imaging,
            "license": info.license,
            "official_counts": dict(zip(_SPLITS, info.n_samples, strict=True)),
            "matches_official_counts": counts == info.n_samples,
            "metadata_roles": {
                "source_index": {
                    "role": "index",
                    "reason": "is the row index in the MedMNIST file's split array: it numbers "
                    "samples, it describes none (declared by the MedMNIST adapter)",
                }
            },
            **({"labels": "1 when any of the 14 findings is present"} if multi_label else {}),
        },
        targets=targets,
        target_names=info.class_names if multi_label else None,
    )

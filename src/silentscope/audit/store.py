"""The audit store: an AuditSet on disk, written atomically and validated on load.

Layout of a store folder::

    manifest.json        format, schema version, class names, provenance, metadata roles,
                         file sizes/checksums
    samples.parquet      per-sample columns: ids, test sets, labels, text, image refs,
                         external confidences (``conf.<name>``), metadata (``meta.<column>``),
                         optional continuous ``risk`` and outcomes (``outcome.<name>``)
    logits.npy           (N, C) float32, memory-mappable
    mc_logits.npy        (N, C, M), optional
    features.npy         (N, D), optional
    train_features.npy   (N_train, D) and train_labels.npy, optional
    mc_confidences.<i>.npy  (N, M) per MC external confidence, optional; the manifest's
                         ``mc_confidences`` maps each name to its file
    artifacts/           analysis results added later, each command's as one commit
                         (see :mod:`silentscope.audit.artifacts`)

A write goes to a temporary sibling folder (``.NAME.tmp-HOST-PID-RANDOM``) that replaces the
store in one step at the end (on Linux; elsewhere the old store is moved aside first), so a
killed write leaves the previous store, never a half-written one; the next write of the store
removes such leftovers once their writer is dead.
"""

from __future__ import annotations

import datetime as _dt
import json
import os
import shutil
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from silentscope import __version__
from silentscope.audit import atomic
from silentscope.audit.artifacts import (
    ARTIFACTS,
    artifact_path,
    delete_artifacts,
    list_artifacts,
    published_artifacts,
    read_artifact,
    write_artifact,
    write_artifacts,
)
from silentscope.audit.columns import (
    CONFIDENCE_PREFIX,
    METADATA_PREFIX,
    OUTCOME_PREFIX,
    RISK_COLUMN,
    prefixed,
)
from silentscope.audit.integrity import check_store_files, sha256_file
from silentscope.audit.jsonsafe import json_safe
from silentscope.audit.manifest import (
    ARRAY_NAMES,
    FORMAT,
    MANIFEST,
    SAMPLES,
    SCHEMA_VERSION,
    check_manifest,
    contract_digest,
)
from silentscope.audit.roles import roles_of
from silentscope.audit.validation import AuditSetError

if TYPE_CHECKING:
    import pandas as pd

    from silentscope.audit.auditset import AuditSet

# pandas (and AuditSet, which needs it) are imported where used: reading a manifest or an
# artifact list must not cost pandas' import, e.g. when the viewer reopens a store.

_ARRAYS = ARRAY_NAMES
_SAMPLE_TEXT_COLUMNS = ("text", "image_ref", "shift_params")


def save_audit(audit: AuditSet, path: str | os.PathLike, *, overwrite: bool = False) -> Path:
    """Write ``audit`` as an audit store folder at ``path``, atomically.

    Parameters
    ----------
    audit : AuditSet
    path : path-like
        The store folder to create.
    overwrite : bool, default False
        Replace an existing store. Its artifacts are dropped, since they describe the old data.

    Returns
    -------
    Path
        The store folder.

    Examples
    --------
    >>> import tempfile, numpy as np
    >>> from silentscope.audit import AuditSet
    >>> audit = AuditSet(sample_id=["a", "b"], test_set=["iid", "iid"], label=[0, 1],
    ...                  logits=np.eye(2) * 3, class_names=["no", "yes"])
    >>> store = save_audit(audit, tempfile.mkdtemp() + "/store")
    >>> load_audit(store).n_samples
    2
    """
    path = Path(path)
    if path.exists() and not overwrite:
        raise FileExistsError(
            f"{path} already exists; pass overwrite=True (CLI: --overwrite) to replace it"
        )
    if path.exists() and not (path / MANIFEST).is_file():
        raise FileExistsError(
            f"{path} exists and is not an audit store; choose another output folder"
        )
    path.parent.mkdir(parents=True, exist_ok=True)
    # Leftovers of killed writes of this store (see atomic.remove_stale for which are stale).
    atomic.remove_stale(path.parent, f".{path.name}")
    if path.exists():
        atomic.remove_stale(path.parent, f".{path.name}.old")
    tmp = path.parent / atomic.temporary_name(f".{path.name}")
    tmp.mkdir()
    try:
        _write_store(audit, tmp)
        atomic.exchange_folders(tmp, path)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return path


def _write_store(audit: AuditSet, folder: Path) -> None:
    files: dict[str, dict[str, Any]] = {}
    frame = _samples_frame(audit)
    frame.to_parquet(folder / SAMPLES, index=False)
    files[SAMPLES] = _file_entry(folder / SAMPLES)
    arrays = {}
    for name in _ARRAYS:
        values = getattr(audit, name)
        if values is None:
            continue
        values = np.asarray(values)
        if name in ("logits", "mc_logits") and values.dtype == np.float64:
            values = values.astype(np.float32)  # model outputs are float32; halves the size
        np.save(folder / f"{name}.npy", values, allow_pickle=False)
        files[f"{name}.npy"] = _file_entry(folder / f"{name}.npy")
        arrays[name] = {
            "file": f"{name}.npy",
            "shape": list(values.shape),
            "dtype": str(values.dtype),
        }
    # Numbered files: a confidence's name may hold characters a file name cannot.
    mc_confidences = {}
    for i, (name, values) in enumerate(sorted(audit.mc_confidences.items())):
        file = f"mc_confidences.{i}.npy"
        values = np.asarray(values)
        np.save(folder / file, values, allow_pickle=False)
        files[file] = _file_entry(folder / file)
        mc_confidences[name] = {
            "file": file,
            "shape": list(values.shape),
            "dtype": str(values.dtype),
        }
    manifest = {
        "format": FORMAT,
        "schema_version": SCHEMA_VERSION,
        "silentscope_version": __version__,
        "created": _dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"),
        "n_samples": audit.n_samples,
        "class_names": list(audit.class_names),
        "test_sets": list(audit.test_sets),
        "confidences": sorted(audit.confidences),
        "metadata_columns": [] if audit.metadata is None else list(audit.metadata.columns),
        # roles_of: columns added to or dropped from audit.metadata after construction too
        "metadata_roles": {column: role.to_dict() for column, role in roles_of(audit).items()},
        "columns": [c for c in _SAMPLE_TEXT_COLUMNS if getattr(audit, c) is not None]
        + ([RISK_COLUMN] if audit.risk is not None else []),
        "arrays": arrays,
        "mc_confidences": mc_confidences,
        **({"outcomes": sorted(audit.outcomes)} if audit.outcomes else {}),
        "files": files,
        "provenance": json_safe(audit.provenance),
    }
    # a hand edit of what the data means (e.g. reordered class names) fails on load
    manifest["contract_sha256"] = contract_digest(manifest)
    (folder / ARTIFACTS).mkdir()
    _write_json_atomic(folder / MANIFEST, manifest)
    _fsync_folder(folder)


def _samples_frame(audit: AuditSet) -> pd.DataFrame:
    import pandas as pd

    columns: dict[str, Any] = {
        "sample_id": audit.sample_id,
        "test_set": audit.test_set,
        "label": np.asarray(audit.label, dtype=np.int64),
    }
    for name in _SAMPLE_TEXT_COLUMNS:
        if getattr(audit, name) is not None:
            columns[name] = getattr(audit, name)
    for name, values in audit.confidences.items():
        columns[f"{CONFIDENCE_PREFIX}{name}"] = values
    if audit.risk is not None:
        columns[RISK_COLUMN] = audit.risk
    for name, values in audit.outcomes.items():
        columns[f"{OUTCOME_PREFIX}{name}"] = values
    frame = pd.DataFrame(columns)
    if audit.metadata is not None and audit.metadata.shape[1]:
        meta = audit.metadata.add_prefix(METADATA_PREFIX)
        frame = pd.concat([frame, meta.reset_index(drop=True)], axis=1)
    return frame


def load_audit(path: str | os.PathLike, *, mmap: bool = True, verify: bool = True) -> AuditSet:
    """Load and validate an audit store.

    The manifest is checked as a contract (:mod:`silentscope.audit.manifest`), every file it
    lists must be inside the store with its recorded size, and the arrays must have the
    recorded shapes and dtypes, the recorded sample count and one column per class.

    Parameters
    ----------
    path : path-like
        The store folder.
    mmap : bool, default True
        Memory-map the large arrays instead of reading them into memory.
    verify : bool, default True
        Also check every file's SHA-256 against the manifest, so that a same-size edit
        (swapped columns, flipped bytes) fails here. Large stores are hashed once and the
        result cached by file identity (:mod:`silentscope.audit.integrity`). ``False``
        (CLI: ``--no-verify``) skips only the hashes, for stores you trust.

    Raises
    ------
    FileNotFoundError
        If the folder or one of its files is missing.
    AuditSetError
        If the store is corrupt, truncated or edited, from a newer schema, or violates the
        contract.

    Warns
    -----
    UnverifiedStoreWarning
        If the store was written before its hashes were recorded (``silentscope store
        rehash`` records them).
    """
    import pandas as pd

    from silentscope.audit.auditset import AuditSet

    path = Path(path)
    manifest = read_manifest(path)
    unrecorded = check_store_files(path, manifest, verify=verify)
    try:
        frame = pd.read_parquet(path / SAMPLES)
    except Exception as error:  # pyarrow raises several types for damaged files
        raise AuditSetError(f"{path / SAMPLES} is corrupt ({error}); re-create the store") from None
    arrays = {name: _load_array(path, entry, mmap) for name, entry in manifest["arrays"].items()}
    mc_confidences = {
        name: _load_array(path, entry, mmap)
        for name, entry in manifest.get("mc_confidences", {}).items()
    }
    _check_counts(path, manifest, len(frame), arrays, mc_confidences)
    meta_columns = prefixed(frame.columns, METADATA_PREFIX)
    metadata = None
    if meta_columns:
        metadata = frame[list(meta_columns.values())].set_axis(list(meta_columns), axis=1)
    return AuditSet(
        sample_id=frame["sample_id"].to_numpy(),
        test_set=frame["test_set"].to_numpy(),
        label=frame["label"].to_numpy(),
        logits=arrays["logits"],
        class_names=manifest["class_names"],
        mc_logits=arrays.get("mc_logits"),
        features=arrays.get("features"),
        train_features=arrays.get("train_features"),
        train_labels=None if "train_labels" not in arrays else np.asarray(arrays["train_labels"]),
        confidences={
            name: frame[c].to_numpy()
            for name, c in prefixed(frame.columns, CONFIDENCE_PREFIX).items()
        },
        mc_confidences=mc_confidences,
        metadata=metadata,
        text=frame["text"].to_numpy() if "text" in frame else None,
        image_ref=frame["image_ref"].to_numpy() if "image_ref" in frame else None,
        shift_params=frame["shift_params"].to_numpy() if "shift_params" in frame else None,
        risk=frame[RISK_COLUMN].to_numpy() if RISK_COLUMN in frame else None,
        outcomes={
            name: frame[c].to_numpy() for name, c in prefixed(frame.columns, OUTCOME_PREFIX).items()
        },
        provenance=manifest.get("provenance", {}),
        # stores written before roles were recorded have none: their roles are inferred now
        metadata_roles=manifest.get("metadata_roles") or None,
        store_check={"hashes_verified": verify, "unrecorded": unrecorded},
    )


def _load_array(path: Path, entry: dict[str, Any], mmap: bool) -> np.ndarray:
    try:
        array = np.load(path / entry["file"], mmap_mode="r" if mmap else None, allow_pickle=False)
    except ValueError as error:
        raise AuditSetError(
            f"{path / entry['file']} is corrupt ({error}); re-create the store"
        ) from None
    if list(array.shape) != entry["shape"]:
        raise AuditSetError(
            f"{path / entry['file']} has shape {array.shape} but the manifest says "
            f"{tuple(entry['shape'])}; the store is damaged, re-create it"
        )
    if str(array.dtype) != entry["dtype"]:
        raise AuditSetError(
            f"{path / entry['file']} holds {array.dtype} but the manifest says {entry['dtype']}; "
            "the store is damaged, re-create it"
        )
    return array


def _check_counts(
    path: Path,
    manifest: dict[str, Any],
    n_rows: int,
    arrays: dict[str, np.ndarray],
    mc_confidences: dict[str, np.ndarray],
) -> None:
    """The manifest's sample count and class names against the data's own sizes."""
    n = manifest["n_samples"]
    per_sample = {SAMPLES: n_rows}
    per_sample.update(
        {
            entry["file"]: len(arrays[name])
            for name, entry in manifest["arrays"].items()
            if name not in ("train_features", "train_labels")
        }
    )
    per_sample.update(
        {
            manifest["mc_confidences"][name]["file"]: len(values)
            for name, values in mc_confidences.items()
        }
    )
    for file, rows in per_sample.items():
        if rows != n:
            raise AuditSetError(
                f"{path / file} has {rows} samples but field 'n_samples' of the manifest says "
                f"{n}; the store was edited or damaged, re-create it"
            )
    n_classes = arrays["logits"].shape[1] if arrays["logits"].ndim == 2 else None
    if n_classes != len(manifest["class_names"]):
        raise AuditSetError(
            f"{path / manifest['arrays']['logits']['file']} has {n_classes} class columns but "
            f"field 'class_names' of the manifest names {len(manifest['class_names'])}; the "
            "store was edited or damaged, re-create it"
        )


def read_manifest(path: str | os.PathLike) -> dict[str, Any]:
    """Read and check a store's manifest (format and schema version)."""
    path = Path(path)
    if not path.is_dir():
        raise FileNotFoundError(
            f"no audit store at {path}; create one with `silentscope import` or `save_audit`"
        )
    manifest_path = path / MANIFEST
    if not manifest_path.is_file():
        raise FileNotFoundError(
            f"{path} has no {MANIFEST}; it is not an audit store (or its write was interrupted)"
        )
    try:
        manifest = json.loads(manifest_path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise AuditSetError(
            f"{manifest_path} is not valid JSON ({error}); re-create the store"
        ) from None
    except RecursionError:
        raise AuditSetError(
            f"{manifest_path} nests too deeply to be a manifest; re-create the store"
        ) from None
    return check_manifest(manifest, path)


def set_metadata_roles(store: str | os.PathLike, roles: dict[str, str]) -> dict[str, Any]:
    """Declare the role of metadata columns of an existing store (a user's override).

    The manifest's record is updated atomically; every later load, analysis and the viewer
    use the declared role (see :mod:`silentscope.audit.roles`).

    Returns
    -------
    dict
        The store's recorded roles after the change.

    Examples
    --------
    >>> import tempfile, numpy as np, pandas as pd
    >>> from silentscope.audit import AuditSet
    >>> audit = AuditSet(sample_id=["a", "b"], test_set=["iid", "iid"], label=[0, 1],
    ...                  logits=np.eye(2) * 3, class_names=["no", "yes"],
    ...                  metadata=pd.DataFrame({"code": ["x", "y"]}))
    >>> store = save_audit(audit, tempfile.mkdtemp() + "/store")
    >>> set_metadata_roles(store, {"code": "identifier"})["code"]["role"]
    'identifier'
    >>> load_audit(store).metadata_roles["code"].source
    'declared'
    """
    from silentscope.audit.roles import ROLE_REASONS, as_role

    store = Path(store)
    manifest = read_manifest(store)
    columns = manifest.get("metadata_columns", [])
    unknown = [name for name in roles if name not in columns]
    if unknown:
        raise ValueError(
            f"{store} has no metadata column(s) {unknown}; its columns are {', '.join(columns) or 'none'}"
        )
    recorded = dict(manifest.get("metadata_roles") or {})
    for name, role in roles.items():
        declared = as_role(role, name)
        recorded[name] = {
            "role": declared.role,
            "source": "declared",
            "reason": f"{ROLE_REASONS[declared.role]} (declared by the user)",
        }
    manifest["metadata_roles"] = recorded
    _write_json_atomic(store / MANIFEST, manifest)
    return recorded


# ---------------------------------------------------------------------- helpers
def _file_entry(path: Path) -> dict[str, Any]:
    return {"bytes": path.stat().st_size, "sha256": sha256_file(path)}


def _save_npy(path: Path, value: np.ndarray) -> None:
    # A file handle, because np.save appends ".npy" to a path that does not end with it.
    with open(path, "wb") as handle:
        np.save(handle, value, allow_pickle=False)


def _write_json_atomic(path: Path, value: dict[str, Any]) -> None:
    # A temporary named after its writer, so that a killed writer's is recognised as stale.
    atomic.replace_file_durably(path, json.dumps(value, indent=2).encode())


def _fsync_folder(folder: Path) -> None:
    for file in folder.iterdir():
        if file.is_file():
            with open(file, "rb") as handle:
                os.fsync(handle.fileno())


__all__ = [
    "ARTIFACTS",
    "MANIFEST",
    "SAMPLES",
    "artifact_path",
    "delete_artifacts",
    "list_artifacts",
    "load_audit",
    "published_artifacts",
    "read_artifact",
    "read_manifest",
    "save_audit",
    "set_metadata_roles",
    "write_artifact",
    "write_artifacts",
]

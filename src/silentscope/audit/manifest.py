"""The audit store's manifest as a contract: its fields, their types, and a hash of its content.

:func:`check_manifest` is run on every read of a manifest (by
:func:`~silentscope.audit.store.read_manifest`, so the viewer gets it too). Each violation
is one sentence naming the field, never a ``KeyError`` from deeper down. File entries are
plain names inside the store: a manifest that points at an absolute path or climbs out with
``..`` is refused before any file is opened.

The contract fields (class names, sample count, arrays and files with their sizes and
hashes, ...) are hashed into ``contract_sha256`` when a store is written. Editing one of
them by hand, e.g. reordering ``class_names`` (which would silently relabel every class),
then fails on load; fields a user may change (the provenance, declared metadata roles) are
outside the hash. Stores written before the hash existed have none and open with a warning
(see :mod:`silentscope.audit.integrity`).
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any, NoReturn

from silentscope.audit.validation import AuditSetError

FORMAT = "silentscope-audit-store"
#: The schema version this silentscope writes; it reads every version from 1 to this one.
SCHEMA_VERSION = 1
MANIFEST = "manifest.json"
SAMPLES = "samples.parquet"
#: The arrays a store may hold (``arrays`` in the manifest); ``logits`` is required.
ARRAY_NAMES = ("logits", "mc_logits", "features", "train_features", "train_labels")
#: The fields hashed into ``contract_sha256``: everything that says what the data means.
CONTRACT_FIELDS = (
    "format",
    "schema_version",
    "n_samples",
    "class_names",
    "test_sets",
    "confidences",
    "metadata_columns",
    "columns",
    "arrays",
    "mc_confidences",
    "outcomes",
    "files",
)
_HASH_KEYS = ("sha256", "sha256_lazy")  # sha256_lazy: stores written before verify-on-load


def contract_digest(manifest: dict[str, Any]) -> str:
    """SHA-256 of the manifest's contract fields, as canonical JSON.

    Examples
    --------
    >>> a = contract_digest({"format": "f", "class_names": ["no", "yes"]})
    >>> a == contract_digest({"class_names": ["no", "yes"], "format": "f", "created": "now"})
    True
    >>> a == contract_digest({"format": "f", "class_names": ["yes", "no"]})
    False
    """
    fields = {key: manifest[key] for key in CONTRACT_FIELDS if key in manifest}
    text = json.dumps(fields, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    return hashlib.sha256(text.encode()).hexdigest()


def is_plain_name(name: object) -> bool:
    """Whether ``name`` names a file directly inside a folder: no separators, no ``..``.

    Examples
    --------
    >>> [is_plain_name(n) for n in ("logits.npy", "../x.npy", "/tmp/x.npy", "a/b", "..", "")]
    [True, False, False, False, False, False]
    """
    return (
        isinstance(name, str)
        and name not in ("", ".", "..")
        and not any(ch in name for ch in "/\\\0")
        and not os.path.isabs(name)
        and ":" not in name[1:2]  # a Windows drive ("C:x")
    )


def file_hash(entry: dict[str, Any]) -> str | None:
    """The SHA-256 a manifest records for a file entry, or None if it records none."""
    return next((entry[key] for key in _HASH_KEYS if entry.get(key)), None)


def check_manifest(manifest: object, path: Path) -> dict[str, Any]:
    """Check a parsed manifest's structure and field types; return it.

    Parameters
    ----------
    manifest : object
        The parsed JSON.
    path : Path
        The store folder (for messages).

    Raises
    ------
    AuditSetError
        One sentence naming the first field that violates the contract.
    """
    where = path / MANIFEST
    if not isinstance(manifest, dict):
        _fail(f"{where} holds a JSON {_kind(manifest)}, not an object of manifest fields")
    if manifest.get("format") != FORMAT:
        raise AuditSetError(
            f"{path} is not a silentscope audit store (format {manifest.get('format')!r})"
        )
    _check_version(manifest.get("schema_version"), path)
    n = manifest.get("n_samples")
    if not _is_int(n) or n < 1:
        _fail(f"field 'n_samples' of {where} is {n!r}, not a positive integer")
    names = manifest.get("class_names")
    if not _is_str_list(names) or len(names) < 2 or len(set(names)) != len(names):
        _fail(
            f"field 'class_names' of {where} is {names!r}, not a list of 2 or more distinct names"
        )
    for field in ("test_sets", "confidences", "metadata_columns", "columns", "outcomes"):
        if field in manifest and not _is_str_list(manifest[field]):
            _fail(f"field {field!r} of {where} is {manifest[field]!r}, not a list of names")
    for field in ("provenance", "metadata_roles"):
        if manifest.get(field) is not None and not isinstance(manifest[field], dict):
            _fail(f"field {field!r} of {where} is a {_kind(manifest[field])}, not an object")
    files = _check_files(manifest.get("files"), where)
    arrays = manifest.get("arrays")
    if not isinstance(arrays, dict) or "logits" not in arrays:
        _fail(f"field 'arrays' of {where} must be an object with at least a 'logits' entry")
    for name, entry in arrays.items():
        if name not in ARRAY_NAMES:
            _fail(f"field 'arrays' of {where} has {name!r}, which is not one of {ARRAY_NAMES}")
        _check_array(entry, f"arrays.{name}", files, where)
    mc_confidences = manifest.get("mc_confidences", {})
    if not isinstance(mc_confidences, dict):
        _fail(f"field 'mc_confidences' of {where} is a {_kind(mc_confidences)}, not an object")
    for name, entry in mc_confidences.items():
        _check_array(entry, f"mc_confidences.{name}", files, where)
    if SAMPLES not in files:
        _fail(f"field 'files' of {where} has no entry for {SAMPLES}")
    recorded = manifest.get("contract_sha256")
    if recorded is not None and recorded != contract_digest(manifest):
        _fail(
            f"the contract fields of {where} (class names, sample count, arrays, files) do "
            "not match its 'contract_sha256', so they were edited by hand"
        )
    return manifest


def _check_version(version: object, path: Path) -> None:
    if not _is_int(version):
        _fail(
            f"field 'schema_version' of {path / MANIFEST} is {version!r} (a "
            f"{_kind(version)}), not an integer from 1 to {SCHEMA_VERSION}"
        )
    if version > SCHEMA_VERSION:
        from silentscope import __version__

        raise AuditSetError(
            f"{path} was written with store schema version {version}, newer than this silentscope "
            f"({__version__}) reads ({SCHEMA_VERSION}); upgrade silentscope"
        )
    if version < 1:
        _fail(
            f"field 'schema_version' of {path / MANIFEST} is {version}, below the first store "
            f"schema version (1)"
        )


def _check_files(files: object, where: Path) -> dict[str, Any]:
    if not isinstance(files, dict):
        _fail(
            f"field 'files' of {where} is {_missing_or_kind(files)}, not an object of file entries"
        )
    for name, entry in files.items():
        if not is_plain_name(name):
            _fail(
                f"field 'files' of {where} names {name!r}; a store's files are plain names "
                "inside its folder (no absolute paths, no '..')"
            )
        if not isinstance(entry, dict) or not _is_int(entry.get("bytes")) or entry["bytes"] < 0:
            _fail(f"field 'files.{name}' of {where} is {entry!r}, not an object with 'bytes'")
        digest = file_hash(entry)
        if digest is not None and not (
            isinstance(digest, str) and len(digest) == 64 and set(digest) <= set("0123456789abcdef")
        ):
            _fail(f"field 'files.{name}' of {where} records {digest!r}, not a SHA-256 hex digest")
    return files


def _check_array(entry: object, field: str, files: dict[str, Any], where: Path) -> None:
    if not isinstance(entry, dict):
        _fail(f"field {field!r} of {where} is {_missing_or_kind(entry)}, not an object")
    file, shape, dtype = entry.get("file"), entry.get("shape"), entry.get("dtype")
    if not is_plain_name(file):
        _fail(
            f"field '{field}.file' of {where} is {file!r}; a store's files are plain names "
            "inside its folder (no absolute paths, no '..')"
        )
    if file not in files:
        _fail(f"field '{field}.file' of {where} names {file!r}, which 'files' does not list")
    if not isinstance(shape, list) or not shape or not all(_is_int(s) and s >= 0 for s in shape):
        _fail(f"field '{field}.shape' of {where} is {shape!r}, not a list of sizes")
    if not isinstance(dtype, str):
        _fail(f"field '{field}.dtype' of {where} is {dtype!r}, not a NumPy dtype name")


def _fail(sentence: str) -> NoReturn:
    raise AuditSetError(f"{sentence}; the store was edited or damaged, re-create it")


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_str_list(value: object) -> bool:
    return isinstance(value, list) and all(isinstance(item, str) for item in value)


def _kind(value: object) -> str:
    return {dict: "object", list: "list", str: "string", type(None): "null"}.get(
        type(value), type(value).__name__
    )


def _missing_or_kind(value: object) -> str:
    return "missing" if value is None else f"a {_kind(value)}"

"""Analysis results inside an audit store, published as one commit.

A command writes its results (an evaluation's three tables, the slice tables, the subgroup
tables, the predictor's, the viewer's cached embedding) as one *commit*: every file goes into
a temporary folder, which is renamed to a commit folder, and then one replaced pointer file,
``artifacts/.index.json``, names the files of every published artifact. A process killed at
any moment therefore leaves the old set or the new set of a command's results, never a mix::

    artifacts/
      .index.json                  the published artifacts: name -> file, bytes, sha256, commit
      20261206T052512Z-3f2a9c1b/   the files of one commit (evaluation.parquet, ...)
      .tmp-HOST-PID-RANDOM/        a commit being written (or left by a killed writer)
      .lock                        serialises writers (advisory, released when a writer dies)

Readers (:func:`read_artifact`, :func:`list_artifacts`, :func:`artifact_path`) see only what
the index names. After each publication the writer removes the commit folders that the index
no longer names and the temporary folders of dead writers (see
:func:`silentscope.audit.atomic.remove_stale`). A store written before commits existed holds
its artifacts as plain files in ``artifacts/``; they are read as they are and taken into the
index by the first commit.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import json
import os
import re
import shutil
import uuid
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from silentscope.audit import atomic
from silentscope.audit.jsonsafe import json_safe
from silentscope.audit.validation import AuditSetError

if TYPE_CHECKING:
    import pandas as pd

ARTIFACTS = "artifacts"
#: The pointer file: the one file whose replacement publishes a commit.
INDEX = ".index.json"
INDEX_FORMAT = "silentscope-artifacts"
INDEX_VERSION = 1
_LOCK = ".lock"
_SUFFIXES = (".parquet", ".npy", ".json")
_COMMIT = re.compile(r"^\d{8}T\d{6}Z-[0-9a-f]{8}$")


def _check_name(name: str) -> None:
    if (
        not isinstance(name, str)
        or not name
        or any(not (ch.isalnum() or ch in "_-.") for ch in name)
        or name.startswith(".")
    ):
        raise ValueError(f"artifact name {name!r} may only hold letters, digits, '_', '-' and '.'")


def _writer_for(name: str, value: Any):
    """The file name and the function writing ``value`` to a path (checked before any write)."""
    import pandas as pd

    if isinstance(value, pd.DataFrame):
        return f"{name}.parquet", lambda p: value.to_parquet(p, index=False)
    if isinstance(value, np.ndarray):
        return f"{name}.npy", lambda p: _save_npy(p, value)
    if isinstance(value, dict):
        text = json.dumps(json_safe(value), indent=2)
        return f"{name}.json", lambda p: Path(p).write_text(text)
    raise TypeError(
        f"artifact {name!r} must be a DataFrame, an array or a dict, got {type(value).__name__}"
    )


def write_artifacts(
    store: str | os.PathLike,
    values: Mapping[str, pd.DataFrame | np.ndarray | dict],
    *,
    remove: Iterable[str] = (),
) -> list[Path]:
    """Publish several artifacts of ``store`` as one commit; the paths of the files written.

    Every artifact in ``values`` is written (replacing one of the same name) and every name in
    ``remove`` is dropped, together: a reader, or a process killed at any moment, sees either
    all of the change or none of it.

    Parameters
    ----------
    store : path-like
        An audit store folder.
    values : mapping of str to DataFrame, ndarray or dict
        Artifact names (letters, digits, ``_``, ``-``, ``.``) and their values: a DataFrame is
        saved as Parquet, an array as ``.npy``, a dict as JSON.
    remove : iterable of str, optional
        Artifacts to drop in the same commit (absent ones are ignored).

    Examples
    --------
    >>> import tempfile, numpy as np, pandas as pd
    >>> from silentscope.audit import AuditSet
    >>> from silentscope.audit.store import save_audit
    >>> audit = AuditSet(sample_id=["a", "b"], test_set=["iid", "iid"], label=[0, 1],
    ...                  logits=np.eye(2) * 3, class_names=["no", "yes"])
    >>> store = save_audit(audit, tempfile.mkdtemp() + "/store")
    >>> _ = write_artifacts(store, {"table": pd.DataFrame({"x": [1]}), "info": {"n": 1}})
    >>> list_artifacts(store)
    ['info', 'table']
    >>> _ = write_artifacts(store, {"info": {"n": 2}}, remove=["table"])
    >>> list_artifacts(store), read_artifact(store, "info")
    (['info'], {'n': 2})
    """
    from silentscope.audit.store import read_manifest

    store = Path(store)
    read_manifest(store)
    removed = list(remove)
    for name in [*values, *removed]:
        _check_name(name)
    writers = {name: _writer_for(name, value) for name, value in values.items()}
    folder = store / ARTIFACTS
    folder.mkdir(exist_ok=True)
    commit = _dt.datetime.now(_dt.UTC).strftime("%Y%m%dT%H%M%SZ") + f"-{uuid.uuid4().hex[:8]}"
    tmp = folder / atomic.temporary_name("")
    entries: dict[str, dict[str, Any]] = {}
    try:
        tmp.mkdir()
        for name, (file_name, write) in writers.items():
            write(tmp / file_name)
            atomic.fsync_file(tmp / file_name)
            entries[name] = {
                "file": f"{commit}/{file_name}",
                "bytes": (tmp / file_name).stat().st_size,
                "sha256": _sha256(tmp / file_name),
                "commit": commit,
            }
        atomic.fsync_folder(tmp)
        with atomic.locked(folder / _LOCK):
            # Under the lock: another writer's commit published meanwhile is kept (read now).
            published = _read_index(store)
            for name in removed:
                published.pop(name, None)
            published.update(entries)
            os.replace(tmp, folder / commit)
            atomic.fsync_folder(folder)
            index = {
                "format": INDEX_FORMAT,
                "version": INDEX_VERSION,
                "commit": commit,
                "artifacts": dict(sorted(published.items())),
            }
            # The one step that publishes the commit.
            atomic.replace_file_durably(
                folder / INDEX, (json.dumps(index, indent=2) + "\n").encode()
            )
            _collect_garbage(store, published)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return [folder / entries[name]["file"] for name in values]


def write_artifact(
    store: str | os.PathLike, name: str, value: pd.DataFrame | np.ndarray | dict
) -> Path:
    """Save one analysis result inside a store, atomically (DataFrame, array or JSON dict).

    The artifact ``name`` (letters, digits, ``_``, ``-``, ``.``) is replaced if it exists.
    Results that belong together are written with :func:`write_artifacts`, in one commit.
    """
    return write_artifacts(store, {name: value})[0]


def delete_artifacts(store: str | os.PathLike, names: Iterable[str]) -> None:
    """Drop the artifacts ``names`` of ``store`` in one commit (absent ones are ignored)."""
    write_artifacts(store, {}, remove=names)


def _collect_garbage(store: Path, published: dict[str, dict[str, Any]]) -> None:
    """Remove what the index no longer names, and the temporary folders of dead writers."""
    folder = store / ARTIFACTS
    named = {entry["file"].split("/")[0] for entry in published.values()}
    for path in folder.iterdir():
        if path.name.startswith("."):
            continue
        if path.is_dir() and _COMMIT.match(path.name) and path.name not in named:
            shutil.rmtree(path, ignore_errors=True)
        elif path.is_file() and path.suffix in _SUFFIXES and path.name not in named:
            path.unlink(missing_ok=True)  # a plain-file artifact of an older store, superseded
    # Commits being written (".tmp-HOST-PID-RANDOM") and the per-file temporaries of older
    # silentscope versions (".evaluation.parquet.tmp-RANDOM") whose writer is dead.
    atomic.remove_stale(folder, "", pattern=".*tmp-*")
    # A killed `silentscope import` or save_audit of this store leaves ".STORE.tmp-*" beside it,
    # a killed manifest update (roles, rehash) ".manifest.json.tmp-*" inside it.
    atomic.remove_stale(store.parent, f".{store.name}")
    atomic.remove_stale(store, ".manifest.json")


# ---------------------------------------------------------------------- reading
def _read_index(store: Path) -> dict[str, dict[str, Any]]:
    """The published artifacts by name: the index's entries, or an older store's plain files."""
    folder = store / ARTIFACTS
    index_path = folder / INDEX
    if not index_path.is_file():
        if not folder.is_dir():
            return {}
        return {
            path.stem: {"file": path.name, "bytes": path.stat().st_size}
            for path in sorted(folder.iterdir())
            if path.is_file() and not path.name.startswith(".") and path.suffix in _SUFFIXES
        }
    try:
        index = json.loads(index_path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise AuditSetError(
            f"{index_path} is not valid JSON ({error}); delete it and re-run the analyses"
        ) from None
    if not isinstance(index, dict) or index.get("format") != INDEX_FORMAT:
        raise AuditSetError(f"{index_path} is not a silentscope artifact index; delete it")
    entries = index.get("artifacts")
    if not isinstance(entries, dict) or not all(
        isinstance(entry, dict) and _inside(entry.get("file")) for entry in entries.values()
    ):
        raise AuditSetError(
            f"{index_path} names a file outside {folder} or is damaged; delete it and re-run "
            "the analyses"
        )
    return entries


def _inside(file: Any) -> bool:
    """Whether an index entry's ``file`` is a plain relative name inside the artifacts folder."""
    if not isinstance(file, str) or not file or "\\" in file or file.startswith("/"):
        return False
    parts = file.split("/")
    return len(parts) <= 2 and all(part and part not in (".", "..") for part in parts)


def published_artifacts(store: str | os.PathLike) -> dict[str, Path]:
    """Every published artifact of ``store`` and its file, read from one version of the index.

    Reading several artifacts through one such snapshot never mixes two commits.
    """
    folder = Path(store) / ARTIFACTS
    return {name: folder / entry["file"] for name, entry in _read_index(Path(store)).items()}


def artifact_path(store: str | os.PathLike, name: str) -> Path | None:
    """The file of the published artifact ``name`` of ``store``, or None if it has none."""
    return published_artifacts(store).get(name)


def list_artifacts(store: str | os.PathLike) -> list[str]:
    """The names of the published artifacts of ``store``, sorted."""
    return sorted(_read_index(Path(store)))


def read_artifact(store: str | os.PathLike, name: str, *, verify: bool = True):
    """Read an artifact written by :func:`write_artifact`; a clear error if it is absent.

    With ``verify`` (the default) the file's size and SHA-256 are first checked against those
    its commit recorded, so that a file changed afterwards is an error, never a silent result.
    """
    for attempt in range(3):
        entry = _read_index(Path(store)).get(name)
        if entry is None:
            break
        path = Path(store) / ARTIFACTS / entry["file"]
        try:
            if verify:
                _check_entry(store, name, path, entry)
            return read_artifact_file(path)
        except FileNotFoundError:
            # A commit published between reading the index and opening the file removed it:
            # read the new index.
            if attempt == 2:
                raise
    available = ", ".join(list_artifacts(store)) or "none"
    raise FileNotFoundError(f"store {store} has no artifact {name!r} (available: {available})")


def _check_entry(store, name: str, path: Path, entry: dict[str, Any]) -> None:
    size = path.stat().st_size
    if "bytes" in entry and size != entry["bytes"]:
        raise AuditSetError(
            f"artifact {name!r} of {store} ({path.name}) has {size} bytes but its commit recorded "
            f"{entry['bytes']}: it was changed after it was written; re-run the command that wrote it"
        )
    if "sha256" in entry and _sha256(path) != entry["sha256"]:
        raise AuditSetError(
            f"artifact {name!r} of {store} ({path.name}) does not match the checksum its commit "
            "recorded: it was changed after it was written; re-run the command that wrote it"
        )


def verify_artifacts(store: str | os.PathLike) -> list[str]:
    """Check every published artifact's size and SHA-256 now; the names checked by hash.

    Raises
    ------
    AuditSetError
        At the first artifact that differs from what its commit recorded, in one sentence.
    FileNotFoundError
        If the index names a file that is missing.
    """
    store = Path(store)
    checked = []
    for name, entry in _read_index(store).items():
        path = store / ARTIFACTS / entry["file"]
        if not path.is_file():
            raise FileNotFoundError(
                f"artifact {name!r} of {store} is missing its file {entry['file']}; re-run the "
                "command that wrote it"
            )
        _check_entry(store, name, path, entry)
        if "sha256" in entry:
            checked.append(name)
    return checked


def read_artifact_file(path: Path):
    """Read one artifact file by its suffix (``.parquet``, ``.npy`` or ``.json``)."""
    if path.suffix == ".parquet":
        import pandas as pd

        return pd.read_parquet(path)
    if path.suffix == ".npy":
        return np.load(path, allow_pickle=False)
    return json.loads(Path(path).read_text())


# ---------------------------------------------------------------------- helpers
def _save_npy(path: Path, value: np.ndarray) -> None:
    # A file handle, because np.save appends ".npy" to a path that does not end with it.
    with open(path, "wb") as handle:
        np.save(handle, value, allow_pickle=False)


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


__all__ = [
    "ARTIFACTS",
    "INDEX",
    "artifact_path",
    "delete_artifacts",
    "list_artifacts",
    "published_artifacts",
    "read_artifact",
    "read_artifact_file",
    "verify_artifacts",
    "write_artifact",
    "write_artifacts",
]

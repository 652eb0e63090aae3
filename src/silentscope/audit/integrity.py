"""Checking a store's files against its manifest: paths, sizes and content hashes.

Every load checks that each file the manifest lists is inside the store (a symbolic link
that leaves the store is refused), has the recorded size and, unless the caller trusts the
store (``verify=False``, CLI ``--no-verify``), the recorded SHA-256. SHA-256 because it is
the fastest hash in the standard library on current CPUs (1.6 GB/s here with the SHA
extensions, against 0.9 GB/s for BLAKE2b; ``benchmarks/store.py``) and because stores
written before this check already record it for every file.

Large stores are hashed once: for stores whose files total at least
:data:`CACHE_MIN_BYTES`, a successful check is remembered per file in a small JSON file in
the user's cache folder (``$SILENTSCOPE_CACHE_DIR``, else ``$XDG_CACHE_HOME/silentscope``,
else ``~/.cache/silentscope``), keyed by the file's identity: resolved path, device, inode,
size, modification and change times in nanoseconds, and the expected hash. Any write to the
file changes its change time (which, unlike the modification time, a user cannot set back),
so an edited file is hashed again. The cache lives outside the store so that loading never
writes into a store (stores may be read-only or shared, and a store's own files are only
ever written by one atomic commit), and a copied store is verified again on its new disk.

Stores written before the hashes existed (or before the manifest's own hash,
``contract_sha256``) open with one :class:`UnverifiedStoreWarning` saying what cannot be
checked and how to record it: ``silentscope store rehash STORE`` (:func:`rehash_store`).
"""

from __future__ import annotations

import hashlib
import json
import os
import uuid
import warnings
from pathlib import Path
from typing import Any

from silentscope.audit.manifest import MANIFEST, contract_digest, file_hash
from silentscope.audit.validation import AuditSetError

#: Stores with at least this many bytes in their files cache successful hash checks
#: (below it, hashing takes under ~40 ms and a cache would cost about as much as it saves).
CACHE_MIN_BYTES = 64 * 2**20
_CACHE_FILE = "verified-files.json"
_CACHE_ENTRIES = 512  # oldest entries are dropped beyond this: the file stays a few 100 kB


class UnverifiedStoreWarning(UserWarning):
    """A store was opened whose manifest records no hash for some of its contents."""


def check_store_files(
    path: Path, manifest: dict[str, Any], *, verify: bool = True, cached: bool = True
) -> list[str]:
    """Check every file the (already checked) manifest lists: inside the store, size, hash.

    Parameters
    ----------
    path : Path
        The store folder.
    manifest : dict
        Its manifest, checked by :func:`~silentscope.audit.manifest.check_manifest`.
    verify : bool, default True
        Also compare each file's SHA-256 with the manifest's.
    cached : bool, default True
        For large stores, trust (and record) earlier successful checks of the same files.

    Returns
    -------
    list of str
        What the manifest records no hash for (file names, ``contract_sha256``): unchecked.

    Raises
    ------
    FileNotFoundError
        If a listed file is missing.
    AuditSetError
        If a file leaves the store, has another size, or does not match its hash.
    """
    root = path.resolve()
    files = manifest["files"]
    for name, entry in files.items():
        _check_inside(root, path, name)
        size = (path / name).stat().st_size
        if size != entry["bytes"]:
            raise AuditSetError(
                f"{path / name} has {size} bytes but the manifest records {entry['bytes']}: "
                "the file is truncated or was changed; re-create the store"
            )
    unhashed = [name for name, entry in files.items() if file_hash(entry) is None]
    missing = [f"the content of {', '.join(unhashed)}"] if unhashed else []
    if "contract_sha256" not in manifest:
        missing.append("the manifest's own hash")
        unhashed.append("contract_sha256")
    if missing:
        warnings.warn(
            f"{path} was written before silentscope recorded {' and '.join(missing)}, so "
            f"an edit there cannot be detected; run `silentscope store rehash {path}` once to "
            "record them (after checking the store is as written)",
            UnverifiedStoreWarning,
            stacklevel=3,
        )
    if not verify:
        return unhashed
    use_cache = cached and sum(entry["bytes"] for entry in files.values()) >= CACHE_MIN_BYTES
    cache = _VerifiedCache() if use_cache else None
    for name, entry in files.items():
        expected = file_hash(entry)
        if expected is None:
            continue
        file = path / name
        if cache is not None and cache.holds(file, expected):
            continue
        if sha256_file(file) != expected:
            raise AuditSetError(
                f"{file} does not match its checksum: its content was changed after the store "
                "was written (same size, different bytes); re-create the store"
            )
        if cache is not None:
            cache.add(file, expected)
    if cache is not None:
        cache.save()
    return unhashed


def sha256_file(path: Path) -> str:
    """The SHA-256 hex digest of a file, read in 1 MiB blocks."""
    with open(path, "rb") as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest()


def verify_store(path: str | os.PathLike) -> list[str]:
    """Check a whole store now: every hash (never from the cache), then the full load.

    Returns
    -------
    list of str
        The files whose content was checked against a recorded hash, then the published
        artifacts checked against their commit's record (as ``artifacts/NAME``).

    Raises
    ------
    AuditSetError
        At the first violation, in one sentence.
    """
    from silentscope.audit.store import load_audit, read_manifest

    path = Path(path)
    manifest = read_manifest(path)
    check_store_files(path, manifest, verify=True, cached=False)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UnverifiedStoreWarning)  # said once, above
        load_audit(path, verify=False)
    from silentscope.audit.artifacts import ARTIFACTS, verify_artifacts

    artifacts = [f"{ARTIFACTS}/{name}" for name in verify_artifacts(path)]
    return [
        name for name, entry in manifest["files"].items() if file_hash(entry) is not None
    ] + artifacts


def rehash_store(path: str | os.PathLike) -> list[str]:
    """Record the hashes a store's manifest lacks (file hashes, ``contract_sha256``).

    Only missing hashes are added: a file whose recorded hash does not match is refused,
    since recording its new hash would hide the change. Check that the store is as it was
    written before running this.

    Returns
    -------
    list of str
        What was recorded (file names, and ``contract_sha256``); empty if nothing was missing.

    Raises
    ------
    AuditSetError
        If a file does not match the hash already recorded for it.
    """
    from silentscope.audit.store import _write_json_atomic, read_manifest

    path = Path(path)
    manifest = read_manifest(path)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UnverifiedStoreWarning)
        check_store_files(path, manifest, verify=True)
    added = []
    for name, entry in manifest["files"].items():
        if file_hash(entry) is None:
            entry["sha256"] = sha256_file(path / name)
            added.append(name)
    if "contract_sha256" not in manifest or added:
        manifest["contract_sha256"] = contract_digest(manifest)
        added.append("contract_sha256")
    if added:
        _write_json_atomic(path / MANIFEST, manifest)
    return added


def _check_inside(root: Path, path: Path, name: str) -> None:
    file = path / name
    if not file.exists() and not file.is_symlink():
        raise FileNotFoundError(f"audit store {path} is missing {name}; re-create the store")
    target = file.resolve()
    if target.parent != root:
        raise AuditSetError(
            f"{file} is a symbolic link to {target}, outside the store; a store holds its own "
            "files: replace the link with a copy of the file, or re-create the store"
        )
    if not target.is_file():
        raise AuditSetError(f"{file} is not a regular file; re-create the store")


def cache_dir() -> Path:
    """The user's silentscope cache folder (see the module docstring)."""
    if os.environ.get("SILENTSCOPE_CACHE_DIR"):
        return Path(os.environ["SILENTSCOPE_CACHE_DIR"])
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "silentscope"


class _VerifiedCache:
    """Files whose hash was checked, by identity; a missing or unreadable cache is empty."""

    def __init__(self) -> None:
        self.file = cache_dir() / _CACHE_FILE
        self.changed = False
        try:
            entries = json.loads(self.file.read_text())
            self.entries = entries if isinstance(entries, dict) else {}
        except (OSError, ValueError):
            self.entries = {}

    @staticmethod
    def _key(file: Path, expected: str) -> str:
        stat = file.stat()
        identity = (stat.st_dev, stat.st_ino, stat.st_size, stat.st_mtime_ns, stat.st_ctime_ns)
        return f"{file.resolve()}|{'|'.join(map(str, identity))}|{expected}"

    def holds(self, file: Path, expected: str) -> bool:
        return self._key(file, expected) in self.entries

    def add(self, file: Path, expected: str) -> None:
        self.entries[self._key(file, expected)] = True
        self.changed = True

    def save(self) -> None:
        if not self.changed:
            return
        kept = dict(list(self.entries.items())[-_CACHE_ENTRIES:])
        tmp = self.file.with_name(f".{self.file.name}.tmp-{uuid.uuid4().hex[:8]}")
        try:
            self.file.parent.mkdir(parents=True, exist_ok=True)
            tmp.write_text(json.dumps(kept))
            os.replace(tmp, self.file)
        except OSError:
            # an unwritable cache only costs time: the next load hashes again
            tmp.unlink(missing_ok=True)

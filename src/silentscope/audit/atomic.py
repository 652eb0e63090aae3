"""Publishing files in one step: temporary folders, their cleanup, durable renames, a lock.

Every writer of an audit store (the store itself, its artifacts, the viewer's cache) writes
into a temporary folder and publishes it with one rename or one replaced pointer file, so that
a process killed at any moment leaves the old state or the new one. This module holds the
pieces they share:

- :func:`temporary_name` names a temporary folder after its writer (host and process id), so
  that a later writer can tell a dead writer's leftovers from a live writer's work;
- :func:`remove_stale` removes the leftovers of dead writers (same host, process gone) and of
  any writer older than :data:`STALE_AFTER_S`;
- :func:`exchange_folders` swaps two folders in one step where the system allows it;
- :func:`write_bytes_durably`, :func:`fsync_folder` and :func:`locked` make a publication
  survive a power cut and serialise concurrent writers of one store.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import socket
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

#: Age (seconds since the last change) after which any temporary folder is stale, whoever wrote
#: it. A writer fills its temporary folder only in its final write phase (seconds, or minutes for
#: a million-sample store), never while it computes, so an hour old folder is abandoned: its
#: writer died on another host (a shared file system), or its process id was reused.
STALE_AFTER_S = 3600.0

_HOST = re.sub(r"[^A-Za-z0-9]", "", socket.gethostname())[:32] or "host"
# ".tmp-HOST-PID-RANDOM": written by this module; ".tmp-RANDOM": by silentscope before it.
_TEMP_SUFFIX = re.compile(r"\.tmp-(?:(?P<host>[A-Za-z0-9]+)-(?P<pid>\d+)-)?[0-9a-f]{8}$")


def temporary_name(prefix: str) -> str:
    """A fresh temporary name ``{prefix}.tmp-HOST-PID-RANDOM`` that records its writer.

    Examples
    --------
    >>> name = temporary_name(".store")
    >>> name.startswith(".store.tmp-") and f"-{os.getpid()}-" in name
    True
    """
    return f"{prefix}.tmp-{_HOST}-{os.getpid()}-{uuid.uuid4().hex[:8]}"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's live process
        return True
    return True


def is_stale(path: Path, *, now: float | None = None, max_age_s: float = STALE_AFTER_S) -> bool:
    """Whether the temporary ``path`` was left by a dead writer (or is older than ``max_age_s``).

    A name written by this host with a process id is stale as soon as that process is gone;
    any other temporary name (another host's, or an older silentscope's without a process
    id) only once it is older than ``max_age_s``, since its writer cannot be asked.
    """
    match = _TEMP_SUFFIX.search(path.name)
    if match is None:
        return False
    try:
        age = (time.time() if now is None else now) - path.lstat().st_mtime
    except FileNotFoundError:
        return False
    if age > max_age_s:
        return True
    pid = match.group("pid")
    return match.group("host") == _HOST and pid is not None and not _alive(int(pid))


def remove_stale(
    folder: Path, prefix: str, *, max_age_s: float = STALE_AFTER_S, pattern: str | None = None
) -> list[Path]:
    """Remove the stale temporary entries ``{prefix}.tmp-*`` in ``folder``; the paths removed.

    ``pattern`` (a glob) replaces ``{prefix}.tmp-*`` where several prefixes are cleaned at once.

    Examples
    --------
    >>> import tempfile
    >>> folder = Path(tempfile.mkdtemp())
    >>> (folder / ".store.tmp-0123abcd").mkdir()        # an older silentscope's, age unknown
    >>> os.utime(folder / ".store.tmp-0123abcd", (0, 0))  # ... and old
    >>> [p.name for p in remove_stale(folder, ".store")]
    ['.store.tmp-0123abcd']
    """
    removed = []
    if not folder.is_dir():
        return removed
    now = time.time()
    for path in folder.glob(pattern or f"{glob_escape(prefix)}.tmp-*"):
        if is_stale(path, now=now, max_age_s=max_age_s):
            if path.is_dir() and not path.is_symlink():
                shutil.rmtree(path, ignore_errors=True)
            else:
                path.unlink(missing_ok=True)
            removed.append(path)
    return removed


def glob_escape(text: str) -> str:
    """``text`` with glob's special characters escaped (a store may be named ``run[1]``)."""
    return re.sub(r"([*?\[])", r"[\1]", text)


def fsync_folder(folder: Path) -> None:
    """Make the entries of ``folder`` (names created, renamed, removed) durable."""
    if os.name != "posix":  # folders cannot be opened for fsync on Windows
        return
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_bytes_durably(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` and flush it to disk."""
    with open(path, "wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())


def fsync_file(path: Path) -> None:
    with open(path, "rb") as handle:
        os.fsync(handle.fileno())


def replace_file_durably(path: Path, data: bytes) -> None:
    """Replace ``path`` by a file holding ``data`` in one rename (readers see old or new)."""
    tmp = path.with_name(
        temporary_name(path.name if path.name.startswith(".") else f".{path.name}")
    )
    try:
        write_bytes_durably(tmp, data)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    fsync_folder(path.parent)


_RENAME_EXCHANGE = 2


def _renameat2_exchange(a: Path, b: Path) -> bool:
    """Swap ``a`` and ``b`` atomically (Linux renameat2); False where the system cannot."""
    if not sys.platform.startswith("linux"):
        return False
    import ctypes

    try:
        libc = ctypes.CDLL(None, use_errno=True)
        renameat2 = libc.renameat2
    except (OSError, AttributeError):
        return False
    renameat2.argtypes = [
        ctypes.c_int,
        ctypes.c_char_p,
        ctypes.c_int,
        ctypes.c_char_p,
        ctypes.c_uint,
    ]
    at_fdcwd = -100
    result = renameat2(at_fdcwd, os.fsencode(a), at_fdcwd, os.fsencode(b), _RENAME_EXCHANGE)
    return result == 0  # EINVAL / ENOSYS (file system or kernel without it): fall back


def exchange_folders(new: Path, target: Path) -> None:
    """Put the folder ``new`` at ``target``, replacing an existing ``target`` folder.

    On Linux both are swapped in one step, so that a kill leaves the old or the new folder at
    ``target``; elsewhere the old folder is first moved aside (``.NAME.tmp-...``), which leaves
    a moment without ``target`` (the old folder survives beside it). The old folder is removed.
    """
    if not target.exists():
        os.replace(new, target)
        fsync_folder(target.parent)
        return
    if _renameat2_exchange(new, target):
        fsync_folder(target.parent)
        shutil.rmtree(new, ignore_errors=True)  # now holds the old folder
        return
    old = target.parent / temporary_name(f".{target.name}.old")
    os.replace(target, old)
    os.replace(new, target)
    fsync_folder(target.parent)
    shutil.rmtree(old, ignore_errors=True)


@contextlib.contextmanager
def locked(lock_file: Path) -> Iterator[None]:
    """Hold an exclusive lock on ``lock_file`` (released by the system if the process dies).

    Without :mod:`fcntl` (Windows) writers are not serialised; each publication is still one
    atomic replace, but two concurrent writers may each miss the other's artifacts.
    """
    try:
        import fcntl
    except ImportError:  # pragma: no cover - Windows
        yield
        return
    fd = os.open(lock_file, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # closing releases the lock


__all__ = [
    "STALE_AFTER_S",
    "exchange_folders",
    "fsync_file",
    "fsync_folder",
    "glob_escape",
    "is_stale",
    "locked",
    "remove_stale",
    "replace_file_durably",
    "temporary_name",
    "write_bytes_durably",
]

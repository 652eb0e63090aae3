"""Image references (``AuditSet.image_ref``): write in-memory images to a file, read any ref back.

A reference is an image file path, ``<file.npz>#<key>/<index>`` (one image of an array
stored in an npz file, e.g. ``pneumoniamnist.npz#test_images/12``) or ``<file.npy>#<index>``.
Relative paths are resolved against ``base`` where one is given. Where an image ``root`` is
given (the viewer and the report always give one), a reference is read only if the file it
names lies inside that folder once symlinks are resolved; anything else, absolute paths and
``../`` included, is refused with the same message as a missing file, so that a store cannot
be used to read, or to learn of, files elsewhere.
"""

from __future__ import annotations

import os
import re
import zipfile
import zlib
from functools import lru_cache
from pathlib import Path

import numpy as np

from silentscope.data.dataset import SPLITS, ImageDataset
from silentscope.data.errors import DatasetError
from silentscope.data.files import read_image

#: What a damaged array file raises inside numpy/zipfile; reported as one DatasetError.
_DAMAGED = (OSError, ValueError, EOFError, zipfile.BadZipFile, zlib.error)


def _damaged(path: str, error: Exception) -> DatasetError:
    detail = "it is not a NumPy file" if "pickle" in str(error) else str(error).splitlines()[0]
    return DatasetError(
        f"cannot read the image array file {path} ({detail}); it is truncated or damaged: copy it again"
    )


class ImageOutsideRoot(OSError):
    """An image reference names no file inside the image root (missing or outside: one message)."""


#: An absolute path inside text: POSIX (``/a/b``) or Windows (``C:\\a``); not a URL's ``//``.
_ABSOLUTE = re.compile(r"(?<![\w:./\\-])(?:/|[A-Za-z]:\\)[^\s'\"<>()]*[^\s'\"<>().,;:]")


def shareable(text: str) -> str:
    """``text`` with every absolute path cut to its file name, for pages meant to be shared.

    A report or an exported viewer page is sent to colleagues; the folders its data came
    from (user names, hospital shares, ...) are none of their business.

    Examples
    --------
    >>> shareable("/home/ana/odir/img 1.jpg"), shareable("train/12.png")
    ('…/img 1.jpg', 'train/12.png')
    >>> shareable("/data/ana/pneumoniamnist.npz#test_images/12")
    '…/pneumoniamnist.npz#test_images/12'
    >>> shareable("image '/data/site_a/x.png' is outside the image root /data/site_b.")
    "image '…/x.png' is outside the image root …/site_b."
    """
    if "/" not in text and ":\\" not in text:
        return text
    if text.startswith("/") and not _ABSOLUTE.fullmatch(text):  # a path with spaces, alone
        return _file_name(text)
    return _ABSOLUTE.sub(lambda m: _file_name(m.group(0)), text)


def _file_name(path: str) -> str:
    """``…/<file name>``, keeping an array reference's ``#key/index`` after it."""
    file, hash_, inside = path.partition("#")
    return "…/" + re.split(r"[/\\]", file.rstrip("/\\"))[-1] + hash_ + inside


def confined_file(ref: str, base: str | Path | None, root: str | Path) -> str:
    """The real path of the file ``ref`` names, checked to lie inside the folder ``root``.

    Raises :class:`ImageOutsideRoot` with one message whether the file is missing or
    outside the root (never saying which), so that a hostile store learns nothing.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> root = pathlib.Path(tempfile.mkdtemp())
    >>> _ = (root / "a.png").write_bytes(b"x")
    >>> confined_file("a.png#0", root, root) == os.path.realpath(root / "a.png")
    True
    >>> confined_file("../etc/passwd", root, root)
    Traceback (most recent call last):
    ...
    silentscope.data.refs.ImageOutsideRoot: image reference '../etc/passwd' names no file inside the image root ...
    """
    file = str(ref).partition("#")[0]
    if base is not None and not Path(file).is_absolute():
        file = str(Path(base) / file)
    real = os.path.realpath(file)
    top = os.path.realpath(root)
    inside = real.startswith(top.rstrip(os.sep) + os.sep)
    if not (inside and os.path.isfile(real)):
        raise ImageOutsideRoot(
            f"image reference {str(ref)!r} names no file inside the image root {root}; images are "
            "read only from there: give the folder that holds them as the image root "
            "(--image-root)"
        )
    return real


@lru_cache(maxsize=4)
def _npz_array(path: str, key: str) -> np.ndarray:
    try:
        with np.load(path, allow_pickle=False) as archive:
            if key not in archive.files:
                raise DatasetError(f"{path} has no array {key!r}; it has {archive.files}")
            return archive[key]
    except DatasetError:
        raise
    except _DAMAGED as error:
        raise _damaged(path, error) from None


def read_image_ref(
    ref: str, base: str | Path | None = None, root: str | Path | None = None
) -> np.ndarray:
    """The uint8 image (H, W, C) an image reference points to.

    Parameters
    ----------
    ref : str
        ``path``, ``<file.npy>#<index>`` or ``<file.npz>#<key>/<index>``.
    base : path-like, optional
        Folder that relative paths start from.
    root : path-like, optional
        Read only files inside this folder (see :func:`confined_file`); ``None`` reads any
        path, for references the caller wrote itself.

    Examples
    --------
    >>> import numpy as np, tempfile
    >>> path = tempfile.mkdtemp() + "/a.npz"
    >>> np.savez(path, test_images=np.arange(2 * 4 * 4, dtype=np.uint8).reshape(2, 4, 4))
    >>> read_image_ref(f"{path}#test_images/1").shape
    (4, 4, 1)
    """
    file, sep, location = str(ref).partition("#")
    if base is not None and not Path(file).is_absolute():
        file = str(Path(base) / file)
    if root is not None:
        file = confined_file(ref, base, root)
    if not sep:
        return read_image(file)
    if file.endswith(".npy") and location.isdigit():
        if not Path(file).is_file():
            raise FileNotFoundError(
                f"image reference {ref!r} points to {file}, which does not exist"
            )
        try:
            image = np.asarray(np.load(file, mmap_mode="r", allow_pickle=False)[int(location)])
        except _DAMAGED as error:
            raise _damaged(file, error) from None
        return image[..., None] if image.ndim == 2 else image.astype(np.uint8)
    key, _, index = location.rpartition("/")
    if not key or not index.isdigit():
        raise DatasetError(f"image reference {ref!r} must look like <file.npz>#<key>/<index>")
    if not Path(file).is_file():
        raise FileNotFoundError(f"image reference {ref!r} points to {file}, which does not exist")
    array = _npz_array(file, key)
    if int(index) >= len(array):
        raise DatasetError(f"image reference {ref!r}: {key} has only {len(array)} images")
    image = np.asarray(array[int(index)])
    return image[..., None] if image.ndim == 2 else image


def write_npz(dataset: ImageDataset, path: str | Path) -> np.ndarray:
    """Save a dataset's images and labels in the MedMNIST layout and return one ref per sample.

    The file holds ``{split}_images`` and ``{split}_labels`` (readable by
    :func:`~silentscope.data.medmnist.load_medmnist` when named ``<flag>.npz``) plus
    ``{split}_sample_ids``. Use the returned refs as ``image_ref`` of an AuditSet so that
    reports and the viewer can show in-memory images (e.g. the synthetic dataset).

    Examples
    --------
    >>> import tempfile
    >>> from silentscope.data.synthetic import make_synthetic
    >>> data = make_synthetic(200, 16, seed=0)
    >>> refs = write_npz(data, tempfile.mkdtemp() + "/synthetic.npz")
    >>> bool((read_image_ref(refs[5]) == data.load_images([5])[0]).all())
    True
    """
    path = Path(path)
    if path.suffix != ".npz":
        raise DatasetError(f"write_npz writes an .npz file; got {path.name!r}")
    path.parent.mkdir(parents=True, exist_ok=True)
    arrays, refs = {}, np.empty(len(dataset), dtype=object)
    for split in SPLITS:
        rows = np.flatnonzero(dataset.split == split)
        arrays[f"{split}_images"] = (
            dataset.load_images(rows) if len(rows) else np.zeros((0, 1, 1, 1), np.uint8)
        )
        arrays[f"{split}_labels"] = dataset.labels[rows].astype(np.int64)[:, None]
        arrays[f"{split}_sample_ids"] = dataset.sample_ids[rows].astype(str)
        refs[rows] = [f"{path}#{split}_images/{i}" for i in range(len(rows))]
    temporary = path.with_name(path.name + ".tmp-write.npz")
    np.savez_compressed(temporary, **arrays)
    temporary.replace(path)  # never leave a half-written file under the final name
    _npz_array.cache_clear()
    return refs.astype(str)

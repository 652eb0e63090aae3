"""Thumbnails of store samples, rendered once and cached in memory and on disk.

A thumbnail is asked for by *row*; the image reference is then read from the store, so no
file path ever comes from a request. References are file paths or
``<array file>#<index>`` (``.npy``) / ``<file.npz>#<key>/<index>``, relative ones resolved
against the viewer's image root, and only files inside that root are read (a store's
absolute or ``../`` references to anything else are refused, with the message of a missing
file, before any cache is consulted). Where the sample records a corruption in
``shift_params``, it is replayed so the thumbnail shows what the classifier saw.
"""

from __future__ import annotations

import hashlib
import io
import os
import threading
from collections import OrderedDict
from pathlib import Path

import numpy as np
from PIL import Image

from silentscope.viewer.data import ViewerData

THUMBNAIL_SIZE = 128
_MEMORY_ITEMS = 4096


class ThumbnailUnavailable(LookupError):
    """The sample has no image, or its image cannot be read."""


class ThumbnailCache:
    """PNG thumbnails by row: an in-memory LRU in front of a disk cache.

    Parameters
    ----------
    data : ViewerData
    folder : path-like, optional
        Disk cache; default ``<store>/viewer-cache/thumbnails`` when the store is writable,
        else memory only.
    size : int, default=128
        Longest side in pixels.
    """

    def __init__(
        self, data: ViewerData, folder: str | os.PathLike | None = None, size: int = THUMBNAIL_SIZE
    ):
        self.data = data
        self.size = int(size)
        self.folder = (
            Path(folder) if folder is not None else data.store / "viewer-cache" / "thumbnails"
        )
        self._memory: OrderedDict[int, bytes] = OrderedDict()
        self._lock = threading.Lock()
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            self._disk = os.access(self.folder, os.W_OK)
        except OSError:
            self._disk = False

    def _disk_path(self, row: int) -> Path:
        if self.data.volume_slices is not None:  # a segmentation store: its own slices
            key = hashlib.sha1(f"{self.data.store.resolve()}|volume|{row}|{self.size}".encode())
            return self.folder / key.hexdigest()[:2] / f"{key.hexdigest()}.png"
        ref = self.data.image_ref[row].as_py()
        shift = None if self.data.shift_params is None else self.data.shift_params[row].as_py()
        # Keyed by what the thumbnail shows, so a changed store never serves a stale picture.
        key = hashlib.sha1(f"{ref}|{shift}|{self.size}".encode()).hexdigest()
        return self.folder / key[:2] / f"{key}.png"

    def get(self, row: int) -> bytes:
        """The PNG bytes of row ``row``'s thumbnail.

        Raises
        ------
        IndexError
            If ``row`` is not a sample of the store.
        ThumbnailUnavailable
            If the store has no image references or the image cannot be read.
        """
        row = self.data.check_row(row)
        if not self.data.has_images:
            raise ThumbnailUnavailable("this audit store has no image references")
        self._confine(row)
        with self._lock:
            if row in self._memory:
                self._memory.move_to_end(row)
                return self._memory[row]
        path = self._disk_path(row) if self._disk else None
        if path is not None and path.is_file():
            png = path.read_bytes()
        else:
            png = self.render(row)
            if path is not None:
                path.parent.mkdir(exist_ok=True)
                tmp = path.with_suffix(f".tmp-{threading.get_ident()}")
                tmp.write_bytes(png)
                os.replace(tmp, path)
        with self._lock:
            self._memory[row] = png
            while len(self._memory) > _MEMORY_ITEMS:
                self._memory.popitem(last=False)
        return png

    def _root(self) -> Path:
        return self.data.image_root or self.data.store.resolve().parent

    def _confine(self, row: int) -> None:
        # Checked before the caches too: a thumbnail rendered before the root was narrowed
        # must not be served from memory or disk.
        from silentscope.data.refs import ImageOutsideRoot, confined_file

        if self.data.volume_slices is not None:
            return  # read from the store itself, no image file
        root = self._root()
        try:
            confined_file(self.data.image_ref[row].as_py() or "", root, root)
        except ImageOutsideRoot as error:
            raise ThumbnailUnavailable(
                f"the image of this sample cannot be read ({error})"
            ) from None

    def render(self, row: int) -> bytes:
        """Render row ``row``'s thumbnail (no caching)."""
        if self.data.volume_slices is not None:
            return png_thumbnail(volume_strip(self.data.volume_slices[row]), self.size)
        # Imported on the first thumbnail: the dataset and corruption modules cost a second
        # of start-up that the first paint does not need.
        from silentscope.data.refs import read_image_ref as load_image_ref
        from silentscope.shifts.apply import replay_shift

        ref = self.data.image_ref[row].as_py()
        try:
            image = load_image_ref(ref, self._root(), root=self._root())
            if self.data.shift_params is not None:
                image = replay_shift(image, self.data.shift_params[row].as_py())
        except (OSError, KeyError, ValueError, IndexError, TypeError) as error:
            raise ThumbnailUnavailable(
                f"the image of this sample cannot be read ({error})"
            ) from None
        return png_thumbnail(image, self.size)


def volume_strip(stack: np.ndarray) -> np.ndarray:
    """A volume's axial mid-slices of image, label and prediction side by side (RGB uint8).

    ``stack`` is one volume's entry of :func:`~silentscope.audit.volume_slices.slice_stack`.

    Examples
    --------
    >>> volume_strip(np.zeros((3, 3, 8, 8), np.uint8)).shape
    (8, 26, 3)
    """
    from silentscope.audit.volume_slices import colour_labels

    image, label, prediction = stack[0, 0], stack[1, 0], stack[2, 0]
    gap = np.full((image.shape[0], 1, 3), 64, np.uint8)
    grey = np.repeat(image[..., None], 3, axis=2)
    return np.concatenate(
        [grey, gap, colour_labels(label), gap, colour_labels(prediction)], axis=1
    ).astype(np.uint8)


def png_thumbnail(image: np.ndarray, size: int = THUMBNAIL_SIZE) -> bytes:
    """PNG bytes of a uint8 image (H, W, C) scaled so its longest side is ``size``.

    Small images (MedMNIST's 28 px) are enlarged with nearest-neighbour sampling so that
    their pixels stay honest; large ones are reduced with an area filter.

    Examples
    --------
    >>> png = png_thumbnail(np.zeros((28, 28, 1), dtype=np.uint8), size=56)
    >>> png[:4], Image.open(io.BytesIO(png)).size
    (b'\\x89PNG', (56, 56))
    """
    array = np.asarray(image)
    if array.ndim == 3 and array.shape[-1] == 1:
        array = array[..., 0]
    picture = Image.fromarray(array.astype(np.uint8))
    scale = size / max(picture.size)
    target = (max(1, round(picture.size[0] * scale)), max(1, round(picture.size[1] * scale)))
    resample = Image.NEAREST if scale >= 1 else Image.BOX
    picture = picture.resize(target, resample)
    buffer = io.BytesIO()
    picture.save(buffer, format="PNG")
    return buffer.getvalue()


__all__ = [
    "THUMBNAIL_SIZE",
    "ThumbnailCache",
    "ThumbnailUnavailable",
    "png_thumbnail",
    "volume_strip",
]

"""Images loaded lazily from files, decoded and resized with PIL on access."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

from silentscope.data.errors import DatasetError

#: Colour handling: ``auto`` keeps each file's channel count and requires all to agree.
COLORS = ("auto", "grey", "rgb")
_PIL_MODE = {"grey": "L", "rgb": "RGB"}
_GREY_MODES = ("1", "L", "I", "I;16", "I;16B", "I;16L", "F", "LA")


def _check_color(color: str) -> str:
    if color not in COLORS:
        raise DatasetError(f"color must be one of {COLORS}, got {color!r}")
    return color


def _natural_color(image: Image.Image) -> str:
    return "grey" if image.mode in _GREY_MODES else "rgb"


def read_image(
    path: str | Path, size: int | tuple[int, int] | None = None, color: str = "auto"
) -> np.ndarray:
    """Read one image file as uint8 (H, W, C), optionally resized and converted.

    Parameters
    ----------
    path : str or Path
        Any format PIL reads (PNG, JPEG, TIFF, BMP, ...).
    size : int or (height, width), optional
        Resize to this size (bilinear, with JPEG draft decoding when shrinking); ``None``
        keeps the stored size.
    color : {"auto", "grey", "rgb"}
        ``auto`` keeps the file's own channel count (1 for grey modes, 3 otherwise);
        ``grey`` and ``rgb`` convert explicitly.

    Returns
    -------
    ndarray of uint8, shape (H, W, C) with C in (1, 3)

    Raises
    ------
    FileNotFoundError
        The file does not exist.
    DatasetError
        The file is not a readable image.

    Examples
    --------
    >>> import tempfile, numpy as np
    >>> from PIL import Image
    >>> path = tempfile.mkdtemp() + "/x.png"
    >>> Image.fromarray(np.full((40, 30), 7, np.uint8)).save(path)
    >>> read_image(path, size=16).shape
    (16, 16, 1)
    >>> read_image(path, color="rgb").shape
    (40, 30, 3)
    """
    _check_color(color)
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(
            f"image file {path} does not exist; check the path and the image folder"
        )
    target = None if size is None else ((size, size) if isinstance(size, int) else tuple(size))
    try:
        with Image.open(path) as image:
            mode = _natural_color(image) if color == "auto" else color
            if target is not None and image.format == "JPEG":
                # DCT-domain downscaling: several times faster for large JPEGs, same result range.
                image.draft(_PIL_MODE[mode], (target[1], target[0]))
            if image.mode in ("I", "I;16", "I;16B", "I;16L", "F"):
                image = _to_8bit(image)
            image = image.convert(_PIL_MODE[mode])
            if target is not None and image.size != (target[1], target[0]):
                image = image.resize(
                    (target[1], target[0]), Image.Resampling.BILINEAR, reducing_gap=2.0
                )
            array = np.asarray(image, dtype=np.uint8)
    except (UnidentifiedImageError, OSError, SyntaxError) as error:
        raise DatasetError(
            f"cannot read image {path}: {error}; replace or remove the file"
        ) from None
    return array[..., None] if array.ndim == 2 else array


def _to_8bit(image: Image.Image) -> Image.Image:
    """Scale a 16-bit or float image to 0-255 by its own min and max (documented, not silent)."""
    array = np.asarray(image, dtype=np.float64)
    low, high = float(array.min()), float(array.max())
    scaled = np.zeros_like(array) if high <= low else (array - low) / (high - low) * 255.0
    return Image.fromarray(np.round(scaled).astype(np.uint8))


def md5_of_file(path: str | Path, chunk: int = 1 << 20) -> str:
    """MD5 hex digest of a file's bytes (for duplicate detection, not security)."""
    digest = hashlib.md5(usedforsecurity=False)
    with open(path, "rb") as handle:
        while block := handle.read(chunk):
            digest.update(block)
    return digest.hexdigest()


class FileImages:
    """An :class:`~silentscope.data.dataset.ImageSource` that decodes image files on access.

    Parameters
    ----------
    paths : sequence of str or Path
        One file per sample.
    size : int or (height, width), optional
        Resize every image to this size. Without it all files must share one size.
    color : {"auto", "grey", "rgb"}
        ``auto`` takes the channel count of the first file and requires every file to
        match it; ``grey`` and ``rgb`` convert every file explicitly.
    workers : int
        Threads used to decode a batch (PIL releases the GIL while decoding).

    Examples
    --------
    >>> import tempfile, numpy as np
    >>> from PIL import Image
    >>> folder = tempfile.mkdtemp()
    >>> for i in range(3):
    ...     Image.fromarray(np.full((20, 20, 3), 50 * i, np.uint8)).save(f"{folder}/{i}.png")
    >>> images = FileImages([f"{folder}/{i}.png" for i in range(3)], size=8)
    >>> images[[0, 2]].shape
    (2, 8, 8, 3)
    >>> int(images[2][0, 0, 0])
    100
    """

    def __init__(
        self,
        paths: Sequence[str | Path],
        size: int | tuple[int, int] | None = None,
        color: str = "auto",
        workers: int = 2,
    ):
        self.paths = np.asarray([str(p) for p in paths], dtype=object)
        self.size = size
        self.color = _check_color(color)
        self.workers = max(1, int(workers))
        self._shape: tuple[int, int, int] | None = None

    def __len__(self) -> int:
        return len(self.paths)

    @property
    def image_shape(self) -> tuple[int, int, int]:
        """(H, W, C) of every image, fixed by the first file when size or color is open."""
        if self._shape is None:
            self._shape = self._read(0).shape
        return self._shape

    def _read(self, row: int) -> np.ndarray:
        return read_image(self.paths[row], self.size, self.color)

    def _checked(self, row: int) -> np.ndarray:
        image = self._read(row)
        expected = self.image_shape
        if image.shape != expected:
            if image.shape[2] != expected[2]:
                fix = "pass color='rgb' or color='grey' to convert every image"
            else:
                fix = "pass size=... to resize every image to one size"
            raise DatasetError(
                f"image {self.paths[row]} (row {row}) has shape {image.shape} but {self.paths[0]} "
                f"has {expected}; {fix}"
            )
        return image

    def __getitem__(self, indices) -> np.ndarray:
        if np.isscalar(indices) or (isinstance(indices, np.ndarray) and indices.ndim == 0):
            return self._checked(int(indices))
        rows = np.arange(len(self))[indices]
        if len(rows) == 0:
            return np.zeros((0, *self.image_shape), dtype=np.uint8)
        if self.workers > 1 and len(rows) > 8:
            with ThreadPoolExecutor(self.workers) as pool:
                images = list(pool.map(self._checked, rows.tolist()))
        else:
            images = [self._checked(int(r)) for r in rows]
        return np.stack(images)

    def missing(self) -> np.ndarray:
        """Rows whose file does not exist (checked without decoding)."""
        return np.array([not Path(p).is_file() for p in self.paths], dtype=bool)

"""uint8 images (N, H, W, C) to float tensors (N, C, H, W) in [0, 1], converted once.

Per-batch Python work dominates training on 28 px images, so a split that fits in memory
is converted to one float tensor up front and batches are taken by indexing it; larger
splits are converted batch by batch from their image source.
"""

from __future__ import annotations

import numpy as np
import torch
from torch.nn import functional

#: Largest float tensor (bytes) a split is pre-converted to; larger splits stay lazy.
DEFAULT_MAX_BYTES = 2 * 1024**3
_CHUNK = 4096


def to_float_tensor(images: np.ndarray, image_size: int | None = None) -> torch.Tensor:
    """Convert uint8 images (N, H, W, C) to float32 (N, C, H, W) in [0, 1], resized if asked.

    Down-sampling uses area interpolation, up-sampling bilinear interpolation.

    Examples
    --------
    >>> x = to_float_tensor(np.full((2, 8, 8, 1), 255, dtype=np.uint8), image_size=4)
    >>> tuple(x.shape), float(x.max())
    ((2, 1, 4, 4), 1.0)
    """
    images = np.asarray(images)
    if images.ndim == 3:
        images = images[..., None]
    if images.ndim != 4 or images.dtype != np.uint8:
        raise ValueError(
            f"images must be uint8 of shape (N, H, W, C), got {images.dtype} {images.shape}; "
            "scale to 0-255 and cast to uint8 first"
        )
    tensor = torch.from_numpy(np.ascontiguousarray(images)).permute(0, 3, 1, 2).float().div_(255.0)
    if image_size is not None and tuple(tensor.shape[2:]) != (image_size, image_size):
        mode = "area" if max(tensor.shape[2:]) > image_size else "bilinear"
        kwargs = {} if mode == "area" else {"align_corners": False}
        tensor = functional.interpolate(tensor, size=(image_size, image_size), mode=mode, **kwargs)
    return tensor.contiguous()


class ImageTensors:
    """Batches of float images from an image source, pre-converted when they fit.

    Parameters
    ----------
    source : ImageSource or ndarray
        uint8 images (N, H, W, C), indexable by an integer array.
    image_size : int, optional
        Resize to this side length.
    device : torch.device
        Where batches are returned (and where the pre-converted tensor lives).
    max_bytes : int
        Pre-convert only when the float tensor takes at most this many bytes.

    Examples
    --------
    >>> data = ImageTensors(np.zeros((10, 28, 28, 1), dtype=np.uint8))
    >>> data.preconverted, tuple(data.batch(torch.arange(3)).shape)
    (True, (3, 1, 28, 28))
    """

    def __init__(
        self, source, image_size: int | None = None, device=None, max_bytes: int = DEFAULT_MAX_BYTES
    ):
        self.source = source
        self.image_size = image_size
        self.device = torch.device("cpu") if device is None else torch.device(device)
        first = np.asarray(source[np.arange(min(1, len(source)))])
        if first.ndim == 3:
            first = first[..., None]
        h, w, c = first.shape[1:]
        side_h, side_w = (image_size, image_size) if image_size else (h, w)
        self.shape = (len(source), c, side_h, side_w)
        nbytes = 4 * int(np.prod(self.shape, dtype=np.int64))
        self.tensor: torch.Tensor | None = None
        if nbytes <= max_bytes:
            chunks = [
                to_float_tensor(source[np.arange(i, min(i + _CHUNK, len(source)))], image_size)
                for i in range(0, len(source), _CHUNK)
            ]
            self.tensor = torch.cat(chunks).to(self.device)

    def __len__(self) -> int:
        return self.shape[0]

    @property
    def preconverted(self) -> bool:
        return self.tensor is not None

    def batch(self, indices: torch.Tensor) -> torch.Tensor:
        """Images at ``indices`` (a 1-D integer tensor), float (b, C, H, W) on the device."""
        if self.tensor is not None:
            return self.tensor[indices.to(self.tensor.device)]
        rows = indices.cpu().numpy()
        return to_float_tensor(self.source[rows], self.image_size).to(
            self.device, non_blocking=True
        )

    def channel_stats(self) -> tuple[list[float], list[float]]:
        """Per-channel mean and standard deviation over all images (for normalisation)."""
        total = torch.zeros(self.shape[1], dtype=torch.float64)
        total_sq = torch.zeros(self.shape[1], dtype=torch.float64)
        count = 0
        for start in range(0, len(self), _CHUNK):
            x = self.batch(torch.arange(start, min(start + _CHUNK, len(self)))).double()
            total += x.sum(dim=(0, 2, 3)).cpu()
            total_sq += (x * x).sum(dim=(0, 2, 3)).cpu()
            count += x.shape[0] * x.shape[2] * x.shape[3]
        mean = total / count
        std = (total_sq / count - mean * mean).clamp_min(1e-12).sqrt().clamp_min(1e-3)
        return mean.tolist(), std.tolist()

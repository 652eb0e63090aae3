"""3-D forms of the image operations behind the generic corruptions and texture filters.

Each function takes one volume ``(D, H, W, C)`` and filters over all three spatial axes
(3-D kernels, 6-neighbour diffusion), never slice by slice, except where the operation is
per voxel (noise, lookup tables), where slices and volumes are the same computation.
Borders are mirrored without repeating the edge voxel (OpenCV's ``BORDER_REFLECT_101``,
SciPy's ``mirror``), as the 2-D forms do.
"""

from __future__ import annotations

import numpy as np

_MODE = "mirror"  # = cv2.BORDER_REFLECT_101
_SUPERSAMPLE = 6  # sub-voxels per axis of the ball kernel: radii 1.0 and 1.1 differ


def as_slices(images: np.ndarray) -> np.ndarray:
    """A volume batch (N, D, H, W, C) viewed as N * D images (H, W, C), for per-voxel ops.

    Examples
    --------
    >>> as_slices(np.zeros((2, 3, 4, 5, 1), np.uint8)).shape
    (6, 4, 5, 1)
    """
    return images.reshape(-1, *images.shape[-3:])


def repeat_rows(params: dict, times: int) -> dict:
    """Every per-image parameter repeated for the ``times`` slices of its volume."""
    return {key: np.repeat(np.asarray(value), times, axis=0) for key, value in params.items()}


def gaussian_3d(volume: np.ndarray, sigma: float) -> np.ndarray:
    """Isotropic Gaussian blur (sigma in voxels) of a float (D, H, W, C) volume, 4-sigma support.

    Examples
    --------
    >>> v = np.zeros((11, 11, 11, 1), np.float32); v[5, 5, 5] = 1
    >>> blurred = gaussian_3d(v, 1.0)
    >>> round(float(blurred.sum()), 4), bool(blurred[4, 5, 5, 0] == blurred[5, 5, 4, 0])
    (1.0, True)
    """
    from scipy import ndimage

    return ndimage.gaussian_filter(
        volume, sigma=(sigma, sigma, sigma, 0), mode=_MODE, truncate=4.0
    ).astype(np.float32)


def ball_kernel(radius: float, alias_sigma: float) -> np.ndarray:
    """Normalised ball of ``radius`` voxels, anti-aliased by 6x6x6 supersampling and a Gaussian.

    The 3-D counterpart of :func:`~silentscope.shifts.blur.disk_kernel`.

    Examples
    --------
    >>> k = ball_kernel(2.0, 0.0)
    >>> k.shape, round(float(k.sum()), 6)
    ((7, 7, 7), 1.0)
    """
    from scipy import ndimage

    half = int(np.ceil(radius + 3 * alias_sigma)) + 1
    sub = (np.arange(_SUPERSAMPLE) + 0.5) / _SUPERSAMPLE - 0.5
    axis = (np.arange(-half, half + 1)[:, None] + sub[None, :]).ravel()
    squared = axis[:, None, None] ** 2 + axis[None, :, None] ** 2 + axis[None, None, :] ** 2
    inside = squared <= max(radius, 0.5) ** 2
    size = 2 * half + 1
    shape = (size, _SUPERSAMPLE) * 3
    kernel = inside.reshape(shape).mean(axis=(1, 3, 5)).astype(np.float32)
    if alias_sigma > 0.05:
        kernel = ndimage.gaussian_filter(kernel, alias_sigma, mode="constant")
    return kernel / kernel.sum()


def convolve_3d(volume: np.ndarray, kernel: np.ndarray) -> np.ndarray:
    """Correlate every channel of a float volume with a 3-D kernel (mirrored borders)."""
    from scipy import ndimage

    out = np.empty_like(volume, dtype=np.float32)
    for c in range(volume.shape[-1]):
        out[..., c] = ndimage.correlate(volume[..., c].astype(np.float32), kernel, mode=_MODE)
    return out


def bilateral_3d(volume: np.ndarray, sigma_color: float, sigma_space: float) -> np.ndarray:
    """Separable 3-D bilateral filter of a float volume in [0, 255].

    One 1-D bilateral pass per axis (D, then H, then W) with spatial weights
    ``exp(-o^2 / 2 sigma_space^2)`` for offsets ``|o| <= 2 sigma_space`` and range weights
    ``exp(-|x(p + o) - x(p)|^2 / 2 sigma_color^2)`` on the channel-summed squared
    difference, as OpenCV's 2-D filter has them. The exact 3-D filter visits
    ``(4 sigma + 1)^3`` neighbours per voxel; the separable form (Pham and van Vliet,
    ICME 2005) visits ``3 (4 sigma + 1)`` and keeps edges as well on piecewise smooth images.

    Examples
    --------
    >>> v = np.zeros((8, 8, 8, 1), np.float32); v[:, :, 4:] = 200
    >>> v += np.random.default_rng(0).normal(0, 5, v.shape).astype(np.float32)
    >>> out = bilateral_3d(v, 30.0, 1.5)
    >>> bool(out[:, :, :3].std() < v[:, :, :3].std()), bool(out[:, :, 5:].mean() > 190)
    (True, True)
    """
    radius = max(1, int(np.ceil(2 * sigma_space)))
    offsets = np.arange(-radius, radius + 1)
    spatial = np.exp(-(offsets**2) / (2 * sigma_space**2)).astype(np.float32)
    inverse = np.float32(-1 / (2 * max(sigma_color, 1e-3) ** 2))
    x = volume.astype(np.float32)
    for axis in range(3):
        pad = [(0, 0)] * x.ndim
        pad[axis] = (radius, radius)
        padded = np.pad(x, pad, mode="reflect")
        total = np.zeros_like(x)
        weights = np.zeros(x.shape[:-1] + (1,), np.float32)
        length = x.shape[axis]
        for o, w in zip(offsets, spatial, strict=True):
            shifted = np.take(padded, np.arange(radius + o, radius + o + length), axis=axis)
            distance = ((shifted - x) ** 2).sum(axis=-1, keepdims=True)
            weight = w * np.exp(distance * inverse)
            total += weight * shifted
            weights += weight
        x = total / weights
    return x


#: Time step of the explicit 6-neighbour scheme: 0.8 / 6 (stable below 1 / 6), the same
#: centre weight per step as the 2-D scheme's 0.2 x 4 neighbours.
DIFFUSION_STEP_3D = 0.8 / 6


def diffusion_step_3d(x: np.ndarray, kappa: float) -> np.ndarray:
    """One Perona-Malik update of a float batch (N, D, H, W, C) in [0, 1] over 6 neighbours.

    ``sum over the 6 face neighbours q of g(|x_q - x_p|) (x_q - x_p)``, times the time step,
    with ``g(s) = exp(-(s / kappa)^2)`` and ``|.|`` the root mean square over channels;
    borders replicate the edge voxel (no flux out of the volume). The flux between two
    neighbours is computed once per face and given to both with opposite signs.

    Examples
    --------
    >>> x = np.zeros((1, 4, 4, 4, 1), np.float32); x[0, 1, 1, 1] = 0.05
    >>> update = diffusion_step_3d(x, 0.1)
    >>> bool(update[0, 1, 1, 1, 0] < 0 and update[0, 0, 1, 1, 0] > 0)
    True
    >>> float(abs(update.sum())) < 1e-7  # diffusion moves intensity, never creates it
    True
    """
    update = np.zeros_like(x)
    scale = np.float32(-1 / kappa**2)
    for axis in (1, 2, 3):
        diff = np.diff(x, axis=axis)
        squared = diff**2 if x.shape[-1] == 1 else (diff**2).mean(axis=-1, keepdims=True)
        flux = np.exp(squared * scale) * diff
        length = x.shape[axis]
        low = [slice(None)] * x.ndim
        high = [slice(None)] * x.ndim
        low[axis] = slice(0, length - 1)
        high[axis] = slice(1, length)
        update[tuple(low)] += flux
        update[tuple(high)] -= flux
    update *= np.float32(DIFFUSION_STEP_3D)
    return update


def sobel_magnitude_3d(grey: np.ndarray) -> np.ndarray:
    """Gradient magnitude of a float (D, H, W) volume by 3-D Sobel kernels (3 x 3 x 3).

    Examples
    --------
    >>> v = np.zeros((6, 6, 6), np.float32); v[3:] = 1
    >>> m = sobel_magnitude_3d(v)
    >>> bool(m[2, 3, 3] > 0 and m[0, 3, 3] == 0)
    True
    """
    from scipy import ndimage

    squared = sum(ndimage.sobel(grey, axis=a, mode=_MODE) ** 2 for a in range(3))
    return np.sqrt(squared).astype(np.float32)


def _linear_along(x: np.ndarray, axis: int, positions: np.ndarray) -> np.ndarray:
    """``x`` linearly interpolated at ``positions`` along ``axis`` (at least 2 voxels long)."""
    length = x.shape[axis]
    positions = np.clip(positions, 0, length - 1)
    below = np.minimum(np.floor(positions).astype(int), length - 2)
    shape = [1] * x.ndim
    shape[axis] = len(positions)
    weight = (positions - below).astype(np.float32).reshape(shape)
    lower = np.take(x, below, axis=axis)
    return lower + weight * (np.take(x, below + 1, axis=axis) - lower)


def centre_zoom_3d(volume: np.ndarray, zoom: float) -> np.ndarray:
    """Zoom into the centre of a (D, H, W, C) volume by ``zoom`` >= 1, keeping its size (linear).

    Output voxel ``p`` samples ``c + (p - c) / zoom`` around the centre ``c``; the zoom is
    the same on every axis, so trilinear interpolation runs as three 1-D passes.

    Examples
    --------
    >>> v = np.arange(8, dtype=np.float32).reshape(2, 2, 2, 1)
    >>> bool(np.allclose(centre_zoom_3d(v, 1.0), v))
    True
    >>> v = np.arange(5, dtype=np.float32).reshape(5, 1, 1, 1)
    >>> centre_zoom_3d(v, 2.0)[:, 0, 0, 0].tolist()
    [1.0, 1.5, 2.0, 2.5, 3.0]
    """
    x = volume.astype(np.float32)
    for axis, length in enumerate(volume.shape[:3]):
        centre = (length - 1) / 2
        x = _linear_along(x, axis, centre + (np.arange(length) - centre) / zoom)
    return x


def _area_weights(length: int, small: int) -> np.ndarray:
    """(small, length) matrix averaging ``length`` voxels into ``small`` cells by overlap."""
    edges = np.arange(small + 1) * (length / small)
    starts, stops = edges[:-1, None], edges[1:, None]
    voxels = np.arange(length)[None, :]
    overlap = np.clip(np.minimum(stops, voxels + 1) - np.maximum(starts, voxels), 0, None)
    return (overlap / overlap.sum(axis=1, keepdims=True)).astype(np.float32)


def pixelate_3d(volume: np.ndarray, factor: float) -> np.ndarray:
    """Area-average into ``factor`` times as many cells per axis, then nearest back.

    The 3-D form of OpenCV's ``INTER_AREA`` down- and ``INTER_NEAREST_EXACT`` up-sampling:
    each cell averages the voxels it covers, weighted by overlap.

    Examples
    --------
    >>> v = np.arange(64, dtype=np.float32).reshape(4, 4, 4, 1)
    >>> len(np.unique(pixelate_3d(v, 0.5)))  # 2 x 2 x 2 blocks
    8
    """
    x = volume.astype(np.float32)
    for axis, length in enumerate(volume.shape[:3]):
        small = max(1, int(length * factor))
        means = np.moveaxis(np.tensordot(_area_weights(length, small), x, axes=(1, axis)), 0, axis)
        source = np.minimum(((np.arange(length) + 0.5) * small / length).astype(int), small - 1)
        x = np.take(means, source, axis=axis)
    return x

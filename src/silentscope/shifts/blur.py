"""Optical blur: Gaussian, defocus (disk), motion and zoom blur.

Formulas follow ImageNet-C (Hendrycks & Dietterich 2019); constants are MedMNIST-C's (Di
Salvo et al. 2024) for the matching dataset, and ImageNet-C's Gaussian-blur sigmas for the
generic table. MedMNIST-C gives Gaussian blur as an odd kernel size ``k``; it is recorded
here as torchvision's default sigma for that kernel, ``0.3 * ((k - 1) / 2 - 1) + 0.8``.

Radii and sigmas are in pixels of a 224-pixel image and scaled to the image size
(:data:`~silentscope.shifts.base.REFERENCE_SIZE`); kernels are anti-aliased, so sub-pixel
radii at small sizes still grade smoothly. On small images the Gaussian and defocus blurs
never fall below the smallest kernel that changes an image (:data:`MIN_SIGMA`,
:data:`MIN_RADIUS`, :func:`~silentscope.shifts.base.visible_length`): without that floor,
MedMNIST-C's X-ray Gaussian blur left 28-pixel images unchanged at every severity.

Volumes (N, D, H, W, C) are blurred in 3-D with the same parameters in voxels (scaled by the
shortest side): an isotropic Gaussian, a ball instead of a disk, a zoom about the volume's
centre. Motion blur keeps its drawn in-plane angle: the motion is a 3-D translation within
the H-W plane, so its kernel is flat along D.
"""

from __future__ import annotations

import cv2
import numpy as np

from silentscope.shifts.base import Corruption, register, spatial_scale, visible_length
from silentscope.shifts.volumetric import (
    ball_kernel,
    centre_zoom_3d,
    convolve_3d,
    gaussian_3d,
)

_BORDER = cv2.BORDER_REFLECT_101

#: Smallest Gaussian sigma (pixels) that visibly blurs: sigma 0.5 changes 28-pixel chest
#: X-rays by about 2 grey levels, sigma 0.3 by 0.01.
MIN_SIGMA = 0.5
#: Smallest disk radius (pixels) that visibly blurs: a disk of radius 0.5 covers one pixel
#: (the identity); radius 0.8 changes 28-pixel chest X-rays by about 2.6 grey levels.
MIN_RADIUS = 1.0


def _sigma_of_kernel(k: int) -> float:
    return round(0.3 * ((k - 1) / 2 - 1) + 0.8, 3)


def _filter(
    image: np.ndarray, kernel: np.ndarray, anchor: tuple[int, int] = (-1, -1)
) -> np.ndarray:
    # OpenCV's float32 path is about twice as fast as its uint8 path for large kernels.
    filtered = cv2.filter2D(image.astype(np.float32), -1, kernel, anchor=anchor, borderType=_BORDER)
    filtered += 0.5
    return np.clip(filtered, 0, 255).astype(np.uint8).reshape(image.shape)


def _round(values: np.ndarray) -> np.ndarray:
    """Float values as uint8, rounded to nearest and clipped."""
    return np.clip(values + 0.5, 0, 255).astype(np.uint8)


def _trim(kernel: np.ndarray, centre: tuple[int, int]) -> tuple[np.ndarray, tuple[int, int]]:
    """Crop a kernel to its support and return the anchor (x, y) of ``centre`` (row, col)."""
    rows = np.flatnonzero(kernel.sum(axis=1) > 1e-6)
    cols = np.flatnonzero(kernel.sum(axis=0) > 1e-6)
    cropped = kernel[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1]
    return np.ascontiguousarray(cropped / cropped.sum()), (centre[1] - cols[0], centre[0] - rows[0])


def disk_kernel(radius: float, alias_sigma: float) -> np.ndarray:
    """Normalised disk of ``radius`` pixels, anti-aliased by 4x4 supersampling and a Gaussian.

    Examples
    --------
    >>> k = disk_kernel(2.0, 0.0)
    >>> k.shape, round(float(k.sum()), 6)
    ((7, 7), 1.0)
    """
    half = int(np.ceil(radius + 3 * alias_sigma)) + 1
    sub = (np.arange(4) + 0.5) / 4 - 0.5
    axis = (np.arange(-half, half + 1)[:, None] + sub[None, :]).ravel()
    inside = (axis[:, None] ** 2 + axis[None, :] ** 2) <= max(radius, 0.5) ** 2
    size = 2 * half + 1
    kernel = inside.reshape(size, 4, size, 4).mean(axis=(1, 3)).astype(np.float32)
    if alias_sigma > 0.05:
        kernel = cv2.GaussianBlur(kernel, (0, 0), alias_sigma, borderType=cv2.BORDER_CONSTANT)
    return kernel / kernel.sum()


def motion_kernel(radius: float, sigma: float, angle: float) -> np.ndarray:
    """One-sided motion kernel: Gaussian weights ``exp(-t^2 / 2 sigma^2)`` for t in [0, 2 radius].

    This is ImageMagick's ``-motion-blur radius x sigma + angle`` (used by ImageNet-C and
    MedMNIST-C), rasterised with bilinear splatting at half-pixel steps.

    Examples
    --------
    >>> k = motion_kernel(4.0, 2.0, 0.0)  # angle 0: the blur trails to the right only
    >>> round(float(k.sum()), 6), float(k[:, : k.shape[1] // 2].sum())
    (1.0, 0.0)
    """
    length = 2 * radius
    half = int(np.ceil(length)) + 1
    kernel = np.zeros((2 * half + 1, 2 * half + 1), np.float32)
    t = np.arange(0, length + 1e-9, 0.5)
    weights = np.exp(-(t**2) / (2 * max(sigma, 1e-3) ** 2))
    theta = np.deg2rad(angle)
    x = half + t * np.cos(theta)
    y = half + t * np.sin(theta)
    x0, y0 = np.floor(x).astype(int), np.floor(y).astype(int)
    fx, fy = x - x0, y - y0
    for dx, dy, w in (
        (0, 0, (1 - fx) * (1 - fy)),
        (1, 0, fx * (1 - fy)),
        (0, 1, (1 - fx) * fy),
        (1, 1, fx * fy),
    ):
        np.add.at(kernel, (y0 + dy, x0 + dx), weights * w)
    return kernel / kernel.sum()


def _centre_zoom(image: np.ndarray, zoom: float) -> np.ndarray:
    """Zoom into the centre by ``zoom`` >= 1, keeping the size (crop, then bilinear resize)."""
    height, width = image.shape[:2]
    crop_h, crop_w = int(np.ceil(height / zoom)), int(np.ceil(width / zoom))
    top, left = (height - crop_h) // 2, (width - crop_w) // 2
    size = (max(width, int(round(crop_w * zoom))), max(height, int(round(crop_h * zoom))))
    resized = cv2.resize(
        image[top : top + crop_h, left : left + crop_w], size, interpolation=cv2.INTER_LINEAR
    )
    top, left = (size[1] - height) // 2, (size[0] - width) // 2
    return resized[top : top + height, left : left + width]


@register
class GaussianBlur(Corruption):
    """Gaussian blur with standard deviation ``sigma`` (reference pixels).

    Examples
    --------
    >>> from silentscope.shifts import corrupt
    >>> images = np.zeros((1, 32, 32, 1), np.uint8); images[:, 16] = 255
    >>> blurred, records = corrupt(images, "gaussian_blur", 5, seed=0)
    >>> records[0]["sigma"], int(blurred[0, 16, 0, 0]) < 255
    (6.0, True)
    """

    name = "gaussian_blur"
    family = "blur"
    volumes = True
    modalities = ("generic", "xray", "ct", "microscopy")
    levels = {
        "generic": {"sigma": (1.0, 2.0, 3.0, 4.0, 6.0)},
        "xray": {"sigma": tuple(_sigma_of_kernel(k) for k in (3, 5, 7, 9, 11))},
        "ct": {"sigma": tuple(_sigma_of_kernel(k) for k in (11, 13, 15, 17, 21))},
        "microscopy": {"sigma": tuple(_sigma_of_kernel(k) for k in (13, 15, 17, 21, 25))},
    }
    identity = {"sigma": 0.0}

    def _apply(self, images, params):
        scale = spatial_scale(images)
        mildest = self.severity_levels["sigma"][0]
        out = np.empty_like(images)
        for i, image in enumerate(images):
            sigma = visible_length(float(params["sigma"][i]), scale, mildest, MIN_SIGMA)
            if image.ndim == 4:
                out[i] = _round(gaussian_3d(image.astype(np.float32), sigma))
                continue
            half = max(1, int(np.ceil(4 * sigma)))
            blurred = cv2.GaussianBlur(
                image, (2 * half + 1, 2 * half + 1), sigma, borderType=_BORDER
            )
            out[i] = blurred.reshape(image.shape)
        return out


@register
class DefocusBlur(Corruption):
    """Defocus blur: convolution with a disk of ``radius``, its edge softened by ``alias_sigma``.

    Examples
    --------
    >>> from silentscope.shifts import corrupt
    >>> images = np.random.default_rng(0).integers(0, 256, (2, 64, 64, 3), dtype=np.uint8)
    >>> blurred, _ = corrupt(images, "defocus_blur", 3, seed=0)
    >>> bool(blurred.std() < images.std())
    True
    """

    name = "defocus_blur"
    family = "blur"
    volumes = True
    modalities = ("generic", "dermatoscopy", "fundus", "histology", "oct", "microscopy")
    levels = {
        "generic": {"radius": (4, 5, 6, 7, 8), "alias_sigma": (0.1, 0.2, 0.3, 0.4, 0.5)},
        "histology": {"radius": (3, 4, 5, 6, 7), "alias_sigma": (0.1, 0.1, 0.2, 0.2, 0.3)},
        "oct": {"radius": (0.5, 1.0, 1.5, 2.0, 2.5), "alias_sigma": (0.6, 0.5, 0.1, 0.5, 0.1)},
        "microscopy": {"radius": (2, 3, 4, 5, 6), "alias_sigma": (0.01, 0.1, 0.1, 0.1, 0.1)},
    }
    identity = {"radius": 0.0, "alias_sigma": 0.0}

    def _apply(self, images, params):
        scale = spatial_scale(images)
        mildest = self.severity_levels["radius"][0]
        out = np.empty_like(images)
        kernels: dict[tuple[float, float], tuple] = {}
        for i, image in enumerate(images):
            key = (float(params["radius"][i]), float(params["alias_sigma"][i]))
            if key not in kernels:
                radius = visible_length(key[0], scale, mildest, MIN_RADIUS)
                if image.ndim == 4:
                    kernels[key] = (ball_kernel(radius, key[1] * scale),)
                else:
                    kernel = disk_kernel(radius, key[1] * scale)
                    half = kernel.shape[0] // 2
                    kernels[key] = _trim(kernel, (half, half))
            if image.ndim == 4:
                out[i] = _round(convolve_3d(image, kernels[key][0]))
            else:
                out[i] = _filter(image, *kernels[key])
        return out


@register
class MotionBlur(Corruption):
    """Linear motion blur along a random ``angle`` in [-45, 45] degrees (ImageMagick kernel).

    Examples
    --------
    >>> from silentscope.shifts import get_corruption
    >>> params = get_corruption("motion_blur").sample_params(np.random.default_rng(0), 4, 3)
    >>> params["radius"], bool(np.all(np.abs(params["angle"]) <= 45))
    (array([15., 15., 15.]), True)
    """

    name = "motion_blur"
    family = "blur"
    volumes = True
    modalities = (
        "generic",
        "dermatoscopy",
        "fundus",
        "histology",
        "oct",
        "ultrasound",
        "microscopy",
    )
    levels = {
        "generic": {"radius": (10, 15, 15, 15, 20), "sigma": (5, 5, 8, 12, 15)},
        "histology": {"radius": (5, 10, 15, 15, 15), "sigma": (5, 5, 5, 8, 12)},
        "fundus": {"radius": (8, 15, 15, 15, 20), "sigma": (5, 5, 8, 12, 15)},
        "oct": {"radius": (10, 15, 15, 15, 20), "sigma": (3, 5, 8, 12, 15)},
        "ultrasound": {"radius": (5, 9, 9, 13, 17), "sigma": (5, 7, 10, 10, 12)},
        "microscopy": {"radius": (3, 5, 10, 10, 10), "sigma": (3, 5, 5, 7, 9)},
    }
    identity = {"radius": 0.0, "sigma": 0.0}
    drawn = ("angle",)

    def draw(self, rng, params, n):
        return {"angle": rng.uniform(-45.0, 45.0, n)}

    def _apply(self, images, params):
        scale = spatial_scale(images)
        out = np.empty_like(images)
        for i, image in enumerate(images):
            kernel = motion_kernel(
                float(params["radius"][i]) * scale,
                float(params["sigma"][i]) * scale,
                float(params["angle"][i]),
            )
            half = kernel.shape[0] // 2
            trimmed = _trim(kernel, (half, half))
            if image.ndim == 4:  # a flat (1, k, k) kernel: motion within the H-W plane
                out[i] = np.stack([_filter(plane, *trimmed) for plane in image])
            else:
                out[i] = _filter(image, *trimmed)
        return out


@register
class ZoomBlur(Corruption):
    """Zoom blur: the mean of the image and its centre zooms ``1, 1 + step, ..., max_zoom``.

    As in ImageNet-C, the unzoomed image enters twice (as itself and as zoom 1). Zoom is
    relative to the image, so it is not rescaled with the image size.

    Examples
    --------
    >>> from silentscope.shifts import corrupt
    >>> images = np.random.default_rng(0).integers(0, 256, (1, 32, 32, 1), dtype=np.uint8)
    >>> zoomed, records = corrupt(images, "zoom_blur", 1, seed=0)
    >>> records[0]["max_zoom"], records[0]["step"]
    (1.1, 0.01)
    """

    name = "zoom_blur"
    family = "blur"
    volumes = True
    modalities = ("generic", "dermatoscopy")
    levels = {
        "generic": {
            "max_zoom": (1.10, 1.15, 1.20, 1.25, 1.30),
            "step": (0.01, 0.01, 0.02, 0.02, 0.03),
        },
    }
    identity = {"max_zoom": 1.0, "step": 0.01}

    def _apply(self, images, params):
        height, width = images.shape[-3:-1]
        out = np.empty_like(images)
        for i, image in enumerate(images):
            step = float(params["step"][i])
            count = int(np.floor((float(params["max_zoom"][i]) - 1) / step + 1e-6)) + 1
            total = image.astype(np.float32) * 2
            if image.ndim == 4:
                for zoom in 1 + step * np.arange(1, count):
                    total += centre_zoom_3d(image, zoom)
                out[i] = _round(total / (count + 1))
                continue
            flat = total.reshape(height, width, -1)
            for zoom in 1 + step * np.arange(1, count):
                cv2.accumulate(_centre_zoom(image, zoom), flat)
            total *= 1 / (count + 1)
            total += 0.5
            out[i] = total.astype(np.uint8)
        return out

"""Texture filters: destroy or replace texture while keeping shape.

After Chai, Rueckert and Fetit, "Reducing Textural Bias Improves Robustness of Deep
Segmentation Models" (MIUA 2021), who showed that training on texture-filtered scans makes
models rely on shape and survive unseen noise. Each filter here serves both as a test shift
(does the classifier depend on texture?) and, through
:class:`~silentscope.shifts.corruption_augment.CorruptionAugment`, as a training augmentation.

- ``anisotropic_diffusion``: Perona-Malik diffusion (IEEE TPAMI 1990),
  ``I <- I + 0.2 sum_d g(|grad_d I|) grad_d I`` over the 4 neighbours with
  ``g(s) = exp(-(s / kappa)^2)``, ``kappa = 0.1``: smooths within regions, stops at edges.
- ``bilateral_filter``: Tomasi and Manduchi's bilateral filter (ICCV 1998), edge-preserving
  smoothing by spatial and intensity Gaussians.
- ``texture_noise``: the bilateral-smoothed image plus band-limited Gaussian noise (unit-std
  noise blurred with sigma 1 pixel, scaled to ``amplitude``): texture is replaced, shape kept.
- ``sobel_edges``: blend towards the Sobel gradient magnitude of the lightly smoothed grey
  image, ``x' = (1 - alpha) x + alpha E``: at ``alpha = 1`` only the outlines remain.

Texture lives at the pixel scale of the stored image, so these filters work at the stored
resolution: their parameters are not rescaled with the image size.

Volumes (N, D, H, W, C) are filtered in 3-D, as Chai et al. filtered their MRI volumes:
diffusion over the 6 face neighbours (time step 0.8 / 6, the same centre weight as the 2-D
scheme), a separable 3-D bilateral filter
(:func:`~silentscope.shifts.volumetric.bilateral_3d`), 3-D band-limited noise and 3-D
Sobel gradients, with the same parameters in voxels.
"""

from __future__ import annotations

import cv2
import numpy as np

from silentscope.shifts.base import Corruption, register, to_float, to_uint8
from silentscope.shifts.volumetric import (
    bilateral_3d,
    diffusion_step_3d,
    gaussian_3d,
    sobel_magnitude_3d,
)

_KAPPA = 0.1
_STEP = 0.2  # stable for the 4-neighbour scheme (< 0.25)
_CHUNK = 64
_CHUNK_3D = 4  # volumes per diffusion chunk: a 64^3 float volume is 1 MB per channel


def _bilateral(image: np.ndarray, sigma_color: float, sigma_space: float) -> np.ndarray:
    diameter = 2 * int(np.ceil(2 * sigma_space)) + 1
    return cv2.bilateralFilter(image, diameter, sigma_color, sigma_space).reshape(image.shape)


@register
class AnisotropicDiffusion(Corruption):
    """Perona-Malik anisotropic diffusion for ``iterations`` steps (edge-stopping smoothing).

    Examples
    --------
    >>> from silentscope.shifts import corrupt
    >>> rng = np.random.default_rng(0)
    >>> images = np.zeros((1, 32, 32, 1), np.uint8); images[:, :, 16:] = 200
    >>> images = (images + rng.integers(0, 20, images.shape)).astype(np.uint8)
    >>> smooth, _ = corrupt(images, "anisotropic_diffusion", 5)
    >>> bool(smooth[0, :, :12].std() < images[0, :, :12].std())  # texture flattened
    True
    >>> int(smooth[0, 16, 20, 0]) - int(smooth[0, 16, 12, 0]) > 150  # edge kept
    True
    """

    name = "anisotropic_diffusion"
    family = "texture"
    volumes = True
    modalities = ("generic", "mri")
    levels = {"generic": {"iterations": (2, 4, 8, 12, 20)}}
    identity = {"iterations": 0}
    integer = frozenset({"iterations"})

    def _apply(self, images, params):
        out = np.empty_like(images)
        iterations = params["iterations"]
        volumes = images.ndim == 5
        chunk = _CHUNK_3D if volumes else _CHUNK
        spatial = (None,) * (images.ndim - 1)
        for start in range(0, len(images), chunk):
            x = to_float(images[start : start + chunk])
            steps = iterations[start : start + chunk]
            for t in range(int(steps.max())):
                active = (steps > t)[(slice(None), *spatial)].astype(np.float32)
                x += active * (diffusion_step_3d(x, _KAPPA) if volumes else self._step(x))
            out[start : start + chunk] = to_uint8(x)
        return out

    @staticmethod
    def _step(x: np.ndarray) -> np.ndarray:
        padded = np.pad(x, ((0, 0), (1, 1), (1, 1), (0, 0)), mode="edge")
        update = np.zeros_like(x)
        centre = padded[:, 1:-1, 1:-1]
        for shifted in (
            padded[:, :-2, 1:-1],
            padded[:, 2:, 1:-1],
            padded[:, 1:-1, :-2],
            padded[:, 1:-1, 2:],
        ):
            diff = shifted - centre
            # One conductance for all channels, so colour edges stop diffusion in every channel.
            magnitude = np.sqrt((diff**2).mean(axis=-1, keepdims=True))
            update += np.exp(-((magnitude / _KAPPA) ** 2)) * diff
        return _STEP * update


@register
class BilateralFilter(Corruption):
    """Bilateral filter with ``sigma_space`` pixels and ``sigma_color`` grey levels (0-255).

    Examples
    --------
    >>> from silentscope.shifts import corrupt
    >>> rng = np.random.default_rng(0)
    >>> images = rng.integers(100, 140, (1, 32, 32, 3), dtype=np.uint8)
    >>> smooth, _ = corrupt(images, "bilateral_filter", 3)
    >>> bool(smooth.std() < images.std() / 2)
    True
    """

    name = "bilateral_filter"
    family = "texture"
    volumes = True
    modalities = ("generic", "mri")
    levels = {
        "generic": {"sigma_color": (20, 35, 50, 70, 100), "sigma_space": (1.0, 1.5, 2.0, 2.5, 3.0)}
    }
    identity = {"sigma_color": 0.0, "sigma_space": 0.0}

    def _apply(self, images, params):
        out = np.empty_like(images)
        for i, image in enumerate(images):
            sigma_color = float(params["sigma_color"][i])
            sigma_space = float(params["sigma_space"][i])
            if image.ndim == 4:
                out[i] = to_uint8(bilateral_3d(image, sigma_color, sigma_space) / 255)
            else:
                out[i] = _bilateral(image, sigma_color, sigma_space)
        return out


@register
class TextureNoise(Corruption):
    """Texture replaced: bilateral smoothing plus band-limited noise of std ``amplitude``.

    Examples
    --------
    >>> from silentscope.shifts import corrupt
    >>> images = np.full((1, 32, 32, 1), 128, np.uint8)
    >>> textured, records = corrupt(images, "texture_noise", 5, seed=0)
    >>> bool(textured.std() > 10), records[0]["amplitude"]
    (True, 0.075)
    """

    name = "texture_noise"
    family = "texture"
    volumes = True
    modalities = ("generic", "mri")
    levels = {
        "generic": {
            "amplitude": (0.015, 0.025, 0.04, 0.055, 0.075),
            "sigma_color": (20, 30, 40, 50, 60),
        }
    }
    identity = {"amplitude": 0.0, "sigma_color": 0.0}
    stochastic = True

    def _apply(self, images, params):
        out = np.empty_like(images)
        for i, image in enumerate(images):
            rng = np.random.default_rng(int(params["seed"][i]))
            sigma_color = float(params["sigma_color"][i])
            if image.ndim == 4:
                smooth = bilateral_3d(image, sigma_color, 2.0) / 255
                white = rng.standard_normal((*image.shape[:3], 1), dtype=np.float32)
                noise = gaussian_3d(white, 1.0)[..., 0]
            else:
                smooth = to_float(_bilateral(image, sigma_color, 2.0))
                noise = cv2.GaussianBlur(
                    rng.standard_normal(image.shape[:2], dtype=np.float32), (0, 0), 1.0
                )
            noise *= np.float32(params["amplitude"][i] / max(float(noise.std()), 1e-6))
            # The same texture in every channel: a pattern, not colour noise.
            smooth += noise[..., None]
            out[i] = to_uint8(smooth)
        return out


@register
class SobelEdges(Corruption):
    """Blend towards the Sobel edge magnitude: ``x' = (1 - alpha) x + alpha E``.

    ``E`` is the gradient magnitude of the grey image smoothed with sigma 1 pixel, divided
    by its 99th percentile and clipped to [0, 1].

    Examples
    --------
    >>> from silentscope.shifts import corrupt
    >>> images = np.zeros((1, 32, 32, 1), np.uint8); images[:, 8:24, 8:24] = 200
    >>> edges, _ = corrupt(images, "sobel_edges", 5)
    >>> int(edges[0, 16, 16, 0]), bool(edges[0, 8, 16, 0] > 150)  # flat inside, bright outline
    (0, True)
    """

    name = "sobel_edges"
    family = "texture"
    volumes = True
    modalities = ("generic", "mri")
    levels = {"generic": {"alpha": (0.2, 0.4, 0.6, 0.8, 1.0)}}
    identity = {"alpha": 0.0}

    def _apply(self, images, params):
        out = np.empty_like(images)
        for i, image in enumerate(images):
            x = to_float(image)
            grey = x.mean(axis=-1)
            if image.ndim == 4:
                edges = sobel_magnitude_3d(gaussian_3d(grey[..., None], 1.0)[..., 0])
            else:
                grey = cv2.GaussianBlur(grey, (0, 0), 1.0)
                gx = cv2.Sobel(grey, cv2.CV_32F, 1, 0, ksize=3)
                gy = cv2.Sobel(grey, cv2.CV_32F, 0, 1, ksize=3)
                edges = np.sqrt(gx**2 + gy**2)
            edges /= max(float(np.percentile(edges, 99)), 1e-6)
            np.clip(edges, 0, 1, out=edges)
            alpha = np.float32(params["alpha"][i])
            x *= 1 - alpha
            x += alpha * edges[..., None]
            out[i] = to_uint8(x)
        return out

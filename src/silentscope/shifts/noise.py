"""Pixel noise: Gaussian, shot (Poisson), impulse (salt and pepper) and speckle.

Formulas follow Hendrycks & Dietterich, "Benchmarking Neural Network Robustness to Common
Corruptions and Perturbations" (ICLR 2019, ImageNet-C); the five-level constants are those
of Di Salvo et al., "MedMNIST-C" (2024) for the matching MedMNIST dataset (X-ray:
ChestMNIST, CT: OrganAMNIST, dermatoscopy: DermaMNIST, fundus: RetinaMNIST, OCT: OCTMNIST,
ultrasound: BreastMNIST, microscopy: TissueMNIST).

Noise is drawn per image (or volume) from its own ``seed``, so any single image can be
replayed; volumes (N, D, H, W, C) get independent noise per voxel as images do per pixel.
Grey images get noise on their one channel; MedMNIST-C instead adds independent noise to
three RGB copies and converts back to grey, which lowers its effective noise level on grey
images by about a third.
"""

from __future__ import annotations

from functools import lru_cache

import cv2
import numpy as np

from silentscope.shifts.base import Corruption, register

# Above this many photons the lookup tables grow large; sample with numpy directly instead.
_TABLE_PHOTONS = 1000.0


@lru_cache(maxsize=32)
def _poisson_tables(photons: float) -> tuple[np.ndarray, np.ndarray, int]:
    """Poisson CDFs of the 256 uint8 levels and a guide table for fast inverse-CDF sampling.

    ``cdf[v, k] = P(Poisson(v * photons / 255) <= k)`` (last column set above 1 as a
    sentinel); ``guide[v, j]`` is the first ``k`` with ``cdf[v, k] > j / m`` (the
    "indexed search" of Chen and Asau, 1974), so a uniform ``u`` needs on average about
    one step from ``guide[v, floor(u m)]`` to its count.
    """
    # scipy.stats takes over a second to import: loaded on first use, not with the registry,
    # so that checking corruption names before any work stays fast
    from scipy.stats import poisson

    size = int(poisson.ppf(1 - 1e-12, photons)) + 2
    cdf = poisson.cdf(np.arange(size)[None, :], (np.arange(256) * photons / 255)[:, None])
    cdf[:, -1] = 2.0
    m = 4 * size
    grid = np.arange(m) / m
    guide = np.stack([np.searchsorted(row, grid, side="right") for row in cdf]).astype(np.int64)
    return cdf.ravel(), guide.ravel(), m


def poisson_counts(image: np.ndarray, photons: float, rng: np.random.Generator) -> np.ndarray:
    """Poisson counts with means ``image * photons / 255`` for a uint8 image.

    Exact inverse-transform sampling from per-level CDF tables, about twice as fast as
    ``Generator.poisson`` since a uint8 image has at most 256 distinct means.

    Examples
    --------
    >>> image = np.full((200, 200), 128, np.uint8)
    >>> counts = poisson_counts(image, 60.0, np.random.default_rng(0))
    >>> bool(abs(counts.mean() - 30.12) < 0.1 and abs(counts.var() - 30.12) < 0.5)
    True
    """
    if photons > _TABLE_PHOTONS:
        return rng.poisson(image * (photons / 255)).astype(np.float32)
    cdf, guide, m = _poisson_tables(float(photons))
    size = len(cdf) // 256
    levels = image.ravel().astype(np.int64)
    u = rng.random(levels.shape)
    counts = guide[levels * m + (u * m).astype(np.int64)]
    rows = np.flatnonzero(cdf[levels * size + counts] <= u)
    while len(rows):
        counts[rows] += 1
        rows = rows[cdf[levels[rows] * size + counts[rows]] <= u[rows]]
    return counts.reshape(image.shape).astype(np.float32)


class _PixelNoise(Corruption):
    """Per-image noise; subclasses map one uint8 image to its noisy uint8 version.

    OpenCV's mixed-type arithmetic (``dtype=CV_8U``) fuses the float operation with
    rounding and clipping to uint8, in one pass over the image.
    """

    family = "noise"
    stochastic = True
    volumes = True

    def _apply(self, images, params):
        out = np.empty_like(images)
        for i, image in enumerate(images):
            rng = np.random.default_rng(int(params["seed"][i]))
            # Per-voxel noise: a volume is drawn as its stack of slices (same numbers, same
            # order), since OpenCV's arithmetic takes at most three axes.
            flat = image.reshape(-1, *image.shape[-2:])
            out[i] = self._noisy(flat, rng, params, i).reshape(image.shape)
        return out

    def _noisy(self, image: np.ndarray, rng: np.random.Generator, params, i: int) -> np.ndarray:
        raise NotImplementedError


@register
class GaussianNoise(_PixelNoise):
    """Additive Gaussian noise: ``x' = clip(x + sigma * z)``, ``z ~ N(0, 1)``, x in [0, 1].

    Examples
    --------
    >>> from silentscope.shifts import corrupt
    >>> images = np.full((2, 16, 16, 1), 128, np.uint8)
    >>> noisy, records = corrupt(images, "gaussian_noise", 3, seed=0)
    >>> records[0]["sigma"]
    0.12
    >>> bool(noisy.std() > 20)
    True
    """

    name = "gaussian_noise"
    modalities = ("generic", "xray", "ct", "dermatoscopy", "fundus")
    levels = {
        "generic": {"sigma": (0.04, 0.08, 0.12, 0.18, 0.26)},
        "ct": {"sigma": (0.04, 0.08, 0.12, 0.16, 0.20)},
        "fundus": {"sigma": (0.04, 0.08, 0.12, 0.16, 0.20)},
    }
    identity = {"sigma": 0.0}

    def _noisy(self, image, rng, params, i):
        noise = rng.standard_normal(image.shape, dtype=np.float32)
        noise *= np.float32(params["sigma"][i] * 255)
        return cv2.add(image, noise, dtype=cv2.CV_8U)


@register
class ShotNoise(_PixelNoise):
    """Poisson (photon) noise: ``x' = clip(Poisson(x * photons) / photons)``.

    Fewer ``photons`` per unit intensity means stronger noise; severity is interpolated on
    ``1 / photons`` (identity: infinitely many photons).

    Examples
    --------
    >>> from silentscope.shifts import corrupt
    >>> images = np.full((1, 16, 16, 1), 100, np.uint8)
    >>> noisy, records = corrupt(images, "shot_noise", 5, seed=0)
    >>> records[0]["photons"]
    5.0
    """

    name = "shot_noise"
    modalities = ("generic", "xray", "ct", "dermatoscopy")
    levels = {
        "generic": {"photons": (60, 25, 18, 10, 5)},
        "ct": {"photons": (200, 100, 50, 25, 15)},
    }
    identity = {"photons": np.inf}
    inverse = frozenset({"photons"})

    def _noisy(self, image, rng, params, i):
        photons = float(params["photons"][i])
        counts = poisson_counts(image, photons, rng)
        return cv2.convertScaleAbs(counts, alpha=255 / photons)  # counts >= 0: abs is a no-op


@register
class ImpulseNoise(_PixelNoise):
    """Salt-and-pepper noise: each value becomes 0 or 1 with probability ``amount / 2`` each.

    Values are replaced independently per channel (coloured impulses on RGB), as in
    ImageNet-C, which uses ``skimage.util.random_noise(mode='s&p')``.

    Examples
    --------
    >>> from silentscope.shifts import corrupt
    >>> images = np.full((1, 64, 64, 1), 128, np.uint8)
    >>> noisy, _ = corrupt(images, "impulse_noise", 5, seed=0)
    >>> 0.1 < float(np.mean(noisy != 128)) < 0.25
    True
    """

    name = "impulse_noise"
    modalities = ("generic", "xray", "ct", "dermatoscopy", "microscopy")
    levels = {
        "generic": {"amount": (0.01, 0.03, 0.06, 0.09, 0.17)},
        "ct": {"amount": (0.01, 0.02, 0.03, 0.05, 0.08)},
        "microscopy": {"amount": (0.01, 0.015, 0.02, 0.025, 0.03)},
    }
    identity = {"amount": 0.0}

    def _noisy(self, image, rng, params, i):
        half = np.float32(params["amount"][i] / 2)
        u = rng.random(image.shape, dtype=np.float32)
        noisy = image.copy()
        noisy[u < half] = 0
        noisy[u >= 1 - half] = 255
        return noisy


@register
class SpeckleNoise(_PixelNoise):
    """Multiplicative (speckle) noise: ``x' = clip(x + x * sigma * z)``, ``z ~ N(0, 1)``.

    Examples
    --------
    >>> from silentscope.shifts import corrupt
    >>> images = np.zeros((1, 16, 16, 1), np.uint8)
    >>> noisy, _ = corrupt(images, "speckle_noise", 5, seed=0)
    >>> int(noisy.max())  # black stays black: the noise scales with intensity
    0
    """

    name = "speckle_noise"
    modalities = ("generic", "xray", "ct", "dermatoscopy", "fundus", "oct", "ultrasound")
    levels = {
        "generic": {"sigma": (0.05, 0.15, 0.2, 0.35, 0.45)},
        "ct": {"sigma": (0.05, 0.10, 0.20, 0.30, 0.40)},
        "fundus": {"sigma": (0.10, 0.15, 0.20, 0.25, 0.30)},
        "oct": {"sigma": (0.15, 0.30, 0.40, 0.50, 0.60)},
        "ultrasound": {"sigma": (0.10, 0.15, 0.20, 0.25, 0.30)},
    }
    identity = {"sigma": 0.0}

    def _noisy(self, image, rng, params, i):
        noise = rng.standard_normal(image.shape, dtype=np.float32)
        noise *= np.float32(params["sigma"][i])
        noise += 1
        return cv2.multiply(image, noise, dtype=cv2.CV_8U)

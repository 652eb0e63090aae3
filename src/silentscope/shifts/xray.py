"""Low-dose noise of projection radiography and CT, from Poisson photon counts.

X-ray (:class:`LowDoseNoise`): a radiograph shows attenuation, so a pixel value ``x`` in
[0, 1] is read as the line integral ``A = mu x`` (``mu = 3``: the brightest pixel lets
``e^-3`` of the photons through). The detector counts ``N ~ Poisson(I0 e^-A)`` and the
image is rebuilt as ``x' = -ln(N / I0) / mu``. Fewer photons ``I0`` (a lower dose) gives
more noise, most of it in bright (dense) regions, as in real low-dose radiographs
(Beer-Lambert law with Poisson quantum noise; e.g. Bushberg et al., *The Essential Physics
of Medical Imaging*, ch. 4).

CT (:class:`CtLowDoseNoise`): the same Poisson model is applied to a parallel-beam
sinogram of the image, and only the noise is reconstructed by filtered back-projection
(Ram-Lak filter) and added to the image: ``x' = x + FBP(ln(I0 e^-L) - ln N) / mu``. The
result has the correlated, streaky texture of low-dose CT noise, and the image itself
is not degraded by the reconstruction. This follows the sinogram-domain low-dose
simulations of e.g. Yu et al., "Development and validation of a practical lower-dose
simulation tool for CT" (Med. Phys. 2012), without their bowtie and electronic-noise terms.
"""

from __future__ import annotations

import cv2
import numpy as np

from silentscope.shifts.base import Corruption, register, to_float, to_uint8

_MU = 3.0  # attenuation of the brightest pixel (radiograph) / of a full bright path (CT)


@register
class LowDoseNoise(Corruption):
    """Radiograph quantum noise at ``photons`` per pixel (Beer-Lambert, Poisson counts).

    Examples
    --------
    >>> from silentscope.shifts import corrupt
    >>> images = np.zeros((1, 32, 64, 1), np.uint8); images[:, :, 32:] = 230
    >>> noisy, _ = corrupt(images, "low_dose_noise", 5, seed=0)
    >>> bool(noisy[0, :, 32:].std() > 2 * noisy[0, :, :32].std())  # dense regions: noisier
    True
    """

    name = "low_dose_noise"
    family = "xray"
    modalities = ("xray",)
    levels = {"generic": {"photons": (2000, 1000, 500, 250, 120)}}
    identity = {"photons": np.inf}
    inverse = frozenset({"photons"})
    stochastic = True

    def _apply(self, images, params):
        out = np.empty_like(images)
        for i, image in enumerate(images):
            rng = np.random.default_rng(int(params["seed"][i]))
            photons = float(params["photons"][i])
            expected = photons * np.exp(-_MU * to_float(image))
            counts = np.maximum(rng.poisson(expected), 0.5)
            out[i] = to_uint8((np.log(photons / counts) / _MU).astype(np.float32))
        return out


def _angles(size: int) -> np.ndarray:
    # About pi/2 views per detector bin, the usual sampling for parallel-beam CT.
    return np.linspace(0.0, 180.0, max(8, int(np.ceil(np.pi / 2 * size))), endpoint=False)


def _rotation(angle: float, width: int, height: int) -> np.ndarray:
    return cv2.getRotationMatrix2D(((width - 1) / 2, (height - 1) / 2), angle, 1.0)


def radon(image: np.ndarray, angles: np.ndarray) -> np.ndarray:
    """Parallel-beam projections (line sums along columns) of a 2-D float image.

    Examples
    --------
    >>> radon(np.ones((8, 8), np.float32), np.array([0.0]))[0]
    array([8., 8., 8., 8., 8., 8., 8., 8.], dtype=float32)
    """
    height, width = image.shape
    sino = np.empty((len(angles), width), np.float32)
    for k, angle in enumerate(angles):
        rotated = cv2.warpAffine(
            image, _rotation(angle, width, height), (width, height), flags=cv2.INTER_LINEAR
        )
        sino[k] = rotated.sum(axis=0)
    return sino


def filtered_back_projection(sino: np.ndarray, angles: np.ndarray, height: int) -> np.ndarray:
    """Reconstruct an image from projections with a Ram-Lak filter (inverse of :func:`radon`).

    Examples
    --------
    >>> yy, xx = np.mgrid[:32, :32]
    >>> disc = (((yy - 15.5) ** 2 + (xx - 15.5) ** 2) < 64).astype(np.float32)
    >>> angles = np.linspace(0, 180, 60, endpoint=False)
    >>> recon = filtered_back_projection(radon(disc, angles), angles, 32)
    >>> bool(abs(recon[16, 16] - 1) < 0.1 and abs(recon[2, 2]) < 0.1)
    True
    """
    n_angles, width = sino.shape
    padded = int(2 ** np.ceil(np.log2(2 * width)))
    ramp = 2 * np.abs(np.fft.rfftfreq(padded)).astype(np.float32)
    filtered = np.fft.irfft(np.fft.rfft(sino, n=padded, axis=1) * ramp, n=padded, axis=1)[:, :width]
    image = np.zeros((height, width), np.float32)
    for k, angle in enumerate(angles):
        smear = np.broadcast_to(filtered[k].astype(np.float32), (height, width))
        image += cv2.warpAffine(
            np.ascontiguousarray(smear),
            _rotation(-angle, width, height),
            (width, height),
            flags=cv2.INTER_LINEAR,
        )
    return image * np.float32(np.pi / (2 * n_angles))


@register
class CtLowDoseNoise(Corruption):
    """Low-dose CT noise: Poisson noise on the sinogram, reconstructed by FBP and added.

    ``photons`` is the unattenuated count per detector bin of a 224-pixel image; it is
    scaled with the number of bins so that a severity gives the same noise level at every
    image size.

    Examples
    --------
    >>> from silentscope.shifts import corrupt
    >>> images = np.full((1, 32, 32, 1), 120, np.uint8)
    >>> noisy, records = corrupt(images, "ct_low_dose_noise", 4, seed=0)
    >>> bool(noisy.std() > 2), records[0]["photons"]
    (True, 20000.0)
    """

    name = "ct_low_dose_noise"
    family = "xray"
    modalities = ("ct",)
    levels = {"generic": {"photons": (2e5, 1e5, 5e4, 2e4, 1e4)}}
    identity = {"photons": np.inf}
    inverse = frozenset({"photons"})
    stochastic = True

    def _apply(self, images, params):
        height, width, channels = images.shape[1:]
        angles = _angles(width)
        # Line integrals in units where a path through a full-width bright image is _MU.
        mu_per_pixel = _MU / width
        out = np.empty_like(images)
        for i, image in enumerate(images):
            rng = np.random.default_rng(int(params["seed"][i]))
            photons = float(params["photons"][i]) * width / 224
            x = to_float(image)
            grey = x.mean(axis=-1)
            line = radon(grey, angles) * mu_per_pixel
            expected = photons * np.exp(-line)
            counts = np.maximum(rng.poisson(expected), 0.5)
            noise_sino = (np.log(expected / counts)).astype(np.float32)
            noise = filtered_back_projection(noise_sino, angles, height) / mu_per_pixel
            x += noise[..., None]
            out[i] = to_uint8(x).reshape(height, width, channels)
        return out

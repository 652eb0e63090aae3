"""Digital and photometric changes: JPEG, pixelation, brightness, contrast, gamma, saturation.

Definitions match those MedMNIST-C (Di Salvo et al. 2024) uses, which come from PIL and
torchvision: brightness ``x' = f x``; contrast ``x' = m + f (x - m)`` with ``m`` the
image's mean grey level; gamma ``x' = x ** gamma`` (x in [0, 1]); saturation adds ``c`` to
the HSV saturation; pixelation box-downsamples by ``factor`` and upsamples with nearest
neighbours. Constants are MedMNIST-C's for the matching dataset (microscopy: BloodMNIST,
OCT: OCTMNIST, ultrasound: BreastMNIST, and as in :mod:`~silentscope.shifts.noise`); the
generic pixelation table is ImageNet-C's (Hendrycks & Dietterich 2019).

Photometric changes run as one 256-entry lookup table per image, applied with OpenCV to
all images that share a table at once.

Volumes (N, D, H, W, C): the photometric changes are per voxel (the contrast mean is the
volume's), pixelation averages 3-D blocks; JPEG is a 2-D codec and refuses volumes.
"""

from __future__ import annotations

import cv2
import numpy as np

from silentscope.shifts.base import Corruption, register, to_float, to_uint8
from silentscope.shifts.volumetric import as_slices, pixelate_3d, repeat_rows

_VALUES = np.arange(256, dtype=np.float64)
# Every 2-D modality: JPEG, pixelation and lower contrast are in all MedMNIST-C suites.
_ALL_2D = (
    "generic",
    "xray",
    "ct",
    "dermatoscopy",
    "fundus",
    "histology",
    "oct",
    "ultrasound",
    "microscopy",
)
# ITU-R 601 luma, the weights of PIL's convert("L") that PIL's contrast uses.
_LUMA = np.array([0.299, 0.587, 0.114])


def apply_luts(images: np.ndarray, luts: np.ndarray) -> np.ndarray:
    """Map each image through its own uint8 lookup table (``luts[i]`` has 256 entries).

    Examples
    --------
    >>> images = np.arange(4, dtype=np.uint8).reshape(1, 2, 2, 1)
    >>> apply_luts(images, (255 - np.arange(256, dtype=np.uint8))[None])[0, :, :, 0]
    array([[255, 254],
           [253, 252]], dtype=uint8)
    """
    if np.array_equal(luts, np.broadcast_to(luts[0], luts.shape)):
        # One table for the batch (a fixed severity): one call over all pixels.
        flat = images.reshape(len(images) * images.shape[1], -1)
        return cv2.LUT(flat, luts[0]).reshape(images.shape)
    out = np.empty_like(images)
    for i, image in enumerate(images):
        # Rows of one image (or slices of one volume) side by side: OpenCV takes 2-D arrays.
        out[i] = cv2.LUT(image.reshape(image.shape[0], -1), luts[i]).reshape(image.shape)
    return out


def _lut(values: np.ndarray) -> np.ndarray:
    return np.clip(np.floor(values + 0.5), 0, 255).astype(np.uint8)


@register
class JpegCompression(Corruption):
    """JPEG re-encoding at ``quality`` (1-100, libjpeg defaults, 4:2:0 chroma subsampling).

    Examples
    --------
    >>> from silentscope.shifts import corrupt
    >>> images = np.random.default_rng(0).integers(0, 256, (1, 32, 32, 3), dtype=np.uint8)
    >>> _, records = corrupt(images, "jpeg_compression", 5, seed=0)
    >>> records[0]["quality"]
    7
    """

    name = "jpeg_compression"
    family = "digital"
    modalities = _ALL_2D
    levels = {
        "generic": {"quality": (50, 30, 15, 10, 7)},
        "dermatoscopy": {"quality": (30, 20, 15, 10, 7)},
        "fundus": {"quality": (30, 25, 20, 10, 5)},
        "oct": {"quality": (30, 15, 10, 7, 5)},
    }
    identity = {"quality": 100}
    integer = frozenset({"quality"})
    no_volumes = "JPEG is a 2-D image codec"

    def _apply(self, images, params):
        rgb = images.shape[-1] == 3
        out = np.empty_like(images)
        for i, image in enumerate(images):
            bgr = cv2.cvtColor(image, cv2.COLOR_RGB2BGR) if rgb else image
            quality = [cv2.IMWRITE_JPEG_QUALITY, int(params["quality"][i])]
            ok, buffer = cv2.imencode(".jpg", bgr, quality)
            if not ok:
                raise RuntimeError("OpenCV failed to encode a JPEG image")
            decoded = cv2.imdecode(buffer, cv2.IMREAD_COLOR if rgb else cv2.IMREAD_GRAYSCALE)
            out[i] = (cv2.cvtColor(decoded, cv2.COLOR_BGR2RGB) if rgb else decoded).reshape(
                image.shape
            )
        return out


@register
class Pixelate(Corruption):
    """Pixelation: box-downsample to ``factor`` times the size, then nearest-upsample back.

    Examples
    --------
    >>> from silentscope.shifts import corrupt
    >>> images = np.random.default_rng(0).integers(0, 256, (1, 40, 40, 1), dtype=np.uint8)
    >>> blocky, _ = corrupt(images, "pixelate", 5, seed=0)  # factor 0.25: 10 x 10 blocks
    >>> len(np.unique(blocky))  <= 100
    True
    """

    name = "pixelate"
    family = "digital"
    modalities = _ALL_2D
    levels = {
        "generic": {"factor": (0.6, 0.5, 0.4, 0.3, 0.25)},
        "xray": {"factor": (0.30, 0.25, 0.20, 0.15, 0.10)},
        "ct": {"factor": (0.7, 0.6, 0.5, 0.40, 0.35)},
        "dermatoscopy": {"factor": (0.7, 0.5, 0.40, 0.30, 0.25)},
        "fundus": {"factor": (0.8, 0.60, 0.50, 0.40, 0.35)},
        "histology": {"factor": (0.8, 0.6, 0.40, 0.30, 0.25)},
        "oct": {"factor": (0.30, 0.25, 0.20, 0.15, 0.10)},
        "ultrasound": {"factor": (0.30, 0.25, 0.20, 0.15, 0.10)},
        "microscopy": {"factor": (0.6, 0.5, 0.40, 0.30, 0.25)},
    }
    identity = {"factor": 1.0}
    volumes = True

    def _apply(self, images, params):
        if images.ndim == 5:
            out = np.empty_like(images)
            for i, volume in enumerate(images):
                blocks = pixelate_3d(volume, float(params["factor"][i]))
                out[i] = np.clip(blocks + 0.5, 0, 255).astype(np.uint8)
            return out
        height, width = images.shape[1:3]
        out = np.empty_like(images)
        for i, image in enumerate(images):
            factor = float(params["factor"][i])
            small = (max(1, int(width * factor)), max(1, int(height * factor)))
            down = cv2.resize(image, small, interpolation=cv2.INTER_AREA)
            up = cv2.resize(down, (width, height), interpolation=cv2.INTER_NEAREST_EXACT)
            out[i] = up.reshape(image.shape)
        return out


class _Brightness(Corruption):
    """Brightness: ``x' = factor * x`` (PIL ``ImageEnhance.Brightness``)."""

    family = "digital"
    identity = {"factor": 1.0}
    volumes = True

    def _apply(self, images, params):
        return apply_luts(images, _lut(params["factor"][:, None] * _VALUES))


@register
class BrightnessUp(_Brightness):
    """Brighter image: ``x' = factor * x`` with factor > 1 (PIL ``ImageEnhance.Brightness``).

    Examples
    --------
    >>> from silentscope.shifts import corrupt
    >>> corrupt(np.full((1, 8, 8, 1), 100, np.uint8), "brightness_up", 5)[0][0, 0, 0, 0]
    np.uint8(150)
    """

    name = "brightness_up"
    modalities = ("generic", "xray", "ct", "dermatoscopy", "histology", "ultrasound", "microscopy")
    levels = {
        "generic": {"factor": (1.1, 1.2, 1.3, 1.4, 1.5)},
        "ct": {"factor": (1.2, 1.3, 1.4, 1.5, 1.6)},
        "histology": {"factor": (1.1, 1.15, 1.2, 1.22, 1.25)},
        "ultrasound": {"factor": (1.4, 1.5, 1.6, 1.8, 2.0)},
        "microscopy": {"factor": (1.1, 1.2, 1.3, 1.35, 1.4)},
    }


@register
class BrightnessDown(_Brightness):
    """Darker image: ``x' = factor * x`` with factor < 1 (PIL ``ImageEnhance.Brightness``).

    Examples
    --------
    >>> from silentscope.shifts import corrupt
    >>> corrupt(np.full((1, 8, 8, 1), 100, np.uint8), "brightness_down", 5)[0][0, 0, 0, 0]
    np.uint8(50)
    """

    name = "brightness_down"
    modalities = (
        "generic",
        "xray",
        "ct",
        "dermatoscopy",
        "fundus",
        "histology",
        "ultrasound",
        "microscopy",
    )
    levels = {
        "generic": {"factor": (0.9, 0.8, 0.7, 0.6, 0.5)},
        "ct": {"factor": (0.8, 0.75, 0.7, 0.65, 0.60)},
        "histology": {"factor": (0.85, 0.80, 0.75, 0.72, 0.70)},
        "ultrasound": {"factor": (0.55, 0.5, 0.45, 0.4, 0.3)},
    }


class _Contrast(Corruption):
    family = "digital"
    identity = {"factor": 1.0}
    volumes = True

    def _apply(self, images, params):
        channels = images.shape[-1]
        means = np.array(
            [cv2.mean(image.reshape(-1, *image.shape[-2:]))[:channels] for image in images]
        )
        grey = means @ _LUMA if channels == 3 else means[:, 0]
        centre = np.floor(grey + 0.5)[:, None]
        return apply_luts(images, _lut(centre + params["factor"][:, None] * (_VALUES - centre)))


@register
class ContrastUp(_Contrast):
    """More contrast: ``x' = m + factor (x - m)``, ``m`` the mean grey level (PIL), factor > 1.

    Examples
    --------
    >>> from silentscope.shifts import corrupt
    >>> images = np.full((1, 4, 4, 1), 100, np.uint8); images[:, :, 2:] = 200
    >>> np.unique(corrupt(images, "contrast_up", 5)[0])  # factor 1.6 around the mean 150
    array([ 70, 230], dtype=uint8)
    """

    name = "contrast_up"
    modalities = ("generic", "xray", "ct", "dermatoscopy", "histology", "microscopy")
    levels = {
        "generic": {"factor": (1.1, 1.2, 1.3, 1.4, 1.6)},
        "ct": {"factor": (1.3, 1.4, 1.6, 1.7, 1.8)},
        "microscopy": {"factor": (1.1, 1.15, 1.2, 1.25, 1.3)},
    }


@register
class ContrastDown(_Contrast):
    """Less contrast: ``x' = m + factor (x - m)``, ``m`` the mean grey level (PIL), factor < 1.

    Examples
    --------
    >>> from silentscope.shifts import corrupt
    >>> images = np.full((1, 4, 4, 1), 100, np.uint8); images[:, :, 2:] = 200
    >>> np.unique(corrupt(images, "contrast_down", 5)[0])  # factor 0.4 around the mean 150
    array([130, 170], dtype=uint8)
    """

    name = "contrast_down"
    modalities = _ALL_2D
    levels = {
        "generic": {"factor": (0.9, 0.8, 0.7, 0.6, 0.4)},
        "ct": {"factor": (0.8, 0.7, 0.6, 0.55, 0.5)},
        "dermatoscopy": {"factor": (0.8, 0.7, 0.6, 0.5, 0.4)},
        "histology": {"factor": (0.8, 0.7, 0.6, 0.55, 0.5)},
        "oct": {"factor": (0.6, 0.4, 0.3, 0.2, 0.15)},
        "microscopy": {"factor": (0.9, 0.8, 0.7, 0.6, 0.5)},
    }


class _Gamma(Corruption):
    family = "digital"
    identity = {"gamma": 1.0}
    volumes = True

    def _apply(self, images, params):
        return apply_luts(images, _lut(255 * (_VALUES / 255) ** params["gamma"][:, None]))


@register
class GammaUp(_Gamma):
    """Gamma above 1, ``x' = x ** gamma`` (x in [0, 1]): darker mid-tones (torchvision).

    Examples
    --------
    >>> from silentscope.shifts import corrupt
    >>> corrupt(np.full((1, 4, 4, 1), 128, np.uint8), "gamma_corr_up", 5)[0][0, 0, 0, 0]
    np.uint8(85)
    """

    name = "gamma_corr_up"
    modalities = ("generic", "xray", "ct")
    levels = {
        "generic": {"gamma": (1.1, 1.2, 1.3, 1.4, 1.6)},
        "ct": {"gamma": (1.3, 1.4, 1.6, 1.8, 2.0)},
    }


@register
class GammaDown(_Gamma):
    """Gamma below 1, ``x' = x ** gamma`` (x in [0, 1]): brighter mid-tones (torchvision).

    Examples
    --------
    >>> from silentscope.shifts import corrupt
    >>> corrupt(np.full((1, 4, 4, 1), 128, np.uint8), "gamma_corr_down", 5)[0][0, 0, 0, 0]
    np.uint8(194)
    """

    name = "gamma_corr_down"
    modalities = ("generic", "xray", "ct")
    levels = {"generic": {"gamma": (0.9, 0.8, 0.7, 0.6, 0.4)}}


@register
class Saturate(Corruption):
    """More saturation: ``S' = clip(S + amount)`` in HSV space; RGB images only.

    Examples
    --------
    >>> from silentscope.shifts import corrupt
    >>> images = np.full((1, 4, 4, 3), (150, 120, 100), np.uint8)
    >>> corrupt(images, "saturate", 5)[0][0, 0, 0]
    array([150,  97,  63], dtype=uint8)
    """

    name = "saturate"
    family = "digital"
    modalities = ("generic", "histology", "microscopy")
    levels = {
        "generic": {"amount": (0.05, 0.10, 0.15, 0.20, 0.25)},
        "microscopy": {"amount": (0.05, 0.10, 0.15, 0.17, 0.20)},
    }
    identity = {"amount": 0.0}
    channels = (3,)
    volumes = True

    def _apply(self, images, params):
        if images.ndim == 5:  # per voxel: the volume's slices are images
            slices = self._apply(as_slices(images), repeat_rows(params, images.shape[1]))
            return slices.reshape(images.shape)
        out = np.empty_like(images)
        chunk = 64
        for start in range(0, len(images), chunk):
            block = images[start : start + chunk]
            n, height, width, _ = block.shape
            hsv = cv2.cvtColor(to_float(block).reshape(n * height, width, 3), cv2.COLOR_RGB2HSV)
            saturation = hsv.reshape(n, -1, 3)[:, :, 1]
            saturation += params["amount"][start : start + chunk, None].astype(np.float32)
            np.clip(saturation, 0, 1, out=saturation)
            rgb = cv2.cvtColor(hsv, cv2.COLOR_HSV2RGB)
            out[start : start + chunk] = to_uint8(rgb).reshape(block.shape)
        return out

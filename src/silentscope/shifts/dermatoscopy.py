"""Dermatoscopy artifacts: the dark vignette of the dermatoscope, text overlays and marker ink.

``black_corner`` and ``characters`` follow MedMNIST-C (Di Salvo et al. 2024) with its
DermaMNIST constants; MedMNIST-C's black-corner table ``1.10, 1.05, 1.00, 0.90, 0.95`` is
not monotonic, and is used here in order (``..., 0.95, 0.90``). MedMNIST-C's font scales
(0.14-0.18) draw words about 5 pixels high in a 224-pixel image: small scribbles, faithful
to the reference, which fade to a few dark pixels at MedMNIST's 28 pixels. ``ink_marks`` adds the
violet surgical-marker strokes that dermatologists draw around lesions, a confounder that
raised a melanoma classifier's false-positive rate in Winkler et al., "Association Between
Surgical Skin Markings in Dermoscopic Images and Diagnostic Performance of a Deep Learning
Convolutional Neural Network for Melanoma Recognition" (JAMA Dermatology 2019).

All draws are uniforms shared across severities, so a higher severity adds marks or
strengthens them at the same places.
"""

from __future__ import annotations

import string

import cv2
import numpy as np

from silentscope.shifts.base import Corruption, register, spatial_scale

_LETTERS = np.array(list(string.ascii_lowercase))
_MAX_WORDS = 6
_MAX_LETTERS = 10
_MAX_STROKES = 3
# Violet hues of gentian-violet skin markers, RGB.
_INK = np.array([[106, 48, 147], [88, 40, 130], [128, 64, 170]], np.float32)


def _grey_or_rgb(color: np.ndarray, channels: int) -> np.ndarray:
    return color if channels == 3 else np.array([color @ np.array([0.299, 0.587, 0.114])])


@register
class BlackCorner(Corruption):
    """Dark vignette outside a circle of radius ``radius`` x half the shorter side.

    The circle's centre is jittered by up to 3% of the image size (``center_x``,
    ``center_y``, fractions of the width and height), as the dermatoscope is never
    perfectly centred.

    Examples
    --------
    >>> from silentscope.shifts import corrupt
    >>> images = np.full((1, 32, 32, 3), 200, np.uint8)
    >>> out, _ = corrupt(images, "black_corner", 5, seed=0)
    >>> out[0, 0, 0].tolist(), out[0, 16, 16].tolist()
    ([0, 0, 0], [200, 200, 200])
    """

    name = "black_corner"
    family = "dermatoscopy"
    modalities = ("dermatoscopy",)
    levels = {"generic": {"radius": (1.10, 1.05, 1.00, 0.95, 0.90)}}
    identity = {"radius": 1.5}
    drawn = ("center_x", "center_y")

    def draw(self, rng, params, n):
        jitter = rng.uniform(-0.03, 0.03, (2, n))
        return {"center_x": 0.5 + jitter[0], "center_y": 0.5 + jitter[1]}

    def _apply(self, images, params):
        height, width = images.shape[1:3]
        yy, xx = np.mgrid[:height, :width].astype(np.float32) + 0.5
        out = images.copy()
        for i in range(len(images)):
            radius = float(params["radius"][i]) * min(height, width) / 2
            cx, cy = params["center_x"][i] * width, params["center_y"][i] * height
            out[i][(xx - cx) ** 2 + (yy - cy) ** 2 > radius**2] = 0
        return out


@register
class Characters(Corruption):
    """Random lower-case words in random colours (OpenCV Hershey duplex font).

    Each image gets ``1..max_words`` words (uniform) of ``3..max_letters`` letters, with a
    font scale up to ``max_font_scale`` (at 224 pixels, scaled with the image).

    Examples
    --------
    >>> from silentscope.shifts import corrupt
    >>> images = np.full((1, 64, 64, 3), 255, np.uint8)
    >>> out, records = corrupt(images, "characters", 5, seed=0)
    >>> bool((out != 255).any()), 1 <= records[0]["n_words"] <= 6
    (True, True)
    """

    name = "characters"
    family = "dermatoscopy"
    modalities = ("dermatoscopy",)
    levels = {
        "generic": {
            "max_words": (1, 2, 3, 4, 6),
            "max_letters": (6, 7, 8, 9, 10),
            "max_font_scale": (0.14, 0.15, 0.16, 0.17, 0.18),
        }
    }
    identity = {"max_words": 0, "max_letters": 3, "max_font_scale": 0.14}
    integer = frozenset({"max_words", "max_letters"})
    drawn = ("n_words", "words", "font_scale", "x", "y", "color")

    def draw(self, rng, params, n):
        u = rng.random((n, 1 + 2 * _MAX_WORDS))
        letters = rng.integers(0, 26, (n, _MAX_WORDS, _MAX_LETTERS))
        colors = rng.integers(0, 256, (n, _MAX_WORDS, 3))
        xy = rng.random((n, _MAX_WORDS, 2))
        max_words = np.maximum(params["max_words"], 1)
        n_words = np.minimum(1 + (u[:, 0] * max_words).astype(int), max_words)
        lengths = 3 + (u[:, 1 : 1 + _MAX_WORDS] * (params["max_letters"][:, None] - 2)).astype(int)
        lengths = np.minimum(lengths, params["max_letters"][:, None])
        words = np.array(
            [
                ["".join(_LETTERS[letters[i, w, : lengths[i, w]]]) for w in range(_MAX_WORDS)]
                for i in range(n)
            ],
            dtype=f"<U{_MAX_LETTERS}",
        ).reshape(n, _MAX_WORDS)
        scale = 0.14 + u[:, 1 + _MAX_WORDS :] * (params["max_font_scale"][:, None] - 0.14)
        return {
            "n_words": n_words,
            "words": words,
            "font_scale": scale,
            "x": xy[..., 0],
            "y": xy[..., 1],
            "color": colors,
        }

    def _apply(self, images, params):
        height, width, channels = images.shape[1:]
        scale = spatial_scale(images)
        margin = 10 * scale
        out = images.copy()
        for i in range(len(images)):
            canvas = np.ascontiguousarray(out[i])
            for w in range(int(params["n_words"][i])):
                word = str(params["words"][i][w])
                span = max(width - 8 * scale * len(word) - margin, margin)
                org = (
                    int(margin + params["x"][i][w] * (span - margin)),
                    int(margin + params["y"][i][w] * (height - 2 * margin)),
                )
                color = _grey_or_rgb(np.asarray(params["color"][i][w], np.float32), channels)
                cv2.putText(
                    canvas,
                    word,
                    org,
                    cv2.FONT_HERSHEY_DUPLEX,
                    float(params["font_scale"][i][w]) * scale,
                    tuple(float(c) for c in color),
                    max(1, int(round(scale))),
                    cv2.LINE_AA,
                )
            out[i] = canvas.reshape(out[i].shape)
        return out


@register
class InkMarks(Corruption):
    """Violet surgical-marker strokes: elliptic arcs around the lesion (centre of the image).

    ``n_strokes`` arcs (up to 3) of ``arc`` degrees each and ``thickness`` pixels (at 224
    pixels), blended with opacity 0.85.

    Examples
    --------
    >>> from silentscope.shifts import corrupt
    >>> images = np.full((1, 64, 64, 3), 220, np.uint8)
    >>> out, _ = corrupt(images, "ink_marks", 5, seed=0)
    >>> bool((out[..., 2].astype(int) - out[..., 1] > 40).any())  # violet: blue over green
    True
    """

    name = "ink_marks"
    family = "dermatoscopy"
    modalities = ("dermatoscopy",)
    levels = {
        "generic": {
            "n_strokes": (1, 1, 2, 2, 3),
            "arc": (60, 100, 140, 180, 240),
            "thickness": (3, 4, 5, 6, 7),
        }
    }
    identity = {"n_strokes": 0, "arc": 0, "thickness": 0}
    integer = frozenset({"n_strokes"})
    drawn = ("center_x", "center_y", "axis_a", "axis_b", "rotation", "start", "ink")

    def draw(self, rng, params, n):
        u = rng.random((n, _MAX_STROKES, 7))
        return {
            "center_x": 0.35 + 0.3 * u[..., 0],
            "center_y": 0.35 + 0.3 * u[..., 1],
            "axis_a": 0.30 + 0.15 * u[..., 2],
            "axis_b": 0.25 + 0.15 * u[..., 3],
            "rotation": 180 * u[..., 4],
            "start": 360 * u[..., 5],
            "ink": (u[..., 6] * len(_INK)).astype(int),
        }

    def _apply(self, images, params):
        height, width, channels = images.shape[1:]
        size = min(height, width)
        scale = spatial_scale(images)
        out = np.empty_like(images)
        for i, image in enumerate(images):
            mask = np.zeros((height, width), np.uint8)
            color = np.zeros((height, width, channels), np.float32)
            for s in range(int(params["n_strokes"][i])):
                stroke = np.zeros_like(mask)
                start = float(params["start"][i][s])
                cv2.ellipse(
                    stroke,
                    (
                        int(params["center_x"][i][s] * width * 16),
                        int(params["center_y"][i][s] * height * 16),
                    ),
                    (
                        int(params["axis_a"][i][s] * size * 16),
                        int(params["axis_b"][i][s] * size * 16),
                    ),
                    float(params["rotation"][i][s]),
                    start,
                    start + float(params["arc"][i]),
                    255,
                    max(1, int(round(float(params["thickness"][i]) * scale))),
                    cv2.LINE_AA,
                    4,
                )
                ink = _grey_or_rgb(_INK[int(params["ink"][i][s])], channels)
                color[stroke > 0] = ink
                np.maximum(mask, stroke, out=mask)
            alpha = (mask.astype(np.float32) * (0.85 / 255))[..., None]
            blended = image * (1 - alpha) + color * alpha
            out[i] = np.clip(blended + 0.5, 0, 255).astype(np.uint8)
        return out

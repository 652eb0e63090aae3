"""Histology slide artifacts: stain deposits and air bubbles under the cover slip.

Both follow MedMNIST-C (Di Salvo et al. 2024) with its PathMNIST constants (BloodMNIST's
for microscopy). MedMNIST-C
stamps black ink blots from a file of scanned shapes; here each deposit is a random
star-shaped blob, ``r(theta) = R (1 + sum_k a_k cos(k theta + phi_k))`` for k = 2..4, so
no image asset is needed. Bubbles are translucent white discs (opacity 100/255) with a
brighter rim (130/255), drawn in order so that later bubbles cover earlier ones, as
MedMNIST-C draws them.
"""

from __future__ import annotations

import cv2
import numpy as np

from silentscope.shifts.base import Corruption, register, spatial_scale

_MAX_DEPOSITS = 5
_MAX_BUBBLES = 25


@register
class StainDeposit(Corruption):
    """Dark stain precipitate: ``1..max_marks`` blobs of diameter about ``size`` (224 px).

    Examples
    --------
    >>> from silentscope.shifts import corrupt
    >>> images = np.full((2, 64, 64, 3), 230, np.uint8)
    >>> out, records = corrupt(images, "stain_deposit", 5, seed=0)
    >>> bool(out.min() < 40), records[0]["max_marks"]
    (True, 5)
    """

    name = "stain_deposit"
    family = "histology"
    modalities = ("histology", "microscopy")
    levels = {
        "generic": {"max_marks": (1, 2, 3, 4, 5), "size": (24, 24, 24, 24, 32)},
        "microscopy": {"max_marks": (1, 2, 3, 3, 3), "size": (24, 24, 24, 24, 32)},
    }
    identity = {"max_marks": 0, "size": 0}
    integer = frozenset({"max_marks"})
    drawn = ("n_marks", "center_x", "center_y", "radius", "harmonics", "phases", "opacity")

    def draw(self, rng, params, n):
        u = rng.random((n, 1 + 4 * _MAX_DEPOSITS))
        k = _MAX_DEPOSITS
        return {
            "n_marks": np.minimum(
                1 + (u[:, 0] * params["max_marks"]).astype(int), params["max_marks"]
            ),
            "center_x": 0.1 + 0.8 * u[:, 1 : 1 + k],
            "center_y": 0.1 + 0.8 * u[:, 1 + k : 1 + 2 * k],
            "radius": 0.6 + 0.4 * u[:, 1 + 2 * k : 1 + 3 * k],
            "harmonics": rng.uniform(0.0, 0.25, (n, k, 3)),
            "phases": rng.uniform(0.0, 2 * np.pi, (n, k, 3)),
            "opacity": 0.85 + 0.15 * u[:, 1 + 3 * k :],
        }

    def _apply(self, images, params):
        height, width = images.shape[1:3]
        scale = spatial_scale(images)
        yy, xx = np.mgrid[:height, :width].astype(np.float32) + 0.5
        out = np.empty_like(images)
        for i, image in enumerate(images):
            ink = np.zeros((height, width), np.float32)
            for m in range(int(params["n_marks"][i])):
                radius = max(params["size"][i] / 2 * params["radius"][i][m] * scale, 0.5)
                dx = xx - params["center_x"][i][m] * width
                dy = yy - params["center_y"][i][m] * height
                theta = np.arctan2(dy, dx)
                shape = 1 + sum(
                    params["harmonics"][i][m][h]
                    * np.cos((h + 2) * theta + params["phases"][i][m][h])
                    for h in range(3)
                )
                # Distance to the boundary in pixels, smoothed over one pixel for anti-aliasing.
                edge = radius * shape - np.sqrt(dx**2 + dy**2)
                coverage = np.clip(edge + 0.5, 0, 1) * params["opacity"][i][m]
                np.maximum(ink, coverage, out=ink)
            out[i] = np.clip(image * (1 - ink[..., None]) + 0.5, 0, 255).astype(np.uint8)
        return out


@register
class Bubble(Corruption):
    """Air bubbles: ``7..max_bubbles`` translucent discs of radius ``3..max_radius`` (224 px).

    Examples
    --------
    >>> from silentscope.shifts import corrupt
    >>> images = np.full((1, 64, 64, 3), 60, np.uint8)
    >>> out, records = corrupt(images, "bubble", 3, seed=0)
    >>> bool(out.max() > 100), 7 <= records[0]["n_bubbles"] <= 15
    (True, True)
    """

    name = "bubble"
    family = "histology"
    modalities = ("histology", "microscopy")
    levels = {
        "generic": {"max_radius": (7, 10, 12, 15, 17), "max_bubbles": (15, 15, 15, 20, 25)},
        "microscopy": {"max_radius": (5, 7, 10, 12, 15), "max_bubbles": (10, 10, 10, 12, 12)},
    }
    identity = {"max_radius": 3, "max_bubbles": 7}
    integer = frozenset({"max_bubbles"})
    drawn = ("n_bubbles", "radius", "center_x", "center_y")

    def draw(self, rng, params, n):
        u = rng.random((n, 1 + 3 * _MAX_BUBBLES))
        k = _MAX_BUBBLES
        span = params["max_bubbles"] - 7 + 1
        return {
            "n_bubbles": np.minimum(7 + (u[:, 0] * span).astype(int), params["max_bubbles"]),
            "radius": 3 + u[:, 1 : 1 + k] * (params["max_radius"][:, None] - 3),
            "center_x": u[:, 1 + k : 1 + 2 * k],
            "center_y": u[:, 1 + 2 * k :],
        }

    def _apply(self, images, params):
        height, width = images.shape[1:3]
        scale = spatial_scale(images)
        fixed = 16  # cv2 sub-pixel precision: 4 fractional bits
        out = np.empty_like(images)
        for i, image in enumerate(images):
            alpha = np.zeros((height, width), np.uint8)
            for b in range(int(params["n_bubbles"][i])):
                radius = params["radius"][i][b] * scale
                cx = params["center_x"][i][b] * (width - 2 * radius) + radius
                cy = params["center_y"][i][b] * (height - 2 * radius) + radius
                center = (int(cx * fixed), int(cy * fixed))
                rim = int((radius + 2 * scale) * fixed)
                cv2.circle(alpha, center, rim, 130, -1, cv2.LINE_8, 4)
                cv2.circle(alpha, center, int(radius * fixed), 100, -1, cv2.LINE_8, 4)
            a = (alpha.astype(np.float32) / 255)[..., None]
            out[i] = np.clip(image * (1 - a) + 255 * a + 0.5, 0, 255).astype(np.uint8)
        return out

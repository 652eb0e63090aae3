"""Vectorised rendering of skin-lesion-like dermatoscopy images for the synthetic dataset.

Every step works on a whole batch of images as (n, S, S) or (n, S, S, 3) arrays; the only
Python loops run over a handful of hairs or ruler orientations, never over pixels. All
geometry is relative to the image size, so any ``size`` renders the same scene.

A lesion is a star-shaped region whose radius varies with the polar angle,
``r(theta) = R (1 + sum_k a_k cos(k theta + phi_k))``; low harmonics set its asymmetry and
high ones its border jaggedness. Colours are mixed from per-class palettes with smooth
random fields, then hairs, a ruler scale, the dermatoscope's illumination and vignetting,
blur and sensor noise are applied.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import ndimage

#: Lesion kinds rendered (the class is decided elsewhere: amelanotic is a melanoma).
KINDS = ("nevus", "melanoma", "seborrheic_keratosis", "amelanotic_melanoma")
SKIN_TONES = {"light": (0.93, 0.78, 0.68), "medium": (0.80, 0.60, 0.46), "dark": (0.52, 0.36, 0.26)}
_BASE = np.array(
    [
        (0.47, 0.29, 0.18),  # nevus: even mid brown
        (0.36, 0.21, 0.13),  # melanoma: dark brown
        (0.60, 0.43, 0.29),  # seborrheic keratosis: waxy tan
        (0.86, 0.56, 0.55),  # amelanotic melanoma: pink
    ],
    dtype=np.float32,
)
_BLACK = np.array((0.09, 0.06, 0.06), np.float32)
_BLUE_GREY = np.array((0.40, 0.44, 0.52), np.float32)
_RED = np.array((0.72, 0.30, 0.30), np.float32)
_NETWORK = np.array((0.25, 0.14, 0.08), np.float32)
_COMEDO = np.array((0.22, 0.15, 0.11), np.float32)
_MILIA = np.array((0.92, 0.90, 0.82), np.float32)
_HAIR = np.array((0.10, 0.07, 0.05), np.float32)
_RULER_INK = np.array((0.08, 0.08, 0.10), np.float32)
_RULER_STRIP = np.array((0.93, 0.93, 0.90), np.float32)
#: Per-site colour gain and brightness: site B's dermatoscope is cooler (with its stronger
#: vignetting and noise, drawn per image, this is the acquisition shift).
SITE_GAIN = {"site_A": (1.0, 1.0, 1.0), "site_B": (0.94, 0.98, 1.05)}
SITE_BRIGHTNESS = {"site_A": 1.0, "site_B": 1.0}

#: Columns :func:`render_lesions` reads, one row per image.
PARAM_COLUMNS = (
    "kind", "skin_tone", "site", "cx", "cy", "radius", "elongation", "angle", "irregularity",
    "jaggedness", "softness", "opacity", "lightness", "black", "veil", "red", "network",
    "comedo", "milia", "vessels", "n_hairs", "ruler", "ruler_side", "vignette", "noise",
)  # fmt: skip


_ANGLES = 512  # resolution of the tabulated lesion border r(theta)


def _upsampling_matrix(size: int, grid: int) -> np.ndarray:
    """(size, grid) periodic cubic B-spline weights: ``M @ coarse @ M.T`` upsamples smoothly."""
    position = (np.arange(size) + 0.5) * grid / size - 0.5
    distance = np.abs(position[:, None] - np.arange(grid)[None, :])
    distance = np.minimum(distance, grid - distance)  # wrap around
    weights = np.where(
        distance < 1,
        2 / 3 - distance**2 + distance**3 / 2,
        np.where(distance < 2, (2 - distance) ** 3 / 6, 0.0),
    )
    return (weights / weights.sum(axis=1, keepdims=True)).astype(np.float32)


def _smooth_field(rng: np.random.Generator, n: int, size: int, grid: int) -> np.ndarray:
    """Smooth random field (n, size, size), about unit variance, from a B-spline-upsampled grid."""
    coarse = rng.standard_normal((n, grid, grid)).astype(np.float32)
    upsample = _upsampling_matrix(size, grid)
    field = upsample @ coarse @ upsample.T
    return field / max(float(field.std()), 1e-6)


def _sparse_dots(
    rng: np.random.Generator, density: np.ndarray, size: int, sigma: float
) -> np.ndarray:
    """Blurred random dots with per-image density, peak about 1."""
    seeds = rng.random((len(density), size, size), dtype=np.float32) < density[:, None, None]
    dots = ndimage.gaussian_filter(seeds.astype(np.float32), sigma=(0, sigma, sigma))
    return np.clip(dots * (2 * np.pi * sigma**2), 0.0, 1.0)


def _lesion_geometry(p: pd.DataFrame, rng: np.random.Generator, size: int):
    """Soft lesion mask (n, S, S), normalised radius rho/r(theta), and rotated coordinates."""
    n = len(p)
    grid = (np.arange(size, dtype=np.float32) + 0.5) / size - 0.5
    y, x = np.meshgrid(grid, grid, indexing="ij")
    col = {
        c: p[c].to_numpy(np.float32)[:, None, None]
        for c in ("cx", "cy", "angle", "elongation", "radius")
    }
    dx, dy = x[None] - col["cx"], y[None] - col["cy"]
    cos, sin = np.cos(col["angle"]), np.sin(col["angle"])
    u = dx * cos + dy * sin
    v = (-dx * sin + dy * cos) * col["elongation"]
    rho = np.sqrt(u * u + v * v)
    theta = np.arctan2(v, u)
    low = p["irregularity"].to_numpy(np.float32)
    high = p["jaggedness"].to_numpy(np.float32)
    # r(theta) is tabulated at _ANGLES angles per image and interpolated at each pixel's
    # angle: 14 harmonics cost (n, _ANGLES) work instead of (n, S, S) each.
    angles = np.linspace(-np.pi, np.pi, _ANGLES, endpoint=False, dtype=np.float32)
    table = np.ones((n, _ANGLES), np.float32)
    for k in range(1, 15):
        # Amplitudes fall with the harmonic order, so shapes are blobby rather than star-like.
        decay = 2.0 / max(k, 2) if k <= 6 else 0.5
        amplitude = (low if k <= 6 else high) * decay * rng.uniform(0.4, 1.0, n).astype(np.float32)
        phase = rng.uniform(0, 2 * np.pi, n).astype(np.float32)
        table += amplitude[:, None] * np.cos(k * angles[None, :] + phase[:, None])
    position = (theta + np.pi) * (_ANGLES / (2 * np.pi))
    lower = np.floor(position).astype(np.int64) % _ANGLES
    weight = position - np.floor(position)
    flat = lower.reshape(n, -1)
    shape = np.take_along_axis(table, flat, axis=1) * (1 - weight.reshape(n, -1))
    shape += np.take_along_axis(table, (flat + 1) % _ANGLES, axis=1) * weight.reshape(n, -1)
    shape = shape.reshape(n, size, size)
    boundary = col["radius"] * shape
    softness = p["softness"].to_numpy(np.float32)[:, None, None] * col["radius"]
    # tanh form of the logistic function: no overflow far from the border.
    mask = 0.5 + 0.5 * np.tanh((boundary - rho) / (2.0 * np.maximum(softness, 1e-3)))
    return mask, rho / np.maximum(boundary, 1e-3), u, v


def _mix(canvas: np.ndarray, colour, weight: np.ndarray) -> np.ndarray:
    """Alpha-blend a colour into a canvas (n, S, S, 3), in place; weight is (n, S, S).

    ``colour`` is one RGB triple, one per image (n, 3), or one per pixel (n, S, S, 3). Only
    images with a non-zero weight are touched, which keeps class-specific layers cheap.
    """
    weight = np.clip(weight, 0.0, 1.0)
    rows = np.flatnonzero(weight.reshape(len(weight), -1).max(axis=1) > 1e-4)
    if len(rows) == 0:
        return canvas
    colour = np.asarray(colour, np.float32)
    if len(rows) == len(canvas):  # every image: blend in place, no gather/scatter copies
        if colour.ndim == 2:
            colour = colour[:, None, None, :]
        canvas += (colour - canvas) * weight[..., None]
        return canvas
    if colour.ndim == 2:
        colour = colour[rows][:, None, None, :]
    elif colour.ndim == 4:
        colour = colour[rows]
    part = canvas[rows]
    part += (colour - part) * weight[rows][..., None]
    canvas[rows] = part
    return canvas


def _skin(p: pd.DataFrame, rng: np.random.Generator, size: int) -> np.ndarray:
    n = len(p)
    tone = np.array([SKIN_TONES[t] for t in p["skin_tone"]], np.float32)
    tone *= rng.uniform(0.96, 1.04, (n, 1)).astype(np.float32)
    blotches = 0.035 * _smooth_field(rng, n, size, 5)
    pores = 0.02 * rng.standard_normal((n, size, size)).astype(np.float32)
    redness = np.clip(0.04 * _smooth_field(rng, n, size, 4), 0, None)
    skin = tone[:, None, None, :] * (1.0 + blotches + pores)[..., None]
    skin[..., 0] += redness
    skin[..., 2] -= redness * 0.5
    return skin


def _lesion(p: pd.DataFrame, rng: np.random.Generator, size: int, canvas: np.ndarray) -> np.ndarray:
    n = len(p)
    kind = p["kind"].map({k: i for i, k in enumerate(KINDS)}).to_numpy()
    mask, rel, u, v = _lesion_geometry(p, rng, size)
    z1, z2 = _smooth_field(rng, n, size, 6), _smooth_field(rng, n, size, 4)
    lightness = p["lightness"].to_numpy(np.float32)[:, None, None, None]
    # Pigment is densest at the centre of benign lesions and patchy in melanoma.
    central = 1.0 - 0.35 * np.clip(rel, 0, 1) ** 2
    base = _BASE[kind][:, None, None, :] * lightness
    shading = np.where((kind == 1)[:, None, None], 1.0 + 0.18 * z1, central + 0.05 * z1)
    lesion = base * shading[..., None]
    core = np.clip(1.2 - rel, 0, 1)

    def weight(column: str) -> np.ndarray:
        return p[column].to_numpy(np.float32)[:, None, None]

    lesion = _mix(lesion, _BLACK, weight("black") * np.clip(1.6 * (z2 - 0.4), 0, 1) * core)
    lesion = _mix(lesion, _BLUE_GREY, weight("veil") * np.clip(1.4 * (-z1 - 0.2), 0, 1) * core)
    lesion = _mix(lesion, _RED, weight("red") * np.clip(1.2 * (z1 - 0.6), 0, 1))
    # Pigment network: a warped grid of dark lines fading towards the border.
    frequency = 15.0
    warp = 0.25 * z2 / frequency
    lines = np.minimum(
        np.abs(np.sin(np.pi * frequency * (u + warp))),
        np.abs(np.sin(np.pi * frequency * (v - warp))),
    )
    lesion = _mix(lesion, _NETWORK, weight("network") * np.exp(-((lines / 0.3) ** 2)) * core)
    dot_sigma = max(0.45, 0.7 * size / 64)
    lesion = _mix(
        lesion, _COMEDO, _sparse_dots(rng, p["comedo"].to_numpy(np.float32), size, dot_sigma) * core
    )
    lesion = _mix(
        lesion,
        _MILIA,
        0.8 * _sparse_dots(rng, p["milia"].to_numpy(np.float32), size, dot_sigma) * core,
    )
    vessels = _sparse_dots(rng, p["vessels"].to_numpy(np.float32), size, 0.6 * dot_sigma)
    lesion = _mix(lesion, _RED * 0.85, vessels * core)
    # Keratoses look waxy and fissured: fine high-frequency relief inside the lesion.
    relief = (kind == 2)[:, None, None] * 0.12 * _smooth_field(rng, n, size, max(8, size // 4))
    lesion = lesion * (1.0 + relief)[..., None]
    return _mix(canvas, lesion, mask * weight("opacity"))


def _hairs(p: pd.DataFrame, rng: np.random.Generator, size: int, canvas: np.ndarray) -> np.ndarray:
    n = len(p)
    count = p["n_hairs"].to_numpy()
    if count.max(initial=0) == 0:
        return canvas
    grid = (np.arange(size, dtype=np.float32) + 0.5) / size - 0.5
    y, x = np.meshgrid(grid, grid, indexing="ij")
    width = max(0.5, 0.7 * size / 64) / size
    for h in range(int(count.max())):
        # Parameters are drawn for every image (so the stream does not depend on the counts);
        # pixels are computed only for the images that have this hair.
        px, py = (rng.uniform(-0.45, 0.45, n).astype(np.float32) for _ in range(2))
        angle = rng.uniform(0, np.pi, n).astype(np.float32)
        bend = rng.uniform(-1.5, 1.5, n).astype(np.float32)
        half_length = rng.uniform(0.2, 0.6, n).astype(np.float32)
        rows = np.flatnonzero(count > h)

        def per_image(values: np.ndarray) -> np.ndarray:
            return values[rows][:, None, None]  # noqa: B023  (used at once, inside the loop)

        dx, dy = x - per_image(px), y - per_image(py)
        cos, sin = np.cos(per_image(angle)), np.sin(per_image(angle))
        along = dx * cos + dy * sin
        across = -dx * sin + dy * cos + per_image(bend) * along**2
        strand = np.exp(-((across / width) ** 2)) * (np.abs(along) < per_image(half_length))
        canvas[rows] = _mix(canvas[rows], _HAIR, 0.85 * strand)
    return canvas


def _ruler(p: pd.DataFrame, rng: np.random.Generator, size: int, canvas: np.ndarray) -> np.ndarray:
    """A printed millimetre scale along one image edge (top, right, bottom or left)."""
    has = p["ruler"].to_numpy(bool)
    if not has.any():
        return canvas
    n = len(p)
    pix = np.arange(size, dtype=np.float32) + 0.5
    y, x = np.meshgrid(pix, pix, indexing="ij")
    scale = size / 64.0
    base_y = rng.uniform(6.0, 10.0, n).astype(np.float32)[:, None, None] * scale
    period = rng.uniform(3.6, 4.4, n).astype(np.float32)[:, None, None] * scale
    offset = rng.uniform(0, 4, n).astype(np.float32)[:, None, None] * scale
    width = max(0.45, 0.55 * scale)
    tick_index = np.floor((x - offset) / period + 0.5)
    to_tick = np.abs(x - offset - tick_index * period)
    tick_length = np.where(np.mod(tick_index, 5) == 0, 5.5, 3.0).astype(np.float32) * scale
    above = (y < base_y) & (y > base_y - tick_length)
    ink = np.maximum(
        np.exp(-(((y - base_y) / width) ** 2)), np.exp(-((to_tick / width) ** 2)) * above
    )
    strip = ((y > base_y - 7.5 * scale) & (y < base_y + 2.0 * scale)).astype(np.float32)
    side = p["ruler_side"].to_numpy()
    for k in range(4):
        rows = np.flatnonzero(has & (side == k))
        if len(rows):
            canvas[rows] = _mix(
                canvas[rows], _RULER_STRIP, 0.55 * np.rot90(strip[rows], k, axes=(1, 2))
            )
            canvas[rows] = _mix(canvas[rows], _RULER_INK, 0.9 * np.rot90(ink[rows], k, axes=(1, 2)))
    return canvas


def _acquisition(
    p: pd.DataFrame, rng: np.random.Generator, size: int, canvas: np.ndarray
) -> np.ndarray:
    n = len(p)
    gain = np.array([SITE_GAIN[s] for s in p["site"]], np.float32)
    gain *= np.array([SITE_BRIGHTNESS[s] for s in p["site"]], np.float32)[:, None]
    gain *= rng.uniform(0.97, 1.03, (n, 1)).astype(np.float32)
    grid = (np.arange(size, dtype=np.float32) + 0.5) / size - 0.5
    y, x = np.meshgrid(grid, grid, indexing="ij")
    radius = np.sqrt(x * x + y * y)[None] / 0.5
    strength = p["vignette"].to_numpy(np.float32)[:, None, None]
    falloff = 1.0 - strength * np.clip((radius - 0.55) / 0.9, 0, 1) ** 1.5
    canvas = canvas * gain[:, None, None, :] * falloff[..., None]
    sigma = max(0.3, 0.45 * size / 64)
    canvas = ndimage.gaussian_filter(canvas, sigma=(0, sigma, sigma, 0))
    noise = p["noise"].to_numpy(np.float32)[:, None, None, None]
    return canvas + noise * rng.standard_normal(canvas.shape, dtype=np.float32)


def render_lesions(params: pd.DataFrame, size: int, seed: int) -> np.ndarray:
    """Render one image per row of ``params`` (see :data:`PARAM_COLUMNS`) as uint8 (n, S, S, 3).

    Examples
    --------
    >>> import pandas as pd
    >>> row = dict(kind="nevus", skin_tone="light", site="site_A", cx=0.0, cy=0.0, radius=0.18,
    ...            elongation=1.1, angle=0.3, irregularity=0.02, jaggedness=0.0, softness=0.1,
    ...            opacity=0.9, lightness=1.0, black=0.0, veil=0.0, red=0.0, network=0.5,
    ...            comedo=0.0, milia=0.0, vessels=0.0, n_hairs=2, ruler=True, ruler_side=0,
    ...            vignette=0.3, noise=0.01)
    >>> images = render_lesions(pd.DataFrame([row, row]), size=32, seed=0)
    >>> images.shape, images.dtype
    ((2, 32, 32, 3), dtype('uint8'))
    >>> bool(images[0, 16, 16].mean() < images[0, 16, 2].mean())  # dark lesion on lighter skin
    True
    """
    missing = [c for c in PARAM_COLUMNS if c not in params.columns]
    if missing:
        raise ValueError(f"render_lesions needs the parameter columns {missing}")
    params = params.reset_index(drop=True)
    rng = np.random.default_rng(seed)
    canvas = _skin(params, rng, size)
    canvas = _lesion(params, rng, size, canvas)
    canvas = _hairs(params, rng, size, canvas)
    canvas = _ruler(params, rng, size, canvas)
    canvas = _acquisition(params, rng, size, canvas)
    return np.clip(np.round(canvas * 255.0), 0, 255).astype(np.uint8)

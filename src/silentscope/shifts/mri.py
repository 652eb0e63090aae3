"""MRI artifacts simulated in k-space, on 2-D slices (N, H, W, C) and 3-D volumes (N, D, H, W, C).

The image is read as a magnitude MR image ``x`` in [0, 1]; its k-space is
``K = F x`` (centred FFT over the spatial axes) and the corrupted image is ``|F^-1 K'|``.
H is the phase-encoding axis (lines acquired one after another, from -ky to +ky) and W
the read-out axis; in a volume every kz partition of a ky line is acquired together.

- ``gibbs_ringing``: ``K' = K`` inside the central ``fraction`` of k-space along every
  spatial axis, 0 outside (truncation ringing at edges).
- ``kspace_spike``: ``K' = K + sum_s S_s delta(k - k_s)`` with ``|S_s| = intensity * mean(x)
  * n_pixels``: herringbone stripes of amplitude ``intensity * mean(x)`` (TorchIO's
  ``RandomSpike``, Perez-Garcia et al., CMPB 2021).
- ``bias_field``: ``x' = x exp(sum_t c_t P_t(r))``, products of Legendre polynomials up to
  total order 3 with ``c_t ~ U(-strength, strength)``, normalised to geometric mean 1
  (TorchIO's ``RandomBiasField``; after Van Leemput et al., IEEE TMI 1999).
- ``rician_noise``: ``x' = |x + sigma (z1 + i z2)|``, ``z ~ N(0, 1)`` (Gudbjartsson and
  Patz, MRM 1995).
- ``kspace_motion``: rigid translations during the scan: at each of ``n_moves`` random
  times the object moves to a new position ``d_j`` (up to ``max_shift`` of the field of
  view per axis), and the ky lines read there get the phase ramp ``exp(-2 pi i k . d_j)``;
  positions are relative to the one at which the k-space centre was read; cf. TorchIO's
  ``RandomMotion`` and Shaw et al., "MRI k-space motion artefact augmentation" (MIDL 2019).
- ``ghosting``: every ``period``-th line along a phase axis is scaled by ``1 - intensity``
  except the central line, which puts ghost copies at ``FOV / period`` (TorchIO's
  ``RandomGhosting``).

Severity constants were set by eye on MedMNIST images so that level 1 is barely visible
and level 5 clearly degrades the image.
"""

from __future__ import annotations

import itertools

import numpy as np
from numpy.polynomial import legendre

from silentscope.shifts.base import Corruption, register, to_float, to_uint8

_MAX_SPIKES = 3
_MAX_MOVES = 4
# Legendre terms (i, j, k) of total order 1-3 over (x, y, z); 2-D images use those with k = 0.
_TERMS = [t for t in itertools.product(range(4), repeat=3) if 0 < sum(t) <= 3]


def _axes(image: np.ndarray) -> tuple[int, ...]:
    return tuple(range(image.ndim - 1))


def _kspace(x: np.ndarray) -> np.ndarray:
    axes = _axes(x)
    return np.fft.fftshift(np.fft.fftn(x, axes=axes), axes=axes)


def _image(k: np.ndarray) -> np.ndarray:
    axes = _axes(k)
    return np.abs(np.fft.ifftn(np.fft.ifftshift(k, axes=axes), axes=axes)).astype(np.float32)


def _frequencies(image: np.ndarray) -> list[np.ndarray]:
    """Centred integer frequencies per spatial axis, shaped to broadcast over the image."""
    spatial = image.ndim - 1
    grids = []
    for axis in range(spatial):
        length = image.shape[axis]
        shape = [1] * image.ndim
        shape[axis] = length
        grids.append((np.arange(length) - length // 2).reshape(shape))
    return grids


class _KSpace(Corruption):
    family = "mri"
    modalities = ("mri",)
    volumes = True

    def _apply(self, images, params):
        out = np.empty_like(images)
        for i, image in enumerate(images):
            row = {key: value[i] for key, value in params.items()}
            out[i] = to_uint8(self._corrupt(to_float(image), row))
        return out

    def _corrupt(self, x: np.ndarray, params: dict) -> np.ndarray:
        raise NotImplementedError


@register
class GibbsRinging(_KSpace):
    """Truncation (Gibbs) ringing: keep the central ``fraction`` of k-space per axis.

    Examples
    --------
    >>> from silentscope.shifts import corrupt
    >>> images = np.zeros((1, 32, 32, 1), np.uint8); images[:, :, 16:] = 200
    >>> ringing, _ = corrupt(images, "gibbs_ringing", 5)
    >>> bool(ringing[0, 16, 12, 0] > 5)  # ripples next to the edge
    True
    """

    name = "gibbs_ringing"
    levels = {"generic": {"fraction": (0.75, 0.6, 0.5, 0.4, 0.3)}}
    identity = {"fraction": 1.0}

    def _corrupt(self, x, params):
        k = _kspace(x)
        for axis, freq in enumerate(_frequencies(x)):
            keep = np.abs(freq) <= params["fraction"] * x.shape[axis] / 2
            k = k * keep
        return _image(k)


@register
class KSpaceSpike(_KSpace):
    """Spikes in k-space (herringbone artifact): ``n_spikes`` bright k-space points.

    Examples
    --------
    >>> from silentscope.shifts import corrupt
    >>> images = np.full((1, 32, 32, 1), 100, np.uint8)
    >>> striped, records = corrupt(images, "kspace_spike", 5, seed=0)
    >>> bool(striped.std() > 10), records[0]["n_spikes"]
    (True, 3)
    """

    name = "kspace_spike"
    levels = {"generic": {"n_spikes": (1, 1, 2, 2, 3), "intensity": (0.02, 0.04, 0.07, 0.1, 0.15)}}
    identity = {"n_spikes": 0, "intensity": 0.0}
    integer = frozenset({"n_spikes"})
    drawn = ("position", "phase")

    def draw(self, rng, params, n):
        # Spikes away from the centre (the image's coarse structure), up to 45% of k-space.
        radius = rng.uniform(0.05, 0.45, (n, _MAX_SPIKES, 1))
        direction = rng.standard_normal((n, _MAX_SPIKES, 3))
        direction /= np.linalg.norm(direction, axis=-1, keepdims=True)
        return {
            "position": radius * direction,
            "phase": rng.uniform(0, 2 * np.pi, (n, _MAX_SPIKES)),
        }

    def _corrupt(self, x, params):
        k = _kspace(x)
        spatial = x.ndim - 1
        n_pixels = np.prod(x.shape[:spatial])
        mean = x.mean(axis=tuple(range(spatial)))
        for s in range(int(params["n_spikes"])):
            position = params["position"][s][3 - spatial :]
            index = tuple(
                int(np.clip(round(length // 2 + p * length), 0, length - 1))
                for p, length in zip(position, x.shape[:spatial], strict=True)
            )
            k[index] += params["intensity"] * mean * n_pixels * np.exp(1j * params["phase"][s])
        return _image(k)


@register
class BiasField(_KSpace):
    """Smooth multiplicative intensity inhomogeneity (coil sensitivity), Legendre order 3.

    Examples
    --------
    >>> from silentscope.shifts import corrupt
    >>> images = np.full((1, 32, 32, 1), 120, np.uint8)
    >>> shaded, _ = corrupt(images, "bias_field", 5, seed=0)
    >>> bool(shaded.max() - shaded.min() > 30)
    True
    """

    name = "bias_field"
    levels = {"generic": {"strength": (0.06, 0.12, 0.18, 0.25, 0.35)}}
    identity = {"strength": 0.0}
    drawn = ("coefficients",)

    def draw(self, rng, params, n):
        u = rng.uniform(-1.0, 1.0, (n, len(_TERMS)))
        return {"coefficients": u * params["strength"][:, None]}

    def _corrupt(self, x, params):
        spatial = x.ndim - 1
        coords = [np.linspace(-1, 1, length) for length in x.shape[:spatial]][::-1]  # x, y, (z)
        log_field = np.zeros(x.shape[:spatial])
        for coefficient, term in zip(params["coefficients"], _TERMS, strict=True):
            if spatial == 2 and term[2] > 0:
                continue
            factors = [
                legendre.legval(c, [0] * order + [1])
                for c, order in zip(coords, term, strict=False)
            ]
            basis = factors[0][None, :] * factors[1][:, None]
            if spatial == 3:
                basis = basis[None] * factors[2][:, None, None]
            log_field += coefficient * basis
        log_field -= log_field.mean()
        return x * np.exp(log_field).astype(np.float32)[..., None]


@register
class RicianNoise(_KSpace):
    """Rician noise of magnitude MR images: ``|x + sigma (z1 + i z2)|``.

    Examples
    --------
    >>> from silentscope.shifts import corrupt
    >>> images = np.zeros((1, 32, 32, 1), np.uint8)
    >>> noisy, _ = corrupt(images, "rician_noise", 5, seed=0)
    >>> bool(noisy.mean() > 10)  # the background turns bright (Rayleigh-distributed)
    True
    """

    name = "rician_noise"
    levels = {"generic": {"sigma": (0.02, 0.04, 0.06, 0.09, 0.12)}}
    identity = {"sigma": 0.0}
    stochastic = True

    def _corrupt(self, x, params):
        rng = np.random.default_rng(int(params["seed"]))
        sigma = np.float32(params["sigma"])
        real = x + sigma * rng.standard_normal(x.shape, dtype=np.float32)
        imaginary = sigma * rng.standard_normal(x.shape, dtype=np.float32)
        return np.sqrt(real**2 + imaginary**2)


@register
class KSpaceMotion(_KSpace):
    """Rigid translations during acquisition, as phase ramps on the later k-space lines.

    Examples
    --------
    >>> from silentscope.shifts import corrupt
    >>> images = np.zeros((1, 32, 32, 1), np.uint8); images[:, 8:24, 8:24] = 200
    >>> moved, records = corrupt(images, "kspace_motion", 5, seed=0)
    >>> bool(moved[0, :, :6].mean() > 1), records[0]["n_moves"]  # ghosts outside the square
    (True, 4)
    """

    name = "kspace_motion"
    levels = {"generic": {"n_moves": (1, 2, 2, 3, 4), "max_shift": (0.02, 0.04, 0.06, 0.08, 0.10)}}
    identity = {"n_moves": 0, "max_shift": 0.0}
    integer = frozenset({"n_moves"})
    drawn = ("times", "shifts")

    def draw(self, rng, params, n):
        times = np.sort(rng.uniform(0.1, 0.9, (n, _MAX_MOVES)), axis=1)
        shifts = rng.uniform(-1.0, 1.0, (n, _MAX_MOVES, 3)) * params["max_shift"][:, None, None]
        return {"times": times, "shifts": shifts}

    def _corrupt(self, x, params):
        spatial = x.ndim - 1
        k = _kspace(x)
        freqs = _frequencies(x)
        phase_axis = spatial - 2
        lines = x.shape[phase_axis]
        line_time = (np.arange(lines) + 0.5) / lines
        n_moves = int(params["n_moves"])
        times = params["times"][:n_moves]
        segment = np.searchsorted(times, line_time)  # 0 = before the first move
        # Positions per segment, relative to the one in which the k-space centre was read:
        # that position dominates the image, so the object stays put and the motion shows
        # as ghosts and blur, as in a real scan.
        positions = np.vstack([np.zeros(3), params["shifts"][:n_moves]])
        positions -= positions[segment[lines // 2]]
        ramp = np.ones(x.shape[:spatial], np.complex128)
        for j in range(n_moves + 1):
            shift = positions[j][3 - spatial :]  # (dz,) dy, dx as fractions of FOV
            rows = np.flatnonzero(segment == j)
            if not np.any(shift) or not len(rows):
                continue
            # exp(-2 pi i k.d) factorises over the axes: one 1-D ramp per axis, multiplied
            # out on this segment's lines only (one complex exponential per line and axis
            # instead of one per voxel and segment).
            factors = [
                np.exp(-2j * np.pi * f.reshape(-1) * s) for f, s in zip(freqs, shift, strict=True)
            ]
            factors[phase_axis] = factors[phase_axis][rows]
            block = factors[0].reshape((-1,) + (1,) * (spatial - 1))
            for axis in range(1, spatial):
                shape = [1] * spatial
                shape[axis] = -1
                block = block * factors[axis].reshape(shape)
            index = [slice(None)] * spatial
            index[phase_axis] = rows
            ramp[tuple(index)] = block
        return _image(k * ramp[..., None])


@register
class Ghosting(_KSpace):
    """Ghosts: every ``period``-th phase-encoding line scaled by ``1 - intensity``.

    Examples
    --------
    >>> from silentscope.shifts import corrupt
    >>> images = np.zeros((1, 32, 32, 1), np.uint8); images[:, 12:20, 12:20] = 250
    >>> ghosted, _ = corrupt(images, "ghosting", 5, seed=0)
    >>> bool(ghosted.sum() > images.sum() * 1.05 or ghosted[0, :10].max() > 20)
    True
    """

    name = "ghosting"
    levels = {"generic": {"intensity": (0.3, 0.45, 0.6, 0.75, 0.9)}}
    identity = {"intensity": 0.0}
    drawn = ("period", "axis")

    def draw(self, rng, params, n):
        return {"period": rng.integers(2, 6, n), "axis": rng.integers(0, 2, n)}

    def _corrupt(self, x, params):
        spatial = x.ndim - 1
        k = _kspace(x)
        axis = spatial - 2 + int(params["axis"])  # H or W
        length = x.shape[axis]
        scale = np.ones(length, np.float32)
        scale[:: int(params["period"])] = 1 - params["intensity"]
        scale[length // 2] = 1.0
        shape = [1] * x.ndim
        shape[axis] = length
        return _image(k * scale.reshape(shape))

"""Segmentation benchmarks: 3-D corruption throughput (and, from segmodel, training and MC).

Run from the repository root::

    python benchmarks/segmentation.py --part corruptions              # 8 volumes, 48^3
    python benchmarks/segmentation.py --part corruptions --size 64 --n 4
    python benchmarks/segmentation.py --part generator                # mni152:tissue volumes/s
    python benchmarks/segmentation.py --part training --part mc       # the U-Net (segmodel)

1. **corruptions**: volumes per second of every 3-D corruption in the unseen-shift suite,
   the texture filters and the generic intensity arm (``silentscope.shifts``, on uint8
   MNI152 tissue volumes, severity 3), against a plain per-volume reference written here
   from the formulas: float64 NumPy/SciPy, one volume at a time, full neighbourhoods
   (an exact 3-D bilateral filter over the (4 sigma + 1)^3 cube, 6 shifted copies per
   diffusion step, a generic affine resampling per zoom, the full Legendre basis on the
   grid, one phase ramp per k-space line). Both run the same drawn parameters and the same
   noise, so the last column is their agreement: the mean absolute difference in grey
   levels (0-255). Where silentscope uses an approximation (the separable bilateral
   filter) the column shows its size.
2. **generator**: ``mni152:tissue`` volumes per second (template cached), by size.
3. **training** and **mc**: the U-Net's training step against a bare torch loop, and
   MC-dropout inference batched against looped; see ``benchmarks/segmentation_models.py``
   (where their options live: ``python benchmarks/segmentation_models.py --help``).

Repeats are interleaved and the best is reported, since the machine is shared.
"""

from __future__ import annotations

import argparse
import itertools
import time

import numpy as np
from numpy.polynomial import legendre
from scipy import ndimage

from silentscope.data.mni152 import make_mni152_tissue, template
from silentscope.shifts import get_corruption

# ----------------------------------------------------------------------------------------
# Plain per-volume references (x: float64 (D, H, W) in [0, 1]; p: one volume's parameters)


def _k(x):
    return np.fft.fftshift(np.fft.fftn(x))


def _img(k):
    return np.abs(np.fft.ifftn(np.fft.ifftshift(k)))


def ref_rician(x, p):
    rng = np.random.default_rng(int(p["seed"]))
    shape = (*x.shape, 1)
    real = x + p["sigma"] * rng.standard_normal(shape, dtype=np.float32)[..., 0]
    imaginary = p["sigma"] * rng.standard_normal(shape, dtype=np.float32)[..., 0]
    return np.sqrt(real**2 + imaginary**2)


def ref_gibbs(x, p):
    k = _k(x)
    for axis, n in enumerate(x.shape):
        keep = np.abs(np.arange(n) - n // 2) <= p["fraction"] * n / 2
        shape = [1, 1, 1]
        shape[axis] = n
        k = k * keep.reshape(shape)
    return _img(k)


def ref_spike(x, p):
    k = _k(x)
    for s in range(int(p["n_spikes"])):
        index = tuple(
            int(np.clip(round(n // 2 + q * n), 0, n - 1))
            for q, n in zip(p["position"][s], x.shape, strict=True)
        )
        k[index] += p["intensity"] * x.mean() * x.size * np.exp(1j * p["phase"][s])
    return _img(k)


def ref_bias(x, p):
    terms = [t for t in itertools.product(range(4), repeat=3) if 0 < sum(t) <= 3]
    coefficients = np.zeros((4, 4, 4))
    for c, (i, j, k) in zip(p["coefficients"], terms, strict=True):
        coefficients[i, j, k] = c
    d, h, w = (np.linspace(-1, 1, n) for n in x.shape)
    zz, yy, xx = np.meshgrid(d, h, w, indexing="ij")
    field = legendre.legval3d(xx, yy, zz, coefficients)  # (x, y, z) = (W, H, D)
    return x * np.exp(field - field.mean())


def ref_motion(x, p):
    k = _k(x)
    lines = x.shape[1]
    n_moves = int(p["n_moves"])
    times = p["times"][:n_moves]
    positions = np.vstack([np.zeros(3), p["shifts"][:n_moves]])
    segment = np.searchsorted(times, (np.arange(lines) + 0.5) / lines)
    positions = positions - positions[segment[lines // 2]]
    fd, fw = (np.arange(n) - n // 2 for n in (x.shape[0], x.shape[2]))
    for line in range(lines):  # one phase ramp per phase-encoding line
        dz, dy, dx = positions[segment[line]]
        phase = fd[:, None] * dz + (line - lines // 2) * dy + fw[None, :] * dx
        k[:, line, :] *= np.exp(-2j * np.pi * phase)
    return _img(k)


def ref_ghosting(x, p):
    k = _k(x)
    axis = 1 + int(p["axis"])
    n = x.shape[axis]
    scale = np.ones(n)
    scale[:: int(p["period"])] = 1 - p["intensity"]
    scale[n // 2] = 1
    shape = [1, 1, 1]
    shape[axis] = n
    return _img(k * scale.reshape(shape))


def ref_diffusion(x, p):
    x = x.copy()
    for _ in range(int(p["iterations"])):
        padded = np.pad(x, 1, mode="edge")
        centre = padded[1:-1, 1:-1, 1:-1]
        update = np.zeros_like(x)
        for axis in range(3):
            for step in (-1, 1):
                diff = np.roll(padded, step, axis=axis)[1:-1, 1:-1, 1:-1] - centre
                update += np.exp(-((diff / 0.1) ** 2)) * diff
        x += 0.8 / 6 * update
    return x


def ref_bilateral(x, p, sigma_space=None):
    sigma_space = p["sigma_space"] if sigma_space is None else sigma_space
    r = max(1, int(np.ceil(2 * sigma_space)))
    grey = x * 255
    padded = np.pad(grey, r, mode="reflect")
    total = np.zeros_like(grey)
    weights = np.zeros_like(grey)
    n = grey.shape
    for dz, dy, dx in itertools.product(range(-r, r + 1), repeat=3):  # the full cube
        shifted = padded[r + dz : r + dz + n[0], r + dy : r + dy + n[1], r + dx : r + dx + n[2]]
        w = np.exp(-(dz * dz + dy * dy + dx * dx) / (2 * sigma_space**2)) * np.exp(
            -((shifted - grey) ** 2) / (2 * p["sigma_color"] ** 2)
        )
        total += w * shifted
        weights += w
    return total / weights / 255


def ref_texture_noise(x, p):
    smooth = ref_bilateral(x, p, sigma_space=2.0)
    rng = np.random.default_rng(int(p["seed"]))
    noise = ndimage.gaussian_filter(
        rng.standard_normal((*x.shape, 1), dtype=np.float32)[..., 0].astype(float),
        1.0,
        mode="mirror",
    )
    return smooth + noise * p["amplitude"] / noise.std()


def ref_sobel(x, p):
    grey = ndimage.gaussian_filter(x, 1.0, mode="mirror")
    edges = np.sqrt(sum(ndimage.sobel(grey, axis=a, mode="mirror") ** 2 for a in range(3)))
    edges = np.clip(edges / max(np.percentile(edges, 99), 1e-6), 0, 1)
    return (1 - p["alpha"]) * x + p["alpha"] * edges


def ref_gaussian_noise(x, p):
    rng = np.random.default_rng(int(p["seed"]))
    return x + p["sigma"] * rng.standard_normal((*x.shape, 1), dtype=np.float32)[..., 0]


def ref_zoom_blur(x, p):
    total = 2 * x
    count = int(np.floor((p["max_zoom"] - 1) / p["step"] + 1e-6)) + 1
    centre = (np.asarray(x.shape) - 1) / 2
    for zoom in 1 + p["step"] * np.arange(1, count):
        total += ndimage.affine_transform(
            x, np.full(3, 1 / zoom), offset=centre - centre / zoom, order=1, mode="nearest"
        )
    return total / (count + 1)


REFERENCES = {
    "rician_noise": ref_rician,
    "kspace_motion": ref_motion,
    "ghosting": ref_ghosting,
    "kspace_spike": ref_spike,
    "gibbs_ringing": ref_gibbs,
    "bias_field": ref_bias,
    "anisotropic_diffusion": ref_diffusion,
    "bilateral_filter": ref_bilateral,
    "texture_noise": ref_texture_noise,
    "sobel_edges": ref_sobel,
    "gaussian_noise": ref_gaussian_noise,
    "zoom_blur": ref_zoom_blur,
}


def _reference(name: str, volumes: np.ndarray, params: dict) -> np.ndarray:
    out = np.empty_like(volumes)
    for i, volume in enumerate(volumes):
        row = {key: value[i] for key, value in params.items()}
        x = volume[..., 0].astype(np.float64) / 255
        out[i, ..., 0] = np.clip(np.floor(REFERENCES[name](x, row) * 255 + 0.5), 0, 255)
    return out


def _best(function, repeats: int) -> tuple[float, object]:
    best, result = np.inf, None
    for _ in range(repeats):
        start = time.perf_counter()
        result = function()
        best = min(best, time.perf_counter() - start)
    return best, result


def corruptions(size: int, n: int, repeats: int, severity: int = 3) -> None:
    volumes = np.rint(
        make_mni152_tissue(size=size, n_train=n, n_val=0, n_test=0, seed=0).train.images * 255
    ).astype(np.uint8)
    print(f"3-D corruption throughput: {n} MNI152 tissue volumes of {size}^3, severity {severity}")
    print(
        f"{'corruption':24s} {'silentscope':>12s} {'reference':>11s} {'speed-up':>9s} {'|diff|':>8s}"
    )
    print(f"{'':24s} {'vol/s':>12s} {'vol/s':>11s} {'':>9s} {'grey lv':>8s}")
    for name in REFERENCES:
        corruption = get_corruption(name, "mri")
        params = corruption.sample_params(np.random.default_rng(0), severity, n)
        ours, out = _best(lambda c=corruption, p=params: c.apply(volumes, p), repeats)
        plain, expected = _best(lambda r=name, p=params: _reference(r, volumes, p), 1)
        if plain < 2.0:  # repeat the fast references too; the exact bilateral filter once
            plain = min(
                plain, _best(lambda r=name, p=params: _reference(r, volumes, p), repeats)[0]
            )
        difference = np.abs(out.astype(float) - expected).mean()
        print(
            f"{name:24s} {n / ours:12.1f} {n / plain:11.2f} {plain / ours:8.1f}x {difference:8.3f}"
        )


def generator(sizes: list[int], n: int, repeats: int) -> None:
    print(f"mni152:tissue generation, {n} volumes per size (template cached beforehand)")
    print(f"{'size':>6s} {'template s':>11s} {'volumes/s':>10s}")
    for size in sizes:
        start = time.perf_counter()
        template(size)
        cached = time.perf_counter() - start
        seconds, _ = _best(
            lambda s=size: make_mni152_tissue(size=s, n_train=n, n_val=0, n_test=0, seed=0),
            repeats,
        )
        print(f"{size:6d} {cached:11.2f} {n / seconds:10.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--part", choices=["corruptions", "generator", "training", "mc"], action="append"
    )
    parser.add_argument("--size", type=int, default=48)
    parser.add_argument("--n", type=int, default=8)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    parts = args.part or ["corruptions", "generator", "training", "mc"]
    if "corruptions" in parts:
        corruptions(args.size, args.n, args.repeats)
    if "generator" in parts:
        generator([32, 48, 64], args.n, args.repeats)
    if "training" in parts or "mc" in parts:
        import segmentation_models  # beside this file: benchmarks/ is on sys.path when run

        if "training" in parts:
            segmentation_models.training(args.size, 8, 2, 1, args.repeats)
        if "mc" in parts:
            segmentation_models.mc(args.size, 4, 10, 1, args.repeats)


if __name__ == "__main__":
    main()

"""Corruption throughput: silentscope's registry against the MedMNIST-C reference implementation.

Run from the repository root::

    python benchmarks/shifts.py                 # 28, 64 and 224 px, DermaMNIST test images
    python benchmarks/shifts.py --sizes 224 --preview-out side_by_side.png

For every generic corruption MedMNIST-C defines, both implementations corrupt the same
RGB DermaMNIST test images (resized to each size) at severities 1-5 with the same
constants (MedMNIST-C's DermaMNIST table; ChestMNIST's for Gaussian blur and gamma,
PathMNIST's for saturation), and the table reports images per second and the speed-up.
The reference runs image by image through PIL, as its ``DatasetManager`` does.

Notes on fairness:
- MedMNIST-C's constants are defined at 224 px and applied unscaled at every size;
  silentscope rescales spatial constants (blur radii) to the image size. Below 224 px
  the two therefore run different blur radii; the kernel sizes, and so the cost, differ
  little for the reference (its disk kernel is 17 x 17 for every radius up to 8).
- The reference imports ``torchvision`` for two functions (Gaussian blur and gamma).
  torchvision is not installed here (it would replace the CPU torch build), so a small
  stand-in module re-implements exactly those two torchvision PIL code paths (gamma: a
  256-entry ``Image.point`` table; blur: reflect padding and a separable Gaussian
  ``conv2d`` in torch, rounded back to uint8). Their timings are the stand-in's.
- The reference needs ``pip install medmnistc wand scikit-image`` (installed with
  ``--no-deps``: its pinned dependencies pull torchvision) and ImageMagick's
  ``libmagickwand-dev``. Without it the table shows silentscope alone, with the reason.
- Equivalence (printed at 224 px): the mean change from the clean image per severity
  agrees within about half a grey level for noise, JPEG, pixelation and the photometric
  corruptions. The reference truncates floats to uint8 (a -0.5 level bias) where silentscope
  rounds, and its radius-8 defocus kernel sums to 1.013 (blurred after normalising), which
  brightens the image by 1.3%: hence its larger defocus change at severity 5.
- The reference's motion blur calls ``np.fromstring`` on bytes, which NumPy 2 removed;
  inside the reference's module only, that name is pointed at ``np.frombuffer`` (which
  reads the same bytes without a copy).
"""

from __future__ import annotations

import argparse
import sys
import time
import types
from pathlib import Path

import cv2
import numpy as np
import torch

from silentscope.shifts import get_corruption

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"

# name -> (silentscope modality with the same constants, MedMNIST-C dataset table)
PAIRS = {
    "gaussian_noise": ("dermatoscopy", "dermamnist"),
    "shot_noise": ("dermatoscopy", "dermamnist"),
    "impulse_noise": ("dermatoscopy", "dermamnist"),
    "speckle_noise": ("dermatoscopy", "dermamnist"),
    "gaussian_blur": ("xray", "chestmnist"),
    "defocus_blur": ("dermatoscopy", "dermamnist"),
    "motion_blur": ("dermatoscopy", "dermamnist"),
    "zoom_blur": ("dermatoscopy", "dermamnist"),
    "jpeg_compression": ("dermatoscopy", "dermamnist"),
    "pixelate": ("dermatoscopy", "dermamnist"),
    "brightness_up": ("dermatoscopy", "dermamnist"),
    "brightness_down": ("dermatoscopy", "dermamnist"),
    "contrast_up": ("dermatoscopy", "dermamnist"),
    "contrast_down": ("dermatoscopy", "dermamnist"),
    "gamma_corr_up": ("xray", "chestmnist"),
    "gamma_corr_down": ("xray", "chestmnist"),
    "saturate": ("histology", "pathmnist"),
}
# Reference corruptions that run through the torchvision stand-in below.
STAND_IN = {"gaussian_blur", "gamma_corr_up", "gamma_corr_down"}
PREVIEW_EXTRA = {
    "black_corner": ("dermatoscopy", "dermamnist"),
    "characters": ("dermatoscopy", "dermamnist"),
}


def _torchvision_stand_in() -> None:
    """Register a minimal ``torchvision.transforms.functional`` for the reference's two calls."""
    import torch
    from PIL import Image

    def adjust_gamma(img, gamma, gain=1):
        table = [int((255 + 1 - 1e-3) * gain * pow(v / 255.0, gamma)) for v in range(256)]
        return img.point(table * len(img.getbands()))

    def gaussian_blur(img, kernel_size, sigma=None):
        sigma = 0.3 * ((kernel_size - 1) * 0.5 - 1) + 0.8 if sigma is None else sigma
        x = torch.arange(kernel_size, dtype=torch.float32) - (kernel_size - 1) / 2
        k1 = torch.exp(-0.5 * (x / sigma) ** 2)
        k1 /= k1.sum()
        array = np.asarray(img)
        grey = array.ndim == 2
        t = (
            torch.from_numpy(array.reshape(*array.shape[:2], -1).copy())
            .permute(2, 0, 1)[:, None]
            .float()
        )
        pad = kernel_size // 2
        t = torch.nn.functional.pad(t, (pad, pad, pad, pad), mode="reflect")
        t = torch.nn.functional.conv2d(t, (k1[:, None] * k1[None, :])[None, None])
        out = t.round().clamp(0, 255).to(torch.uint8)[:, 0].permute(1, 2, 0).numpy()
        return Image.fromarray(out[..., 0] if grey else out)

    functional = types.ModuleType("torchvision.transforms.functional")
    functional.adjust_gamma = adjust_gamma
    functional.gaussian_blur = gaussian_blur
    transforms = types.ModuleType("torchvision.transforms")
    transforms.functional = functional
    package = types.ModuleType("torchvision")
    package.transforms = transforms
    sys.modules.update(
        {
            "torchvision": package,
            "torchvision.transforms": transforms,
            "torchvision.transforms.functional": functional,
        }
    )


def load_reference():
    """MedMNIST-C's corruption table, or the reason it cannot be used."""
    try:
        import torchvision  # noqa: F401
    except ImportError:
        _torchvision_stand_in()
    try:
        from medmnistc.corruptions.registry import CORRUPTIONS_DS
    except Exception as error:  # any import failure (missing Wand library, ...) is reported
        return None, f"{type(error).__name__}: {error}"
    from medmnistc.corruptions import filter as reference_filter

    numpy_2 = types.SimpleNamespace(
        **{k: getattr(np, k) for k in dir(np) if not k.startswith("__")}
    )
    numpy_2.fromstring = np.frombuffer
    reference_filter.np = numpy_2
    return CORRUPTIONS_DS, None


def reference_corrupt(
    table, name: str, images: np.ndarray, severity: int, seed: int = 0
) -> np.ndarray:
    """Run a MedMNIST-C corruption image by image, as its DatasetManager does."""
    import random

    from PIL import Image

    corruption = table[PAIRS.get(name, PREVIEW_EXTRA.get(name))[1]][name]
    # The reference draws from numpy's and Python's global generators.
    np.random.seed(seed)  # noqa: NPY002
    random.seed(seed)
    corruption.rng = np.random.default_rng(seed)  # its impulse noise reads this attribute
    return np.stack(
        [np.asarray(corruption.apply(Image.fromarray(im), severity - 1)) for im in images]
    )


def load_images(n: int, size: int) -> np.ndarray:
    path = DATA / "medmnist" / "dermamnist.npz"
    if not path.is_file():
        sys.exit(
            f"DermaMNIST not found at {path}; set up ../shared/data as described in its README"
        )
    images = np.load(path)["test_images"][:n]
    interpolation = cv2.INTER_CUBIC if size > 28 else cv2.INTER_AREA
    return np.stack([cv2.resize(im, (size, size), interpolation=interpolation) for im in images])


def sharp_image(size: int) -> np.ndarray:
    """A sharp RGB test image (an ODIR fundus crop), so that blurs are visible side by side."""
    files = sorted((DATA / "odir" / "images").glob("*_N.jpg"))
    if not files:  # upscaled DermaMNIST is already soft, but still shows every corruption
        return load_images(4, size)[3:4]
    image = cv2.cvtColor(cv2.imread(str(files[3])), cv2.COLOR_BGR2RGB)
    image = cv2.resize(image, (400, 400), interpolation=cv2.INTER_AREA)[60:340, 20:300]
    return cv2.resize(image, (size, size), interpolation=cv2.INTER_AREA)[None]


def timed(function, repeats: int = 1) -> float:
    best = np.inf
    for _ in range(repeats):
        start = time.perf_counter()
        function()
        best = min(best, time.perf_counter() - start)
    return best


def benchmark(sizes, counts, table) -> list[tuple]:
    rows = []
    for size in sizes:
        n = counts[size]
        images = load_images(n, size)
        for name, (modality, _) in PAIRS.items():
            ours = get_corruption(name, modality)

            def run_ours(ours=ours, images=images):
                for severity in range(1, 6):
                    ours.apply(
                        images,
                        ours.sample_params(np.random.default_rng(severity), severity, len(images)),
                    )

            t_ours = timed(run_ours, repeats=2)
            t_ref = np.nan
            if table is not None:
                t_ref = timed(
                    lambda name=name, images=images: [
                        reference_corrupt(table, name, images, s) for s in range(1, 6)
                    ]
                )
            rows.append(
                (size, name, 5 * n / t_ours, 5 * n / t_ref, t_ours / (5 * n), t_ref / (5 * n))
            )
    return rows


def print_table(rows, reason: str | None) -> None:
    print(
        f"{'size':>4}  {'corruption':<17} {'silentscope img/s':>18} {'MedMNIST-C img/s':>17} {'speed-up':>9}"
    )
    for size in sorted({r[0] for r in rows}):
        subset = [r for r in rows if r[0] == size]
        for _, name, ours, ref, _, _ in subset:
            speedup = f"{ours / ref:8.1f}x" if np.isfinite(ref) else "       -"
            ref_text = f"{ref:17.0f}" if np.isfinite(ref) else f"{'-':>17}"
            print(f"{size:>4}  {name:<17} {ours:18.0f} {ref_text} {speedup}")
        suite_ours = sum(r[4] for r in subset)
        suite_ref = sum(r[5] for r in subset)
        if np.isfinite(suite_ref):
            print(
                f"{size:>4}  {'FULL SUITE':<17} {1 / suite_ours:18.1f} {1 / suite_ref:17.1f} "
                f"{suite_ref / suite_ours:8.1f}x   (images/s through all {len(subset)} corruptions)"
            )
            own = [r for r in subset if r[1] not in STAND_IN]
            own_ours, own_ref = sum(r[4] for r in own), sum(r[5] for r in own)
            print(
                f"{size:>4}  {'SUITE w/o stand-in':<17} {1 / own_ours:18.1f} {1 / own_ref:17.1f} "
                f"{own_ref / own_ours:8.1f}x   (leaving out {', '.join(sorted(STAND_IN))})"
            )
        else:
            print(f"{size:>4}  {'FULL SUITE':<17} {1 / suite_ours:18.1f} {'-':>17}")
        print()
    if reason:
        print(f"reference skipped: {reason}")


def equivalence(table, size: int = 224, n: int = 8) -> None:
    """Mean absolute change from the clean images per severity, both implementations."""
    images = load_images(n, size).astype(float)
    print(f"mean |corrupted - clean| (grey levels) at {size} px, {n} images, severities 1-5")
    print(f"{'corruption':<17} {'silentscope':>34}   {'MedMNIST-C':>34}")
    for name, (modality, _) in PAIRS.items():
        ours = get_corruption(name, modality)
        clean = images.astype(np.uint8)
        mine = [
            np.abs(
                ours.apply(clean, ours.sample_params(np.random.default_rng(0), s, n)) - images
            ).mean()
            for s in range(1, 6)
        ]
        theirs = [
            np.abs(reference_corrupt(table, name, clean, s) - images).mean() for s in range(1, 6)
        ]
        print(
            f"{name:<17} {' '.join(f'{v:6.2f}' for v in mine):>34}   "
            f"{' '.join(f'{v:6.2f}' for v in theirs):>34}"
        )
    print()


def side_by_side(table, out: Path, size: int = 224) -> None:
    """Rows: each corruption, silentscope then MedMNIST-C; columns: severities 1-5 (224 px)."""
    from PIL import Image, ImageDraw, ImageFont

    image = sharp_image(size)
    names = list(PAIRS) + list(PREVIEW_EXTRA)
    font = ImageFont.load_default(size=16)
    label, gap = 230, 2
    canvas = Image.new(
        "RGB", (label + 5 * (size + gap), 24 + 2 * len(names) * (size + gap)), "white"
    )
    draw = ImageDraw.Draw(canvas)
    for s in range(5):
        draw.text(
            (label + s * (size + gap) + size // 2, 4),
            str(s + 1),
            fill="black",
            font=font,
            anchor="mt",
        )
    row = 0
    for name in names:
        modality = {**PAIRS, **PREVIEW_EXTRA}[name][0]
        ours = get_corruption(name, modality)
        for who in ("silentscope", "MedMNIST-C"):
            y = 24 + row * (size + gap)
            draw.text((4, y + size // 2), f"{name}\n({who})", fill="black", font=font, anchor="lm")
            for s in range(1, 6):
                if who == "silentscope":
                    tile = ours.apply(image, ours.sample_params(np.random.default_rng(0), s, 1))[0]
                else:
                    tile = reference_corrupt(table, name, image, s)[0]
                canvas.paste(Image.fromarray(tile), (label + (s - 1) * (size + gap), y))
            row += 1
    canvas.save(out)
    print(f"wrote {out}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[28, 64, 224])
    parser.add_argument("--threads", type=int, default=1, help="OpenCV and torch threads")
    parser.add_argument(
        "--n", type=int, nargs="+", default=None, help="images per size (default 200, 100, 20)"
    )
    parser.add_argument(
        "--preview-out", type=Path, default=None, help="write a side-by-side PNG at 224 px"
    )
    args = parser.parse_args()
    defaults = {28: 200, 64: 100, 224: 20}
    counts = (
        dict(zip(args.sizes, args.n, strict=True))
        if args.n
        else {s: defaults.get(s, 20) for s in args.sizes}
    )
    cv2.setNumThreads(args.threads)
    torch.set_num_threads(args.threads)
    print(f"threads: {args.threads} (OpenCV and torch, both implementations)\n")
    table, reason = load_reference()
    print_table(benchmark(args.sizes, counts, table), reason)
    if table is not None and 224 in args.sizes:
        equivalence(table)
    if args.preview_out is not None:
        if table is None:
            print(f"side-by-side preview skipped: {reason}")
        else:
            side_by_side(table, args.preview_out)


if __name__ == "__main__":
    main()

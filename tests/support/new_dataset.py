"""A small, imbalanced, binary image dataset in the MedMNIST npz layout, made here.

It stands in for a dataset the project was never developed on: 546 / 78 / 156 grey 28 px
images (BreastMNIST's split sizes), 27% minority class, lesions drawn as ellipses on speckle.
The minority class ("malignant") has irregular, darker lesions; the majority ("normal, benign")
smooth round ones. The classes overlap on purpose, so a small network learns something but
not everything, and a network that learns nothing shows up as predicting the majority class.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

#: Official BreastMNIST split sizes; the file name makes the MedMNIST adapter read it as such.
SPLIT_SIZES = {"train": 546, "val": 78, "test": 156}
MINORITY_SHARE = 0.27
SIZE = 28


def _lesion(rng: np.random.Generator, malignant: bool) -> np.ndarray:
    yy, xx = np.mgrid[0:SIZE, 0:SIZE].astype(np.float32)
    cy, cx = rng.uniform(10, 18, size=2)
    radius = rng.uniform(5.0, 8.0) if malignant else rng.uniform(3.0, 6.0)
    angle = np.arctan2(yy - cy, xx - cx)
    # Malignant lesions have a spiculated (angle-dependent) border; benign ones are smooth.
    wobble = rng.uniform(0.2, 0.45) if malignant else rng.uniform(0.0, 0.1)
    lobes = rng.integers(3, 7)
    border = radius * (1 + wobble * np.sin(lobes * angle + rng.uniform(0, 2 * np.pi)))
    distance = np.hypot(yy - cy, xx - cx)
    inside = 1.0 / (1.0 + np.exp((distance - border) * 1.5))
    background = rng.uniform(110, 150)
    depth = rng.uniform(55, 90) if malignant else rng.uniform(30, 65)
    speckle = rng.gamma(shape=8.0, scale=1 / 8.0, size=(SIZE, SIZE))
    image = (background - depth * inside) * speckle + rng.normal(0, 6, size=(SIZE, SIZE))
    return np.clip(image, 0, 255).astype(np.uint8)


def make_split(n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """``n`` images and (n, 1) uint8 labels: 0 malignant (minority), 1 normal/benign."""
    n_minority = int(round(MINORITY_SHARE * n))
    labels = np.array([0] * n_minority + [1] * (n - n_minority), dtype=np.uint8)
    rng.shuffle(labels)
    images = np.stack([_lesion(rng, malignant=label == 0) for label in labels])
    return images, labels[:, None]


def write_breast_like(root: str | Path, seed: int = 0) -> Path:
    """Write ``<root>/breastmnist.npz`` and return its path."""
    rng = np.random.default_rng(seed)
    arrays = {}
    for split, n in SPLIT_SIZES.items():
        arrays[f"{split}_images"], arrays[f"{split}_labels"] = make_split(n, rng)
    path = Path(root) / "breastmnist.npz"
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(path, **arrays)
    return path

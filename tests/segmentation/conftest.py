"""Tiny segmentation data made in the tests: bright blobs (class 1) and rings (class 2)."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest


def blobs(n: int, side: int = 12, seed: int = 0, spatial_dims: int = 3):
    """Volumes with a cube (class 1) inside a shell (class 2), at random places; noisy images."""
    rng = np.random.default_rng(seed)
    shape = (n,) + (side,) * spatial_dims
    labels = np.zeros(shape, np.int64)
    for i in range(n):
        lo = rng.integers(1, side // 2 - 1, spatial_dims)
        outer = tuple(slice(a, a + side // 2) for a in lo)
        inner = tuple(slice(a + 1, a + side // 2 - 1) for a in lo)
        labels[(i, *outer)] = 2
        labels[(i, *inner)] = 1
    images = labels * 0.5 + rng.normal(0, 0.15, shape)
    return SimpleNamespace(
        images=images[..., None].astype(np.float32),
        labels=labels,
        class_names=("background", "core", "shell"),
        ids=tuple(f"s{seed}-{i}" for i in range(n)),
        spacing=(1.0,) * spatial_dims,
    )


@pytest.fixture(scope="module")
def toy():
    return SimpleNamespace(train=blobs(8, seed=0), val=blobs(4, seed=1), test=blobs(4, seed=2))

"""Dataset files for tests, written in the layout of the real downloads."""

from __future__ import annotations

import numpy as np


def chest_npz(path, labels=None):
    """A ChestMNIST-shaped npz (14 binary findings, 28 x 28) with seeded random content."""
    rng = np.random.default_rng(1)
    arrays = {}
    for split, n in (("train", 8), ("val", 3), ("test", 4)):
        arrays[f"{split}_images"] = rng.integers(0, 256, (n, 28, 28), dtype=np.uint8)
        arrays[f"{split}_labels"] = rng.integers(0, 2, (n, 14), dtype=np.uint8)
    arrays["train_labels"][0] = 0  # one image without any finding
    arrays.update(labels or {})
    np.savez(path, **arrays)
    return arrays

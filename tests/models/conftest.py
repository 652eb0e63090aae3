"""Fixtures for the model tests: tiny real subsets of PneumoniaMNIST and DermaMNIST."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from silentscope.data import load_medmnist
from tests.support.training import TINY


def _small(dataset, n_train: int, n_val: int, n_test: int):
    # A seeded random subset of each split, not its first rows: the first 160 training
    # images of the shared PneumoniaMNIST file are all "normal", and a one-class training
    # set trains a network that predicts one class (the degenerate-model guard says so).
    rng = np.random.default_rng(0)
    rows = np.concatenate(
        [
            np.sort(rng.permutation(np.flatnonzero(dataset.split == split))[:n])
            for split, n in (("train", n_train), ("val", n_val), ("test", n_test))
        ]
    )
    return dataset.subset(rows)


@pytest.fixture(autouse=True)
def one_thread():
    """One torch thread per test: the machine's cores are shared with the rest of the suite."""
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)


@pytest.fixture
def tiny() -> dict:
    """Trainer settings for fast tests (a fresh copy per test)."""
    return dict(TINY)


@pytest.fixture(scope="session")
def pneumonia(medmnist_dir):
    """PneumoniaMNIST (grey, 2 classes): 160 train, 48 val, 48 test images."""
    return _small(load_medmnist("pneumoniamnist", medmnist_dir), 160, 48, 48)


@pytest.fixture(scope="session")
def derma(medmnist_dir):
    """DermaMNIST (RGB, 7 classes): 96 train, 32 val, 32 test images."""
    if not (medmnist_dir / "dermamnist.npz").is_file():
        pytest.skip(f"dermamnist.npz not found in {medmnist_dir}")
    return _small(load_medmnist("dermamnist", medmnist_dir), 96, 32, 32)

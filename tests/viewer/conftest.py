"""Fixtures of the viewer tests: prepared audit stores (real ODIR and MedMNIST data, and synthetic clusters)."""

from __future__ import annotations

import pytest

from silentscope.viewer.data import load_viewer_data
from silentscope.viewer.prepare import prepare_store
from tests.support.stores import build_medmnist_store, build_odir_store, build_synthetic_store


@pytest.fixture(scope="session")
def synthetic(tmp_path_factory):
    """(store, truth) of four known clusters, embedded with PCA."""
    store, truth = build_synthetic_store(tmp_path_factory.mktemp("synthetic") / "store")
    prepare_store(store, method="pca", csfs=["MSR", "MLS"])
    return store, truth


@pytest.fixture(scope="session")
def synthetic_data(synthetic):
    return load_viewer_data(synthetic[0])


@pytest.fixture(scope="session")
def odir_store(odir_dir, tmp_path_factory):
    store = build_odir_store(odir_dir, tmp_path_factory.mktemp("odir") / "store", n_per_class=60)
    prepare_store(store, method="pca")
    return store


@pytest.fixture(scope="session")
def odir_data(odir_store, odir_dir):
    # The photographs live in the shared data folder, outside the store's folder.
    return load_viewer_data(odir_store, image_root=odir_dir)


@pytest.fixture(scope="session")
def medmnist_store(medmnist_dir, tmp_path_factory):
    store = build_medmnist_store(medmnist_dir, tmp_path_factory.mktemp("medmnist") / "store", n=120)
    prepare_store(store, method="pca", csfs=["MSR"])
    return store

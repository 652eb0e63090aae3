"""Shared fixtures: the real medical datasets in ../shared/data, skipped visibly where absent."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]


def shared_data_dir() -> Path:
    """Where the shared real datasets live: $SILENTSCOPE_DATA or ../shared/data beside the repo."""
    return Path(os.environ.get("SILENTSCOPE_DATA", REPO_ROOT.parent / "shared" / "data"))


@pytest.fixture(scope="session")
def shared_data() -> Path:
    root = shared_data_dir()
    if not root.is_dir():
        pytest.skip(f"real datasets not found at {root} (set SILENTSCOPE_DATA to their folder)")
    return root


@pytest.fixture(scope="session")
def medmnist_dir(shared_data: Path) -> Path:
    path = shared_data / "medmnist"
    if not (path / "pneumoniamnist.npz").is_file():
        pytest.skip(f"MedMNIST files not found in {path}")
    return path


@pytest.fixture(scope="session")
def odir_dir(shared_data: Path) -> Path:
    path = shared_data / "odir"
    if not (path / "metadata.csv").is_file():
        pytest.skip(f"ODIR-5K files not found in {path}")
    return path


@pytest.fixture(scope="session")
def iu_xray_dir(shared_data: Path) -> Path:
    path = shared_data / "iu_xray"
    if not (path / "indiana_reports.csv").is_file():
        pytest.skip(f"Indiana chest X-ray reports not found in {path}")
    return path


@pytest.fixture(scope="session")
def odir_metadata(odir_dir: Path):
    """ODIR-5K patient metadata, one row per distinct image (subgroup and predictor tests)."""
    # imported when used: the planted helpers import silentscope.slices (scikit-learn)
    from tests.support.planted import load_odir_metadata

    return load_odir_metadata(odir_dir)

"""load_dataset by exact name or path, the preview grid, and the ``silentscope data`` CLI."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from PIL import Image
from typer.testing import CliRunner

from silentscope.cli import app
from silentscope.data import (
    DatasetError,
    available_datasets,
    load_dataset,
    make_synthetic,
    preview_grid,
    save_preview,
)
from silentscope.data.registry import DATASETS, register_dataset

runner = CliRunner()


def test_names_are_exact():
    assert "synthetic" in available_datasets() and "medmnist:pneumoniamnist" in available_datasets()
    for near_miss in ("synth", "Synthetic", "synthetic ", "medmnist", "odir2"):
        with pytest.raises(DatasetError, match="unknown dataset"):
            load_dataset(near_miss)


def test_options_are_checked_against_the_adapter():
    with pytest.raises(
        DatasetError, match="takes no option 'n_images'; its options are n_samples, size, seed"
    ):
        load_dataset("synthetic", n_images=10)
    with pytest.raises(ValueError, match="already registered"):
        register_dataset("synthetic")(make_synthetic)
    assert DATASETS["synthetic"] is make_synthetic


def test_paths_dispatch_by_what_they_hold(tmp_path):
    with pytest.raises(DatasetError, match="not named like a MedMNIST file"):
        np.savez(tmp_path / "mine.npz", x=np.zeros(1))
        load_dataset(tmp_path / "mine.npz")
    with pytest.raises(FileNotFoundError):
        load_dataset(tmp_path / "pathmnist.npz")


@pytest.fixture(scope="module")
def small():
    return make_synthetic(240, 24, seed=0)


def test_preview_has_one_row_per_class_slice_and_site(small, tmp_path):
    grid = preview_grid(small, per_row=4, cell=32)
    groups = 3 + 3 + 2  # classes, gt_slice_* columns, sites
    assert grid.size == (190 + 4 * 32, groups * 32)
    path = save_preview(small, tmp_path / "p.png", per_row=4, cell=32)
    assert Image.open(path).size == grid.size
    with pytest.raises(DatasetError, match="ending in .png"):
        save_preview(small, tmp_path / "p.jpg")


def test_cli_info_prints_counts_and_duplicates(medmnist_dir, tmp_path):
    result = runner.invoke(
        app,
        [
            "data",
            "info",
            "medmnist:pneumoniamnist",
            "--root",
            str(medmnist_dir),
            "--json",
            str(tmp_path / "s.json"),
        ],
    )
    assert result.exit_code == 0, result.output
    assert "4708" in result.output and "27 groups" in result.output
    summary = json.loads((tmp_path / "s.json").read_text())
    assert summary["duplicates"]["n_cross_split"] == 8
    assert summary["counts"]["total"]["total"] == 5856


def test_cli_info_and_preview_on_synthetic(tmp_path):
    result = runner.invoke(
        app, ["data", "info", "synthetic", "-O", "n_samples=300", "--size", "24"]
    )
    assert result.exit_code == 0, result.output
    assert "gt_slice_rare" in result.output and "report text" in result.output
    assert "300 images" in result.output
    out = tmp_path / "grid.png"
    result = runner.invoke(
        app, ["data", "preview", "synthetic", "--out", str(out), "-O", "n_samples=240"]
    )
    assert result.exit_code == 0, result.output
    assert Image.open(out).size[1] == 8 * 96


def test_cli_errors_are_one_line_with_exit_code_2():
    result = runner.invoke(app, ["data", "info", "synthetic", "--root", "/nowhere"])
    assert result.exit_code == 2
    assert "takes no option 'root'" in result.output
    result = runner.invoke(app, ["data", "info", "no_such_dataset"])
    assert result.exit_code == 2 and "unknown dataset" in result.output
    result = runner.invoke(app, ["data", "info", "synthetic", "-O", "n_samples"])
    assert result.exit_code == 2 and "key=value" in result.output


def test_write_npz_round_trips_through_refs_and_the_medmnist_reader(small, tmp_path):
    from silentscope.data import load_medmnist, read_image_ref, write_npz

    refs = write_npz(small, tmp_path / "breastmnist.npz")
    rows = [0, 17, len(small) - 1]
    for row in rows:
        assert (read_image_ref(refs[row]) == small.load_images([row])[0]).all()
    with pytest.raises(DatasetError, match="has only"):
        read_image_ref(str(refs[0]).rsplit("/", 1)[0] + "/99999")
    with pytest.raises(FileNotFoundError):
        read_image_ref(str(tmp_path / "gone.npz") + "#test_images/0")
    # The file has the MedMNIST layout, so the MedMNIST reader checks it (and finds 24 px).
    reread = np.load(tmp_path / "breastmnist.npz")
    assert reread["train_images"].shape[1:] == (24, 24, 3)
    with pytest.raises(DatasetError, match="24x24 px but size=28"):
        load_medmnist("breastmnist", tmp_path, size=28)


def test_info_gives_each_metadata_column_its_role():
    # An identifier summarised as "0 to 4690 (median 2440)" reads like a measurement; the
    # role (the one rule of silentscope.audit.roles) says which columns the analyses use.
    from silentscope.data.dataset import ImageDataset
    from silentscope.data.summary import summarize

    n = 80
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 2, n)
    data = ImageDataset(
        "toy", np.zeros((n, 4, 4), np.uint8), labels, ("no", "yes"),
        np.array(["train"] * 60 + ["test"] * 20), np.array([f"s{i}" for i in range(n)]),
        metadata=pd.DataFrame(
            {"patient_id": np.arange(n) + 1000, "age": rng.integers(20, 90, n),
             "code": np.where(labels == 1, "Y", "N")}
        ),
        info={"metadata_roles": {"patient_id": "identifier"}},
    )  # fmt: skip
    roles = {e["column"]: e["role"] for e in summarize(data, duplicates=False)["metadata"]}
    assert roles == {
        "patient_id": "identifier (not analysed)",
        "age": "clinical",
        "code": "label_derived (not analysed)",
    }


def test_a_refused_image_reference_is_quoted_as_written(tmp_path):
    # references come out of stores as numpy strings; the message quotes the reference,
    # not its Python repr (report cards showed "np.str_('/data/derma.npz#test_images/107')")
    from silentscope.data.refs import ImageOutsideRoot, read_image_ref

    with pytest.raises(ImageOutsideRoot) as refused:
        read_image_ref(np.str_("/elsewhere/derma.npz#test_images/107"), root=tmp_path)
    assert "image reference '/elsewhere/derma.npz#test_images/107' names no file" in str(
        refused.value
    )

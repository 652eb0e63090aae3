"""MedMNIST adapter: real files from the shared data folder, and every malformed-file error."""

from __future__ import annotations

import sys

import numpy as np
import pytest

from silentscope.data import DatasetError, duplicate_report, load_dataset, load_medmnist
from silentscope.data.medmnist import MEDMNIST_INFO, medmnist_path


def _write_npz(path, n=(6, 2, 3), size=28, channels=1, labels_max=2, drop=(), **replace):
    rng = np.random.default_rng(0)
    shape = (size, size) if channels == 1 else (size, size, channels)
    arrays = {}
    for split, count in zip(("train", "val", "test"), n, strict=True):
        arrays[f"{split}_images"] = rng.integers(0, 256, (count, *shape), dtype=np.uint8)
        arrays[f"{split}_labels"] = rng.integers(0, labels_max, (count, 1), dtype=np.uint8)
    arrays.update(replace)
    for key in drop:
        arrays.pop(key)
    np.savez(path, **arrays)
    return path


def test_pneumoniamnist_matches_the_official_release(medmnist_dir):
    data = load_medmnist("pneumoniamnist", medmnist_dir)
    assert len(data) == 4708 + 524 + 624
    assert data.class_names == ("normal", "pneumonia")
    assert data.modality == "xray"
    assert data.info["matches_official_counts"] is True
    assert data.load_images([0, 1]).shape == (2, 28, 28, 1)
    assert data.sample_ids[0] == "pneumoniamnist/train/0"
    assert data.image_refs[-1].endswith("pneumoniamnist.npz#test_images/623")
    assert {s: int((data.split == s).sum()) for s in ("train", "val", "test")} == {
        "train": 4708,
        "val": 524,
        "test": 624,
    }


def test_pneumoniamnist_duplicates_are_found(medmnist_dir):
    report = duplicate_report(load_medmnist("pneumoniamnist", medmnist_dir))
    assert report.method == "pixels"
    assert report.n_groups == 27
    assert report.n_cross_split == 8
    assert report.cross_split_pairs() == {"train+val": 8}
    assert report.n_label_conflicts == 0


def test_dermamnist_is_rgb_with_seven_classes_and_two_duplicate_groups(medmnist_dir):
    data = load_dataset("medmnist:dermamnist", root=medmnist_dir)
    assert data.load_images([0]).shape == (1, 28, 28, 3)
    assert data.n_classes == 7 and data.class_names[4] == "melanoma"
    assert data.modality == "dermatoscopy"
    assert duplicate_report(data).n_groups == 2


def test_table_covers_the_2d_datasets_with_valid_modalities():
    from silentscope.data.dataset import MODALITIES

    expected = {
        "pathmnist", "chestmnist", "dermamnist", "octmnist", "pneumoniamnist", "retinamnist",
        "breastmnist", "bloodmnist", "tissuemnist", "organamnist", "organcmnist", "organsmnist",
    }  # fmt: skip
    assert set(MEDMNIST_INFO) == expected
    for info in MEDMNIST_INFO.values():
        assert info.modality in MODALITIES
        assert info.n_channels in (1, 3)
        assert len(set(info.class_names)) == len(info.class_names)


def test_file_names_follow_the_medmnist_package(tmp_path):
    assert medmnist_path("octmnist", tmp_path).name == "octmnist.npz"
    assert medmnist_path("octmnist", tmp_path, size=224).name == "octmnist_224.npz"
    with pytest.raises(DatasetError, match="size must be one of"):
        medmnist_path("octmnist", tmp_path, size=32)


def test_larger_sizes_read_the_sized_file(tmp_path):
    _write_npz(tmp_path / "breastmnist_64.npz", size=64)
    data = load_medmnist("breastmnist", tmp_path, size=64)
    assert data.load_images([0]).shape == (1, 64, 64, 1)
    assert data.name == "breastmnist_64"
    assert load_dataset(tmp_path / "breastmnist_64.npz").name == "breastmnist_64"


def test_chestmnist_single_label_file_is_refused_as_multi_label(tmp_path):
    # ChestMNIST loads as multi-label (tests/models/test_multilabel.py); a (N, 1) file is wrong.
    _write_npz(tmp_path / "chestmnist.npz")
    with pytest.raises(DatasetError, match=r"multi-label and needs \(N, 14\)"):
        load_medmnist("chestmnist", tmp_path)


def test_missing_file_names_the_file_and_the_download_option(tmp_path):
    # Issue 13, case 9: the fix must name what a CLI user can type, not only the Python argument.
    with pytest.raises(
        FileNotFoundError, match=r"breastmnist\.npz does not exist; point root"
    ) as error:
        load_medmnist("breastmnist", tmp_path)
    assert "--root" in str(error.value) and "--option / --data-option download=true" in str(
        error.value
    )


def test_download_without_the_package_is_a_clear_error(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "medmnist", None)  # import medmnist now raises ImportError
    with pytest.raises(DatasetError, match="needs the medmnist package"):
        load_medmnist("breastmnist", tmp_path, download=True)


def test_missing_keys_are_named(tmp_path):
    _write_npz(tmp_path / "breastmnist.npz", drop=("val_labels",))
    with pytest.raises(DatasetError, match=r"lacks the keys \['val_labels'\]"):
        load_medmnist("breastmnist", tmp_path)


def test_wrong_size_and_channels_and_labels_are_errors(tmp_path):
    _write_npz(tmp_path / "breastmnist.npz", size=32)
    with pytest.raises(DatasetError, match="32x32 px but size=28"):
        load_medmnist("breastmnist", tmp_path)
    _write_npz(tmp_path / "breastmnist.npz", channels=3)
    with pytest.raises(DatasetError, match="3 channel.*breastmnist has 1"):
        load_medmnist("breastmnist", tmp_path)
    _write_npz(tmp_path / "breastmnist.npz", labels_max=5)
    with pytest.raises(DatasetError, match="outside 0..1"):
        load_medmnist("breastmnist", tmp_path)


def test_a_corrupt_file_is_named(tmp_path):
    (tmp_path / "breastmnist.npz").write_bytes(b"not a zip file")
    with pytest.raises(DatasetError, match="cannot read .*breastmnist.npz"):
        load_medmnist("breastmnist", tmp_path)


@pytest.mark.parametrize("damage", ["truncated", "bytes-overwritten"])
def test_a_truncated_file_is_one_sentence_in_the_cli(tmp_path, damage):
    # Issue 13, case 9: a truncated npz gave "BadZipFile: File is not a zip file" and a
    # 67-line traceback in `silentscope data info`.
    from typer.testing import CliRunner

    from silentscope.cli import app

    data = _write_npz(tmp_path / "whole.npz", n=(60, 20, 30)).read_bytes()
    middle = len(data) // 2
    if damage == "truncated":
        data = data[:middle]
    else:  # the archive opens, an array fails its checksum when read
        data = data[:middle] + bytes(100) + data[middle + 100 :]
    (tmp_path / "breastmnist.npz").write_bytes(data)
    with pytest.raises(DatasetError, match=r"cannot read .*breastmnist.npz as a MedMNIST npz file"):
        load_medmnist("breastmnist", tmp_path)
    result = CliRunner().invoke(app, ["data", "info", str(tmp_path / "breastmnist.npz")])
    assert result.exit_code == 2
    assert "Traceback" not in result.output and "breastmnist.npz" in result.output
    assert "download it again" in result.output


def test_random_bytes_are_not_called_pickled_data(tmp_path):
    # Issue 13, case 9: numpy falls back to unpickling unknown bytes and suggests allow_pickle=.
    from silentscope.data.refs import read_image_ref

    (tmp_path / "breastmnist.npz").write_bytes(np.random.default_rng(0).bytes(300))
    with pytest.raises(
        DatasetError, match="cannot read .*breastmnist.npz: it is not an npz archive"
    ) as error:
        load_medmnist("breastmnist", tmp_path)
    assert "allow_pickle" not in str(error.value) and "pickle" not in str(error.value)
    with pytest.raises(DatasetError, match="cannot read the image array file .*damaged") as error:
        read_image_ref(f"{tmp_path / 'breastmnist.npz'}#test_images/0")
    assert "allow_pickle" not in str(error.value)

"""ODIR-5K adapter on the real shared data: labels, text, metadata, patient split, duplicates."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from silentscope.data import DatasetError, check_no_patient_leakage, load_dataset, load_odir


@pytest.fixture(scope="module")
def odir(odir_dir):
    return load_odir(odir_dir, size=32)


def test_every_image_with_label_text_and_metadata(odir, odir_dir):
    table = pd.read_csv(odir_dir / "metadata.csv")
    assert len(odir) == len(table) == 6289
    assert odir.modality == "fundus"
    assert odir.n_classes == 8 and odir.class_names[0] == "normal"
    assert odir.metadata.columns.tolist() == ["patient_id", "age", "sex", "eye", "label_code"]
    assert (odir.text == table["keywords"].to_numpy()).all()
    names = np.asarray(odir.class_names)[odir.labels]
    assert (names[table["label_code"] == "N"] == "normal").all()
    assert (names[table["label_code"] == "DH"] == "diabetic retinopathy").all()
    assert odir.load_images([0, 1]).shape == (2, 32, 32, 3)


def test_the_176_dh_h_copies_are_found_as_label_conflicts(odir):
    duplicates = odir.info["duplicates"]
    assert duplicates["method"] == "bytes"
    assert duplicates["n_groups"] == 176
    assert duplicates["n_duplicate_samples"] == 352
    assert duplicates["n_label_conflicts"] == 176
    assert duplicates["n_cross_split"] == 0  # copies share a patient, so a split


def test_split_is_patient_level_and_covers_every_class(odir):
    check_no_patient_leakage(odir.split, odir.metadata["patient_id"])
    for label in range(odir.n_classes):
        assert set(odir.split[odir.labels == label]) == {"train", "val", "test"}
    shares = pd.Series(odir.split).value_counts(normalize=True)
    assert abs(shares["train"] - 0.7) < 0.03 and abs(shares["test"] - 0.2) < 0.03


def test_deduplicate_drops_both_copies_of_each_conflict(odir_dir):
    data = load_dataset("odir", root=odir_dir, duplicates="deduplicate")
    assert len(data) == 6289 - 352
    assert not data.metadata["label_code"].isin(["DH", "H"]).any()
    assert len(data.info["dropped_duplicates"]) == 352


def test_binary_scheme_and_unknown_scheme(odir_dir):
    data = load_odir(odir_dir, label_scheme="normal_abnormal", duplicates="keep")
    assert data.class_names == ("normal", "abnormal")
    assert int((data.labels == 0).sum()) == 2786
    with pytest.raises(DatasetError, match="label_scheme must be one of"):
        load_odir(odir_dir, label_scheme="multi")


def test_an_unknown_code_is_named(tmp_path):
    (tmp_path / "images").mkdir()
    pd.DataFrame(
        {
            "file": ["a.jpg"],
            "patient_id": [1],
            "eye": ["left"],
            "age": [50],
            "sex": ["Male"],
            "label_code": ["X"],
            "keywords": ["?"],
        }
    ).to_csv(tmp_path / "metadata.csv", index=False)
    with pytest.raises(DatasetError, match="row 0 has label_code 'X'"):
        load_odir(tmp_path)

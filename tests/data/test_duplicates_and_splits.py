"""Duplicate reports and patient-level splits."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

from silentscope.data import (
    DatasetError,
    ImageDataset,
    check_no_patient_leakage,
    duplicate_report,
    find_duplicates,
    load_folder,
    patient_split,
)


def test_groups_conflicts_leakage_and_rows_to_drop():
    report = find_duplicates(
        ["h1", "h2", "h1", "h3", "h2", "h1", "h4"],
        labels=[0, 1, 0, 2, 0, 0, 1],
        split=["train", "train", "test", "val", "val", "train", "test"],
        sample_ids=list("abcdefg"),
        class_names=["x", "y", "z"],
    )
    groups = report.groups
    assert groups["size"].tolist() == [3, 2]
    assert groups["labels"].tolist() == [["x"], ["x", "y"]]
    assert groups["label_conflict"].tolist() == [False, True]
    assert groups["cross_split"].tolist() == [True, True]
    assert report.cross_split_pairs() == {"test+train": 1, "train+val": 1}
    # Keep 'a' (first of its group), drop 'c' and 'f'; drop both members of the conflict.
    assert report.rows_to_drop().tolist() == [False, True, True, False, True, True, False]
    summary = report.summary()
    assert summary == {
        "method": "given",
        "n_samples": 7,
        "n_groups": 2,
        "n_duplicate_samples": 5,
        "n_label_conflicts": 1,
        "n_cross_split": 2,
        "cross_split_pairs": {"test+train": 1, "train+val": 1},
    }


def test_no_duplicates_gives_an_empty_report():
    report = find_duplicates(["a", "b", "c"])
    assert report.n_groups == report.n_label_conflicts == report.n_cross_split == 0
    assert report.groups.empty and not report.rows_to_drop().any()


def test_pixel_hashing_finds_re_encoded_copies_that_byte_hashing_misses(tmp_path):
    pixels = np.random.default_rng(0).integers(0, 256, (16, 16, 3), dtype=np.uint8)
    Image.fromarray(pixels).save(tmp_path / "a.png")
    Image.fromarray(pixels).save(tmp_path / "b.png", compress_level=0)  # same pixels, other bytes
    Image.fromarray(255 - pixels).save(tmp_path / "c.png")
    table = pd.DataFrame(
        {"file": ["a.png", "b.png", "c.png"], "label": [0, 1, 0], "split": ["train"] * 3}
    )
    data = load_folder(tmp_path, table)
    assert duplicate_report(data, "bytes").n_groups == 0
    pixels_report = duplicate_report(data, "pixels")
    assert pixels_report.n_groups == 1 and pixels_report.n_label_conflicts == 1
    assert duplicate_report(data.subset([0, 1]), "pixels").n_groups == 1  # lazy subsets too


def test_byte_hashing_needs_files():
    data = ImageDataset(
        "arr", np.zeros((2, 4, 4), np.uint8), [0, 0], ["a"], ["train"] * 2, ["x", "y"]
    )
    with pytest.raises(DatasetError, match="use method='pixels'"):
        duplicate_report(data, "bytes")
    with pytest.raises(DatasetError, match="must be one of"):
        duplicate_report(data, "md5")


def test_patient_split_hits_fractions_per_class_and_is_seeded():
    rng = np.random.default_rng(0)
    patients = rng.integers(0, 400, 1200)
    labels = (patients % 5 == 0).astype(int)  # a patient's images share a label
    split = patient_split(labels, patients, fractions=(0.6, 0.2, 0.2), seed=1)
    check_no_patient_leakage(split, patients)
    for label in (0, 1):
        shares = pd.Series(split[labels == label]).value_counts(normalize=True)
        assert abs(shares["train"] - 0.6) < 0.05 and abs(shares["val"] - 0.2) < 0.05
    assert (patient_split(labels, patients, (0.6, 0.2, 0.2), seed=1) == split).all()
    assert not (patient_split(labels, patients, (0.6, 0.2, 0.2), seed=2) == split).all()


def test_rare_classes_reach_every_split():
    labels = np.array([0] * 300 + [1] * 9)  # 9 patients of a rare class
    split = patient_split(labels, np.arange(309), seed=0)
    assert sorted(set(split[labels == 1])) == ["test", "train", "val"]


@settings(max_examples=40, deadline=None)
@given(
    groups=st.lists(st.integers(0, 30), min_size=1, max_size=120),
    seed=st.integers(0, 2**16),
)
def test_patient_split_never_leaks_a_patient(groups, seed):
    groups = np.array(groups)
    labels = groups % 3
    split = patient_split(labels, groups, seed=seed)
    assert set(split) <= {"train", "val", "test"}
    check_no_patient_leakage(split, groups)


def test_patient_split_input_errors():
    with pytest.raises(DatasetError, match="summing to 1"):
        patient_split([0, 1], fractions=(0.5, 0.2, 0.2))
    with pytest.raises(DatasetError, match="patient id is missing"):
        patient_split([0, 1], np.array(["p1", None], dtype=object))
    with pytest.raises(DatasetError, match="patient 'p' is in both test and train"):
        check_no_patient_leakage(["train", "test"], ["p", "p"])

"""Image folder + metadata table adapter, class-folder layouts, lazy loading and bad input."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from silentscope.data import DatasetError, FileImages, load_dataset, load_folder, read_image


def _image(path, value, size=(20, 20), mode="RGB"):
    shape = size[::-1] + ((3,) if mode == "RGB" else ())
    Image.fromarray(np.full(shape, value, np.uint8)).save(path)


@pytest.fixture
def folder(tmp_path):
    """40 RGB images of 20 patients (2 each), two classes, age, sex and a report column."""
    (tmp_path / "images").mkdir()
    rows = []
    for i in range(40):
        _image(tmp_path / "images" / f"img{i}.png", 5 * i)
        rows.append(
            {
                "file": f"img{i}.png",
                "label": "malignant" if i % 4 == 0 else "benign",
                "patient_id": f"p{i // 2}",
                "age": 30 + i,
                "sex": "F" if i % 3 else "M",
                "report": f"finding {i}",
            }
        )
    pd.DataFrame(rows).to_csv(tmp_path / "metadata.csv", index=False)
    return tmp_path


def test_table_layout_loads_labels_metadata_text_and_lazy_images(folder):
    data = load_folder(folder, size=8)
    assert data.class_names == ("benign", "malignant")
    assert int((data.labels == 1).sum()) == 10
    assert data.metadata.columns.tolist() == ["patient_id", "age", "sex"]
    assert data.text[3] == "finding 3"
    assert isinstance(data.images, FileImages)
    images = data.load_images([0, 39])
    assert images.shape == (2, 8, 8, 3) and images.dtype == np.uint8
    assert int(images[1, 0, 0, 0]) == 195
    assert data.image_refs[0].endswith("images/img0.png")


def test_drawn_split_is_patient_level_seeded_and_stratified(folder):
    first = load_folder(folder, seed=3)
    again = load_folder(folder, seed=3)
    other = load_folder(folder, seed=4)
    assert (first.split == again.split).all()
    assert not (first.split == other.split).all()
    by_patient = pd.Series(first.split).groupby(first.metadata["patient_id"]).nunique()
    assert (by_patient == 1).all()
    for label in (0, 1):
        assert set(first.split[first.labels == label]) == {"train", "val", "test"}


def test_parquet_table_with_indices_and_given_split(folder):
    table = pd.read_csv(folder / "metadata.csv")
    table["label"] = (table["label"] == "malignant").astype(int)
    table["split"] = np.where(np.arange(40) < 30, "train", "test")
    table.to_parquet(folder / "t.parquet")
    data = load_folder(folder, folder / "t.parquet", class_names=["benign", "malignant"])
    assert (data.split[:30] == "train").all() and (data.split[30:] == "test").all()
    assert data.info["split"] == "column 'split'"


def test_unknown_label_names_the_row(folder):
    table = pd.read_csv(folder / "metadata.csv")
    table.loc[7, "label"] = "malginant"
    with pytest.raises(DatasetError, match=r"row 7 has label 'malginant'"):
        load_folder(folder, table, class_names=["benign", "malignant"])


def test_label_index_out_of_range_names_the_row(folder):
    table = pd.read_csv(folder / "metadata.csv")
    table["label"] = np.where(np.arange(40) == 5, 2, 0)
    with pytest.raises(DatasetError, match="row 5 has class index 2"):
        load_folder(folder, table, class_names=["benign", "malignant"])


def test_missing_label_and_missing_file_are_named(folder):
    table = pd.read_csv(folder / "metadata.csv")
    table.loc[4, "label"] = None
    with pytest.raises(DatasetError, match="label is missing at rows 4"):
        load_folder(folder, table)
    (folder / "images" / "img12.png").unlink()
    with pytest.raises(FileNotFoundError, match=r"img12\.png \(row 12\)"):
        load_folder(folder)


def test_unreadable_image_is_named_at_load_or_verify(folder):
    (folder / "images" / "img3.png").write_bytes(b"this is not a png")
    data = load_folder(folder, size=8)
    with pytest.raises(DatasetError, match=r"cannot read image .*img3\.png"):
        data.load_images([2, 3])
    with pytest.raises(DatasetError, match=r"img3\.png"):
        load_folder(folder, size=8, verify=True)


def test_mixed_sizes_need_a_size_and_mixed_channels_need_a_colour(folder):
    _image(folder / "images" / "img9.png", 10, size=(24, 20))
    with pytest.raises(
        DatasetError, match=r"img9\.png \(row 9\) has shape \(20, 24, 3\).*pass size="
    ):
        load_folder(folder, verify=True)
    assert load_folder(folder, size=16).load_images([9]).shape == (1, 16, 16, 3)
    _image(folder / "images" / "img9.png", 10, mode="L")
    with pytest.raises(DatasetError, match="pass color='rgb' or color='grey'"):
        load_folder(folder).load_images(np.arange(12))
    converted = load_folder(folder, color="rgb").load_images([9])
    assert converted.shape == (1, 20, 20, 3) and (converted == 10).all()


def test_bad_columns_splits_and_ids_are_errors(folder):
    with pytest.raises(DatasetError, match="no label column 'diagnosis'"):
        load_folder(folder, label_column="diagnosis")
    with pytest.raises(DatasetError, match="no column 'hospital'"):
        load_folder(folder, patient_column="hospital")
    table = pd.read_csv(folder / "metadata.csv")
    table["split"] = "train"
    table.loc[2, "split"] = "validation"
    with pytest.raises(DatasetError, match="row 2 has split 'validation'"):
        load_folder(folder, table)
    table = pd.read_csv(folder / "metadata.csv")
    table.loc[5, "file"] = "img4.png"
    with pytest.raises(DatasetError, match="rows 4 and 5 have the same sample id"):
        load_folder(folder, table)


def test_given_split_with_a_patient_in_two_splits_is_refused(folder):
    table = pd.read_csv(folder / "metadata.csv")
    table["split"] = np.where(np.arange(40) % 2 == 0, "train", "test")
    with pytest.raises(DatasetError, match="patient 'p0' is in both test and train"):
        load_folder(folder, table)


def test_duplicates_are_reported_and_optionally_dropped(folder):
    # img1 gets img0's bytes (same label group? img0 is malignant, img1 benign: a conflict);
    # img6 gets img5's bytes (both benign).
    (folder / "images" / "img1.png").write_bytes((folder / "images" / "img0.png").read_bytes())
    (folder / "images" / "img6.png").write_bytes((folder / "images" / "img5.png").read_bytes())
    data = load_folder(folder, duplicates="report")
    assert len(data) == 40
    assert data.info["duplicates"]["n_groups"] == 2
    assert data.info["duplicates"]["n_label_conflicts"] == 1
    deduplicated = load_folder(folder, duplicates="deduplicate")
    assert len(deduplicated) == 37
    assert sorted(deduplicated.info["dropped_duplicates"]) == ["img0.png", "img1.png", "img6.png"]


def test_class_folders_with_and_without_split_folders(tmp_path):
    for cls in ("normal", "tumour"):
        (tmp_path / "flat" / cls).mkdir(parents=True)
        for split in ("train", "test"):
            (tmp_path / "nested" / split / cls).mkdir(parents=True)
        for i in range(3):
            _image(tmp_path / "flat" / cls / f"{i}.png", i)
            _image(tmp_path / "nested" / "train" / cls / f"{i}.jpg", i)
        _image(tmp_path / "nested" / "test" / cls / "x.png", 9)
    flat = load_dataset(tmp_path / "flat")
    assert flat.class_names == ("normal", "tumour") and len(flat) == 6
    nested = load_dataset(tmp_path / "nested")
    assert sorted(nested.split.tolist()) == ["test"] * 2 + ["train"] * 6
    assert nested.sample_ids[0] == "test/normal/x.png"
    (tmp_path / "empty").mkdir()
    with pytest.raises(DatasetError, match="neither a metadata table"):
        load_folder(tmp_path / "empty")


def test_read_image_converts_and_scales_16_bit(tmp_path):
    ramp = (np.arange(16 * 16, dtype=np.uint16).reshape(16, 16) * 200).astype(np.uint16)
    Image.fromarray(ramp).save(tmp_path / "deep.png")
    image = read_image(tmp_path / "deep.png")
    assert image.shape == (16, 16, 1) and image.min() == 0 and image.max() == 255
    with pytest.raises(FileNotFoundError):
        read_image(tmp_path / "nope.png")

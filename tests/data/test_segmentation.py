"""The segmentation data contract, the mni152:tissue generator and the folder loader."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from silentscope.data import (
    DatasetError,
    SegmentationSet,
    SegmentationSplits,
    available_segmentation_datasets,
    load_segmentation_dataset,
    make_mni152_tissue,
)
from silentscope.data.mni152 import (
    CLASS_NAMES,
    DeformationRanges,
    draw_parameters,
    render,
    template,
)

NAMES = ("background", "lesion")


def _set(n=3, ids=None, patients=None, shape=(6, 6, 6), **changes) -> SegmentationSet:
    images = np.random.default_rng(0).random((n, *shape, 1)).astype(np.float32)
    labels = (images[..., 0] > 0.5).astype(np.uint8)
    ids = ids or tuple(f"v{i}" for i in range(n))
    patients = patients or [f"p{i}" for i in ids]
    fields = dict(
        images=images,
        labels=labels,
        class_names=NAMES,
        metadata=pd.DataFrame({"patient_id": patients}),
        ids=ids,
        spacing=(1.0,) * len(shape),
    )
    fields.update(changes)
    return SegmentationSet(**fields)


def test_contract_holds_a_valid_set_in_2d_and_3d():
    volumes = _set()
    assert volumes.ndim_spatial == 3 and volumes.images.dtype == np.float32
    assert volumes.spatial_shape == (6, 6, 6) and volumes.n_channels == 1
    images = _set(shape=(8, 8))
    assert images.ndim_spatial == 2 and images.subset([1]).ids == ("v1",)


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"labels": np.zeros((3, 6, 6, 5), np.uint8)}, "do not match images"),
        (
            {"labels": np.full((3, 6, 6, 6), 2, np.uint8)},
            "labels hold 2 in volume 'v0', outside 0..1",
        ),
        ({"labels": np.full((3, 6, 6, 6), -1, np.int64)}, "labels hold -1 in volume 'v0'"),
        ({"labels": np.zeros((3, 6, 6, 6), np.float32)}, "labels must be an integer array"),
        ({"images": np.zeros((3, 6, 6, 6, 1), np.uint8)}, "images must be a float array"),
        ({"images": np.zeros((3, 6), np.float32)}, r"images must have shape \(N, D, H, W, C\)"),
        ({"metadata": pd.DataFrame({"age": [1, 2, 3]})}, "no 'patient_id' column"),
        ({"metadata": pd.DataFrame({"patient_id": ["a", None, "c"]})}, "missing for volume 'v1'"),
        ({"metadata": pd.DataFrame({"patient_id": ["a"]})}, "metadata has 1 rows for 3 volumes"),
        ({"ids": ("a", "b", "a")}, "volume id 'a' appears twice"),
        ({"ids": ("a", "b")}, "ids has 2 entries for 3 volumes"),
        ({"spacing": (1.0, 1.0)}, "spacing must be 3 positive voxel sizes"),
        ({"class_names": ("background",)}, "at least 2 distinct names"),
    ],
)
def test_contract_refuses_bad_fields_in_one_sentence(changes, message):
    with pytest.raises(DatasetError, match=message):
        _set(**changes)


def test_contract_refuses_nan_and_names_the_volume():
    images = np.zeros((2, 4, 4, 4, 1), np.float32)
    images[1, 2, 2, 2, 0] = np.nan
    with pytest.raises(DatasetError, match="volume 'v1' hold NaN"):
        _set(n=2, images=images, labels=np.zeros((2, 4, 4, 4), np.uint8))


def test_splits_refuse_a_patient_in_two_splits_and_mismatched_classes():
    train = _set(ids=("a", "b"), n=2, patients=["p1", "p2"])
    val = _set(ids=("c",), n=1, patients=["p3"])
    test = _set(ids=("d",), n=1, patients=["p1"])
    with pytest.raises(DatasetError, match="patient 'p1' is in both test and train"):
        SegmentationSplits(train, val, test, name="toy")
    other = _set(ids=("d",), n=1, patients=["p4"], class_names=("background", "tumour"))
    with pytest.raises(DatasetError, match="the test split has class_names"):
        SegmentationSplits(train, val, other, name="toy")
    same_id = _set(ids=("a",), n=1, patients=["p5"])
    with pytest.raises(DatasetError, match="volume id 'a' is in two splits"):
        SegmentationSplits(train, val, same_id, name="toy")
    ok = SegmentationSplits(train, val, _set(ids=("d",), n=1, patients=["p4"]), name="toy")
    assert [name for name, _ in ok.items()] == ["train", "val", "test"] and ok["val"] is val


def test_registry_names_are_exact_and_options_checked():
    assert {"mni152:tissue", "mni152:tissue2d", "folder"} <= set(available_segmentation_datasets())
    with pytest.raises(DatasetError, match="did you mean 'mni152:tissue'"):
        load_segmentation_dataset("mni152")
    with pytest.raises(DatasetError, match="takes no option 'n_volumes'"):
        load_segmentation_dataset("mni152:tissue", n_volumes=3)


def test_generator_is_seeded_and_each_split_has_its_own_stream():
    first = make_mni152_tissue(size=16, n_train=2, n_val=1, n_test=2, seed=5)
    again = make_mni152_tissue(size=16, n_train=2, n_val=1, n_test=2, seed=5)
    for (_, a), (_, b) in zip(first.items(), again.items(), strict=True):
        np.testing.assert_array_equal(a.images, b.images)
        np.testing.assert_array_equal(a.labels, b.labels)
    other = make_mni152_tissue(size=16, n_train=2, n_val=1, n_test=2, seed=6)
    assert not np.array_equal(first.test.images, other.test.images)
    more_train = make_mni152_tissue(size=16, n_train=4, n_val=1, n_test=2, seed=5)
    np.testing.assert_array_equal(first.test.labels, more_train.test.labels)
    # Every volume is its own patient, and the caveat travels with the data.
    assert first.test.metadata["patient_id"].tolist() == list(first.test.ids)
    assert "one template anatomy" in first.caveats[0]
    # CSF is thin at these resolutions: the splits say so rather than let its Dice mislead.
    assert any("class 'csf' covers" in caveat for caveat in first.caveats)
    assert first.class_names == CLASS_NAMES and first.train.spacing[0] > 5
    assert first.train.images.min() >= 0 and first.train.images.max() <= 1


def test_without_deformation_the_generator_returns_the_template():
    splits = make_mni152_tissue(
        size=16,
        n_train=1,
        n_val=0,
        n_test=0,
        rotation=0,
        scaling=0,
        translation=0,
        elastic=0,
        gamma=0,
        bias=0,
        thickness=1,
    )
    t1, probabilities, _ = template(16)
    np.testing.assert_array_equal(splits.train.labels[0], probabilities.argmax(axis=0))
    brain = t1[probabilities.argmax(axis=0) > 0]
    np.testing.assert_allclose(
        splits.train.images[0, ..., 0], np.clip(t1 / np.percentile(brain, 99.5), 0, 1), atol=1e-5
    )


def test_labels_follow_the_deformed_anatomy():
    size = 24
    ranges = DeformationRanges(rotation=15, scaling=0.15, elastic=0.04)
    _, probabilities, _ = template(size)
    still = probabilities.argmax(axis=0)
    for seed in range(3):
        params = draw_parameters(np.random.default_rng(seed), ranges, size)
        image, labels, warped = render(params, size)
        # The labels are the warped tissue maps: where a voxel is called white matter, the
        # warped white-matter probability is above one half almost everywhere (partial
        # volumes at 8 mm voxels make up the rest).
        white = labels == 3
        assert white.sum() > 100 and (warped[3][white] > 0.5).mean() > 0.85
        assert (warped[2][labels == 2] > 0.4).mean() > 0.9
        # The warp moved the anatomy ...
        assert (labels != still).mean() > 0.05
        # ... and the image moved with it: T1 contrast, WM > GM > background per label ...
        means = np.array([image[labels == k].mean() for k in range(4)])
        assert means[3] > means[2] > means[0] and means[1] > means[0], means

        # ... and image and labels are in register: the image correlates best with the
        # label map's mean-intensity image unshifted, worse with it one voxel off.
        def fit(shifted, means=means, image=image):
            return np.corrcoef(np.take(means, shifted).ravel(), image.ravel())[0, 1]

        aligned = fit(labels)
        assert aligned > 0.85
        for axis in range(3):
            for step in (-1, 1):
                assert fit(np.roll(labels, step, axis=axis)) < aligned - 0.01


def test_generation_is_fast_once_the_template_is_cached():
    import time

    template(24)
    start = time.perf_counter()
    make_mni152_tissue(size=24, n_train=6, n_val=0, n_test=0, seed=0)
    assert time.perf_counter() - start < 6.0


def _write_nifti(root, n=6, shape=(10, 12, 8), spacing=(1.5, 1.5, 2.0), channels=None):
    import nibabel

    (root / "images").mkdir(parents=True)
    (root / "labels").mkdir()
    affine = np.diag([*spacing, 1.0])
    rng = np.random.default_rng(0)
    truth = {}
    for i in range(n):
        labels = np.zeros(shape, np.int16)
        labels[2:6, 3:8, 1 + i % 3 : 5 + i % 3] = 1
        labels[6:8, 3:8, 2:6] = 2
        image = labels * 40.0 + rng.normal(0, 1, shape) + 100
        if channels:
            image = np.stack([image] * channels, axis=-1)
        nibabel.save(
            nibabel.Nifti1Image(image.astype(np.float32), affine), root / "images" / f"s{i}.nii.gz"
        )
        nibabel.save(nibabel.Nifti1Image(labels, affine), root / "labels" / f"s{i}.nii.gz")
        truth[f"s{i}"] = labels
    return truth


def test_nifti_folder_loader_reads_files_written_by_nibabel(tmp_path):
    truth = _write_nifti(tmp_path)
    (tmp_path / "classes.txt").write_text("background\nliver\nkidney\n")
    pd.DataFrame(
        {
            "id": [f"s{i}" for i in range(6)],
            "patient_id": ["A", "A", "B", "B", "C", "C"],
            "split": ["train", "train", "val", "val", "test", "test"],
            "age": [50, 51, 60, 61, 70, 71],
        }
    ).to_csv(tmp_path / "metadata.csv", index=False)
    splits = load_segmentation_dataset(tmp_path)
    assert splits.class_names == ("background", "liver", "kidney")
    assert splits.train.images.shape == (2, 10, 12, 8, 1) and splits.train.spacing == (
        1.5,
        1.5,
        2.0,
    )
    assert splits.val.ids == ("s2", "s3") and splits.test.metadata["age"].tolist() == [70, 71]
    np.testing.assert_array_equal(splits.test.labels[1], truth["s5"])
    assert 0 <= splits.train.images.min() and splits.train.images.max() <= 1
    assert splits.train.metadata["intensity_high"].iloc[0] > 100
    raw = load_segmentation_dataset(tmp_path, intensity="none")
    assert raw.train.images.max() > 100


def test_nifti_folder_without_metadata_splits_by_volume_and_reads_channels(tmp_path):
    _write_nifti(tmp_path, n=10, channels=2)
    splits = load_segmentation_dataset("folder", root=tmp_path, seed=1)
    assert sum(len(s) for _, s in splits.items()) == 10
    assert splits.train.images.shape[1:] == (10, 12, 8, 2)
    assert splits.class_names == ("background", "class_1", "class_2")


def test_nifti_folder_errors_name_the_file(tmp_path):
    import nibabel

    _write_nifti(tmp_path, n=2)
    (tmp_path / "labels" / "s1.nii.gz").unlink()
    with pytest.raises(DatasetError, match="image 's1' has no label map"):
        load_segmentation_dataset(tmp_path)
    bad = np.full((10, 12, 8), 0.5, np.float32)
    nibabel.save(
        nibabel.Nifti1Image(bad, np.diag([1.5, 1.5, 2.0, 1.0])), tmp_path / "labels" / "s1.nii.gz"
    )
    with pytest.raises(DatasetError, match="label map s1.nii.gz holds non-integer values"):
        load_segmentation_dataset(tmp_path)
    small = np.zeros((10, 12, 6), np.int16)
    nibabel.save(
        nibabel.Nifti1Image(small, np.diag([1.5, 1.5, 2.0, 1.0])), tmp_path / "labels" / "s1.nii.gz"
    )
    with pytest.raises(DatasetError, match="volume 's1': image of shape"):
        load_segmentation_dataset(tmp_path)


def test_npz_loader_reads_2d_images_with_patients(tmp_path):
    labels = np.zeros((12, 16, 16), np.uint8)
    labels[:, 4:10, 4:10] = 1
    path = tmp_path / "slices.npz"
    np.savez(
        path,
        images=labels.astype(np.float32) * 3,
        labels=labels,
        patient_ids=np.repeat(np.arange(6), 2).astype(str),
        class_names=np.array(["background", "organ"]),
    )
    splits = load_segmentation_dataset(path)
    assert splits.ndim_spatial == 2 and splits.train.images.shape[1:] == (16, 16, 1)
    assert splits.class_names == ("background", "organ") and splits.train.spacing is None
    patients = [set(s.patient_ids) for _, s in splits.items()]
    assert not (patients[0] & patients[1]) and not (patients[0] & patients[2])
    np.savez(path, images=np.zeros((2, 4, 4)), segmentation=np.zeros((2, 4, 4)))
    with pytest.raises(DatasetError, match="has no 'labels' array"):
        load_segmentation_dataset(path)


def test_the_2d_form_slices_each_generated_volume():
    flat = load_segmentation_dataset("mni152:tissue2d", size=16, n_train=3, n_val=1, n_test=1)
    volumes = make_mni152_tissue(size=16, n_train=3, n_val=1, n_test=1)
    assert flat.ndim_spatial == 2 and flat.train.images.shape == (3, 16, 16, 1)
    depth = flat.train.metadata["slice_index"].to_numpy()
    assert ((6 <= depth) & (depth <= 10)).all()
    np.testing.assert_array_equal(flat.train.labels[1], volumes.train.labels[1, depth[1]])
    assert (
        "one template anatomy" in flat.caveats[0]
        and flat.train.spacing == volumes.train.spacing[1:]
    )

"""The synthetic planted-failure dataset: determinism, planted rates, ground truth, reports."""

from __future__ import annotations

import numpy as np
import pytest

from silentscope.data import DatasetError, make_synthetic
from silentscope.data.synthetic import CLASS_NAMES, PLANTED

MELANOMA = CLASS_NAMES.index("melanoma")


@pytest.fixture(scope="module")
def data():
    return make_synthetic(n_samples=3000, size=32, seed=7)


def test_shape_classes_and_metadata(data):
    assert len(data) == 3000
    assert data.load_images([0]).shape == (1, 32, 32, 3)
    assert data.class_names == CLASS_NAMES
    assert data.modality == "dermatoscopy"
    for column in (
        "patient_id",
        "age",
        "sex",
        "site",
        "gt_slice_spurious",
        "gt_slice_rare",
        "gt_slice_noisy",
    ):
        assert column in data.metadata.columns
    assert len(np.unique(data.sample_ids)) == 3000


def test_same_seed_same_dataset_other_seed_other_dataset():
    first, again, other = (make_synthetic(240, 24, seed=s) for s in (3, 3, 4))
    assert (first.load_images() == again.load_images()).all()
    assert (first.labels == again.labels).all() and (first.text == again.text).all()
    assert not (first.load_images() == other.load_images()).all()


def test_site_b_is_held_out_and_patients_never_span_splits(data):
    site = data.metadata["site"].to_numpy()
    assert set(site[data.split != "test"]) == {"site_A"}
    assert (site == "site_B").mean() > 0.08
    assert (data.metadata.groupby("patient_id")["site"].nunique() == 1).all()
    per_patient = data.metadata.assign(split=data.split).groupby("patient_id")["split"].nunique()
    assert (per_patient == 1).all()


def test_ruler_correlates_with_melanoma_in_training_only(data):
    ruler = data.metadata["gt_ruler"].to_numpy()
    clean = data.metadata["gt_label"].to_numpy()
    fit = data.split != "test"
    test = ~fit
    assert (
        abs(ruler[fit & (clean == MELANOMA)].mean() - PLANTED["ruler_given_melanoma_train"]) < 0.07
    )
    assert abs(ruler[fit & (clean != MELANOMA)].mean() - PLANTED["ruler_given_other_train"]) < 0.03
    assert abs(ruler[test & (clean == MELANOMA)].mean() - PLANTED["ruler_test"]) < 0.08
    assert abs(ruler[test & (clean != MELANOMA)].mean() - PLANTED["ruler_test"]) < 0.05
    spurious = data.metadata["gt_slice_spurious"].to_numpy()
    assert (spurious == (test & ruler & (clean != MELANOMA))).all()


def test_rare_subtype_is_rare_in_training_and_a_melanoma(data):
    rare = data.metadata["gt_slice_rare"].to_numpy()
    train = data.split == "train"
    assert 0.01 < rare[train].mean() < 0.035
    assert rare[data.split == "test"].mean() > rare[train].mean()
    assert (data.metadata.loc[rare, "gt_label"] == MELANOMA).all()
    assert (data.metadata.loc[rare, "gt_subtype"] == "amelanotic_melanoma").all()


def test_label_noise_only_in_the_noisy_subgroup(data):
    meta = data.metadata
    noisy = ((meta["age"] > 70) & (meta["site"] == "site_A")).to_numpy()
    assert (meta["gt_slice_noisy"].to_numpy() == noisy).all()
    flipped = meta["gt_label_flipped"].to_numpy()
    assert (flipped == (data.labels != meta["gt_label"].to_numpy())).all()
    assert not flipped[~noisy].any()
    assert abs(flipped[noisy].mean() - PLANTED["noise_flip_fraction"]) < 0.08


def test_reports_state_findings_and_negations_consistently(data):
    text = data.text
    ruler = data.metadata["gt_ruler"].to_numpy()
    hair = data.metadata["gt_hair"].to_numpy()
    says_ruler = np.char.find(text.astype(str), "Ruler marks at the image edge") >= 0
    says_no_ruler = np.char.find(text.astype(str), "No ruler marks") >= 0
    assert (says_ruler == ruler).all() and (says_no_ruler == ~ruler).all()
    assert (np.char.find(text.astype(str), "No hair artifacts") >= 0).sum() == (~hair).sum()
    rare = data.metadata["gt_slice_rare"].to_numpy()
    assert all("little pigment" in t for t in text[rare])
    assert all(
        ("site B" in t) == (s == "site_B") for t, s in zip(text, data.metadata["site"], strict=True)
    )


def test_images_carry_what_the_ground_truth_says(data):
    images = data.load_images().astype(float)
    meta = data.metadata
    # Rulers are dark ink on a pale strip at one edge: the darkest edge band gets darker.
    edges = np.stack(
        [images[:, :4].mean((1, 2, 3)), images[:, -4:].mean((1, 2, 3)),
         images[:, :, :4].mean((1, 2, 3)), images[:, :, -4:].mean((1, 2, 3))], axis=1,
    )  # fmt: skip
    centre = images[:, 12:20, 12:20].mean(axis=(1, 2))
    a = (meta["site"] == "site_A").to_numpy()
    # Amelanotic melanomas are pink: redder relative to blue than pigmented melanomas.
    ratio = centre[:, 0] / (centre[:, 2] + 1)
    amelanotic = (meta["gt_subtype"] == "amelanotic_melanoma").to_numpy() & a
    pigmented = (meta["gt_subtype"] == "melanoma").to_numpy() & a
    assert np.median(ratio[amelanotic]) < np.median(ratio[pigmented])
    assert np.median(centre[amelanotic].mean(1)) > np.median(centre[pigmented].mean(1)) + 30
    # Site B's illumination is bluer.
    blue_share = images[..., 2].mean((1, 2)) / images.mean((1, 2, 3))
    assert np.median(blue_share[~a]) > np.median(blue_share[a]) + 0.05
    assert (
        edges.std(axis=1)[meta["gt_ruler"].to_numpy()].mean()
        > edges.std(axis=1)[~meta["gt_ruler"].to_numpy()].mean()
    )


def test_classes_are_visible_to_a_simple_classifier(data):
    """Colour, size and texture features separate the classes well above chance (a CNN does
    better: see benchmarks/synthetic_failures.py)."""
    from sklearn.ensemble import RandomForestClassifier

    images = data.load_images().astype(np.float32) / 255.0
    centre = images[:, 8:24, 8:24]
    skin = np.median(images.reshape(len(images), -1, 3), axis=1)  # the lesion is a minority
    darker = (skin[:, None, None, :] - centre).mean(-1) > 0.06
    features = np.column_stack(
        [
            darker.mean((1, 2)),
            centre.mean((1, 2)),
            centre.std((1, 2)),
            skin,
            np.abs(np.diff(centre, axis=1)).mean((1, 2, 3)),
        ]
    )
    clean = data.metadata["gt_label"].to_numpy()
    train = data.split == "train"
    test = (data.split == "test") & (data.metadata["site"] == "site_A").to_numpy()
    model = RandomForestClassifier(100, min_samples_leaf=3, random_state=0)
    accuracy = (
        model.fit(features[train], clean[train]).predict(features[test]) == clean[test]
    ).mean()
    majority = np.bincount(clean[test]).max() / test.sum()
    assert accuracy > majority + 0.15


@pytest.mark.parametrize(
    "bad", [{"n_samples": 50}, {"n_samples": 1000.5}, {"size": 8}, {"size": 2000}]
)
def test_invalid_sizes_are_refused(bad):
    with pytest.raises(DatasetError):
        make_synthetic(**{"n_samples": 300, "size": 32, **bad})

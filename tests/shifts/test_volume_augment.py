"""Float-volume corruption and the texture-filter / generic intensity training augmentations."""

from __future__ import annotations

import numpy as np
import pytest

from silentscope.data.mni152 import make_mni152_tissue
from silentscope.shifts import (
    GENERIC_INTENSITY,
    MRI_TEST_CORRUPTIONS,
    TEXTURE_FILTERS,
    VolumeAugmentation,
    corrupt_float,
    intensity_augmentation,
    replay,
    texture_filter_augmentation,
)


@pytest.fixture(scope="module")
def brains():
    splits = make_mni152_tissue(size=24, n_train=4, n_val=0, n_test=0, seed=1)
    return splits.train.images, splits.train.labels


def test_training_arms_are_disjoint_from_the_unseen_test_corruptions():
    assert not set(TEXTURE_FILTERS) & set(MRI_TEST_CORRUPTIONS)
    assert not set(GENERIC_INTENSITY) & set(MRI_TEST_CORRUPTIONS)
    assert not set(GENERIC_INTENSITY) & set(TEXTURE_FILTERS)
    with pytest.raises(ValueError, match="'rician_noise' is a texture filter or an MRI test"):
        intensity_augmentation(names=["gaussian_noise", "rician_noise"])
    with pytest.raises(ValueError, match="'gaussian_noise' is not a texture filter"):
        texture_filter_augmentation(names=["gaussian_noise"])
    with pytest.raises(ValueError, match="jpeg_compression has no 3-D form"):
        VolumeAugmentation(["jpeg_compression"])


@pytest.mark.parametrize("make", [texture_filter_augmentation, intensity_augmentation])
def test_augmentation_is_seeded_and_records_what_it_did(make, brains):
    images, _ = brains
    augment = make(p=0.5)
    out, records = augment.augment(images, np.random.default_rng(3))
    again, _ = augment.augment(images, np.random.default_rng(3))
    np.testing.assert_array_equal(out, again)
    assert out.dtype == np.float32 and out.shape == images.shape
    assert 0 <= out.min() and out.max() <= 1
    for volume, augmented, record in zip(images, out, records, strict=True):
        if record is None:  # untouched volumes are not even quantised
            np.testing.assert_array_equal(volume, augmented)
        else:
            assert record["corruption"] in augment.names and 1 <= record["severity"] <= 5
            quantised = np.rint(volume[None] * 255).astype(np.uint8)
            expected = replay(quantised, [record])[0].astype(np.float32) / 255
            np.testing.assert_allclose(augmented, expected, atol=1e-6)
    every = make(p=1.0).augment(images, np.random.default_rng(0))[1]
    assert all(r is not None for r in every)
    none = make(p=0.0)(images, np.random.default_rng(0))
    np.testing.assert_array_equal(none, images)


def test_texture_filters_flatten_texture_inside_tissue(brains):
    images, labels = brains
    noisy, _ = corrupt_float(images, "rician_noise", 3, np.random.default_rng(0))
    brain = labels[:, 1:] > 0

    def variation(x):  # mean jump between neighbouring voxels along D, inside the brain
        return np.abs(np.diff(x[..., 0], axis=1))[brain].mean()

    for name in ("anisotropic_diffusion", "bilateral_filter", "texture_noise"):
        filtered, _ = corrupt_float(noisy, name, 3, np.random.default_rng(0))
        assert variation(filtered) < 0.8 * variation(noisy), name


def test_float_corruption_refuses_values_outside_0_1(brains):
    images, _ = brains
    with pytest.raises(ValueError, match=r"must lie in \[0, 1\]"):
        corrupt_float(images * 300, "ghosting", 2, np.random.default_rng(0))
    with pytest.raises(ValueError, match="must be a float array"):
        corrupt_float(np.zeros((1, 8, 8, 8, 1), np.uint8), "ghosting", 2, np.random.default_rng(0))
    with pytest.raises(ValueError, match="rng must be a numpy.random.Generator"):
        texture_filter_augmentation()(images, 0)


def test_augmentation_plugs_into_a_torch_training_loop(brains):
    import torch

    images, _ = brains
    x = torch.from_numpy(images).movedim(-1, 1)  # (B, C, D, H, W), as the trainer batches
    augment = texture_filter_augmentation(p=1.0)
    out = augment(x, torch.Generator().manual_seed(0))
    again = augment(x, torch.Generator().manual_seed(0))
    assert out.shape == x.shape and out.dtype == x.dtype and torch.equal(out, again)
    assert (out != x).any() and augment.name == "texture_filters"
    assert intensity_augmentation().name == "generic_intensity"
    with pytest.raises(ValueError, match="must lie in"):
        augment(x * 10, torch.Generator())


def test_segmentation_test_sets_are_seeded_graded_and_keep_the_labels():
    import json

    from silentscope.shifts import segmentation_test_sets

    test = make_mni152_tissue(size=16, n_train=0, n_val=0, n_test=3, seed=2).test
    sets = list(segmentation_test_sets(test, ["rician_noise", "bias_field"], seed=1))
    assert [name for name, _, _ in sets][:2] == ["cor/rician_noise/1", "cor/rician_noise/2"]
    assert len(sets) == 10
    again = dict((name, s) for name, s, _ in segmentation_test_sets(test, ["rician_noise"], seed=1))
    np.testing.assert_array_equal(again["cor/rician_noise/3"].images, sets[2][1].images)
    for _, corrupted, params in sets:
        assert corrupted.ids == test.ids and corrupted.labels is test.labels
        assert len(params) == len(test)
    # The same draws at every severity: only the magnitude grows, volume by volume.
    change = [np.abs(s.images - test.images).mean(axis=(1, 2, 3, 4)) for _, s, _ in sets[:5]]
    assert all((b > a).all() for a, b in zip(change, change[1:], strict=False))
    record = json.loads(sets[4][2][0])
    assert record["corruption"] == "rician_noise" and record["severity"] == 5
    quantised = np.rint(test.images[:1] * 255).astype(np.uint8)
    np.testing.assert_allclose(
        replay(quantised, [record])[0] / 255, sets[4][1].images[0], atol=1e-6
    )
    with pytest.raises(ValueError, match="jpeg_compression has no 3-D form"):
        next(segmentation_test_sets(test, ["jpeg_compression"]))

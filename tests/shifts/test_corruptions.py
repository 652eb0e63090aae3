"""Every registered corruption: contract, determinism, replay and growth with severity.

Real MedMNIST images (PneumoniaMNIST grey, DermaMNIST RGB) upscaled to 128 px are used where
the shared data is present; the contract tests also run on a small random batch without it.
128 px, because spatial constants are defined at 224 px and scaled down with the image:
MedMNIST-C's mildest X-ray blur (sigma 0.8 px at 224) is below one grey level at 64 px.
"""

from __future__ import annotations

import json

import cv2
import numpy as np
import pytest

from silentscope.shifts import corrupt, corruption_names, get_corruption, replay, to_records

ALL = corruption_names()
# The 2-D growth test runs every corruption but the MRI k-space family (tested on volumes);
# texture filters, noise, blur and photometric changes also have 3-D forms
# (tests/shifts/test_volumes.py).
TWO_D = [name for name in ALL if get_corruption(name).family != "mri"]
MRI = [name for name in ALL if get_corruption(name).family == "mri"]


def _channels(name: str) -> int:
    return 3 if get_corruption(name).channels == (3,) else 1


def _random_batch(channels: int, n: int = 4, size: int = 32) -> np.ndarray:
    return np.random.default_rng(0).integers(0, 256, (n, size, size, channels), dtype=np.uint8)


@pytest.fixture(scope="module")
def real_images(medmnist_dir):
    """8 grey and 8 RGB real test images at 128 px."""

    def load(flag: str) -> np.ndarray:
        images = np.load(medmnist_dir / f"{flag}.npz")["test_images"][:8]
        resized = np.stack(
            [cv2.resize(im, (128, 128), interpolation=cv2.INTER_CUBIC) for im in images]
        )
        return resized if resized.ndim == 4 else resized[..., None]

    return {1: load("pneumoniamnist"), 3: load("dermamnist")}


@pytest.mark.parametrize("name", ALL)
@pytest.mark.parametrize("channels", [1, 3])
def test_shape_dtype_and_range_are_preserved(name, channels):
    corruption = get_corruption(name)
    if channels not in corruption.channels:
        pytest.skip(f"{name} does not take C = {channels}")
    images = _random_batch(channels)
    out, records = corrupt(images, name, 3, seed=0)
    assert out.shape == images.shape and out.dtype == np.uint8
    assert len(records) == len(images)
    assert not np.array_equal(out, images), f"{name} at severity 3 left the images unchanged"


@pytest.mark.parametrize("name", ALL)
def test_same_seed_same_output_and_new_seed_new_output(name):
    images = _random_batch(_channels(name))
    first, records = corrupt(images, name, 4, seed=7)
    again, _ = corrupt(images, name, 4, seed=7)
    assert np.array_equal(first, again)
    assert records == corrupt(images, name, 4, seed=7)[1]
    has_randomness = get_corruption(name).stochastic or get_corruption(name).drawn
    if has_randomness:
        other, _ = corrupt(images, name, 4, seed=8)
        assert not np.array_equal(first, other)


@pytest.mark.parametrize(
    "name", [n for n in ALL if get_corruption(n).stochastic or get_corruption(n).drawn]
)
def test_images_in_a_batch_get_different_draws(name):
    image = _random_batch(_channels(name), n=1)
    batch = np.repeat(image, 3, axis=0)
    out, records = corrupt(batch, name, 4, seed=0)
    assert not np.array_equal(out[0], out[1]) or not np.array_equal(out[1], out[2])
    assert records[0] != records[1]


@pytest.mark.parametrize("name", ALL)
def test_severity_zero_is_the_identity(name):
    images = _random_batch(_channels(name))
    out, records = corrupt(images, name, 0, seed=0)
    assert np.array_equal(out, images)
    assert all(r["severity"] == 0 for r in records)


@pytest.mark.parametrize("name", ALL)
def test_records_are_json_and_replay_exactly(name):
    images = _random_batch(_channels(name))
    out, records = corrupt(images, name, (1.0, 5.0), seed=3)  # a range: every image differs
    text = [json.dumps(r) for r in records]
    assert np.array_equal(replay(images, text), out)
    # One image alone replays the same: parameters are per image, not per batch.
    assert np.array_equal(replay(images[2:3], records[2:3]), out[2:3])


def test_replay_handles_a_mix_of_corruptions():
    images = _random_batch(1, n=6)
    a, ra = corrupt(images[:3], "gaussian_noise", 2, seed=0, modality="xray")
    b, rb = corrupt(images[3:], "pixelate", 5, seed=0)
    assert np.array_equal(replay(images, ra + rb), np.concatenate([a, b]))


def test_apply_reproduces_sample_params_output():
    # The parameters drawn from a seed determine the output: applying them gives what
    # corrupt() gave for that seed, and so does replaying their records.
    corruption = get_corruption("motion_blur", "dermatoscopy")
    images = _random_batch(3)
    expected, records = corrupt(images, "motion_blur", 2, seed=0, modality="dermatoscopy")
    params = corruption.sample_params(np.random.default_rng(0), 2, len(images))
    out = corruption.apply(images, params)
    assert not np.array_equal(out, images)
    assert np.array_equal(out, expected)
    assert np.array_equal(replay(images, to_records(corruption, params)), expected)
    assert to_records(corruption, params) == records
    assert records[0]["modality"] == "dermatoscopy"
    # other parameters give other images: the comparisons above can fail
    other = corruption.sample_params(np.random.default_rng(1), 2, len(images))
    assert not np.array_equal(corruption.apply(images, other), expected)


@pytest.mark.parametrize("name", TWO_D)
def test_change_grows_with_severity_on_real_images(name, real_images):
    """Mean absolute change from the clean images rises with severity (PSNR falls)."""
    channels = 3 if 3 in get_corruption(name).channels else 1
    images = real_images[channels]
    modalities = get_corruption(name).modalities
    modality = next((m for m in modalities if m != "generic"), "generic")
    change = []
    for severity in range(6):
        out, _ = corrupt(images, name, severity, seed=0, modality=modality)
        change.append(np.abs(out.astype(float) - images).mean())
    assert change[0] == 0
    assert all(b > a for a, b in zip(change, change[1:], strict=False)), (
        f"{name} ({modality}): change per severity {np.round(change, 2)} is not increasing"
    )


@pytest.mark.parametrize("name", MRI)
def test_mri_corruptions_take_3d_volumes(name):
    rng = np.random.default_rng(0)
    zz, yy, xx = np.mgrid[:12, :24, :24] - np.array([5.5, 11.5, 11.5])[:, None, None, None]
    ball = ((zz / 5) ** 2 + (yy / 9) ** 2 + (xx / 9) ** 2 < 1) * 180
    volumes = np.stack([ball, ball[::-1]]).astype(np.uint8)[..., None]
    volumes = volumes + rng.integers(0, 10, volumes.shape).astype(np.uint8)
    out, records = corrupt(volumes, name, 5, seed=0, modality="mri")
    assert out.shape == volumes.shape and out.dtype == np.uint8
    assert not np.array_equal(out, volumes)
    assert np.array_equal(replay(volumes, records), out)
    assert np.array_equal(corrupt(volumes, name, 5, seed=0, modality="mri")[0], out)


def test_bias_field_varies_along_the_slice_axis():
    volume = np.full((1, 16, 16, 16, 1), 120, np.uint8)
    out, _ = corrupt(volume, "bias_field", 5, seed=1, modality="mri")
    slice_means = out[0, :, :, :, 0].mean(axis=(1, 2))
    assert slice_means.max() - slice_means.min() > 5


def test_gibbs_ringing_of_a_volume_matches_2d_truncation_of_a_constant_depth_volume():
    # A volume constant along depth has no kz content: truncation acts on its slices in 2-D.
    image = np.zeros((1, 32, 32, 1), np.uint8)
    image[:, 8:24, 8:24] = 200
    volume = np.repeat(image[:, None], 8, axis=1)
    out2d, _ = corrupt(image, "gibbs_ringing", 4, modality="mri")
    out3d, _ = corrupt(volume, "gibbs_ringing", 4, modality="mri")
    assert np.abs(out3d[:, 3].astype(int) - out2d).max() <= 1


def test_two_d_corruptions_reject_volumes_with_a_clear_message():
    volume = np.zeros((1, 4, 16, 16, 1), np.uint8)
    with pytest.raises(
        ValueError,
        match=r"jpeg_compression takes 2-D images \(N, H, W, C\) only.*JPEG is a 2-D image codec",
    ):
        corrupt(volume, "jpeg_compression", 2)

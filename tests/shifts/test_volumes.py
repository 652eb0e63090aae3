"""3-D forms of the corruptions on brain volumes: seeded, replayable, growing with severity, 3-D."""

from __future__ import annotations

import numpy as np
import pytest

from silentscope.data.mni152 import make_mni152_tissue
from silentscope.shifts import corrupt, corruption_names, get_corruption, replay

ALL = corruption_names()
VOLUMES = [name for name in ALL if get_corruption(name).volumes]
GREY_VOLUMES = [name for name in VOLUMES if 1 in get_corruption(name).channels]
MRI = [name for name in ALL if get_corruption(name).family == "mri"]
# Filters over space (not per voxel): a slice-by-slice form would miss changes along D.
SPATIAL = [
    "gaussian_blur",
    "defocus_blur",
    "zoom_blur",
    "pixelate",
    "anisotropic_diffusion",
    "bilateral_filter",
    "texture_noise",
    "sobel_edges",
]


@pytest.fixture(scope="module")
def brains() -> np.ndarray:
    """Two real-anatomy volumes (24^3, MNI152 tissue generator) as uint8."""
    splits = make_mni152_tissue(size=24, n_train=2, n_val=0, n_test=0, seed=0)
    return np.rint(splits.train.images * 255).astype(np.uint8)


def test_the_issue_corruptions_all_have_a_3d_form():
    expected = {
        "rician_noise", "kspace_motion", "ghosting", "kspace_spike", "gibbs_ringing", "bias_field",
        "anisotropic_diffusion", "bilateral_filter", "texture_noise", "sobel_edges",
        "gaussian_noise", "shot_noise", "impulse_noise", "speckle_noise",
        "gaussian_blur", "defocus_blur", "motion_blur", "zoom_blur",
        "pixelate", "brightness_up", "brightness_down", "contrast_up", "contrast_down",
        "gamma_corr_up", "gamma_corr_down",
    }  # fmt: skip
    assert expected <= set(VOLUMES)
    assert not get_corruption("jpeg_compression").volumes


@pytest.mark.parametrize("name", GREY_VOLUMES)
def test_volume_corruption_is_seeded_and_replayable(name, brains):
    out, records = corrupt(brains, name, 3, seed=4, modality="mri")
    assert out.shape == brains.shape and out.dtype == np.uint8
    assert not np.array_equal(out, brains), f"{name} left the volumes unchanged"
    np.testing.assert_array_equal(corrupt(brains, name, 3, seed=4, modality="mri")[0], out)
    np.testing.assert_array_equal(replay(brains, records), out)
    if get_corruption(name).stochastic:
        assert not np.array_equal(corrupt(brains, name, 3, seed=5, modality="mri")[0], out)


@pytest.mark.parametrize("name", GREY_VOLUMES)
def test_volume_change_grows_with_severity(name, brains):
    """Mean absolute change from the clean volumes rises at each of the 5 severities."""
    change = []
    for severity in range(6):
        out, _ = corrupt(brains, name, severity, seed=0, modality="mri")
        change.append(np.abs(out.astype(float) - brains).mean())
    assert change[0] == 0
    assert all(b > a for a, b in zip(change, change[1:], strict=False)), (
        f"{name}: change per severity {np.round(change, 3)} is not increasing"
    )


@pytest.mark.parametrize("name", SPATIAL)
def test_spatial_filters_act_along_depth_too(name):
    # Constant within every slice, a step between slices 5 and 6: a slice-by-slice filter
    # would leave each slice flat (and, but for noise, unchanged); a 3-D one mixes across D.
    volume = np.full((1, 12, 16, 16, 1), 60, np.uint8)
    volume[:, 6:] = 75  # a step below the diffusion edge threshold (kappa = 0.1)
    out, _ = corrupt(volume, name, 5, seed=0, modality="mri")
    if name == "texture_noise":
        # The smoothing mixes the two sides of the step; the noise varies within slices.
        assert out[0, 5].mean() > 61 and out[0, 6].mean() < 74
        assert out[0, 3].std() > 1
    elif name == "zoom_blur":
        assert not np.array_equal(out[0, 4:8], volume[0, 4:8])
    else:
        assert not np.array_equal(out[0, 5:7], volume[0, 5:7]), f"{name} did not act along D"


def test_three_d_filters_match_the_2d_ones_on_a_flat_volume():
    # A volume constant along D: the 3-D filters give each slice the 2-D result.
    rng = np.random.default_rng(0)
    image = rng.integers(0, 256, (1, 32, 32, 1), dtype=np.uint8)
    volume = np.repeat(image[:, None], 32, axis=1)
    for name in ("gaussian_blur", "pixelate", "contrast_down", "sobel_edges"):
        flat_2d, _ = corrupt(image, name, 3, seed=0)
        flat_3d, _ = corrupt(volume, name, 3, seed=0)
        difference = np.abs(flat_3d[:, 16].astype(int) - flat_2d)
        # Sobel differs only in its border handling of the pre-smoothing.
        assert np.percentile(difference, 99) <= 1, name


def test_mri_corruptions_keep_the_volume_registered(brains):
    # k-space artifacts degrade but do not move the anatomy: the brain mask still overlaps.
    brain = brains[0, ..., 0] > 40
    for name in MRI:
        out, _ = corrupt(brains[:1], name, 2, seed=0, modality="mri")
        corrupted = out[0, ..., 0] > 40
        overlap = (brain & corrupted).sum() / max(brain.sum(), 1)
        assert overlap > 0.7, (name, overlap)


def test_two_d_only_corruptions_say_why_they_refuse_volumes(brains):
    with pytest.raises(ValueError, match="JPEG is a 2-D image codec"):
        corrupt(brains, "jpeg_compression", 1)
    two_d = [name for name in ALL if not get_corruption(name).volumes]
    for name in two_d:
        with pytest.raises(ValueError, match=f"{name} takes 2-D images"):
            get_corruption(name).apply(brains, {"severity": np.zeros(len(brains))})


def test_kspace_motion_equals_the_per_voxel_phase_formula(brains):
    # The factorised phase ramp must give what exp(-2 pi i k.d) on the full grid gives.
    corruption = get_corruption("kspace_motion", "mri")
    params = corruption.sample_params(np.random.default_rng(2), 5, 1)
    out = corruption.apply(brains[:1], params)
    x = brains[0, ..., 0] / 255.0
    k = np.fft.fftshift(np.fft.fftn(x))
    freqs = np.meshgrid(*(np.arange(n) - n // 2 for n in x.shape), indexing="ij")
    lines = x.shape[1]
    n_moves = int(params["n_moves"][0])
    segment = np.searchsorted(params["times"][0][:n_moves], (np.arange(lines) + 0.5) / lines)
    positions = np.vstack([np.zeros(3), params["shifts"][0][:n_moves]])
    positions -= positions[segment[lines // 2]]
    per_voxel = positions[segment][None, :, None, :]  # (1, H, 1, 3): position per ky line
    phase = sum(f * per_voxel[..., a] for a, f in enumerate(freqs))
    expected = np.abs(np.fft.ifftn(np.fft.ifftshift(k * np.exp(-2j * np.pi * phase))))
    expected = np.clip(np.floor(expected * 255 + 0.5), 0, 255)
    assert np.abs(out[0, ..., 0].astype(float) - expected).max() <= 1


def test_effects_and_test_sets_are_measured_on_volumes(brains):
    from silentscope.shifts import corruption_test_sets, measure_effects

    effects = measure_effects(brains, ["ghosting", "gaussian_blur"], [1, 5], "mri")
    assert all(effect.problem() is None for effect in effects)
    assert effects[0].describe().startswith("ghosting at 24x24x24 voxels changes")
    sets = list(corruption_test_sets(brains, "mri", names=["bias_field"], severities=[1, 5]))
    assert [name for name, _, _ in sets] == ["cor/bias_field/1", "cor/bias_field/5"]
    assert sets[1][1].shape == brains.shape
    with pytest.raises(ValueError, match="jpeg_compression takes 2-D images"):
        measure_effects(brains, ["jpeg_compression"], [1], "mri")

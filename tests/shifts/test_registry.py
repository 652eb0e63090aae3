"""Lookup by exact name, per-modality suites and levels, and the errors users see."""

from __future__ import annotations

import numpy as np
import pytest

from silentscope.audit import AuditSet
from silentscope.data.dataset import MODALITIES
from silentscope.shifts import (
    Corruption,
    corrupt,
    corruption_names,
    default_suite,
    get_corruption,
    records_to_json,
    register,
    severity_range,
)
from silentscope.shifts.severity import level_values

GENERIC_2D = (
    "gaussian_noise shot_noise impulse_noise speckle_noise gaussian_blur defocus_blur motion_blur "
    "zoom_blur jpeg_compression pixelate brightness_up brightness_down contrast_up contrast_down "
    "gamma_corr_up gamma_corr_down saturate"
).split()


def test_the_generic_suite_holds_every_generic_2d_corruption_the_issue_asks_for():
    names = corruption_names("generic")
    assert set(GENERIC_2D) <= set(names)


@pytest.mark.parametrize(
    ("modality", "expected"),
    [
        ("dermatoscopy", {"black_corner", "characters", "ink_marks"}),
        ("histology", {"stain_deposit", "bubble", "saturate"}),
        ("xray", {"gamma_corr_up", "gamma_corr_down", "low_dose_noise"}),
        ("ct", {"gamma_corr_up", "ct_low_dose_noise"}),
        (
            "mri",
            {
                "gibbs_ringing",
                "kspace_spike",
                "bias_field",
                "rician_noise",
                "kspace_motion",
                "ghosting",
            },
        ),
    ],
)
def test_modality_suites_hold_their_specific_corruptions(modality, expected):
    suite = default_suite(modality)
    assert expected <= {c.name for c in suite}
    assert all(c.modality == modality for c in suite)


def test_every_modality_has_a_suite():
    for modality in MODALITIES:
        assert len(default_suite(modality)) >= 5, modality


def test_modality_levels_come_from_the_matching_medmnist_c_table():
    assert get_corruption("gaussian_noise", "ct").severity_levels["sigma"] == (
        0.04,
        0.08,
        0.12,
        0.16,
        0.20,
    )
    assert get_corruption("jpeg_compression", "dermatoscopy").severity_levels["quality"] == (
        30,
        20,
        15,
        10,
        7,
    )
    # No table of its own: the generic one.
    assert (
        get_corruption("gaussian_noise", "mri").severity_levels
        == get_corruption("gaussian_noise").severity_levels
    )


def test_grey_suites_leave_out_colour_only_corruptions():
    assert "saturate" in [c.name for c in default_suite("histology")]
    assert "saturate" not in [c.name for c in default_suite("histology", channels=1)]


def test_lookup_is_by_exact_name_and_errors_suggest_the_closest_name():
    with pytest.raises(ValueError, match="unknown corruption 'noise'; did you mean 'shot_noise'"):
        get_corruption("noise")
    with pytest.raises(ValueError, match="unknown corruption 'xyz'; valid names: gaussian_noise"):
        get_corruption("xyz")
    with pytest.raises(ValueError, match="unknown corruption 'Gaussian_Noise'; did you mean"):
        get_corruption("Gaussian_Noise")
    with pytest.raises(ValueError, match="unknown modality 'skin'; choose one of xray"):
        default_suite("skin")


@pytest.mark.parametrize("severity", [6, -1, 2.5, True, "3", (3, 1), (0, 7), (1, 2, 3)])
def test_bad_severities_name_the_valid_choices(severity):
    images = np.zeros((1, 8, 8, 1), np.uint8)
    with pytest.raises(ValueError, match=r"integer 0-5 .* \(low, high\) range within 0-5"):
        corrupt(images, "gaussian_noise", severity)


@pytest.mark.parametrize(
    ("images", "message"),
    [
        (np.zeros((1, 8, 8, 1), np.float32), "must be uint8"),
        (np.zeros((8, 8), np.uint8), r"shape \(N, H, W, C\)"),
        (np.zeros((1, 8, 8, 4), np.uint8), "C = 1 or 3"),
        (np.zeros((1, 2, 2, 1), np.uint8), "at least 4 x 4"),
    ],
)
def test_bad_images_get_one_clear_sentence(images, message):
    with pytest.raises(ValueError, match=message):
        corrupt(images, "pixelate", 1)


def test_colour_corruptions_refuse_grey_images():
    with pytest.raises(ValueError, match="saturate needs RGB images"):
        corrupt(np.zeros((1, 8, 8, 1), np.uint8), "saturate", 1)


def test_apply_checks_the_params_it_is_given():
    corruption = get_corruption("motion_blur")
    images = np.zeros((2, 8, 8, 1), np.uint8)
    params = corruption.sample_params(np.random.default_rng(0), 1, 2)
    with pytest.raises(ValueError, match="lack 'angle'"):
        corruption.apply(images, {k: v for k, v in params.items() if k != "angle"})
    with pytest.raises(ValueError, match="one row per image"):
        corruption.apply(images[:1], params)


def test_registration_rejects_duplicates_and_incomplete_tables():
    class Dup(Corruption):
        name = "gaussian_noise"
        family = "noise"
        levels = {"generic": {"sigma": (1, 2, 3, 4, 5)}}
        identity = {"sigma": 0}

    with pytest.raises(ValueError, match="already registered"):
        register(Dup)

    class Short(Corruption):
        name = "short_table_example"
        family = "noise"
        levels = {"generic": {"sigma": (1, 2, 3)}}
        identity = {"sigma": 0}

    with pytest.raises(ValueError, match="five values"):
        register(Short)
    assert "short_table_example" not in corruption_names()


def test_severity_helper_and_interpolation():
    assert severity_range(0) == (0.0, 0.0)
    assert severity_range([1, 4.5]) == (1.0, 4.5)
    values = level_values([50, 30, 15, 10, 7], 100, np.array([0.0, 0.5, 1.0, 5.0]))
    assert values.tolist() == [100.0, 75.0, 50.0, 7.0]


def test_same_seed_shares_draws_across_severities():
    """Raising the severity only raises magnitudes: angles, positions and seeds stay."""
    corruption = get_corruption("motion_blur")
    low = corruption.sample_params(np.random.default_rng(0), 1, 5)
    high = corruption.sample_params(np.random.default_rng(0), 5, 5)
    assert np.array_equal(low["angle"], high["angle"])
    assert np.all(high["sigma"] > low["sigma"])


def test_records_fit_the_audit_set_shift_params():
    images = np.random.default_rng(0).integers(0, 256, (3, 16, 16, 1), dtype=np.uint8)
    _, records = corrupt(images, "gaussian_noise", 2, seed=0, modality="xray")
    audit = AuditSet(
        sample_id=["a", "b", "c"],
        test_set=["cor/gaussian_noise/2"] * 3,
        label=[0, 1, 1],
        logits=np.zeros((3, 2)),
        class_names=["normal", "pneumonia"],
        shift_params=records_to_json(records),
    )
    assert '"sigma": 0.08' in audit.shift_params[0]


def test_corruption_test_sets_cover_the_suite_with_valid_names():
    from silentscope.audit.test_sets import parse_test_set
    from silentscope.shifts import corruption_test_sets

    images = np.random.default_rng(0).integers(0, 256, (3, 24, 24, 1), dtype=np.uint8)
    sets = list(corruption_test_sets(images, "xray", seed=1))
    suite = default_suite("xray", channels=1)
    assert len(sets) == 5 * len(suite)
    for name, corrupted, records in sets:
        parsed = parse_test_set(name)
        assert parsed.kind == "cor" and records[0]["severity"] == parsed.severity
        assert corrupted.shape == images.shape
    # Same draws at every severity of one corruption: the motion angles do not change.
    blur = {n: r for n, _, r in corruption_test_sets(images, "generic", names=["motion_blur"])}
    assert blur["cor/motion_blur/1"][0]["angle"] == blur["cor/motion_blur/5"][0]["angle"]
    with pytest.raises(ValueError, match="integers 1-5"):
        list(corruption_test_sets(images, names=["pixelate"], severities=[0]))

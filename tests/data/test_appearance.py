"""Appearance measures: each responds to its own kind of artefact, and only to it."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from silentscope.audit import AuditSet
from silentscope.data.appearance import APPEARANCE_COLUMNS, appearance_measures, with_appearance


def _photos(n=40, size=32, seed=0):
    """Smooth colour images with some structure (blobs), like downsized photographs."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[:size, :size] / size
    images = np.empty((n, size, size, 3), np.float32)
    for i in range(n):
        cx, cy, r = rng.uniform(0.3, 0.7, 2).tolist() + [rng.uniform(0.1, 0.3)]
        blob = np.exp(-((xx - cx) ** 2 + (yy - cy) ** 2) / r**2)
        base = rng.uniform(60, 160, 3)
        images[i] = base + 80 * blob[..., None] * rng.uniform(0.5, 1, 3)
        images[i] += 25 * np.sin(xx * rng.uniform(5, 15))[..., None]  # texture
        top, left = rng.integers(2, size // 2, 2)
        images[i, top : top + size // 3, left : left + size // 3] -= 50  # a sharp-edged patch
    return np.clip(images, 0, 255).astype(np.uint8)


def _box_blur(images, k=3):
    out = images.astype(np.float32)
    padded = np.pad(out, ((0, 0), (k, k), (k, k), (0, 0)), mode="edge")
    total = sum(
        padded[:, k + dy : k + dy + out.shape[1], k + dx : k + dx + out.shape[2]]
        for dy in range(-k, k + 1)
        for dx in range(-k, k + 1)
    )
    return (total / (2 * k + 1) ** 2).astype(np.uint8)


def test_each_measure_moves_with_its_artefact_and_the_others_stay():
    clean = _photos()
    before = appearance_measures(clean)
    blurred = appearance_measures(_box_blur(clean))
    assert (blurred["image sharpness"] < 0.5 * before["image sharpness"]).all()
    noise = np.random.default_rng(1).normal(0, 15, clean.shape[:3] + (1,))
    noisy = appearance_measures(np.clip(clean + noise, 0, 255).astype(np.uint8))
    assert (noisy["image noise"] > before["image noise"] + 8).all()
    lined = clean.copy()
    lined[:, ::4] = (lined[:, ::4] * 0.45).astype(np.uint8)
    banded = appearance_measures(lined)
    assert (banded["image row banding"] > 3 * before["image row banding"] + 1).all()
    # rows, not columns: the scan lines are horizontal
    np.testing.assert_allclose(
        banded["image column banding"], before["image column banding"], rtol=0.6, atol=1.0
    )
    red = clean.astype(np.float32)
    red[..., 1:] *= 0.55
    cast = appearance_measures(red.astype(np.uint8))
    assert (cast["image red-green"] > before["image red-green"] + 20).all()
    dark = appearance_measures((clean * 0.3).astype(np.uint8))
    assert (dark["image brightness"] < 0.4 * before["image brightness"]).all()


def _spot(size, cy, cx, sd):
    yy, xx = np.mgrid[:size, :size] / size
    return np.exp(-((yy - cy) ** 2 + (xx - cx) ** 2) / (2 * sd**2))


def test_where_the_light_falls_each_spatial_measure_names_its_own_unevenness():
    clean = _photos()
    before = appearance_measures(clean)
    size = clean.shape[1]
    yy, xx = np.mgrid[:size, :size]
    radius = np.hypot((yy - (size - 1) / 2) / size, (xx - (size - 1) / 2) / size)
    fall_off = (1 - 0.7 * (radius / radius.max()) ** 2)[None, :, :, None]
    vignette = appearance_measures((clean * fall_off).astype(np.uint8))
    assert (
        vignette["image edge-to-centre brightness"]
        < 0.8 * before["image edge-to-centre brightness"]
    ).all()
    shadowed = clean.copy()
    shadowed[:, : size // 3] = (shadowed[:, : size // 3] * 0.35).astype(np.uint8)
    shadow = appearance_measures(shadowed)
    assert (
        shadow["image top-to-bottom brightness"] < 0.5 * before["image top-to-bottom brightness"]
    ).all()
    glare = clean + 120 * _spot(size, 0.3, 0.6, 0.08)[None, :, :, None]
    lit = appearance_measures(np.clip(glare, 0, 255).astype(np.uint8))
    lift = lit["image highlight"] - before["image highlight"]
    # an image whose own brightest patch (the blob) outshines the spot barely moves
    assert lift.median() > 25 and (lift > 0).mean() >= 0.9
    # a uniform change of exposure moves none of the ratios
    darker = appearance_measures((clean * 0.6).astype(np.uint8))
    for ratio in ("edge-to-centre", "top-to-bottom"):
        column = f"image {ratio} brightness"
        np.testing.assert_allclose(darker[column], before[column], rtol=0.05)
    # a vignette darkens top and bottom alike: their balance stays
    np.testing.assert_allclose(
        vignette["image top-to-bottom brightness"],
        before["image top-to-bottom brightness"],
        rtol=0.15,
    )


def test_grey_and_float_images_are_measured_on_the_same_scale():
    grey = _photos(n=5)[..., 0]
    measures = appearance_measures(grey)
    assert list(measures.columns) == list(APPEARANCE_COLUMNS)
    assert (measures[["image saturation", "image red-green", "image blue-yellow"]] == 0).all().all()
    as_float = appearance_measures(grey.astype(np.float32) / 255)
    np.testing.assert_allclose(as_float.to_numpy(), measures.to_numpy(), rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("shape", [(4, 8), (4, 8, 8, 2), (4, 2, 2, 3)])
def test_images_of_another_shape_are_refused_with_the_expected_shape_named(shape):
    with pytest.raises(ValueError, match=r"images must"):
        appearance_measures(np.zeros(shape, np.uint8))


def test_with_appearance_adds_acquisition_columns_and_refuses_to_overwrite():
    images = _photos(n=6)
    audit = AuditSet(
        sample_id=[str(i) for i in range(6)], test_set=["iid"] * 6, label=[0, 1] * 3,
        logits=np.zeros((6, 2)), class_names=["a", "b"],
        metadata=pd.DataFrame({"age": [30, 40, 50, 60, 70, 80]}),
    )  # fmt: skip
    out = with_appearance(audit, images)
    assert out.metadata["age"].tolist() == [30, 40, 50, 60, 70, 80]
    np.testing.assert_allclose(
        out.metadata["image brightness"], appearance_measures(images)["image brightness"]
    )
    assert {out.metadata_roles[c].role for c in APPEARANCE_COLUMNS} == {"acquisition"}
    with pytest.raises(ValueError, match="already has column"):
        with_appearance(out, images)
    with pytest.raises(ValueError, match="one image per AuditSet row"):
        with_appearance(audit, images[:5])


def _fundus(odir_dir, size, n=60):
    from silentscope.data.odir import load_odir

    return load_odir(odir_dir, size=size).load_images(np.arange(n)).astype(np.float32)


def _with_spots(images, sd, gain, n_spots, seed=0, channels=(0, 1, 2)):
    """Gaussian spots at random places in the central half: gain < 0 darkens, > 0 adds light."""
    n, h, w, _ = images.shape
    yy, xx = np.mgrid[:h, :w] / h
    out = images.copy()
    rng = np.random.default_rng(seed)
    for i in range(n):
        spot = sum(
            np.exp(-((yy - cy) ** 2 + (xx - cx) ** 2) / (2 * sd**2))
            for cy, cx in rng.uniform(0.25, 0.75, (n_spots, 2))
        )
        spot = np.minimum(spot, 1.0)
        for c in channels:
            if gain < 0:
                out[i, ..., c] *= 1 + gain * spot
            else:
                out[i, ..., c] += gain * spot
    return np.clip(out, 0, 255).astype(np.uint8)


@pytest.mark.parametrize("size", [32, 64, None])
def test_dust_specks_on_real_fundus_photographs_are_counted_at_any_size(odir_dir, size):
    """Clean photographs: vessels, the disc and the black surround are not spots."""
    clean = _fundus(odir_dir, size)
    before = appearance_measures(clean.astype(np.uint8))["image dark spots"].to_numpy()
    dusty = appearance_measures(_with_spots(clean, 0.025, -0.7, 6))["image dark spots"]
    assert np.median(before) <= 1 and before.max() <= 4
    assert np.mean(dusty.to_numpy() >= before + 3) >= 0.9


def test_white_light_raises_the_white_highlight_and_coloured_light_does_not(odir_dir):
    """A glare spot is white; a bright orange spot (like the optic disc) is not."""
    clean = _fundus(odir_dir, 32)
    before = appearance_measures(clean.astype(np.uint8))
    white = appearance_measures(_with_spots(clean, 0.12, 120, 1))
    orange = appearance_measures(_with_spots(clean, 0.12, 120, 1, channels=(0, 1)))
    gain = {
        name: (white[name] - before[name]).median()
        for name in ("image white highlight", "image highlight")
    }
    orange_gain = (orange["image white highlight"] - before["image white highlight"]).median()
    assert gain["image white highlight"] > 40
    assert orange_gain < 0.25 * gain["image white highlight"]
    # the older highlight rises for the orange light too: it cannot tell glare from a disc
    assert (orange["image highlight"] - before["image highlight"]).median() > 8

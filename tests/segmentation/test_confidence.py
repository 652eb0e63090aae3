"""Voxel confidences and aggregators against hand-computed values; the CSF registry."""

from __future__ import annotations

import doctest

import numpy as np
import pytest

from silentscope.confidence.segmentation import (
    AGGREGATORS,
    SEGMENTATION_CSFS,
    VoxelInputs,
    get_segmentation_csf,
    resolve_segmentation_csfs,
    score_volume,
    segmentation_csf_names,
    voxel_confidences,
)
from silentscope.confidence.segmentation.aggregators import boundary_mask, patch_means

# 2 classes over a 1 x 4 image: predicted [0, 0, 1, 1]
P = np.array([[[0.9, 0.6, 0.3, 0.2]], [[0.1, 0.4, 0.7, 0.8]]])
PRED = P.argmax(0)


def test_voxel_maps_by_hand():
    mc_mean = np.array([[[0.5, 0.6, 0.3, 0.2]], [[0.5, 0.4, 0.7, 0.8]]])
    expected_entropy = np.array([[0.1, 0.2, 0.3, 0.4]])
    maps = voxel_confidences(VoxelInputs(P, mc_mean, expected_entropy))
    np.testing.assert_allclose(maps["msr"], [[0.9, 0.6, 0.7, 0.8]])
    h = lambda p: -(p * np.log(p) + (1 - p) * np.log(1 - p))  # noqa: E731
    np.testing.assert_allclose(maps["pe"], -h(np.array([[0.9, 0.6, 0.3, 0.2]])))
    np.testing.assert_allclose(maps["mcd_entropy"], -h(np.array([[0.5, 0.6, 0.3, 0.2]])))
    np.testing.assert_allclose(
        maps["mcd_mi"], -(h(np.array([[0.5, 0.6, 0.3, 0.2]])) - expected_entropy)
    )
    assert sorted(voxel_confidences(VoxelInputs(P))) == ["msr", "pe"]  # no MC, no MC maps
    with pytest.raises(ValueError, match="needs MC-dropout passes"):
        voxel_confidences(VoxelInputs(P), ["mcd_mi"])


def test_aggregators_by_hand():
    c = np.array([[0.9, 0.6, 0.7, 0.8]])
    assert AGGREGATORS["mean"](c, PRED).value == pytest.approx(0.75)
    assert AGGREGATORS["foreground"](c, PRED).value == pytest.approx(0.75)  # voxels 2, 3
    # boundary between voxels 1 and 2: weights 1, 10, 10, 1
    assert AGGREGATORS["boundary"](c, PRED).value == pytest.approx((0.9 + 6 + 7 + 0.8) / 22)
    # one patch of 8 voxels covers the image: every quantile is its mean
    assert AGGREGATORS["patch_q05"](c, PRED).value == pytest.approx(0.75)


def test_foreground_falls_back_loudly_when_nothing_is_predicted():
    c = np.array([[0.9, 0.6, 0.7, 0.8]])
    out = AGGREGATORS["foreground"](c, np.zeros_like(PRED))
    assert out.fallback and out.value == pytest.approx(0.75)
    assert not AGGREGATORS["foreground"](c, PRED).fallback


def test_patch_quantiles_by_hand():
    c = np.zeros((16, 16))
    c[:8, :8] = 1.0  # patch means: 1, 0, 0, 0
    c[8:, 8:] = 0.5  # 1, 0, 0, 0.5
    np.testing.assert_allclose(sorted(patch_means(c)), [0, 0, 0.5, 1])
    assert AGGREGATORS["patch_q25"](c, np.zeros((16, 16), int)).value == pytest.approx(
        np.quantile([0, 0, 0.5, 1], 0.25)
    )
    # border patches are smaller, and counted with their own size
    np.testing.assert_allclose(patch_means(np.arange(10.0).reshape(1, 10), size=8), [3.5, 8.5])


def test_boundary_mask_3d():
    y = np.zeros((3, 3, 3), int)
    y[1, 1, 1] = 1
    mask = boundary_mask(y)
    assert mask.sum() == 7  # the centre and its 6 face neighbours


def test_registry_names_every_pair_with_a_runnable_docstring():
    names = segmentation_csf_names()
    assert len(names) == 4 * len(AGGREGATORS) and "msr@mean" in names and "pe@foreground" in names
    assert all(
        "@" in n and not SEGMENTATION_CSFS[n].needs_mc for n in segmentation_csf_names(mc=False)
    )
    for name, csf in SEGMENTATION_CSFS.items():
        assert f"``{name}``" in csf.__doc__ and "Examples" in csf.__doc__
        test = doctest.DocTestParser().get_doctest(csf.__doc__, {}, name, None, 0)
        result = doctest.DocTestRunner().run(test, out=lambda s: None)
        assert result.failed == 0 and result.attempted >= 5, name


def test_lookup_is_exact_and_explains():
    with pytest.raises(ValueError, match="msr@mean"):
        get_segmentation_csf("msr@avg")
    with pytest.raises(ValueError, match="need MC-dropout passes"):
        resolve_segmentation_csfs(["mcd_mi@mean"], mc=False)


def test_score_volume_equals_each_csf_on_its_own():
    rng = np.random.default_rng(0)
    p = rng.dirichlet(np.ones(3), size=(6, 6, 6)).transpose(3, 0, 1, 2)
    inputs = VoxelInputs(p, p, np.full((6, 6, 6), 0.2))
    csfs = resolve_segmentation_csfs(None, mc=True)
    scores = score_volume(inputs, p.argmax(0), csfs)
    for csf in csfs:
        assert scores[csf.name].value == pytest.approx(csf(inputs, p.argmax(0)).value)

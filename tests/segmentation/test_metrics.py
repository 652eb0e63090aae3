"""Dice, HD95 and relative volume error against brute force on tiny masks; the risk conventions."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from silentscope.metrics.segmentation import (
    dice_per_class,
    hd95_per_class,
    segmentation_risk,
    volume_error_per_class,
)


def _random_maps(seed, shape=(5, 6, 4), k=3):
    rng = np.random.default_rng(seed)
    return rng.integers(0, k, shape), rng.integers(0, k, shape)


def _brute_surface(mask):
    points = []
    for index in itertools.product(*(range(n) for n in mask.shape)):
        if not mask[index]:
            continue
        for axis, step in itertools.product(range(mask.ndim), (-1, 1)):
            neighbour = list(index)
            neighbour[axis] += step
            outside = not 0 <= neighbour[axis] < mask.shape[axis]
            if outside or not mask[tuple(neighbour)]:
                points.append(index)
                break
    return np.array(points, dtype=float)


def _brute_hd95(a, b, spacing):
    pa, pb = _brute_surface(a) * spacing, _brute_surface(b) * spacing
    d = np.sqrt(((pa[:, None, :] - pb[None, :, :]) ** 2).sum(-1))
    return max(np.percentile(d.min(1), 95), np.percentile(d.min(0), 95))


@pytest.mark.parametrize("seed", range(4))
def test_dice_matches_brute_force(seed):
    true, pred = _random_maps(seed)
    expected = []
    for c in range(4):  # class 3 is absent from both
        t, p = true == c, pred == c
        total = t.sum() + p.sum()
        expected.append(np.nan if total == 0 else 2 * (t & p).sum() / total)
    np.testing.assert_allclose(dice_per_class(true, pred, 4), expected)


@pytest.mark.parametrize("seed", range(3))
@pytest.mark.parametrize("spacing", [(1.0, 1.0, 1.0), (2.0, 0.5, 1.5)])
def test_hd95_matches_brute_force(seed, spacing):
    rng = np.random.default_rng(seed)
    true = (rng.random((6, 5, 5)) < 0.4).astype(int)
    pred = (rng.random((6, 5, 5)) < 0.4).astype(int)
    got = hd95_per_class(true, pred, 2, spacing)
    for c in range(2):
        assert got[c] == pytest.approx(_brute_hd95(true == c, pred == c, np.array(spacing)))


def test_hd95_and_volume_error_empty_conventions():
    true = np.zeros((4, 4), int)
    true[1:3, 1:3] = 1
    pred = np.zeros((4, 4), int)
    hd = hd95_per_class(true, pred, 3)
    assert np.isinf(hd[1]) and np.isnan(hd[2])
    ve = volume_error_per_class(pred, true, 3)  # class 1 predicted, absent from the truth
    assert np.isinf(ve[1]) and np.isnan(ve[2])


@pytest.mark.parametrize("seed", range(3))
def test_volume_error_matches_counts(seed):
    true, pred = _random_maps(seed)
    got = volume_error_per_class(true, pred, 3)
    for c in range(3):
        vt, vp = (true == c).sum(), (pred == c).sum()
        assert got[c] == pytest.approx(abs(vp - vt) / vt)


def test_dice_risk_is_one_minus_mean_foreground_dice_with_the_empty_convention():
    true = np.zeros((4, 4), int)
    true[0, :2] = 1
    pred = true.copy()
    pred[0, 1] = 0
    # class 1: Dice 2*1/3; class 2 absent from both: left out of the mean
    assert segmentation_risk(true, pred, 3) == pytest.approx(1 - 2 / 3)
    pred[3, 3] = 2  # class 2 now predicted but absent from the truth: Dice 0
    assert segmentation_risk(true, pred, 3) == pytest.approx(1 - (2 / 3 + 0) / 2)
    empty = np.zeros((3, 3), int)
    assert segmentation_risk(empty, empty, 3) == 0.0
    assert segmentation_risk(true, np.zeros_like(true), 3) == 1.0


def test_other_risks_lie_in_unit_interval_and_are_zero_when_perfect():
    true, pred = _random_maps(0)
    for risk in ("hd95", "volume_error"):
        assert segmentation_risk(true, true, 3, risk) == 0.0
        assert 0.0 < segmentation_risk(true, pred, 3, risk) <= 1.0
    assert segmentation_risk(true, np.zeros_like(true), 3, "hd95") == 1.0
    with pytest.raises(ValueError, match="unknown risk"):
        segmentation_risk(true, pred, 3, "iou")
    with pytest.raises(ValueError, match="same shape"):
        segmentation_risk(true, pred[:2], 3)

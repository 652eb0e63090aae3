"""Baseline slicers: error clustering and the Spotlight."""

from __future__ import annotations

import numpy as np
import pytest

from silentscope.slices import SLICERS, ErrorClusterSlicer, SpotlightSlicer, make_slicer


@pytest.fixture(scope="module")
def planted():
    rng = np.random.default_rng(0)
    X = np.vstack([rng.normal(size=(2000, 4)), rng.normal([3, 3, 0, 0], 0.3, (150, 4))])
    y = rng.integers(0, 2, 2150)
    hot = np.arange(2150) >= 2000  # a compact high-error region
    wrong = rng.random(2150) < np.where(hot, 0.8, 0.03)
    proba = np.where((y == 1) ^ wrong, 0.85, 0.15)[:, None] * [-1, 1] + [1, 0]
    return X, y, proba, hot


@pytest.mark.parametrize("method", ["kmeans", "agglomerative"])
def test_error_clusters_find_the_hot_region(planted, method):
    X, y, proba, hot = planted
    slicer = ErrorClusterSlicer(n_slices=3, method=method, random_state=0).fit(X, y, proba)
    member = slicer.predict_membership(X)
    best = max(range(3), key=lambda k: (member[:, k] & hot).sum() / (member[:, k] | hot).sum())
    assert (member[:, best] & hot).sum() / member[:, best].sum() > 0.4
    np.testing.assert_allclose(slicer.predict_proba(X).sum(axis=1), 1)


def test_spotlight_centres_on_the_hot_region(planted):
    X, y, proba, hot = planted
    slicer = SpotlightSlicer(n_slices=2, spotlight_size=0.03, random_state=0).fit(X, y, proba)
    assert np.linalg.norm(slicer.centers_[0] - [3, 3, 0, 0]) < 1.0
    member = slicer.predict_membership(X)[:, 0]
    assert member.sum() > 10 and hot[member].mean() > 0.6


def test_registry_is_exact():
    assert set(SLICERS) == {"error_mixture", "error_clusters", "spotlight"}
    with pytest.raises(ValueError, match="unknown slicer"):
        make_slicer("mixture")
    with pytest.raises(ValueError, match="at least 2 misclassified"):
        ErrorClusterSlicer().fit(np.zeros((5, 2)), np.zeros(5, int), np.tile([0.9, 0.1], (5, 1)))

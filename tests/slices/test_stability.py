"""Jaccard matching of slices across refits."""

from __future__ import annotations

import numpy as np

from silentscope.slices import ErrorAwareMixture, jaccard_matrix, match_slices, slice_stability
from silentscope.slices.consensus import ConsensusSlicer


def test_permuted_slices_match_perfectly_and_disjoint_ones_not():
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 4, 200)
    a = labels[:, None] == np.arange(4)
    assert match_slices(a, a[:, [2, 0, 3, 1]]).tolist() == [1.0, 1.0, 1.0, 1.0]
    assert (match_slices(a, a[:, :2]) > 0).sum() == 2  # two reference slices find no partner
    np.testing.assert_allclose(np.diag(jaccard_matrix(a, a)), 1.0)


def test_well_separated_blobs_are_stable_across_seeds_and_resamples():
    rng = np.random.default_rng(0)
    X = np.vstack([rng.normal(c, 0.5, (100, 2)) for c in (0, 5, 10)])
    y = np.zeros(300, int)
    proba = np.tile([0.8, 0.2], (300, 1))
    slicer = ErrorAwareMixture(3, random_state=0)
    reference = slicer.fit(X, y, proba).predict_membership(X, y, proba)
    result = slice_stability(slicer, X, y, proba, reference, n_seeds=3, n_resamples=2)
    assert result.seeds.shape == (3, 2) and result.resamples.shape == (3, 2)
    assert (result.seed_stability > 0.95).all() and (result.resample_stability > 0.95).all()


def test_consensus_is_aligned_to_the_most_reproducible_seed():
    rng = np.random.default_rng(0)
    X = np.vstack([rng.normal(c, 0.5, (100, 2)) for c in (0, 5, 10)])
    y = np.zeros(300, int)
    proba = np.tile([0.8, 0.2], (300, 1))
    proba[:100] = [0.2, 0.8]  # the first blob is all errors
    slicer = ErrorAwareMixture(3, init_params="kmeans")
    consensus = ConsensusSlicer(slicer, n_seeds=4, use_predictions=True, random_state=5)
    consensus.fit(X, y, proba)
    fitted = consensus.fits_[consensus.reference_]
    assert fitted.random_state in {5, 6, 7, 8}
    result = consensus.stability_
    assert result.seeds.shape == (3, 4) and result.resamples.shape == (3, 0)
    member = fitted.predict_membership(X, y, proba)
    errors_slice = member[:100].sum(axis=0).argmax()
    assert member[:100, errors_slice].all() and result.seed_stability[errors_slice] > 0.95

"""Class-blind views: a cause that spans every class is found whole, not in per-class pieces."""

from __future__ import annotations

import numpy as np
import pytest

from silentscope.audit import AuditSet
from silentscope.slices import discover_slices
from silentscope.slices.consolidate import consolidate
from silentscope.slices.mixture import ErrorAwareMixture
from silentscope.slices.representation import class_blind_blocks, fuse_blocks


def haze_audit(n=1200, seed=0):
    """A haze on 8% of images, in both classes, along a direction the classifier barely uses."""
    rng = np.random.default_rng(seed)
    label = rng.integers(0, 2, n)
    hazy = rng.random(n) < 0.08
    features = rng.normal(size=(n, 32))
    features[:, 0] += np.where(label == 1, 6.0, -6.0)  # what the classifier learnt
    features[:, 1:4] *= 3.0  # other large directions
    features[hazy, 7] += 8.0
    wrong = rng.random(n) < np.where(hazy, 0.5, 0.05)
    audit = AuditSet(
        sample_id=[f"s{i}" for i in range(n)], test_set=["iid"] * n, label=label,
        logits=np.eye(2)[np.where(wrong, 1 - label, label)] * 3, class_names=["a", "b"],
        features=features,
    )  # fmt: skip
    return audit, hazy


def _best_jaccard(report, audit, truth):
    best = 0.0
    for rank in report.membership["rank"].unique():
        chosen = report.membership.loc[report.membership["rank"] == rank, "sample_id"]
        members = np.isin(audit.sample_id, chosen)
        best = max(best, (members & truth).sum() / (members | truth).sum())
    return best


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_a_haze_in_every_class_is_one_slice_only_with_the_class_blind_views(seed):
    audit, hazy = haze_audit(seed=seed)
    blind = discover_slices(audit, n_seeds=3)
    assert blind.n_slices == 1 and _best_jaccard(blind, audit, hazy) >= 0.9
    assert "image (any class)" in blind.slices["views"].iloc[0]
    # Domino's label and prediction terms alone: per-class pieces at best (measured 0-0.46)
    domino = discover_slices(audit, n_seeds=3, class_blind=False)
    assert _best_jaccard(domino, audit, hazy) < 0.6


def test_class_blind_blocks_remove_the_class_means_and_whiten():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 300)
    image = rng.normal(size=(300, 10))
    image[:, 0] += 20 * y  # the class direction dominates the raw block
    rep = fuse_blocks({"image": image, "metadata": rng.normal(size=(300, 2))}, n_components=8)
    matrix, blocks, weights = class_blind_blocks(rep, y, n_dims=4)
    part = matrix[:, blocks["image"]]
    np.testing.assert_allclose(part.std(axis=0), 1.0, atol=1e-9)
    for label in (0, 1):  # no class is offset any more
        assert np.abs(part[y == label].mean(axis=0)).max() < 0.2
    assert weights[blocks["image"]].sum() == pytest.approx(weights[blocks["metadata"]].sum())


def test_the_error_term_fits_error_rates_and_assignment_never_reads_the_errors():
    rng = np.random.default_rng(0)
    X = np.vstack([rng.normal(0, 1, (150, 2)), rng.normal(6, 1, (150, 2))])
    y = rng.integers(0, 2, 300)
    wrong = np.r_[rng.random(150) < 0.6, rng.random(150) < 0.05]
    proba = np.eye(2)[np.where(wrong, 1 - y, y)] * 0.8 + 0.1
    mixture = ErrorAwareMixture(2, gamma=0, gamma_hat=0, error_weight=3, random_state=0)
    mixture.fit(X, y, proba)
    assert sorted(mixture.error_rates_.round(1).tolist()) == [0.1, 0.6]
    # members come from the representation alone: the same with or without the outcome
    np.testing.assert_array_equal(mixture.predict(X), mixture.predict(X, y))
    with pytest.raises(ValueError, match="needs y and y_proba"):
        ErrorAwareMixture(2, gamma=0, gamma_hat=0, error_weight=3).fit(X)


def test_an_overlapping_piece_that_fails_alike_widens_the_slice_but_a_milder_one_does_not():
    n = 800
    rng = np.random.default_rng(0)
    membership = np.zeros((n, 3), bool)
    membership[:60, 0] = True  # one class's piece of a cause
    membership[:120, 1] = True  # the class-blind component: the whole cause
    membership[:60, 2] = membership[120:300, 2] = True  # the piece and a milder region
    rate = np.r_[np.full(120, 0.6), np.full(180, 0.15), np.full(500, 0.05)]
    errors = rng.random(n) < rate
    fit = np.arange(0, n, 2)
    (whole,) = consolidate([0, 1], membership[:, :2], errors, fit)
    assert whole.mask.sum() == 120 and whole.reasons == {1: "overlap, union fails alike"}
    (kept,) = consolidate([0, 1], membership[:, [0, 2]], errors, fit)
    assert kept.mask.sum() == 60 and kept.reasons == {1: "overlap"}


def test_a_candidate_barely_touching_a_kept_slice_is_not_explained_by_it():
    n = 1000
    rng = np.random.default_rng(3)
    membership = np.zeros((n, 2), bool)
    membership[:80, 0] = True  # a strong cause
    membership[75:135, 1] = True  # another cause: 5 shared members, its excess is its own
    rate = np.r_[np.full(80, 0.8), np.full(55, 0.3), np.full(865, 0.05)]
    errors = rng.random(n) < rate
    groups = consolidate([0, 1], membership, errors, np.arange(0, n, 4))  # small fitting split
    assert [g.slices for g in groups] == [[0], [1]]


def test_a_rule_that_does_not_describe_an_image_slice_does_not_widen_it():
    """No word names the haze; a best-effort rule must not turn its slice into another cause."""
    import pandas as pd

    audit, hazy = haze_audit(n=1600, seed=4)
    rng = np.random.default_rng(4)
    site = rng.choice(["A", "B", "C"], audit.n_samples, p=[0.45, 0.45, 0.1])
    site[hazy & (rng.random(audit.n_samples) < 0.4)] = "C"  # so that the best rule names C
    wrong = rng.random(audit.n_samples) < np.where(hazy, 0.5, np.where(site == "C", 0.45, 0.04))
    label = np.asarray(audit.label)
    audit = AuditSet(
        sample_id=audit.sample_id, test_set=audit.test_set, label=label,
        logits=np.eye(2)[np.where(wrong, 1 - label, label)] * 3, class_names=["a", "b"],
        features=audit.features, metadata=pd.DataFrame({"site": site}),
    )  # fmt: skip
    report = discover_slices(audit, n_seeds=3)
    assert _best_jaccard(report, audit, hazy) >= 0.8
    for rank in report.membership["rank"].unique():
        chosen = report.membership.loc[report.membership["rank"] == rank, "sample_id"]
        members = np.isin(audit.sample_id, chosen)
        # each slice is one cause: the haze, or site C, never both widened into one
        assert min(hazy[members].mean(), (site[members] == "C").mean()) < 0.5

"""Fitted CSFs: temperature scaling, Mahalanobis, ViM and deep kNN."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.special import softmax
from sklearn.exceptions import NotFittedError
from sklearn.neighbors import NearestNeighbors

from silentscope.audit import AuditSet
from silentscope.confidence import KNN, ViM, get_csf
from silentscope.confidence.base import CSFUnavailableError
from silentscope.confidence.temperature import temperature_nll
from tests.support.audits import tiny_audit


def overconfident_audit(temperature: float, n_val: int, n_test: int, seed: int = 0) -> AuditSet:
    """Labels drawn from softmax(g); the model reports g * temperature (over-confident if > 1)."""
    rng = np.random.default_rng(seed)
    n, c = n_val + n_test, 5
    calibrated = rng.normal(0.0, 1.5, size=(n, c))
    cumulative = softmax(calibrated, axis=1).cumsum(axis=1)
    labels = np.minimum((rng.random((n, 1)) > cumulative).sum(axis=1), c - 1)
    return tiny_audit(
        calibrated * temperature, labels=labels, test_set=["val"] * n_val + ["iid"] * n_test
    )


# ---------------------------------------------------------------- temperature scaling
def test_temperature_scaling_recovers_the_temperature_the_data_was_made_with():
    for true_t in (0.5, 2.5):
        csf = get_csf("TS-MSR").fit(overconfident_audit(true_t, n_val=6000, n_test=10))
        assert csf.T_ == pytest.approx(true_t, rel=0.05)
        assert csf.n_fit_ == 6000


def test_temperature_is_the_minimiser_of_the_validation_nll():
    audit = overconfident_audit(2.0, n_val=500, n_test=10, seed=3)
    csf = get_csf("TS-MSR").fit(audit)
    val = audit.validation()
    at_fit = temperature_nll(val.logits, val.label, csf.T_)
    for other in (csf.T_ * 0.97, csf.T_ * 1.03):
        assert temperature_nll(val.logits, val.label, other) > at_fit
    assert csf.nll_ == pytest.approx(at_fit)


def test_temperature_fit_uses_only_validation_rows():
    audit = overconfident_audit(2.0, n_val=400, n_test=300, seed=1)
    rng = np.random.default_rng(9)
    test = audit.test_set != "val"
    logits, labels = audit.logits.copy(), audit.label.copy()
    logits[test] = rng.normal(0, 20, size=(test.sum(), audit.n_classes))
    labels[test] = rng.integers(0, audit.n_classes, test.sum())
    changed = tiny_audit(logits, labels=labels, test_set=audit.test_set)
    assert get_csf("TS-MSR").fit(changed).T_ == get_csf("TS-MSR").fit(audit).T_


def test_temperature_scaled_msr_is_the_msr_of_the_scaled_logits():
    audit = overconfident_audit(2.0, n_val=300, n_test=50, seed=2)
    csf = get_csf("TS-MSR").fit(audit)
    expected = softmax(audit.logits / csf.T_, axis=1).max(axis=1)
    np.testing.assert_allclose(csf.score(audit), expected, rtol=1e-12)


def test_unfitted_csf_refuses_to_score():
    audit = overconfident_audit(2.0, n_val=10, n_test=10)
    with pytest.raises(NotFittedError, match="call fit"):
        get_csf("TS-MSR").score(audit)
    with pytest.raises(NotFittedError):
        get_csf("kNN").score(audit)


# ---------------------------------------------------------------- feature-based CSFs
def feature_audit(n_train=400, n_dims=8, seed=0):
    """Two training classes varying in the first half of the dims (little in the rest);
    'iid' samples drawn like them and 'ood/far' samples along the unused dims."""
    rng = np.random.default_rng(seed)
    half = n_dims // 2
    scale = np.r_[np.ones(half), np.full(n_dims - half, 0.1)]
    means = np.zeros((2, n_dims))
    means[0, 0], means[1, 1] = 4.0, 4.0
    train_labels = rng.integers(0, 2, n_train)
    train = means[train_labels] + rng.normal(size=(n_train, n_dims)) * scale
    iid = means[rng.integers(0, 2, 30)] + rng.normal(size=(30, n_dims)) * scale
    far = np.zeros((10, n_dims))
    far[:, half:] = rng.normal(size=(10, n_dims - half)) * 10
    features = np.concatenate([iid, far])
    weight = rng.normal(size=(2, n_dims))
    bias = np.array([0.3, -0.2])
    audit = tiny_audit(
        features @ weight.T + bias,
        test_set=["iid"] * 30 + ["ood/far"] * 10,
        features=features,
        train_features=train,
        train_labels=train_labels,
    )
    return audit, (weight, bias)


@pytest.mark.parametrize("name", ["Mahalanobis", "ViM", "kNN"])
def test_feature_csfs_rank_in_distribution_points_above_far_away_points(name):
    audit, _ = feature_audit()
    scores = get_csf(name).fit(audit).score(audit)
    assert scores[:30].min() > scores[30:].max(), name


def test_mahalanobis_matches_a_hand_computation():
    train = np.array([[0.0, 0.0], [2.0, 0.0], [0.0, 2.0], [10.0, 10.0], [12.0, 10.0], [10.0, 12.0]])
    labels = np.array([0, 0, 0, 1, 1, 1])
    audit = tiny_audit(
        [[3.0, 0.0], [0.0, 3.0]],
        features=np.array([[1.0, 1.0], [9.0, 9.0]]),
        train_features=train,
        train_labels=labels,
    )
    means = np.array([[2 / 3, 2 / 3], [32 / 3, 32 / 3]])
    centred = train - means[labels]
    precision = np.linalg.inv(centred.T @ centred / len(train))
    expected = []
    for x in audit.features:
        expected.append(-min((x - m) @ precision @ (x - m) for m in means))
    csf = get_csf("Mahalanobis").fit(audit)
    np.testing.assert_allclose(csf.score(audit), expected, rtol=1e-10)
    np.testing.assert_allclose(csf.means_, means)


def test_mahalanobis_handles_collinear_features_and_absent_classes():
    rng = np.random.default_rng(0)
    base = rng.normal(size=(100, 3))
    collinear = np.hstack([base, base[:, :1] * 2.0])  # rank 3 in 4 dims
    audit = tiny_audit(
        np.zeros((5, 3)),
        features=collinear[:5],
        train_features=collinear,
        train_labels=rng.integers(0, 2, 100),  # class 2 has no training sample
    )
    csf = get_csf("Mahalanobis").fit(audit)
    assert csf.classes_.tolist() == [0, 1]
    assert csf.whitening_.shape == (4, 3)
    assert np.isfinite(csf.score(audit)).all()


def test_knn_equals_an_exact_neighbour_search():
    rng = np.random.default_rng(4)
    train = rng.normal(size=(500, 16))
    features = rng.normal(size=(60, 16))
    audit = tiny_audit(
        np.zeros((60, 2)),
        features=features,
        train_features=train,
        train_labels=np.zeros(500, dtype=int),
    )
    unit = lambda x: x / np.linalg.norm(x, axis=1, keepdims=True)  # noqa: E731
    distances, _ = NearestNeighbors(n_neighbors=7).fit(unit(train)).kneighbors(unit(features))
    np.testing.assert_allclose(KNN(k=7).fit(audit).score(audit), -distances[:, -1], atol=1e-5)


def test_knn_blocks_give_the_same_result_as_one_block(monkeypatch):
    audit, _ = feature_audit()
    whole = KNN(k=5).fit(audit).score(audit)
    monkeypatch.setattr("silentscope.confidence.knn._BLOCK_VALUES", 400 * 3)  # 3 queries a block
    # float32 products may round differently in other block shapes, nothing more
    np.testing.assert_allclose(KNN(k=5).fit(audit).score(audit), whole, atol=1e-6)


def test_knn_with_k_above_the_training_size_is_unavailable_with_the_fix():
    audit, _ = feature_audit(n_train=20)
    with pytest.raises(
        CSFUnavailableError, match="k=50 needs at least 50 training features, got 20"
    ):
        KNN().fit(audit)
    with pytest.raises(ValueError, match="positive integer"):
        KNN(k=0).fit(audit)


def test_vim_least_squares_head_equals_the_given_head_and_the_paper_formula():
    audit, (weight, bias) = feature_audit()
    estimated = ViM(dim=4).fit(audit)
    given = ViM(dim=4, weight=weight, bias=bias).fit(audit)
    np.testing.assert_allclose(estimated.weight_, weight, atol=1e-8)
    np.testing.assert_allclose(estimated.score(audit), given.score(audit), rtol=1e-6)
    assert estimated.head_residual_ < 1e-10 and given.head_residual_ == 0.0

    # the formula written out: residual space of the uncentred covariance around u = -pinv(W) b
    origin = -np.linalg.pinv(weight) @ bias
    centred = audit.train_features - origin
    values, vectors = np.linalg.eigh(centred.T @ centred / len(centred))
    residual = vectors[:, np.argsort(values)[::-1][4:]]
    train_logits = audit.train_features @ weight.T + bias
    alpha = train_logits.max(axis=1).mean() / np.linalg.norm(centred @ residual, axis=1).mean()
    energy = np.log(np.exp(audit.logits).sum(axis=1))
    expected = energy - alpha * np.linalg.norm((audit.features - origin) @ residual, axis=1)
    np.testing.assert_allclose(given.score(audit), expected, rtol=1e-8)


def test_vim_refuses_features_that_do_not_produce_the_logits():
    audit, _ = feature_audit()
    nonlinear = tiny_audit(
        np.tanh(audit.logits * 3) + np.sin(audit.features[:, :2]),
        test_set=audit.test_set,
        features=audit.features,
        train_features=audit.train_features,
        train_labels=audit.train_labels,
    )
    with pytest.raises(CSFUnavailableError, match="relative residual"):
        ViM(dim=4).fit(nonlinear)
    with pytest.raises(CSFUnavailableError, match="0 < dim < 8"):
        ViM(dim=8).fit(audit)


@pytest.mark.parametrize("name", ["Mahalanobis", "ViM", "kNN"])
def test_feature_csfs_reject_features_of_another_width(name):
    audit, _ = feature_audit()
    other, _ = feature_audit(n_dims=5)
    csf = get_csf(name).fit(audit)
    with pytest.raises(ValueError, match="same layer"):
        csf.score(other)


def test_knn_max_train_searches_a_seeded_subset():
    audit, _ = feature_audit(n_train=400)
    subset = KNN(k=5, max_train=100, random_state=1).fit(audit)
    assert subset.train_normalised_.shape == (100, 8)
    again = KNN(k=5, max_train=100, random_state=1).fit(audit).score(audit)
    np.testing.assert_array_equal(subset.score(audit), again)
    assert not np.allclose(again, KNN(k=5).fit(audit).score(audit))
    everything = KNN(k=5, max_train=10_000).fit(audit)  # above the training size: all of it
    assert everything.train_normalised_.shape == (400, 8)

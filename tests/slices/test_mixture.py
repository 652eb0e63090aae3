"""The error-aware mixture: scikit-learn's EM when gamma = gamma_hat = 0, error-seeking otherwise."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.mixture import GaussianMixture

from silentscope.slices import ErrorAwareMixture


@pytest.fixture(scope="module")
def blobs():
    rng = np.random.default_rng(0)
    return np.vstack([rng.normal(center, 1.0, (150, 4)) for center in (0, 3, 6, 9)])


@pytest.mark.parametrize("init_params", ["kmeans", "random", "k-means++"])
@pytest.mark.parametrize("covariance_type", ["diag", "spherical"])
def test_equals_sklearn_gaussian_mixture_without_error_terms(blobs, init_params, covariance_type):
    reference = GaussianMixture(
        5, covariance_type=covariance_type, init_params=init_params, random_state=7, n_init=2
    ).fit(blobs)
    ours = ErrorAwareMixture(
        5, gamma=0, gamma_hat=0, covariance_type=covariance_type, init_params=init_params,
        random_state=7, n_init=2,
    ).fit(blobs)  # fmt: skip
    np.testing.assert_allclose(ours.means_, reference.means_, atol=1e-8)
    np.testing.assert_allclose(ours.weights_, reference.weights_, atol=1e-10)
    variances = (
        reference.covariances_ if covariance_type == "diag" else reference.covariances_[:, None]
    )
    np.testing.assert_allclose(
        ours.covariances_, np.broadcast_to(variances, ours.covariances_.shape), atol=1e-8
    )
    np.testing.assert_allclose(ours.lower_bound_, reference.lower_bound_, atol=1e-10)
    assert ours.n_iter_ == reference.n_iter_
    np.testing.assert_allclose(ours.predict_proba(blobs), reference.predict_proba(blobs), atol=1e-8)


def test_equals_sklearn_with_fixed_initial_means(blobs):
    means = blobs[[0, 200, 400, 550]]
    reference = GaussianMixture(4, covariance_type="diag", means_init=means, random_state=0).fit(
        blobs
    )
    ours = ErrorAwareMixture(4, gamma=0, gamma_hat=0, means_init=means, random_state=0).fit(blobs)
    np.testing.assert_allclose(ours.means_, reference.means_, atol=1e-8)
    np.testing.assert_allclose(ours.weights_, reference.weights_, atol=1e-10)


def test_error_terms_carve_out_an_error_region():
    """Errors fill a corner of one blob: the label and prediction terms isolate them."""
    rng = np.random.default_rng(1)
    X = np.vstack([rng.normal(0, 1, (600, 2)), rng.normal(6, 1, (600, 2))])
    y = np.zeros(1200, int)
    wrong = (X[:, 0] > 0.3) & (X[:, 1] > 0.3) & (np.arange(1200) < 600)
    proba = np.where(wrong[:, None], [0.1, 0.9], [0.9, 0.1])
    plain = ErrorAwareMixture(2, gamma=0, gamma_hat=0, random_state=0).fit(X)
    aware = ErrorAwareMixture(4, gamma=10, gamma_hat=10, init_params="kmeans", random_state=0).fit(
        X, y, proba
    )
    hard = aware.predict_membership(X, y, proba)
    best = max(
        range(4), key=lambda k: (hard[:, k] & wrong).sum() / max((hard[:, k] | wrong).sum(), 1)
    )
    jaccard = (hard[:, best] & wrong).sum() / (hard[:, best] | wrong).sum()
    assert jaccard > 0.9
    plain_hard = plain.predict_membership(X)
    plain_best = max(
        (plain_hard[:, k] & wrong).sum() / (plain_hard[:, k] | wrong).sum() for k in range(2)
    )
    assert plain_best < 0.5  # without the error terms they stay inside their blob
    assert aware.pred_probs_[best, 1] > 0.8


def test_zero_feature_weight_ignores_a_dimension():
    rng = np.random.default_rng(2)
    informative = np.r_[rng.normal(0, 0.3, 200), rng.normal(5, 0.3, 200)]
    noise = np.r_[rng.normal(0, 0.3, 100), rng.normal(5, 0.3, 200), rng.normal(0, 0.3, 100)]
    X = np.column_stack([informative, noise])
    model = ErrorAwareMixture(
        2, gamma=0, gamma_hat=0, feature_weights=[1.0, 0.0], random_state=0
    ).fit(X)
    labels = model.predict(X)
    assert len(set(labels[:200])) == 1 and len(set(labels[200:])) == 1 and labels[0] != labels[-1]


@pytest.mark.parametrize(
    ("params", "match"),
    [
        ({"covariance_type": "full"}, "covariance_type"),
        ({"init_params": "confusion"}, "init_params"),
        ({"gamma": -1}, "gamma"),
        ({"n_components": 0}, "n_components"),
        ({"feature_weights": [1.0]}, "feature_weights"),
    ],
)
def test_invalid_parameters_are_rejected(blobs, params, match):
    with pytest.raises(ValueError, match=match):
        ErrorAwareMixture(**{"gamma": 0, "gamma_hat": 0, **params}).fit(blobs)


def test_missing_targets_and_bad_probabilities_are_named(blobs):
    with pytest.raises(ValueError, match="needs y"):
        ErrorAwareMixture(3).fit(blobs)
    y = np.zeros(len(blobs), int)
    with pytest.raises(ValueError, match="summing to 1"):
        ErrorAwareMixture(3).fit(blobs, y, np.full((len(blobs), 2), 0.7))


def test_same_seed_same_fit_and_errors_init(blobs):
    y = (blobs[:, 0] > 4).astype(int)
    proba = np.where(blobs[:, :1] > 5, [0.2, 0.8], [0.8, 0.2])
    first = ErrorAwareMixture(6, init_params="errors", random_state=3).fit(blobs, y, proba)
    second = ErrorAwareMixture(6, init_params="errors", random_state=3).fit(blobs, y, proba)
    np.testing.assert_array_equal(first.means_, second.means_)
    assert first.predict_proba(blobs, y, proba).shape == (600, 6)


def test_label_weight_1_at_assignment_keeps_error_components_from_claiming_a_class():
    """Without predictions, gamma = 10 on the label lets every label-pure error component
    ("label 1, predicted 0") take the samples of its label; weight 1 finds the old patients."""
    import pandas as pd

    from silentscope.audit import AuditSet
    from silentscope.slices import discover_slices

    rng = np.random.default_rng(0)
    n = 400
    old = rng.random(n) < 0.25
    label = rng.integers(0, 2, n)
    wrong = rng.random(n) < np.where(old, 0.6, 0.05)
    audit = AuditSet(
        sample_id=[f"s{i}" for i in range(n)], test_set=["iid"] * n, label=label,
        logits=np.eye(2)[np.where(wrong, 1 - label, label)] * 3, class_names=["no", "yes"],
        metadata=pd.DataFrame({"age": np.where(old, 80, 40) + rng.integers(0, 5, n)}),
    )  # fmt: skip
    # the Domino-style views alone (the class-blind views have no label term at all)
    found = discover_slices(audit, n_seeds=2, min_support=10, class_blind=False)
    assert found.n_slices >= 1 and found.slices["metadata"].str.startswith("age > 44").all()
    emphasised = discover_slices(
        audit, n_seeds=2, min_support=10, class_blind=False,
        slicer_params={"assignment_gamma": 10.0},
    )  # fmt: skip
    assert emphasised.n_slices == 0

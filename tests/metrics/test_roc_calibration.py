"""Ranking metrics against scikit-learn and brute force; calibration and classification."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn import metrics as skm

import silentscope.metrics as sm

from . import reference as ref
from .strategies import samples


def both_classes(data):
    _, correct = data
    return correct.any() and not correct.all()


@settings(max_examples=300, deadline=None)
@given(st.one_of(samples(min_size=2, tie_levels=4), samples(min_size=2)).filter(both_classes))
def test_agrees_with_sklearn(data):
    conf, correct = data
    assert sm.auroc_f(conf, correct) == pytest.approx(
        skm.roc_auc_score(correct, conf), rel=0, abs=1e-12
    )
    assert sm.aupr_success(conf, correct) == pytest.approx(
        skm.average_precision_score(correct, conf), rel=0, abs=1e-12
    )
    assert sm.aupr_error(conf, correct) == pytest.approx(
        skm.average_precision_score(~correct, -conf), rel=0, abs=1e-12
    )
    assert sm.auroc_f(conf, correct) == pytest.approx(ref.auroc(conf, correct), rel=0, abs=1e-12)


@settings(max_examples=300, deadline=None)
@given(st.one_of(samples(min_size=2, tie_levels=6), samples(min_size=2)).filter(both_classes))
def test_fpr_at_95_tpr_brute_force(data):
    conf, correct = data
    assert sm.fpr_at_95_tpr(conf, correct) == pytest.approx(ref.fpr_at_tpr(conf, correct))


def test_fpr_at_95_tpr_exact_boundary():
    # 20 correct: TPR reaches exactly 19/20 = 0.95 after the 19th correct (0.95 * 20 is
    # not exactly 19 in floating point; the tolerance keeps that threshold).
    conf = np.concatenate([np.linspace(1, 0.5, 19), [0.45], [0.4], [0.3, 0.2]])
    correct = np.array([1] * 19 + [0] + [1] + [0, 0], dtype=bool)
    assert sm.fpr_at_95_tpr(conf, correct) == 0.0
    # A tie group is accepted whole: reaching TPR 0.95 also accepts its failure.
    conf_tied = np.concatenate([np.linspace(1, 0.5, 18), [0.45, 0.45], [0.4, 0.3, 0.2]])
    correct_tied = np.array([1] * 18 + [1, 0] + [1, 0, 0], dtype=bool)
    assert sm.fpr_at_95_tpr(conf_tied, correct_tied) == pytest.approx(1 / 3)


def test_tpr_level_tolerates_rounding():
    """0.56 * 25 evaluates to 14.000000000000002: exactly 14 of 25 must still count."""
    from silentscope.metrics._ranking import Ranking

    correct = np.array([1] * 14 + [0] + [1] * 11 + [0], dtype=bool)
    conf = np.linspace(1, 0, correct.size)
    curves = Ranking.from_scores(conf, correct).counts()
    curves.tpr = 0.56
    assert float(curves.fpr_at_tpr) == 0.0


def test_perfect_and_inverted_rankings():
    correct = np.array([1, 1, 1, 0, 0])
    conf = np.array([0.9, 0.8, 0.7, 0.2, 0.1])
    assert sm.auroc_f(conf, correct) == 1.0
    assert sm.auroc_f(-conf, correct) == 0.0
    assert sm.fpr_at_95_tpr(conf, correct) == 0.0
    assert sm.aupr_success(conf, correct) == 1.0
    assert sm.aupr_error(conf, correct) == 1.0


# --- calibration ---------------------------------------------------------------------------------
@settings(max_examples=200, deadline=None)
@given(samples(tie_levels=30), st.integers(1, 20))
def test_ece_brute_force(data, n_bins):
    conf, correct = data
    assert sm.ece(conf, correct, n_bins=n_bins) == pytest.approx(
        ref.ece(conf, correct, n_bins), rel=0, abs=1e-12
    )


def test_ece_known_values():
    assert sm.ece([1.0, 1.0], [1, 1]) == 0.0
    assert sm.ece([1.0, 1.0], [0, 0]) == 1.0
    assert sm.ece([0.0, 0.0], [0, 0]) == 0.0
    # Both in one bin: |(0.7 + 0.75) - 1| / 2.
    assert sm.ece([0.7, 0.75], [1, 0], n_bins=1) == pytest.approx(0.225)
    # 1.0 goes into the last bin, with 0.95.
    assert sm.ece([0.95, 1.0], [1, 0], n_bins=10) == pytest.approx(abs(1.95 - 1) / 2)


def test_top_label_ece_uses_max_probability():
    rng = np.random.default_rng(0)
    logits = rng.normal(size=(300, 4))
    probs = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    labels = rng.integers(0, 4, 300)
    conf = probs.max(axis=1)
    correct = probs.argmax(axis=1) == labels
    assert sm.top_label_ece(probs, labels) == pytest.approx(ref.ece(conf, correct))


# --- classification ------------------------------------------------------------------------------
@pytest.fixture
def classification_data():
    rng = np.random.default_rng(1)
    logits = rng.normal(size=(500, 3)) + 2 * np.eye(3)[rng.integers(0, 3, 500)]
    probs = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    labels = rng.choice(3, size=500, p=[0.6, 0.3, 0.1])
    return probs, labels


def test_classification_metrics_match_sklearn(classification_data):
    probs, labels = classification_data
    pred = probs.argmax(axis=1)
    assert sm.accuracy(probs, labels) == pytest.approx(skm.accuracy_score(labels, pred))
    assert sm.accuracy(pred, labels) == pytest.approx(skm.accuracy_score(labels, pred))
    assert sm.balanced_accuracy(pred, labels) == pytest.approx(
        skm.balanced_accuracy_score(labels, pred)
    )
    assert sm.nll(probs, labels) == pytest.approx(skm.log_loss(labels, probs, labels=[0, 1, 2]))
    onehot = np.eye(3)[labels]
    assert sm.brier(probs, labels) == pytest.approx(np.mean(np.sum((probs - onehot) ** 2, 1)))


def test_nll_clips_zero_probabilities():
    assert sm.nll([[1.0, 0.0]], [1]) == pytest.approx(-np.log(np.finfo(float).eps))


def test_brier_extremes():
    assert sm.brier([[1.0, 0.0]], [0]) == 0.0
    assert sm.brier([[1.0, 0.0]], [1]) == 2.0

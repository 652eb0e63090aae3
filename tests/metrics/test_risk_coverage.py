"""Risk-coverage curve, AURC / AUGRC and their excess versions."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn import metrics as skm

import silentscope.metrics as sm

from . import reference as ref
from .strategies import samples

# --- the edge-case matrix --------------------------------------------------------------------
# (confidence, correct, aurc, augrc): expected values worked out by hand.
EDGE_CASES = {
    "all correct": ([0.9, 0.5, 0.1], [1, 1, 1], 0.0, 0.0),
    "none correct": ([0.9, 0.5, 0.1], [0, 0, 0], 1.0, 0.5),
    "all tied": ([0.5, 0.5, 0.5, 0.5], [1, 0, 1, 1], 0.25, 0.125),
    "one sample, correct": ([0.7], [1], 0.0, 0.0),
    "one sample, wrong": ([0.7], [0], 1.0, 0.5),
    # sorted: wrong, correct -> risks 1, 1/2 at coverages 1/2, 1; cov-0 point carries 1
    "two samples, failure first": (
        [0.9, 0.1],
        [0, 1],
        0.5 * 1 + 0.5 * 0.75,
        0.5 * 0.25 + 0.5 * 0.5,
    ),
    "two samples, failure last": ([0.9, 0.1], [1, 0], 0.5 * 0.25, 0.5 * 0.25),
    # plateau of 2 at the top (1 wrong), then a correct: risks 1/2 at 2/3, 1/3 at 1
    "plateau on top": (
        [0.8, 0.8, 0.2],
        [1, 0, 1],
        2 / 3 * 0.5 + 1 / 3 * (0.5 + 1 / 3) / 2,
        2 / 3 * (1 / 6) + 1 / 3 * (1 / 3),
    ),
}


@pytest.mark.parametrize(
    ("conf", "correct", "want_aurc", "want_augrc"), EDGE_CASES.values(), ids=EDGE_CASES.keys()
)
def test_edge_cases(conf, correct, want_aurc, want_augrc):
    assert sm.aurc(conf, correct) == pytest.approx(want_aurc, rel=0, abs=1e-12)
    assert sm.augrc(conf, correct) == pytest.approx(want_augrc, rel=0, abs=1e-12)
    assert sm.aurc(conf, correct) == pytest.approx(ref.aurc(conf, correct), rel=0, abs=1e-12)
    assert sm.augrc(conf, correct) == pytest.approx(ref.augrc(conf, correct), rel=0, abs=1e-12)
    err = 1 - np.mean(correct)
    assert sm.e_augrc(conf, correct) == pytest.approx(want_augrc - err**2 / 2, rel=0, abs=1e-12)
    assert math.isfinite(sm.e_aurc(conf, correct))


def test_excess_metrics_at_the_extremes():
    # err = 0: both optima are 0; err = 1: AURC_opt is the limit 1, AUGRC_opt is 1/2.
    assert sm.e_aurc([0.3, 0.2], [1, 1]) == 0.0
    assert sm.e_aurc([0.3, 0.2], [0, 0]) == 0.0
    assert sm.e_augrc([0.3, 0.2], [0, 0]) == 0.0
    assert sm.RiskCoverageCurve([0.3, 0.2], [0, 0]).aurc_optimal == 1.0


def test_curve_arrays():
    curve = sm.RiskCoverageCurve([0.2, 0.9, 0.9, 0.5], [1, 0, 1, 0])
    np.testing.assert_allclose(curve.thresholds, [0.9, 0.5, 0.2])
    np.testing.assert_allclose(curve.coverages, [0, 0.5, 0.75, 1])
    np.testing.assert_allclose(curve.selective_risks, [0.5, 0.5, 2 / 3, 0.5])
    np.testing.assert_allclose(curve.generalized_risks, [0, 0.25, 0.5, 0.5])
    assert curve.error_rate == 0.5
    assert curve.aurc == pytest.approx(np.trapezoid(curve.selective_risks, curve.coverages))
    assert curve.augrc == pytest.approx(np.trapezoid(curve.generalized_risks, curve.coverages))


@settings(max_examples=200, deadline=None)
@given(samples(tie_levels=5))
def test_matches_brute_force_with_ties(data):
    conf, correct = data
    assert sm.aurc(conf, correct) == pytest.approx(ref.aurc(conf, correct), rel=0, abs=1e-12)
    assert sm.augrc(conf, correct) == pytest.approx(ref.augrc(conf, correct), rel=0, abs=1e-12)


@settings(max_examples=200, deadline=None)
@given(samples(tie_levels=4), st.randoms(use_true_random=False))
def test_permutation_invariance_under_ties(data, random):
    conf, correct = data
    perm = np.array(random.sample(range(conf.size), conf.size))
    for fn in (sm.aurc, sm.augrc, sm.e_aurc, sm.e_augrc):
        assert fn(conf[perm], correct[perm]) == pytest.approx(fn(conf, correct), rel=0, abs=1e-12)


# --- closed forms -------------------------------------------------------------------------------
@settings(max_examples=200, deadline=None)
@given(
    samples(min_size=2),
)
def test_augrc_auroc_identity_is_exact(data):
    """AUGRC = (1 - AUROC_f) acc (1 - acc) + (1 - acc)^2 / 2 (Traub et al. 2024).

    With the trapezoid rule and the coverage-0 point at generalized risk 0 the identity is
    exact, for any ties: each tie group adds a trapezoid whose area counts its discordant
    pairs (ties one half), see CountCurves.augrc.
    """
    conf, correct = data
    if correct.all() or not correct.any():
        return
    acc = correct.mean()
    want = (1 - sm.auroc_f(conf, correct)) * acc * (1 - acc) + (1 - acc) ** 2 / 2
    assert sm.augrc(conf, correct) == pytest.approx(want, rel=0, abs=1e-12)


def test_augrc_identity_with_ties():
    rng = np.random.default_rng(3)
    conf = rng.integers(0, 5, 500) / 5
    correct = rng.random(500) < 0.7
    acc = correct.mean()
    want = (1 - sm.auroc_f(conf, correct)) * acc * (1 - acc) + (1 - acc) ** 2 / 2
    assert sm.augrc(conf, correct) == pytest.approx(want, rel=0, abs=1e-14)


@pytest.mark.parametrize("n", [10, 100, 1000, 10000])
@pytest.mark.parametrize("accuracy", [0.5, 0.9])
def test_oracle_csf_has_zero_excess(n, accuracy):
    """An order-preserving noisy oracle: every failure below every correct prediction."""
    rng = np.random.default_rng(n)
    correct = rng.random(n) < accuracy
    conf = correct + 0.9 * rng.random(n)  # noise < 1 never crosses the two levels
    assert sm.e_augrc(conf, correct) == pytest.approx(0.0, rel=0, abs=1e-12)
    # AURC_opt = err + (1-err) ln(1-err) is the continuous limit; the trapezoid over n
    # points undershoots it by about (1/a - a) / (12 n^2), a = accuracy (concave curve).
    a = correct.mean()
    excess = sm.e_aurc(conf, correct)
    assert -(1 / a - a) / (6 * n**2) - 1e-15 <= excess <= 1e-15


def test_worse_csf_has_higher_aurc():
    rng = np.random.default_rng(0)
    correct = rng.random(5000) < 0.8
    signal = correct + rng.normal(size=5000)
    good, bad = signal, correct + 3 * rng.normal(size=5000)
    assert sm.aurc(good, correct) < sm.aurc(bad, correct) < sm.aurc(-good, correct)
    assert sm.augrc(good, correct) < sm.augrc(bad, correct)
    assert sm.e_aurc(good, correct) < sm.e_aurc(bad, correct)


def test_random_csf_aurc_is_close_to_error_rate():
    rng = np.random.default_rng(1)
    correct = rng.random(200_000) < 0.7
    conf = rng.random(200_000)
    assert sm.aurc(conf, correct) == pytest.approx(0.3, abs=0.01)
    assert sm.augrc(conf, correct) == pytest.approx(0.15, abs=0.005)


@pytest.mark.parametrize("decimals", [None, 6], ids=["distinct", "some ties"])
def test_inputs_spanning_several_kernel_blocks(decimals):
    """More groups than one column block of the streaming kernel (2**17)."""
    rng = np.random.default_rng(7)
    correct = rng.random(300_000) < 0.9
    conf = correct + 2 * rng.random(300_000)
    if decimals is not None:
        conf = np.round(conf, decimals)
    curve = sm.RiskCoverageCurve(conf, correct)
    assert curve.thresholds.size > 2 * 2**17
    assert curve.aurc == pytest.approx(
        np.trapezoid(curve.selective_risks, curve.coverages), rel=0, abs=1e-12
    )
    assert curve.augrc == pytest.approx(
        np.trapezoid(curve.generalized_risks, curve.coverages), rel=0, abs=1e-12
    )
    assert sm.auroc_f(conf, correct) == pytest.approx(
        skm.roc_auc_score(correct, conf), rel=0, abs=1e-12
    )
    assert sm.aupr_success(conf, correct) == pytest.approx(
        skm.average_precision_score(correct, conf), rel=0, abs=1e-12
    )
    assert sm.aupr_error(conf, correct) == pytest.approx(
        skm.average_precision_score(~correct, -conf), rel=0, abs=1e-12
    )
    fpr, tpr, _ = skm.roc_curve(correct, conf)
    assert sm.fpr_at_95_tpr(conf, correct) == pytest.approx(
        fpr[np.argmax(tpr >= 0.95 - 1e-12)], rel=0, abs=1e-12
    )


# --- legacy --------------------------------------------------------------------------------------
@settings(max_examples=300, deadline=None)
@given(samples(tie_levels=4))
def test_legacy_matches_documented_algorithm(data):
    conf, correct = data
    assert sm.aurc(conf, correct, legacy=True) == pytest.approx(
        ref.legacy_aurc(conf, correct), rel=0, abs=1e-12
    )


@settings(max_examples=200, deadline=None)
@given(samples(min_size=1))
def test_legacy_without_ties_misses_the_last_sample(data):
    """Distinct confidences: grouped - legacy = (residual of the most confident) / n."""
    conf, correct = data
    if np.unique(conf).size < conf.size:
        return
    top_residual = 1.0 - correct[np.argmax(conf)]
    diff = sm.aurc(conf, correct) - sm.aurc(conf, correct, legacy=True)
    assert diff == pytest.approx(top_residual / conf.size, rel=0, abs=1e-12)


def test_legacy_depends_on_the_order_of_ties():
    conf = np.array([0.5, 0.5, 0.5, 0.9])
    correct = np.array([0, 1, 1, 1])
    perm = np.array([1, 2, 0, 3])
    assert sm.aurc(conf, correct) == sm.aurc(conf[perm], correct[perm])
    assert sm.aurc(conf, correct, legacy=True) != pytest.approx(
        sm.aurc(conf[perm], correct[perm], legacy=True)
    )


def test_legacy_e_aurc():
    conf, correct = [0.9, 0.8, 0.7, 0.6], [1, 1, 0, 1]
    opt = 0.25 + 0.75 * math.log(0.75)
    assert sm.e_aurc(conf, correct, legacy=True) == pytest.approx(
        sm.legacy_aurc(conf, correct) - opt
    )


# --- class-balanced ------------------------------------------------------------------------------
def test_balanced_equals_plain_for_equal_class_sizes():
    rng = np.random.default_rng(4)
    labels = np.repeat([0, 1, 2], 100)
    conf, correct = rng.random(300), rng.random(300) < 0.7
    assert sm.aurc_balanced(conf, correct, labels) == pytest.approx(sm.aurc(conf, correct))
    assert sm.augrc_balanced(conf, correct, labels) == pytest.approx(sm.augrc(conf, correct))


def test_balanced_equals_plain_on_a_rebalanced_copy():
    """Weights 1/(K n_c) act like replicating the minority class to equal size."""
    rng = np.random.default_rng(5)
    labels = np.array([0] * 60 + [1] * 20)
    conf = np.round(rng.random(80), 2)
    correct = rng.random(80) < 0.75
    minority = labels == 1
    conf_rep = np.concatenate([conf[~minority]] + [conf[minority]] * 3)
    correct_rep = np.concatenate([correct[~minority]] + [correct[minority]] * 3)
    assert sm.aurc_balanced(conf, correct, labels) == pytest.approx(sm.aurc(conf_rep, correct_rep))
    assert sm.augrc_balanced(conf, correct, labels) == pytest.approx(
        sm.augrc(conf_rep, correct_rep)
    )


def test_balanced_full_coverage_risk_is_balanced_error():
    labels = np.array([0, 0, 0, 0, 1])
    correct = np.array([1, 1, 1, 0, 0])
    weights = sm.risk_coverage.class_balance_weights(labels)
    curve = sm.RiskCoverageCurve(np.linspace(1, 0, 5), correct, sample_weight=weights)
    assert curve.selective_risks[-1] == pytest.approx(1 - (0.75 + 0.0) / 2)


def test_string_labels_work_for_balanced_metrics():
    conf, correct = [0.9, 0.8, 0.7, 0.6], [1, 0, 1, 1]
    assert sm.aurc_balanced(conf, correct, ["a", "b", "a", "b"]) == pytest.approx(
        sm.aurc_balanced(conf, correct, [0, 1, 0, 1])
    )


def test_pre_ranked_input_takes_the_linear_path_with_identical_results():
    from silentscope.metrics._ranking import Ranking

    rng = np.random.default_rng(5)
    confidence = np.round(rng.random(2000), 2)  # many ties
    correct = rng.random(2000) < 0.7
    shuffled = Ranking.from_scores(confidence, correct)
    order = shuffled.order
    ranked = Ranking.from_scores(confidence[order], correct[order])
    np.testing.assert_array_equal(ranked.order, np.arange(2000))
    np.testing.assert_array_equal(ranked.thresholds, shuffled.thresholds)
    np.testing.assert_array_equal(ranked.group_start, shuffled.group_start)
    np.testing.assert_array_equal(ranked.correct_sorted, shuffled.correct_sorted)
    # A wrong sample before a correct one inside a tie is not in ranking order.
    bad_conf, bad_correct = np.array([0.9, 0.5, 0.5]), np.array([True, False, True])
    assert Ranking.from_scores(bad_conf, bad_correct).order.tolist() == [0, 2, 1]

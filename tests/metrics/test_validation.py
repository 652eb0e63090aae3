"""Every public metric validates its inputs first and says what is wrong."""

from __future__ import annotations

import numpy as np
import pytest

import silentscope.metrics as sm

FD_FUNCTIONS = [
    spec.function
    for spec in sm.METRICS.values()
    if spec.kind == "failure_detection" and not spec.needs_labels
]
GOOD_CONF = [0.9, 0.8, 0.7, 0.6]
GOOD_CORRECT = [1, 0, 1, 1]


@pytest.mark.parametrize("fn", FD_FUNCTIONS, ids=lambda f: f.__name__)
@pytest.mark.parametrize(
    ("confidence", "correct", "message"),
    [
        (
            [0.9, 0.8, 0.7, np.nan],
            GOOD_CORRECT,
            "confidence contains NaN at index 3; drop or impute those samples first",
        ),
        ([0.9, np.inf, 0.7, 0.6], GOOD_CORRECT, "confidence contains inf at index 1"),
        ([0.9, 0.8, -np.inf, 0.6], GOOD_CORRECT, "confidence contains inf at index 2"),
        (GOOD_CONF, [1, 0, np.nan, 1], "correct contains NaN at index 2"),
        (GOOD_CONF, [1, 0, 2, 1], "correct must contain only 0/1"),
        (GOOD_CONF, [1, 0, 0.5, 1], "found 0.5 at index 2"),
        (GOOD_CONF, [1, 0, 1], "same length, got 4 and 3"),
        ([[0.9, 0.8], [0.7, 0.6]], GOOD_CORRECT, "confidence must be a 1-D array"),
        (GOOD_CONF, [[1, 0], [1, 1]], "correct must be a 1-D array"),
        ([], [], "confidence is empty"),
        (0.5, 1, "confidence must be a 1-D array, got shape ()"),
        (["a", "b", "c", "d"], GOOD_CORRECT, "confidence must hold real numbers"),
    ],
)
def test_invalid_inputs_raise_clear_errors(fn, confidence, correct, message):
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)")):
        fn(confidence, correct)


@pytest.mark.parametrize("fn", FD_FUNCTIONS, ids=lambda f: f.__name__)
def test_bool_and_integer_inputs_are_accepted(fn):
    as_int = fn([1, 0, 1, 0], [1, 0, 1, 1])
    as_bool = fn(np.array([9, 8, 7, 6]) / 10, np.array([True, False, True, True]))
    assert np.isfinite(as_int) and np.isfinite(as_bool)


@pytest.mark.parametrize("name", ["auroc_f", "fpr_at_95_tpr"])
@pytest.mark.parametrize("correct", [[1, 1, 1], [0, 0, 0]])
def test_auroc_family_undefined_without_both_outcomes(name, correct):
    with pytest.raises(ValueError, match="correct must contain both 0 and 1 values to compute"):
        sm.get_metric(name).function([0.3, 0.2, 0.1], correct)


def test_average_precisions_need_their_positive_class():
    with pytest.raises(ValueError, match="at least one 1 .* AUPR-success"):
        sm.aupr_success([0.3, 0.2], [0, 0])
    with pytest.raises(ValueError, match="at least one 0 .* AUPR-error"):
        sm.aupr_error([0.3, 0.2], [1, 1])
    # The other class missing is fine: precision is 1 throughout.
    assert sm.aupr_success([0.3, 0.2], [1, 1]) == 1.0
    assert sm.aupr_error([0.3, 0.2], [0, 0]) == 1.0


@pytest.mark.parametrize("fn", [sm.ece, sm.bootstrap_ci])
def test_ece_rejects_confidences_outside_unit_interval(fn):
    with pytest.raises(ValueError, match=r"ECE needs confidences in \[0, 1\].*1.5 at index 1"):
        fn([0.2, 1.5, 0.7], [1, 0, 1])


@pytest.mark.parametrize("n_bins", [0, -3, 2.5, True, "15"])
def test_ece_rejects_bad_bin_counts(n_bins):
    with pytest.raises(ValueError, match="n_bins must be a positive integer"):
        sm.ece([0.2, 0.5], [1, 0], n_bins=n_bins)


@pytest.mark.parametrize(
    ("probs", "labels", "message"),
    [
        ([[0.5, 0.6], [0.5, 0.5]], [0, 1], "row 0 sums to 1.1"),
        ([[1.2, -0.2], [0.5, 0.5]], [0, 1], r"probs must lie in \[0, 1\]; row 0"),
        ([[np.nan, 1.0], [0.5, 0.5]], [0, 1], r"probs contains NaN at index \(0, 0\)"),
        ([[0.5, 0.5], [0.5, 0.5]], [0, 2], r"labels must lie in \[0, 2\); found 2 at index 1"),
        ([[0.5, 0.5], [0.5, 0.5]], [0, 0.5], "labels must hold integer class indices"),
        ([[0.5, 0.5], [0.5, 0.5]], [0], "labels must have length 2"),
        ([[1.0], [1.0]], [0, 0], "at least 2 class columns"),
    ],
)
@pytest.mark.parametrize(
    "fn",
    [sm.nll, sm.brier, sm.top_label_ece, sm.accuracy, sm.balanced_accuracy],
    ids=lambda f: f.__name__,
)
def test_classification_inputs(fn, probs, labels, message):
    with pytest.raises(ValueError, match=message):
        fn(probs, labels)


@pytest.mark.parametrize("fn", [sm.nll, sm.brier, sm.top_label_ece], ids=lambda f: f.__name__)
def test_probability_metrics_need_a_matrix(fn):
    with pytest.raises(ValueError, match="probs must be a 2-D"):
        fn([0.5, 0.5], [0, 1])


def test_prediction_vectors_are_validated():
    with pytest.raises(ValueError, match="predictions must hold integer class indices"):
        sm.accuracy([0.5, 1.0], [0, 1])
    with pytest.raises(ValueError, match="labels must have length 2, got 3"):
        sm.accuracy([0, 1], [0, 1, 1])


@pytest.mark.parametrize("value", [-0.1, 1.1, np.nan])
def test_working_point_targets_must_be_fractions(value):
    with pytest.raises(ValueError, match=r"must lie in \[0, 1\]"):
        sm.risk_at_coverage(GOOD_CONF, GOOD_CORRECT, value)
    with pytest.raises(ValueError, match=r"must lie in \[0, 1\]"):
        sm.coverage_at_risk(GOOD_CONF, GOOD_CORRECT, value)
    with pytest.raises(ValueError, match=r"must lie in \[0, 1\]"):
        sm.selective_threshold(GOOD_CONF, GOOD_CORRECT, value)


def test_balanced_metrics_validate_labels():
    with pytest.raises(ValueError, match="labels must have length 4"):
        sm.aurc_balanced(GOOD_CONF, GOOD_CORRECT, [0, 1, 1])
    with pytest.raises(ValueError, match="labels contains NaN at index 0"):
        sm.augrc_balanced(GOOD_CONF, GOOD_CORRECT, [np.nan, 1, 1, 0])


def test_sample_weight_validation():
    with pytest.raises(ValueError, match="non-negative; found -1.0 at index 1"):
        sm.RiskCoverageCurve(GOOD_CONF, GOOD_CORRECT, sample_weight=[1, -1, 1, 1])
    with pytest.raises(ValueError, match="sums to zero"):
        sm.RiskCoverageCurve(GOOD_CONF, GOOD_CORRECT, sample_weight=[0, 0, 0, 0])


def test_inputs_are_not_modified():
    conf = np.array([0.3, 0.9, 0.9, 0.1])
    correct = np.array([1, 0, 1, 1])
    before = conf.copy(), correct.copy()
    for fn in FD_FUNCTIONS:
        fn(conf, correct)
    sm.bootstrap_ci(conf, correct, n_resamples=5, random_state=0)
    np.testing.assert_array_equal(conf, before[0])
    np.testing.assert_array_equal(correct, before[1])

"""The vectorised classification bootstrap against a plain per-resample loop."""

import numpy as np
import pytest

from silentscope.metrics import (
    CLASSIFICATION_BOOTSTRAP_METRICS,
    METRICS,
    classification_bootstrap_ci,
)


def _loop(probs, labels, name, n_resamples, seed):
    rng = np.random.default_rng(seed)
    n = len(labels)
    values = []
    for _ in range(n_resamples):
        rows = rng.integers(0, n, size=n)
        values.append(METRICS[name].function(probs[rows], labels[rows]))
    return np.array(values)


@pytest.mark.parametrize("n_classes", [2, 5])
def test_equals_the_per_resample_loop(n_classes):
    rng = np.random.default_rng(3)
    n = 257  # not a multiple of the chunk, so chunk boundaries are exercised
    labels = rng.integers(0, n_classes, n)
    logits = rng.normal(size=(n, n_classes)) * 2 + 2 * np.eye(n_classes)[labels]
    probs = np.exp(logits) / np.exp(logits).sum(1, keepdims=True)
    probs[0] = np.eye(n_classes)[(labels[0] + 1) % n_classes]  # a zero true-class probability
    result = classification_bootstrap_ci(
        probs, labels, CLASSIFICATION_BOOTSTRAP_METRICS, n_resamples=300, random_state=11
    )
    for name in CLASSIFICATION_BOOTSTRAP_METRICS:
        expected = _loop(probs, labels, name, 300, 11)
        np.testing.assert_allclose(result[name].samples, expected, rtol=1e-12, atol=1e-12)
        assert result[name].estimate == pytest.approx(METRICS[name].function(probs, labels))
        low, high = np.quantile(expected, [0.025, 0.975])
        assert result[name].low == pytest.approx(low) and result[name].high == pytest.approx(high)


def test_rare_class_missing_from_a_resample():
    # Balanced accuracy averages over the classes present in each resample, as the metric does.
    labels = np.array([0] * 40 + [1])
    probs = np.tile([0.7, 0.3], (41, 1))
    result = classification_bootstrap_ci(probs, labels, "balanced_accuracy", n_resamples=200)
    expected = _loop(probs, labels, "balanced_accuracy", 200, 0)
    np.testing.assert_allclose(result["balanced_accuracy"].samples, expected)
    assert set(np.round(expected, 6)) == {0.5, 1.0}


def test_bad_input_is_named():
    probs = np.array([[0.5, 0.5], [0.2, 0.8]])
    with pytest.raises(ValueError, match="not a resampled classification metric"):
        classification_bootstrap_ci(probs, [0, 1], "aurc")
    with pytest.raises(ValueError, match="n_resamples"):
        classification_bootstrap_ci(probs, [0, 1], "accuracy", n_resamples=0)

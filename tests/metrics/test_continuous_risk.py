"""Risk-coverage metrics with a continuous per-sample loss in [0, 1] (e.g. 1 - Dice)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import silentscope.metrics as sm
from silentscope.metrics.risk_coverage import class_balance_weights

from . import reference as ref


def loss_samples(max_size=30, tie_levels=None):
    """(confidence, loss) arrays; losses include exact 0 and 1 and values in between."""
    conf = (
        st.integers(0, tie_levels - 1).map(lambda k: k / tie_levels)
        if tie_levels
        else st.floats(0, 1, allow_nan=False)
    )
    loss = st.one_of(st.just(0.0), st.just(1.0), st.floats(0, 1, allow_nan=False))
    return st.lists(st.tuples(conf, loss), min_size=1, max_size=max_size).map(
        lambda rows: (np.array([r[0] for r in rows]), np.array([r[1] for r in rows]))
    )


def _oracle(fn, loss):
    return fn(-np.asarray(loss), np.asarray(loss))


@settings(max_examples=150, deadline=None)
@given(data=st.one_of(loss_samples(), loss_samples(tie_levels=4)))
def test_areas_match_brute_force(data):
    conf, loss = data
    assert sm.aurc(conf, loss=loss) == pytest.approx(ref.aurc_loss(conf, loss), abs=1e-12)
    assert sm.augrc(conf, loss=loss) == pytest.approx(ref.augrc_loss(conf, loss), abs=1e-12)
    binary = np.all((loss == 0) | (loss == 1))
    if not binary:
        # No closed form: the oracle is the same samples ranked by ascending loss.
        want = ref.aurc_loss(conf, loss) - _oracle(ref.aurc_loss, loss)
        assert sm.e_aurc(conf, loss=loss) == pytest.approx(want, abs=1e-12)
        want = ref.augrc_loss(conf, loss) - _oracle(ref.augrc_loss, loss)
        assert sm.e_augrc(conf, loss=loss) == pytest.approx(want, abs=1e-12)
    for coverage in (0.0, 0.3, 0.5, 1.0):
        got = sm.risk_at_coverage(conf, coverage=coverage, loss=loss)
        assert got == pytest.approx(ref.risk_at_coverage_loss(conf, loss, coverage), abs=1e-12)


@settings(max_examples=100, deadline=None)
@given(
    conf=st.lists(st.integers(0, 5), min_size=1, max_size=30),
    seed=st.integers(0, 2**32 - 1),
)
def test_binary_loss_equals_the_binary_path(conf, seed):
    conf = np.array(conf, dtype=float) / 5
    correct = np.random.default_rng(seed).random(conf.shape[0]) < 0.6
    loss = (~correct).astype(float)
    for fn in (sm.aurc, sm.e_aurc, sm.augrc, sm.e_augrc):
        assert fn(conf, loss=loss) == fn(conf, correct)
    assert sm.risk_at_coverage(conf, coverage=0.4, loss=loss) == sm.risk_at_coverage(
        conf, correct, 0.4
    )


def test_loss_tends_to_the_binary_value():
    # A loss slightly inside (0, 1) leaves the binary path but lands next to its value.
    rng = np.random.default_rng(3)
    conf = rng.random(200)
    correct = rng.random(200) < 0.7
    loss = np.where(correct, 1e-12, 1 - 1e-12)
    assert sm.aurc(conf, loss=loss) == pytest.approx(sm.aurc(conf, correct), abs=1e-9)
    assert sm.augrc(conf, loss=loss) == pytest.approx(sm.augrc(conf, correct), abs=1e-9)


def test_hand_computed_curve():
    # Sorted losses 0.1, 0.5, 0.3: selective risks 0.1, 0.3, 0.3 at coverages 1/3, 2/3, 1.
    curve = sm.RiskCoverageCurve([0.9, 0.8, 0.7], loss=[0.1, 0.5, 0.3])
    assert not curve.is_binary
    np.testing.assert_allclose(curve.selective_risks, [0.1, 0.1, 0.3, 0.3], atol=1e-15)
    np.testing.assert_allclose(curve.generalized_risks, [0, 0.1 / 3, 0.2, 0.3], atol=1e-15)
    assert curve.aurc == pytest.approx(0.2, abs=1e-15)
    # Oracle order 0.1, 0.3, 0.5: risks 0.1, 0.2, 0.3.
    assert curve.aurc_optimal == pytest.approx((0.1 + 0.1 + 0.1 + 0.2 + 0.2 + 0.3) / 6)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"loss": [0.1, 1.5]}, r"loss must lie in \[0, 1\].*1\.5 at index 1"),
        ({"loss": [0.1, -0.1]}, r"loss must lie in \[0, 1\].*index 1"),
        ({"loss": [0.1, np.nan]}, "loss contains NaN at index 1"),
        ({"loss": [0.1, np.inf]}, "loss contains inf at index 1"),
        ({"loss": [0.1]}, "same length"),
        ({}, "exactly one of correct"),
        ({"correct": [1, 0], "loss": [0.0, 1.0]}, "exactly one of correct"),
    ],
)
def test_invalid_loss_is_refused(kwargs, match):
    with pytest.raises(ValueError, match=match):
        sm.aurc([0.9, 0.8], **kwargs)


def test_legacy_refuses_a_loss():
    with pytest.raises(ValueError, match="legacy=True"):
        sm.aurc([0.9, 0.8], loss=[0.2, 0.4], legacy=True)


def _resamples(n, r, seed):
    return np.random.default_rng(seed).integers(0, n, size=(r, n))


@pytest.mark.parametrize("ties", [False, True])
def test_bootstrap_with_loss_matches_a_plain_loop(ties):
    rng = np.random.default_rng(7)
    n = 60
    conf = np.round(rng.random(n), 1) if ties else rng.random(n)
    loss = np.where(rng.random(n) < 0.5, 0.0, rng.random(n))
    idx = _resamples(n, 5, 1)
    got = sm.bootstrap_ci(conf, loss=loss, resample_indices=idx)
    assert tuple(got) == ("aurc", "e_aurc", "augrc", "e_augrc")
    for name, result in got.items():
        fn = getattr(sm, name)
        assert result.estimate == pytest.approx(fn(conf, loss=loss), abs=1e-12)
        want = [fn(conf[i], loss=loss[i]) for i in idx]
        np.testing.assert_allclose(result.samples, want, rtol=0, atol=1e-12)


def test_bootstrap_binary_loss_equals_binary_correct():
    rng = np.random.default_rng(2)
    conf = np.round(rng.random(80), 1)
    correct = rng.random(80) < 0.7
    a = sm.bootstrap_ci(conf, loss=(~correct).astype(float), n_resamples=30, random_state=4)
    b = sm.bootstrap_ci(conf, correct, n_resamples=30, random_state=4)
    assert set(a) == set(sm.BOOTSTRAP_METRICS)
    for name in a:
        np.testing.assert_array_equal(a[name].samples, b[name].samples)


@pytest.mark.parametrize(
    "metric", ["auroc_f", "fpr_at_95_tpr", "aupr_success", "aupr_error", "ece"]
)
def test_binary_only_metrics_refuse_a_continuous_loss(metric):
    with pytest.raises(ValueError, match=f"'{metric}' is defined only for binary failure"):
        sm.bootstrap_ci([0.9, 0.8, 0.7], loss=[0.1, 0.5, 0.0], metrics=[metric])


def test_ranking_metric_with_fractional_correct_points_to_loss():
    with pytest.raises(ValueError, match="ranking metrics need binary failure"):
        sm.auroc_f([0.9, 0.8, 0.7], [1, 0.5, 0])


@settings(max_examples=100, deadline=None)
@given(
    data=st.one_of(loss_samples(), loss_samples(tie_levels=4)),
    classes=st.lists(st.integers(0, 2), min_size=30, max_size=30),
)
def test_class_balanced_areas_with_a_loss_match_brute_force(data, classes):
    """Class weights n / (K n_c) weight the summed loss as they weight failures."""
    conf, loss = data
    labels = np.array(classes[: conf.size])
    weight = class_balance_weights(labels)
    want = ref.aurc_loss(conf, loss, weight)
    assert sm.aurc_balanced(conf, labels=labels, loss=loss) == pytest.approx(want, abs=1e-12)
    want = ref.augrc_loss(conf, loss, weight)
    assert sm.augrc_balanced(conf, labels=labels, loss=loss) == pytest.approx(want, abs=1e-12)


def test_class_balanced_with_a_binary_loss_equals_correct_and_needs_labels():
    rng = np.random.default_rng(4)
    conf, correct, labels = rng.random(80), rng.random(80) < 0.7, rng.integers(0, 3, 80)
    loss = (~correct).astype(float)
    for fn in (sm.aurc_balanced, sm.augrc_balanced):
        assert fn(conf, labels=labels, loss=loss) == fn(conf, correct, labels)
        with pytest.raises(ValueError, match="labels are required"):
            fn(conf, loss=loss)
        with pytest.raises(ValueError, match="exactly one of correct"):
            fn(conf, correct, labels, loss=loss)

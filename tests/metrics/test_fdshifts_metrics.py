"""The FD-Shifts metric set: achievable and partial AURC, AURC-BA / AUGRC-BA, MCE, fail-NLL,
risk at coverage, a validation-tuned threshold; and the FD-Shifts bugs not copied.

Each metric is checked against a brute-force loop written from FD-Shifts' definition
(``reference.py``: ROC convex hull with scipy, numerical quadrature) and against closed forms.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import silentscope.metrics as sm

from . import reference as ref
from .strategies import samples


def with_labels(draw_size=3):
    return st.one_of(samples(min_size=1, tie_levels=5), samples(min_size=1)).flatmap(
        lambda data: st.tuples(
            st.just(data),
            st.lists(
                st.integers(0, draw_size - 1), min_size=len(data[0]), max_size=len(data[0])
            ).map(np.array),
        )
    )


# ------------------------------------------------------------------ achievable AURC
@settings(max_examples=300, deadline=None)
@given(st.one_of(samples(min_size=1, tie_levels=5), samples(min_size=1)))
def test_achievable_aurc_matches_fdshifts_hull_and_quadrature(data):
    conf, correct = data
    assert sm.aurc_achievable(conf, correct) == pytest.approx(
        ref.fd_aurc_achievable(conf, correct), rel=0, abs=1e-10
    )


@settings(max_examples=200, deadline=None)
@given(st.one_of(samples(min_size=1, tie_levels=5), samples(min_size=1)))
def test_achievable_never_above_mixture_area_of_all_points(data):
    # The hull is below every curve point, so mixing along it can only lower the area.
    conf, correct = data
    cov, _, gen = ref.fd_points(conf, correct)
    assert sm.aurc_achievable(conf, correct) <= ref.mixture_integral(cov, gen) + 1e-12


@pytest.mark.parametrize("n_wrong", [1, 3, 7, 20])
def test_oracle_reaches_the_closed_form_optimum_exactly(n_wrong):
    n = 40
    correct = np.arange(n) >= n_wrong  # the failures get the lowest confidences
    conf = np.arange(n) / n
    err = n_wrong / n
    assert sm.aurc_achievable(conf, correct) == pytest.approx(
        err + (1 - err) * math.log(1 - err), rel=0, abs=1e-14
    )
    assert abs(sm.e_aurc_achievable(conf, correct)) < 1e-14
    assert sm.e_aurc(conf, correct) < 0  # the trapezoid oracle falls short for small n


def test_achievable_closed_form_by_hand():
    # curve (c, g): (.25, 0), (.5, .25), (.75, .25), (1, .25); hull (0,0), (.25, 0), (1, .25):
    # on the last edge g = -1/12 + c/3, area = -ln(4)/12 + 1/4.
    value = sm.aurc_achievable([0.9, 0.8, 0.7, 0.6], [1, 0, 1, 1])
    assert value == pytest.approx(0.25 - math.log(4) / 12, rel=0, abs=1e-15)
    assert sm.aurc_achievable([0.5] * 4, [1, 0, 1, 1]) == 0.25  # one threshold: err
    assert sm.aurc_achievable([0.9, 0.1], [1, 1]) == 0.0
    assert sm.aurc_achievable([0.9, 0.1], [0, 0]) == 1.0


# ------------------------------------------------------------------ partial AURC
@settings(max_examples=200, deadline=None)
@given(
    st.one_of(samples(min_size=1, tie_levels=5), samples(min_size=1)),
    st.tuples(st.floats(0, 1), st.floats(0, 1)).filter(lambda r: abs(r[0] - r[1]) > 1e-6),
)
def test_partial_aurc_brute_force(data, bounds):
    conf, correct = data
    lo, hi = sorted(bounds)
    cov, _, gen = ref.fd_points(conf, correct)
    mixture = sm.aurc_partial(conf, correct, (lo, hi), interpolation="mixture")
    assert mixture == pytest.approx(ref.mixture_integral(cov, gen, lo, hi), rel=0, abs=1e-10)
    # linear: the trapezoid AURC's own curve, so the two parts add up to the whole
    x = (lo + hi) / 2
    parts = sm.aurc_partial(conf, correct, (0, x)) + sm.aurc_partial(conf, correct, (x, 1))
    assert parts == pytest.approx(sm.aurc(conf, correct), rel=0, abs=1e-12)


@settings(max_examples=100, deadline=None)
@given(
    st.lists(st.tuples(st.integers(0, 4), st.floats(0, 1)), min_size=1, max_size=30),
    st.tuples(st.floats(0, 1), st.floats(0, 1)).filter(lambda r: abs(r[0] - r[1]) > 1e-6),
)
def test_partial_aurc_with_a_continuous_loss(rows, bounds):
    conf = np.array([r[0] / 4 for r in rows])
    loss = np.array([r[1] for r in rows])
    lo, hi = sorted(bounds)
    cov, sel, gen = ref.rc_curve_loss(conf, loss)
    linear = sm.aurc_partial(conf, coverage_range=(lo, hi), loss=loss)
    xs = np.linspace(lo, hi, 20001)
    assert linear == pytest.approx(np.trapezoid(np.interp(xs, cov, sel), xs), abs=1e-5)
    mixture = sm.aurc_partial(conf, coverage_range=(lo, hi), loss=loss, interpolation="mixture")
    assert mixture == pytest.approx(ref.mixture_integral(cov[1:], gen[1:], lo, hi), abs=1e-10)


def test_partial_aurc_closed_form_and_validation():
    conf, correct = [0.9, 0.8, 0.7, 0.6], [1, 0, 1, 1]
    # selective risk: 0 at c = .25 (and the coverage-0 point), .5 at .5, 1/3 at .75, .25 at 1
    assert sm.aurc_partial(conf, correct, (0.5, 0.75)) == pytest.approx((0.5 + 1 / 3) / 8)
    assert sm.aurc_partial(conf, correct, (0.0, 1.0)) == pytest.approx(sm.aurc(conf, correct))
    with pytest.raises(ValueError, match="0 <= lo < hi <= 1"):
        sm.aurc_partial(conf, correct, (0.8, 0.2))
    with pytest.raises(ValueError, match="pair"):
        sm.aurc_partial(conf, correct, 0.5)
    with pytest.raises(ValueError, match="interpolation"):
        sm.aurc_partial(conf, correct, interpolation="cubic")


# ------------------------------------------------------------------ AURC-BA / AUGRC-BA
@settings(max_examples=200, deadline=None)
@given(with_labels())
def test_fdshifts_balanced_metrics_brute_force(data):
    (conf, correct), labels = data
    assert sm.aurc_ba(conf, correct, labels) == pytest.approx(
        ref.fd_aurc_ba(conf, correct, labels), rel=0, abs=1e-12
    )
    assert sm.augrc_ba(conf, correct, labels) == pytest.approx(
        ref.fd_augrc_ba(conf, correct, labels), rel=0, abs=1e-12
    )


def test_fdshifts_balanced_differs_from_silentscope_balanced_and_reduces_on_one_class():
    conf = [0.9, 0.8, 0.7, 0.6, 0.5]
    correct = [1, 1, 0, 1, 0]
    one_class = [0] * 5
    # with one class, both BA definitions are the plain metrics
    assert sm.aurc_ba(conf, correct, one_class) == pytest.approx(sm.aurc(conf, correct))
    assert sm.augrc_ba(conf, correct, one_class) == pytest.approx(sm.augrc(conf, correct))
    labels = [0, 0, 0, 0, 1]
    assert sm.aurc_ba(conf, correct, labels) != pytest.approx(
        sm.aurc_balanced(conf, correct, labels)
    )


# ------------------------------------------------------------------ MCE, fail-NLL
@settings(max_examples=200, deadline=None)
@given(samples(min_size=1), st.integers(1, 20))
def test_mce_brute_force_and_bounds_ece(data, n_bins):
    conf, correct = data
    gaps = {}
    for c, y in zip(conf, correct, strict=True):
        k = min(math.floor(c * n_bins), n_bins - 1)
        gaps.setdefault(k, []).append((c, float(y)))
    expected = max(
        abs(np.mean([c for c, _ in v]) - np.mean([y for _, y in v])) for v in gaps.values()
    )
    assert sm.mce(conf, correct, n_bins) == pytest.approx(expected, rel=0, abs=1e-12)
    assert sm.ece(conf, correct, n_bins) <= sm.mce(conf, correct, n_bins) + 1e-12


def test_fail_nll_closed_form_and_validation():
    conf, correct = np.array([0.9, 0.8, 0.7, 1.0]), np.array([1, 1, 0, 0])
    expected = -(np.log(0.9 + 1e-7) + np.log(0.8 + 1e-7) + np.log(0.3 + 1e-7) + np.log(1e-7)) / 4
    assert sm.fail_nll(conf, correct) == pytest.approx(expected, rel=1e-15)
    assert sm.fail_nll(conf, correct, eps=0.0) == math.inf
    with pytest.raises(ValueError, match="in \\[0, 1\\].*index 0"):
        sm.fail_nll([1.5, 0.2], [1, 0])
    with pytest.raises(ValueError, match="eps"):
        sm.fail_nll([0.5], [1], eps=-1)


# ------------------------------------------------------------------ risk at coverage
@settings(max_examples=300, deadline=None)
@given(st.one_of(samples(min_size=1, tie_levels=5), samples(min_size=1)), st.floats(0, 1))
def test_min_risk_at_coverage_brute_force(data, coverage):
    conf, correct = data
    cov, sel, _ = ref.fd_points(conf, correct)
    expected = min(r for c, r in zip(cov, sel, strict=True) if c >= coverage - 1e-12)
    assert sm.min_risk_at_coverage(conf, correct, coverage) == pytest.approx(expected, abs=1e-15)
    assert sm.min_risk_at_coverage(conf, correct, coverage) <= sm.risk_at_coverage(
        conf, correct, coverage
    )


def test_the_two_risk_at_coverage_definitions_differ_as_documented():
    conf, correct = [0.9, 0.8, 0.7, 0.6], [1, 0, 1, 1]
    assert sm.risk_at_coverage(conf, correct, 0.5) == 0.5  # the point at coverage 0.5
    assert sm.min_risk_at_coverage(conf, correct, 0.5) == 0.25  # the best point at >= 0.5
    rng = np.random.default_rng(0)
    differ = 0
    for _ in range(400):
        conf = rng.random(50)
        correct = rng.random(50) < 0.8
        differ += sm.risk_at_coverage(conf, correct, 0.8) != sm.min_risk_at_coverage(
            conf, correct, 0.8
        )
    assert differ > 0  # common on random data; the minimum is never above ours (above)


# ------------------------------------------------------------------ validation-tuned threshold
def test_validation_tuned_threshold_is_applied_unchanged_to_test():
    val_conf, val_correct = [0.9, 0.8, 0.7, 0.6], [1, 1, 0, 1]
    test_conf, test_correct = [0.95, 0.85, 0.75, 0.5], [1, 0, 1, 1]
    result = sm.validation_tuned_risk_coverage(val_conf, val_correct, test_conf, test_correct, 0.1)
    assert result.threshold == 0.8
    assert (result.val_risk, result.val_coverage) == (0.0, 0.5)
    assert (result.test_risk, result.test_coverage) == (0.5, 0.5)
    assert result.exceeds_target
    loose = sm.validation_tuned_risk_coverage(val_conf, val_correct, test_conf, test_correct, 0.35)
    assert loose.threshold == 0.6 and loose.test_coverage == 0.75 and not loose.exceeds_target
    none = sm.validation_tuned_risk_coverage([0.9], [0], test_conf, test_correct, 0.0)
    assert none.threshold == math.inf and none.test_coverage == 0.0
    assert math.isnan(none.test_risk) and not none.exceeds_target


# ------------------------------------------------------------------ FD-Shifts bugs not copied
@settings(max_examples=200, deadline=None)
@given(samples(min_size=2, tie_levels=3), st.randoms(use_true_random=False))
def test_tie_order_invariance_where_fdshifts_legacy_aurc_is_not(data, random):
    conf, correct = data
    order = list(range(len(conf)))
    random.shuffle(order)
    shuffled = (conf[order], correct[order])
    for name, spec in sm.METRICS.items():
        if spec.kind != "failure_detection":
            continue
        labels = (np.arange(len(conf)) % 2,) if spec.needs_labels else ()
        shuffled_labels = (labels[0][order],) if labels else ()
        try:
            value = spec.function(conf, correct, *labels)
        except ValueError:
            continue
        assert spec.function(*shuffled, *shuffled_labels) == pytest.approx(
            value, rel=0, abs=1e-12
        ), name


def test_legacy_aurc_depends_on_tie_order_but_aurc_does_not():
    conf = np.array([0.5, 0.5, 0.5, 0.9])
    a, b = np.array([1, 0, 1, 1]), np.array([0, 1, 1, 1])  # same samples, tie order swapped
    assert sm.legacy_aurc(conf, a) != sm.legacy_aurc(conf, b)
    assert sm.aurc(conf, a) == sm.aurc(conf, b)


@pytest.mark.parametrize("conf", [[1.0, 1.0, 1.0], [0.2, 0.55, 0.97, 0.97]])
def test_calibration_of_an_all_correct_set_is_one_minus_confidence(conf):
    # FD-Shifts binarizes correctness with the classes present, so an all-correct set
    # counts as all wrong there (its ECE would be the mean confidence).
    conf = np.array(conf)
    correct = np.ones(conf.shape[0], dtype=bool)
    assert sm.ece(conf, correct) == pytest.approx(np.mean(1 - conf), abs=1e-15)
    assert sm.mce(conf, correct) <= np.max(1 - conf) + 1e-15
    assert sm.fail_nll(conf, correct) == pytest.approx(-np.mean(np.log(conf + 1e-7)))


def test_lower_hull_fallback_and_flat_curves_agree_with_qhull():
    from silentscope.metrics.achievable import _monotone_chain, lower_hull

    rng = np.random.default_rng(3)
    for _ in range(50):
        cov = np.sort(rng.choice(np.arange(1, 60), rng.integers(2, 20), replace=False)) / 60
        risk = np.cumsum(rng.random(cov.shape[0]) * (rng.random(cov.shape[0]) < 0.5)) / 60
        xs, ys = np.concatenate(([0.0], cov)), np.concatenate(([0.0], risk))
        chain = _monotone_chain(xs, ys)
        assert lower_hull(cov, risk).tolist() == (chain[1:] - 1).tolist()
    # a constant selective risk puts every point on the chord (up to rounding): one segment
    cov = np.arange(1, 1001) / 1000
    assert lower_hull(cov, cov * 0.3).tolist() == [999]
    assert sm.aurc_achievable(np.arange(1000.0), np.arange(1000) % 10 != 0) == pytest.approx(
        sm.aurc_achievable(np.arange(1000.0)[::-1], (np.arange(1000) % 10 != 0)[::-1])
    )

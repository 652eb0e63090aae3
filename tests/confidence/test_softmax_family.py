"""Stateless CSFs against hand computations, invariances and extreme logits."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from silentscope.confidence import get_csf
from tests.support.audits import tiny_audit

LOGITS = [[1.0, 2.0, 0.0], [0.0, 0.0, 0.0], [3.0, -1.0, 0.5]]


def hand_softmax(row):
    exp = [math.exp(v) for v in row]
    return [e / sum(exp) for e in exp]


def score(name, audit, **params):
    return get_csf(name, **params).fit(audit).score(audit)


def test_msr_mls_pe_energy_match_hand_computation():
    audit = tiny_audit(LOGITS)
    probabilities = [hand_softmax(row) for row in LOGITS]
    np.testing.assert_allclose(score("MSR", audit), [max(p) for p in probabilities], rtol=1e-12)
    np.testing.assert_allclose(score("MLS", audit), [2.0, 0.0, 3.0])
    expected_pe = [sum(q * math.log(q) for q in p) for p in probabilities]
    np.testing.assert_allclose(score("PE", audit), expected_pe, rtol=1e-12)
    expected_energy = [math.log(sum(math.exp(v) for v in row)) for row in LOGITS]
    np.testing.assert_allclose(score("energy", audit), expected_energy, rtol=1e-12)
    expected_t2 = [2 * math.log(sum(math.exp(v / 2) for v in row)) for row in LOGITS]
    np.testing.assert_allclose(score("energy", audit, temperature=2.0), expected_t2, rtol=1e-12)


def test_uniform_logits_give_the_least_confident_values():
    audit = tiny_audit([[0.0] * 4, [5.0, 0.0, 0.0, 0.0]])
    msr, pe = score("MSR", audit), score("PE", audit)
    assert msr[0] == pytest.approx(0.25) and msr[1] > msr[0]
    assert pe[0] == pytest.approx(-math.log(4)) and pe[1] > pe[0]


@settings(max_examples=40, deadline=None)
@given(
    logits=arrays(np.float64, (5, 3), elements=st.floats(-30, 30)),
    shift=st.floats(-1e3, 1e3),
)
def test_msr_and_pe_are_invariant_to_a_constant_logit_shift_and_mls_energy_move_with_it(
    logits, shift
):
    base, shifted = tiny_audit(logits), tiny_audit(logits + shift)
    for name in ("MSR", "PE"):
        np.testing.assert_allclose(score(name, shifted), score(name, base), rtol=1e-9, atol=1e-9)
    for name in ("MLS", "energy"):
        np.testing.assert_allclose(
            score(name, shifted), score(name, base) + shift, rtol=1e-9, atol=1e-6
        )


def test_extreme_logits_stay_finite_and_ordered():
    audit = tiny_audit([[1e4, 0.0], [1e4, 1e4 - 1.0], [-1e4, 1e4]])
    for name in ("MSR", "MLS", "PE", "energy"):
        values = score(name, audit)
        assert np.isfinite(values).all(), name
    msr = score("MSR", audit)
    assert msr[0] == pytest.approx(1.0) and msr[1] == pytest.approx(1 / (1 + math.exp(-1)))
    assert score("PE", audit)[0] == pytest.approx(0.0, abs=1e-12)


def test_float32_memory_mapped_logits_give_float64_results(tmp_path):
    path = tmp_path / "logits.npy"
    np.save(path, np.array(LOGITS, dtype=np.float32))
    audit = tiny_audit(np.load(path, mmap_mode="r"))
    values = score("PE", audit)
    assert values.dtype == np.float64
    np.testing.assert_allclose(values, score("PE", tiny_audit(LOGITS)), rtol=1e-6)


def test_energy_rejects_a_non_positive_temperature():
    with pytest.raises(ValueError, match="positive number"):
        score("energy", tiny_audit(LOGITS), temperature=0.0)


def test_external_confidence_is_passed_through_unchanged():
    audit = tiny_audit(LOGITS, confidences={"DG": [0.3, 0.9, 0.1]})
    np.testing.assert_array_equal(score("ext:DG", audit), [0.3, 0.9, 0.1])

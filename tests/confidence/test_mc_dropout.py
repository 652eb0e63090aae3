"""MC-dropout CSFs against a hand computation and their defining relations."""

from __future__ import annotations

import math

import numpy as np
import pytest

from silentscope.confidence import get_csf
from tests.support.audits import tiny_audit

MCD_NAMES = ("MCD-MSR", "MCD-PE", "MCD-EE", "MCD-MI", "MCD-SV")


def entropy(p):
    return -sum(q * math.log(q) for q in p if q > 0)


def softmax(row):
    exp = [math.exp(v) for v in row]
    return [e / sum(exp) for e in exp]


def mc_audit(mc):
    mc = np.asarray(mc, dtype=np.float64)
    return tiny_audit(mc.mean(axis=2), mc_logits=mc)


def test_each_mcd_csf_matches_a_hand_computation():
    # one sample, C = 3 classes, M = 2 passes: logits per pass are the columns
    passes = [[2.0, 0.0, -1.0], [0.5, 1.0, 0.0]]
    mc = np.array(passes).T[None, :, :]  # (1, 3, 2)
    audit = mc_audit(mc)
    p = [softmax(row) for row in passes]
    mean = [(a + b) / 2 for a, b in zip(*p, strict=True)]
    predicted = max(range(3), key=lambda c: mean[c])
    expected = {
        "MCD-MSR": max(mean),
        "MCD-PE": -entropy(mean),
        "MCD-EE": -(entropy(p[0]) + entropy(p[1])) / 2,
        "MCD-MI": -(entropy(mean) - (entropy(p[0]) + entropy(p[1])) / 2),
        "MCD-SV": -(((p[0][predicted] - p[1][predicted]) / 2) ** 2),
    }
    for name, value in expected.items():
        result = get_csf(name).fit(audit).score(audit)
        assert result.shape == (1,)
        assert result[0] == pytest.approx(value, rel=1e-12), name


def test_identical_passes_reduce_to_the_deterministic_csfs():
    rng = np.random.default_rng(1)
    logits = rng.normal(size=(20, 4)) * 3
    audit = mc_audit(np.repeat(logits[:, :, None], 5, axis=2))
    msr = get_csf("MSR").fit_score(audit)
    pe = get_csf("PE").fit_score(audit)
    np.testing.assert_allclose(get_csf("MCD-MSR").fit_score(audit), msr, rtol=1e-12)
    np.testing.assert_allclose(get_csf("MCD-PE").fit_score(audit), pe, rtol=1e-12)
    np.testing.assert_allclose(get_csf("MCD-EE").fit_score(audit), pe, rtol=1e-12)
    np.testing.assert_allclose(get_csf("MCD-MI").fit_score(audit), 0.0, atol=1e-14)
    np.testing.assert_allclose(get_csf("MCD-SV").fit_score(audit), 0.0, atol=1e-15)


def test_disagreeing_passes_are_less_confident_than_agreeing_ones():
    agree = np.array([[3.0, 3.0, 3.0], [0.0, 0.0, 0.0]])  # (C=2, M=3)
    disagree = np.array([[6.0, 3.0, 0.0], [0.0, 0.0, 3.0]])
    audit = mc_audit(np.stack([agree, disagree]))
    for name in ("MCD-MI", "MCD-SV"):
        first, second = get_csf(name).fit_score(audit)
        assert first > second, name


def test_mi_is_never_positive_and_large_mc_inputs_are_chunked_consistently():
    rng = np.random.default_rng(2)
    mc = rng.normal(size=(3000, 5, 30)) * 4  # 450k values per chunk budget test: several chunks
    audit = mc_audit(mc)
    mi = get_csf("MCD-MI").fit_score(audit)
    assert (mi <= 0).all()
    full = get_csf("MCD-EE").fit_score(audit)
    part = get_csf("MCD-EE").fit_score(audit.subset(np.arange(100)))
    np.testing.assert_allclose(full[:100], part, rtol=1e-12)

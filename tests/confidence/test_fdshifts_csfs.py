"""The CSFs FD-Shifts has that silentscope lacked: MCD-WAIC, ReAct, MC-dropout external confidences."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.special import logsumexp

from silentscope.audit.store import load_audit, save_audit
from silentscope.confidence import (
    MCExternalConfidence,
    ReAct,
    available_csfs,
    compute_confidences,
    describe_csfs,
    get_csf,
)
from silentscope.evaluation.correctness import is_mc_csf
from tests.support.audits import tiny_audit


# ------------------------------------------------------------------ MCD-WAIC
def test_waic_is_mean_softmax_minus_the_spread_of_each_samples_own_prediction():
    mc = np.array(
        [
            [[2.0, 0.0, 1.0], [0.0, 1.0, 0.0]],  # passes disagree
            [[3.0, 3.0, 3.0], [0.0, 0.0, 0.0]],  # passes agree
            [[0.0, 0.0, 0.0], [1.0, -2.0, 4.0]],  # predicted class 1
        ]
    )
    audit = tiny_audit(mc.mean(axis=2), mc_logits=mc)
    scores = get_csf("MCD-WAIC").fit(audit).score(audit)
    for i in range(3):
        p = [
            [math.exp(mc[i, k, m]) / sum(math.exp(mc[i, j, m]) for j in range(2)) for k in range(2)]
            for m in range(3)
        ]
        mean = [sum(p[m][k] for m in range(3)) / 3 for k in range(2)]
        top = max(range(2), key=lambda k: mean[k])
        spread = math.sqrt(sum((p[m][top] - mean[top]) ** 2 for m in range(3)) / 3)
        assert scores[i] == pytest.approx(mean[top] - spread, abs=1e-12)
    # FD-Shifts' np.take without an axis would give every sample row 0's spread; here the
    # agreeing sample has no spread at all.
    assert scores[1] == pytest.approx(1 / (1 + math.exp(-3.0)), abs=1e-12)


# ------------------------------------------------------------------ MC external confidences
PASSES = np.array([[0.9, 0.7, 0.8], [0.2, 0.6, 0.1], [0.5, 0.5, 0.5]])


def _mc_audit(**extra):
    return tiny_audit(
        [[2.0, 0.0], [0.0, 1.0], [1.0, 0.0]],
        labels=[0, 0, 0],
        mc_confidences={"ConfidNet": PASSES},
        **extra,
    ), PASSES


def test_mc_external_mean_and_waic(tmp_path):
    audit, passes = _mc_audit(confidences={"ConfidNet": PASSES[:, 0]})
    audit = load_audit(save_audit(audit, tmp_path / "store"))  # through the store
    assert available_csfs(audit)[-3:] == [
        "ext:ConfidNet",
        "mcd-ext:ConfidNet",
        "waic-ext:ConfidNet",
    ]
    confidences, unavailable = compute_confidences(audit)
    assert not {k: v for k, v in unavailable.items() if "ConfidNet" in k}
    np.testing.assert_allclose(confidences["mcd-ext:ConfidNet"], passes.mean(axis=1), atol=1e-15)
    np.testing.assert_allclose(
        confidences["waic-ext:ConfidNet"], passes.mean(axis=1) - passes.std(axis=1), atol=1e-15
    )
    np.testing.assert_array_equal(confidences["ext:ConfidNet"], passes[:, 0])
    assert is_mc_csf(get_csf("mcd-ext:ConfidNet"), audit)
    assert is_mc_csf(get_csf("waic-ext:ConfidNet"), audit)
    assert not is_mc_csf(get_csf("ext:ConfidNet"), audit)


def test_mc_external_absent_is_explained_and_names_are_exact():
    audit, _ = _mc_audit()
    _, unavailable = compute_confidences(audit, ["mcd-ext:DG"])
    assert unavailable["mcd-ext:DG"].startswith(
        "mcd-ext:DG needs the MC-dropout external confidences 'DG' (N x M), which this AuditSet "
        "does not have (its mc_confidences: ConfidNet)"
    )
    assert isinstance(get_csf("mcd-ext:x"), MCExternalConfidence)
    with pytest.raises(ValueError, match="unknown CSF"):
        get_csf("mcd-ext:")
    table = describe_csfs().set_index("name")
    assert table.loc["mcd-ext:<name>", "requires"] == "mc_confidences[<name>]"
    assert "waic-ext:<name>" in table.index


# ------------------------------------------------------------------ ReAct
def _react_audit(seed=0, n=80, d=5, c=3, nonlinear=False):
    rng = np.random.default_rng(seed)
    features = np.abs(rng.normal(size=(n, d)))
    features[:5] *= 8  # a few abnormally large activations
    weight, bias = rng.normal(size=(c, d)), rng.normal(size=c)
    logits = features @ weight.T + bias
    if nonlinear:
        logits = np.tanh(logits) * 3
    audit = tiny_audit(
        logits,
        labels=rng.integers(0, c, n),
        features=features,
        train_features=np.abs(rng.normal(size=(400, d))),
        train_labels=rng.integers(0, c, 400),
    )
    return audit, weight, bias


@pytest.mark.parametrize("output", ["energy", "msr", "mls"])
def test_react_is_the_head_applied_to_clipped_features(output):
    audit, weight, bias = _react_audit()
    threshold = np.percentile(audit.train_features, 90)
    expected = _output(np.minimum(audit.features, threshold) @ weight.T + bias, output)
    given = ReAct(output=output, weight=weight, bias=bias).fit(audit)
    recovered = ReAct(output=output).fit(audit)
    assert given.threshold_ == pytest.approx(threshold)
    np.testing.assert_allclose(given.score(audit), expected, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(recovered.score(audit), expected, rtol=1e-8, atol=1e-8)
    assert recovered.head_residual_ < 1e-10 and given.head_residual_ == 0.0
    # clipping changes the samples with a feature above the threshold, and only those
    changed = ~np.isclose(given.score(audit), _output(audit.logits, output), rtol=1e-12)
    assert not (changed & ~(audit.features > threshold).any(axis=1)).any()
    assert changed[:5].all()


def _output(logits, output):
    if output == "energy":
        return logsumexp(logits, axis=1)
    if output == "mls":
        return logits.max(axis=1)
    return np.exp(logits.max(axis=1) - logsumexp(logits, axis=1))


def test_react_percentile_and_refusals():
    audit, weight, bias = _react_audit()
    assert ReAct(percentile=50).fit(audit).threshold_ == pytest.approx(
        np.median(audit.train_features)
    )
    nonlinear, _, _ = _react_audit(nonlinear=True)
    _, unavailable = compute_confidences(nonlinear, ["ReAct"])
    assert (
        "ReAct needs the features of the layer whose linear map gives the logits"
        in (unavailable["ReAct"])
    )
    with pytest.raises(ValueError, match="output must be one of energy, msr, mls"):
        ReAct(output="softmax").fit(audit)
    with pytest.raises(ValueError, match="percentile must lie in"):
        ReAct(percentile=0).fit(audit)
    with pytest.raises(ValueError, match="both weight and bias"):
        ReAct(weight=weight).fit(audit)
    bare = tiny_audit(audit.logits, features=audit.features)
    _, unavailable = compute_confidences(bare, ["ReAct"])
    assert unavailable["ReAct"].startswith("ReAct needs train_features")

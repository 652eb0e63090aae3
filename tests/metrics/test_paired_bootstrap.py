"""paired_bootstrap_ci: several CSFs and the classification metrics on shared resamples."""

from __future__ import annotations

import numpy as np
import pytest

import silentscope.metrics as sm
from silentscope.metrics import _kernels
from silentscope.metrics import bootstrap as bs
from silentscope.metrics import paired_bootstrap as pb
from silentscope.metrics._count_curves import optimal_aurc


def _data(n=1500, seed=0):
    rng = np.random.default_rng(seed)
    probs = rng.dirichlet(np.ones(4) * 0.7, n)
    labels = rng.integers(0, 4, n)
    correct = probs.argmax(1) == labels
    confidences = {
        "msr": probs.max(1),
        "ties": np.round(probs.max(1), 1),  # heavy ties
        "noise": rng.random(n),
    }
    return probs, labels, correct, confidences


PATHS = [False] + ([True] if _kernels.kernels() is not None else [])


@pytest.mark.parametrize("kernels", PATHS)
def test_each_csf_equals_bootstrap_ci_on_the_same_resamples(monkeypatch, kernels):
    monkeypatch.setattr(bs, "USE_KERNELS", kernels)
    probs, labels, correct, confs = _data()
    idx = np.random.default_rng(1).integers(0, correct.size, (25, correct.size))
    idx[0] = np.flatnonzero(correct)[0]  # one correct sample only: AUROC_f undefined there
    paired = sm.paired_bootstrap_ci(
        confs,
        correct,
        classification=(probs, labels, list(sm.CLASSIFICATION_BOOTSTRAP_METRICS)),
        resample_indices=idx,
    )
    for csf, conf in confs.items():
        alone = sm.bootstrap_ci(conf, correct, resample_indices=idx)
        for name, want in alone.items():
            got = paired.results[csf][name]
            assert got.estimate == want.estimate
            np.testing.assert_array_equal(np.isnan(got.samples), np.isnan(want.samples))
            np.testing.assert_allclose(got.samples, want.samples, rtol=0, atol=1e-12)
    assert np.isnan(paired.results["msr"]["auroc_f"].samples[0])
    # the classification metrics against the metric functions called on every resample
    for name, got in paired.classification.items():
        loop = [sm.METRICS[name].function(probs[rows], labels[rows]) for rows in idx]
        np.testing.assert_allclose(got.samples, loop, rtol=0, atol=1e-12, err_msg=name)
        assert got.estimate == sm.METRICS[name].function(probs, labels)


@pytest.mark.skipif(_kernels.kernels() is None, reason="numba is not installed")
def test_random_resamples_are_shared_and_the_same_on_both_paths(monkeypatch):
    probs, labels, correct, confs = _data(4000, seed=3)
    kwargs = dict(
        classification=(probs, labels, ["accuracy", "nll"]), n_resamples=30, random_state=7
    )
    monkeypatch.setattr(bs, "USE_KERNELS", True)
    compiled = sm.paired_bootstrap_ci(confs, correct, **kwargs)
    monkeypatch.setattr(bs, "USE_KERNELS", False)
    numpy_path = sm.paired_bootstrap_ci(confs, correct, n_jobs=1, **kwargs)
    for csf in confs:
        for name, got in compiled.results[csf].items():
            want = numpy_path.results[csf][name].samples
            np.testing.assert_allclose(got.samples, want, rtol=0, atol=1e-12)
    for name, got in compiled.classification.items():
        np.testing.assert_allclose(got.samples, numpy_path.classification[name].samples, atol=1e-12)
    # paired: every CSF saw the same resamples, so the error rate behind the E-AURC offset
    # (AURC - E-AURC) is the same for all of them, resample by resample
    offsets = [
        compiled.results[c]["aurc"].samples - compiled.results[c]["e_aurc"].samples for c in confs
    ]
    np.testing.assert_allclose(offsets[0], offsets[1], atol=1e-12)
    np.testing.assert_allclose(offsets[0], offsets[2], atol=1e-12)
    # and the classification accuracy is one minus that resample's error rate
    err = 1 - compiled.classification["accuracy"].samples
    np.testing.assert_allclose(offsets[0], optimal_aurc(err), atol=1e-12)


def test_a_metric_undefined_on_the_data_is_reported_not_raised():
    conf = np.linspace(0, 1, 50)
    correct = np.ones(50, dtype=bool)
    paired = sm.paired_bootstrap_ci({"a": conf, "b": conf * 2}, correct, n_resamples=20)
    assert paired.undefined["a"]["auroc_f"] == (
        "correct must contain both 0 and 1 values to compute AUROC_f"
    )
    assert paired.undefined["b"]["ece"].startswith("ECE needs confidences in [0, 1]")
    assert "ece" in paired.results["a"] and "ece" not in paired.results["b"]
    assert paired.results["a"]["aurc"].estimate == 0.0


def test_counts_over_255_fall_back_to_wide_counts():
    """One sample drawn 300 times: the uint8 counts would wrap; the result is still exact."""
    rng = np.random.default_rng(2)
    n = 400
    correct = rng.random(n) < 0.7
    conf = rng.random(n) + correct
    idx = rng.integers(0, n, (3, n))
    idx[1, :300] = 5
    paired = sm.paired_bootstrap_ci({"c": conf}, correct, ["aurc", "auroc_f"], resample_indices=idx)
    alone = sm.bootstrap_ci(conf, correct, ["aurc", "auroc_f"], resample_indices=idx)
    for name in ("aurc", "auroc_f"):
        np.testing.assert_allclose(
            paired.results["c"][name].samples, alone[name].samples, atol=1e-12
        )


def test_invalid_inputs_are_refused_with_one_sentence():
    probs, labels, correct, confs = _data(100)
    with pytest.raises(ValueError, match="confidences is empty"):
        sm.paired_bootstrap_ci({}, correct)
    with pytest.raises(ValueError, match="not a resampled classification metric"):
        sm.paired_bootstrap_ci(confs, correct, classification=(probs, labels, ["aurc"]))
    with pytest.raises(ValueError, match="classification probs have 99 rows"):
        sm.paired_bootstrap_ci(confs, correct, classification=(probs[1:], labels[1:], "accuracy"))
    with pytest.raises(ValueError, match="is not supported by bootstrap_ci"):
        sm.paired_bootstrap_ci(confs, correct, ["aurc_achievable"])
    assert pb.PairedBootstrap is sm.PairedBootstrap


@pytest.mark.parametrize("decimals", [None, 1])
def test_metric_set_from_one_sort_equals_the_public_functions(decimals):
    rng = np.random.default_rng(5)
    correct = rng.random(3000) < 0.8
    conf = 1 / (1 + np.exp(-(rng.normal(size=3000) + correct)))
    if decimals is not None:
        conf = np.round(conf, decimals)
    values = sm.failure_detection_metrics(conf, correct)
    assert list(values) == list(sm.BOOTSTRAP_METRICS)
    for name, value in values.items():
        assert value == pytest.approx(sm.METRICS[name].function(conf, correct), abs=1e-12), name
    loss = rng.random(3000) * ~correct
    with_loss = sm.failure_detection_metrics(conf, loss=loss)
    assert with_loss["e_augrc"] == pytest.approx(sm.e_augrc(conf, loss=loss), abs=1e-12)
    with pytest.raises(ValueError, match="both 0 and 1 values to compute AUROC_f"):
        sm.failure_detection_metrics(conf, np.ones(3000), ["aurc", "auroc_f"])


@pytest.mark.parametrize("kernels", PATHS)
def test_mce_and_fail_nll_equal_their_functions_on_every_resample(monkeypatch, kernels):
    monkeypatch.setattr(bs, "USE_KERNELS", kernels)
    probs, labels, correct, confs = _data(800, seed=2)
    confs["ties"][:5] = 1.0  # a confidence of 1 (fail-NLL's eps) and on the last bin edge
    idx = np.random.default_rng(3).integers(0, correct.size, (20, correct.size))
    names = ["mce", "fail_nll", "aurc"]
    paired = sm.paired_bootstrap_ci(confs, correct, names, resample_indices=idx)
    for csf, conf in confs.items():
        for name in ("mce", "fail_nll"):
            got = paired.results[csf][name]
            assert got.estimate == sm.METRICS[name].function(conf, correct)
            loop = [sm.METRICS[name].function(conf[rows], correct[rows]) for rows in idx]
            np.testing.assert_allclose(got.samples, loop, rtol=0, atol=1e-12, err_msg=name)
    outside = sm.paired_bootstrap_ci({"x": confs["msr"] * 3}, correct, names, n_resamples=5)
    assert outside.undefined["x"]["mce"].startswith("MCE needs confidences in [0, 1]")
    assert set(outside.results["x"]) == {"aurc"}

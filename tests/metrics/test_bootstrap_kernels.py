"""The compiled bootstrap kernels against the numpy path they replace."""

from __future__ import annotations

import numpy as np
import pytest

import silentscope.metrics as sm
from silentscope.metrics import _kernels
from silentscope.metrics import bootstrap as bs

pytestmark = pytest.mark.skipif(_kernels.kernels() is None, reason="numba is not installed")


def _both(monkeypatch, *args, **kwargs):
    monkeypatch.setattr(bs, "USE_KERNELS", True)
    compiled = sm.bootstrap_ci(*args, **kwargs)
    monkeypatch.setattr(bs, "USE_KERNELS", False)
    numpy_path = sm.bootstrap_ci(*args, **kwargs)
    return compiled, numpy_path


@pytest.mark.parametrize("decimals", [None, 2, 0])
@pytest.mark.parametrize("stratify", [False, True])
@pytest.mark.parametrize("n_bins", [15, 4])
def test_kernels_equal_the_numpy_path(monkeypatch, decimals, stratify, n_bins):
    rng = np.random.default_rng(11)
    n = 2500
    correct = rng.random(n) < 0.8
    conf = 1 / (1 + np.exp(-(rng.normal(size=n) + correct)))
    if decimals is not None:
        conf = np.round(conf, decimals)  # heavy ties; 0 decimals: two groups only
    labels = rng.integers(0, 3, n) if stratify else None
    compiled, numpy_path = _both(
        monkeypatch, conf, correct, n_resamples=40, stratify=labels, random_state=5, n_bins=n_bins
    )
    for name in sm.BOOTSTRAP_METRICS:
        a, b = compiled[name], numpy_path[name]
        assert a.estimate == b.estimate
        np.testing.assert_array_equal(np.isnan(a.samples), np.isnan(b.samples))
        np.testing.assert_allclose(a.samples, b.samples, rtol=0, atol=1e-12, err_msg=name)


def test_kernels_fill_the_same_counts(monkeypatch):
    """Same random stream: the compiled sampler draws exactly the numpy sampler's counts."""
    ranking = bs.Ranking.from_scores(*_data(70_000))
    for stratify in (None, np.arange(70_000) % 3):
        _, fill = bs._random_filler(3, ranking, stratify, 9)
        for row in range(3):
            got, want = np.empty(70_000, np.int32), np.empty(70_000, np.int32)
            monkeypatch.setattr(bs, "USE_KERNELS", True)
            fill(row, got)
            monkeypatch.setattr(bs, "USE_KERNELS", False)
            fill(row, want)
            np.testing.assert_array_equal(got, want)
            assert got.sum() == 70_000


def test_kernels_on_explicit_resamples_with_degenerate_rows(monkeypatch):
    conf, correct = _data(50)
    idx = np.random.default_rng(1).integers(0, 50, size=(6, 50))
    idx[0] = np.flatnonzero(correct)[0]  # only one correct sample drawn: AUROC undefined
    compiled, numpy_path = _both(monkeypatch, conf, correct, resample_indices=idx)
    for name in sm.BOOTSTRAP_METRICS:
        np.testing.assert_allclose(
            compiled[name].samples, numpy_path[name].samples, rtol=0, atol=1e-12, err_msg=name
        )
    assert np.isnan(compiled["auroc_f"].samples[0])


def _data(n):
    rng = np.random.default_rng(n)
    correct = rng.random(n) < 0.7
    return 0.7 * rng.random(n) + 0.3 * correct, correct


def test_kernels_without_ece_skip_it_and_keep_the_rest(monkeypatch):
    conf, correct = _data(3000)
    names = [m for m in sm.BOOTSTRAP_METRICS if m != "ece"]
    compiled, numpy_path = _both(monkeypatch, conf, correct, names, n_resamples=20, random_state=2)
    assert list(compiled) == names
    for name in names:
        np.testing.assert_allclose(
            compiled[name].samples, numpy_path[name].samples, rtol=0, atol=1e-12, err_msg=name
        )

"""The vectorised bootstrap against a plain per-resample loop, and its contract."""

from __future__ import annotations

import numpy as np
import pytest

import silentscope.metrics as sm
from silentscope.metrics._ranking import Ranking
from silentscope.metrics.bootstrap import _random_filler


def naive(conf, correct, indices, name):
    """The obvious bootstrap: index, call the public function, NaN where undefined."""
    fn = sm.get_metric(name).function
    values = []
    for rows in indices:
        try:
            values.append(fn(conf[rows], correct[rows]))
        except ValueError:
            values.append(np.nan)
    return np.array(values)


def data(n, ties, accuracy=0.8, seed=0):
    rng = np.random.default_rng(seed)
    correct = rng.random(n) < accuracy
    conf = 1 / (1 + np.exp(-(rng.normal(size=n) + correct)))
    if ties:
        conf = np.round(conf, 2)
    return conf, correct


@pytest.mark.parametrize("ties", [False, True], ids=["distinct", "ties"])
@pytest.mark.parametrize(("chunk_size", "n_jobs"), [(None, None), (1, 1), (7, 2), (64, 3)])
def test_vectorised_equals_naive_loop(ties, chunk_size, n_jobs):
    conf, correct = data(700, ties)
    rng = np.random.default_rng(1)
    indices = rng.integers(0, conf.size, size=(40, conf.size))
    indices[0] = 5  # one sample drawn 700 times: degenerate for the ranking metrics
    result = sm.bootstrap_ci(
        conf, correct, resample_indices=indices, chunk_size=chunk_size, n_jobs=n_jobs
    )
    for name in sm.BOOTSTRAP_METRICS:
        want = naive(conf, correct, indices, name)
        np.testing.assert_allclose(result[name].samples, want, rtol=0, atol=1e-12, err_msg=name)
        assert result[name].estimate == pytest.approx(
            sm.get_metric(name).function(conf, correct), rel=0, abs=1e-15
        )


@pytest.mark.parametrize("decimals", [None, 5], ids=["distinct", "some ties"])
def test_long_inputs_cross_kernel_blocks(decimals):
    """Resamples with more groups than one column block of the streaming kernel."""
    rng = np.random.default_rng(2)
    correct = rng.random(150_000) < 0.95
    conf = correct + 2 * rng.random(150_000)
    if decimals is not None:
        conf = np.round(conf, decimals)
    indices = rng.integers(0, conf.size, size=(3, conf.size))
    result = sm.bootstrap_ci(
        conf,
        correct,
        ["aurc", "augrc", "auroc_f", "fpr_at_95_tpr", "aupr_success", "aupr_error"],
        resample_indices=indices,
    )
    for name in result:
        np.testing.assert_allclose(
            result[name].samples,
            naive(conf, correct, indices, name),
            rtol=0,
            atol=1e-12,
            err_msg=name,
        )


@pytest.mark.parametrize("stratify", [False, True])
def test_internal_draws_equal_naive_loop_on_the_same_stream(stratify):
    """Rebuild each internal resample's indices from the same random stream."""
    conf, correct = data(300, ties=True, seed=3)
    labels = np.random.default_rng(4).integers(0, 3, conf.size) if stratify else None
    seed = 123
    result = sm.bootstrap_ci(conf, correct, n_resamples=25, stratify=labels, random_state=seed)
    ranking = Ranking.from_scores(conf, correct)
    _, fill = _random_filler(25, ranking, labels, seed)
    indices = []
    for row in range(25):
        counts = np.empty(conf.size, dtype=np.int64)
        fill(row, counts)
        assert counts.sum() == conf.size
        if stratify:  # class sizes are kept
            np.testing.assert_array_equal(
                np.bincount(labels[ranking.order], weights=counts, minlength=3),
                np.bincount(labels, minlength=3),
            )
        indices.append(ranking.order[np.repeat(np.arange(conf.size), counts)])
    for name in sm.BOOTSTRAP_METRICS:
        np.testing.assert_allclose(
            result[name].samples,
            naive(conf, correct, indices, name),
            rtol=0,
            atol=1e-12,
            err_msg=name,
        )


def test_same_seed_same_numbers_whatever_the_chunking():
    conf, correct = data(2000, ties=False)
    runs = [
        sm.bootstrap_ci(conf, correct, n_resamples=50, random_state=7, chunk_size=c, n_jobs=j)
        for c, j in [(None, None), (1, 1), (13, 2)]
    ]
    for name in sm.BOOTSTRAP_METRICS:
        for other in runs[1:]:
            np.testing.assert_array_equal(runs[0][name].samples, other[name].samples)
            assert runs[0][name] == other[name]
    different = sm.bootstrap_ci(conf, correct, n_resamples=50, random_state=8)
    assert not np.array_equal(different["aurc"].samples, runs[0]["aurc"].samples)


def test_counts_are_multinomial():
    """Each sample's count over resamples: mean 1, variance 1 - 1/n; totals exactly n."""
    n, reps = 100_000, 40  # several draw blocks (the last one short)
    ranking = Ranking.from_scores(np.arange(n, dtype=float), np.ones(n, dtype=bool))
    _, fill = _random_filler(reps, ranking, None, 0)
    counts = np.empty((reps, n), dtype=np.int64)
    for row in range(reps):
        fill(row, counts[row])
    assert (counts.sum(axis=1) == n).all()
    assert counts.mean() == pytest.approx(1.0)
    assert counts.var() == pytest.approx(1 - 1 / n, rel=0.02)
    # Poisson(1)-like marginal: P(count = 0) ~ e^-1, and blocks are not favoured.
    assert (counts == 0).mean() == pytest.approx(np.exp(-1), abs=0.005)
    block_means = counts.reshape(reps, 10, -1).mean(axis=(0, 2))
    assert np.abs(block_means - 1).max() < 0.02


def test_result_fields_and_interval():
    conf, correct = data(3000, ties=False)
    result = sm.bootstrap_ci(
        conf, correct, ["aurc", "auroc_f"], n_resamples=300, confidence_level=0.9, random_state=0
    )
    assert list(result) == ["aurc", "auroc_f"]
    r = result["aurc"]
    assert r.n_resamples == 300 and r.n_excluded == 0 and r.confidence_level == 0.9
    assert r.low < r.estimate < r.high
    assert r.low == pytest.approx(np.quantile(r.samples, 0.05))
    assert r.high == pytest.approx(np.quantile(r.samples, 0.95))
    assert r.std == pytest.approx(np.std(r.samples, ddof=1))


def test_degenerate_resamples_are_excluded_and_counted():
    conf = np.array([0.9, 0.8, 0.7, 0.6])
    correct = np.array([1, 1, 1, 0])
    result = sm.bootstrap_ci(
        conf, correct, ["auroc_f", "aurc", "aupr_error"], n_resamples=400, random_state=0
    )
    # P(no failure drawn) = (3/4)^4 ~ 0.32 per resample; no correct one: (1/4)^4.
    excluded = result["auroc_f"].n_excluded
    assert 80 < excluded < 180
    assert np.isnan(result["auroc_f"].samples).sum() == excluded
    no_failure = np.isnan(result["aupr_error"].samples)
    assert no_failure.sum() == result["aupr_error"].n_excluded
    assert (np.isnan(result["auroc_f"].samples) >= no_failure).all()
    assert excluded - no_failure.sum() < 10
    assert result["aurc"].n_excluded == 0  # AURC stays defined (0) without failures
    assert np.isfinite(result["auroc_f"].low)


def test_errors():
    conf, correct = data(50, ties=False)
    with pytest.raises(ValueError, match="'nll' is not supported by bootstrap_ci"):
        sm.bootstrap_ci(conf, correct, ["nll"])
    with pytest.raises(ValueError, match="'aur' is unknown; supported metrics are: aurc"):
        sm.bootstrap_ci(conf, correct, ["aur"])
    with pytest.raises(ValueError, match="both 0 and 1 values to compute AUROC_f"):
        sm.bootstrap_ci(conf, np.ones(50), ["auroc_f"])
    with pytest.raises(ValueError, match="confidence_level must lie in"):
        sm.bootstrap_ci(conf, correct, confidence_level=95)
    for option in ("n_resamples", "chunk_size", "n_jobs"):
        with pytest.raises(ValueError, match=f"{option} must be a positive integer"):
            sm.bootstrap_ci(conf, correct, **{option: 0})
    with pytest.raises(ValueError, match="resample_indices must have shape"):
        sm.bootstrap_ci(conf, correct, resample_indices=np.zeros((3, 49), dtype=int))
    with pytest.raises(ValueError, match=r"resample_indices must be integers in \[0, 50\)"):
        sm.bootstrap_ci(conf, correct, resample_indices=np.full((3, 50), 50))
    with pytest.raises(ValueError, match="random_state must be"):
        sm.bootstrap_ci(conf, correct, random_state="seed")
    with pytest.raises(ValueError, match="stratify must have length 50"):
        sm.bootstrap_ci(conf, correct, stratify=np.zeros(10))


def test_single_metric_name_and_generator_seed():
    conf, correct = data(200, ties=False)
    a = sm.bootstrap_ci(
        conf, correct, "augrc", n_resamples=20, random_state=np.random.default_rng(5)
    )
    b = sm.bootstrap_ci(
        conf, correct, "augrc", n_resamples=20, random_state=np.random.default_rng(5)
    )
    assert list(a) == ["augrc"]
    np.testing.assert_array_equal(a["augrc"].samples, b["augrc"].samples)

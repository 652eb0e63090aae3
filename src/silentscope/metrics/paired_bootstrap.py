"""Paired bootstrap: one set of resamples shared by several CSFs of the same samples.

``evaluate`` judges several confidence scoring functions (CSFs) on one test set: the
samples and their correctness are the same, only the ranking differs. A resample is a
vector of draw counts per input sample, so it can be drawn once and read by every CSF
in its own ranking order (the compiled kernel indexes the counts through the ranking),
and by the classification metrics of the same samples. Drawing once instead of once
per CSF saves the draws and pairs the intervals: resample i of every CSF holds the
same samples, so the CSFs' values on one resample can be compared directly (a paired
bootstrap, the usual way to compare two scores on one data set).

For one CSF the numbers are those of :func:`~silentscope.metrics.bootstrap_ci` on the
same resamples (tested with explicit resamples); with a seed they differ from
``bootstrap_ci``'s own draws, which count draws per sorted position.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import numpy as np

from . import _kernels
from ._count_curves import Workspace
from ._ranking import Ranking
from ._validation import check_confidence_risk, check_probs_labels, check_unit_interval
from .bootstrap import (
    _EVALUATORS,
    BOOTSTRAP_METRICS,
    BootstrapResult,
    _Cells,
    _check_metrics,
    _check_positive_int,
    _compiled,
    _ResampleKernel,
    _Sampler,
    _seed_sequence,
    _summarise,
)
from .calibration import FAIL_NLL_EPS, check_n_bins
from .classification_bootstrap import CLASSIFICATION_BOOTSTRAP_METRICS, _Terms
from .registry import METRICS

# Resamples per chunk: about this many (resample, sample) counts (16 MB of int32) per thread.
_CHUNK_CELLS = 1 << 22


@dataclass(frozen=True)
class PairedBootstrap:
    """Intervals of several CSFs (and optionally the classification metrics) on shared resamples.

    Attributes
    ----------
    results : dict of str to dict of str to BootstrapResult
        Per CSF, per metric. ``results[a][m].samples[i]`` and ``results[b][m].samples[i]``
        come from the same resample i.
    undefined : dict of str to dict of str to str
        Per CSF, the metrics undefined on the full data (e.g. AUROC_f when every
        prediction is correct), with the reason; they have no entry in ``results``.
    classification : dict of str to BootstrapResult
        The classification metrics asked for, on the same resamples.
    n_resamples : int
    """

    results: dict[str, dict[str, BootstrapResult]]
    undefined: dict[str, dict[str, str]] = field(default_factory=dict)
    classification: dict[str, BootstrapResult] = field(default_factory=dict)
    n_resamples: int = 0


#: Calibration metrics resampled here beside :data:`BOOTSTRAP_METRICS` (they read the
#: confidence as a probability: per-bin sums and a mean of per-sample terms).
CALIBRATION_EXTRA = ("mce", "fail_nll")
#: Every metric :func:`paired_bootstrap_ci` resamples for a CSF.
PAIRED_METRICS: tuple[str, ...] = (*BOOTSTRAP_METRICS, *CALIBRATION_EXTRA)


class _FailureDetection:
    """The failure-detection metrics of one CSF, from counts per base position."""

    def __init__(self, ranking, conf, corr, names, n_bins, compiled, base_of_sample):
        self.ranking = ranking
        # Base position of each sorted position: where this CSF reads the shared counts.
        self.gather = ranking.order if base_of_sample is None else base_of_sample[ranking.order]
        self.names, self.n_bins = names, n_bins
        self.fd_names = [m for m in names if m in _EVALUATORS]
        self.extra = [m for m in names if m in CALIBRATION_EXTRA]
        self.kernel = None
        if compiled is not None:
            self.kernel = _ResampleKernel(ranking, compiled[0], n_bins, "ece" in names)
        else:
            self.cells = _Cells(ranking)
        if self.extra:
            self._calibration_terms(conf, corr, base_of_sample)

    def _calibration_terms(self, conf, corr, base_of_sample):
        """Samples ordered by MCE bin (the bins of :func:`~silentscope.metrics.mce`), with
        the per-sample fail-NLL term of :func:`~silentscope.metrics.fail_nll`."""
        bins = np.minimum((conf * self.n_bins).astype(np.int64), self.n_bins - 1)
        order = np.argsort(bins, kind="stable")
        self.cal_gather = order if base_of_sample is None else base_of_sample[order]
        self.cal_conf = conf[order]
        self.cal_correct = corr[order].astype(np.float64)
        sorted_bins = bins[order]
        self.cal_starts = np.flatnonzero(np.diff(sorted_bins, prepend=-1))
        with np.errstate(divide="ignore"):
            term = np.where(corr, np.log(conf + FAIL_NLL_EPS), np.log(1.0 - conf + FAIL_NLL_EPS))
        self.cal_term = -term[order]

    def _calibration(self, counts: np.ndarray) -> dict[str, np.ndarray]:
        w = counts[:, self.cal_gather].astype(np.float64)
        n = self.cal_conf.shape[0]
        out = {}
        if "fail_nll" in self.extra:
            out["fail_nll"] = w @ self.cal_term / n
        if "mce" in self.extra:
            size = np.add.reduceat(w, self.cal_starts, axis=1)
            gap = np.abs(
                np.add.reduceat(w * self.cal_conf, self.cal_starts, axis=1)
                - np.add.reduceat(w * self.cal_correct, self.cal_starts, axis=1)
            )
            filled = size > 0
            ratio = np.divide(gap, size, out=np.zeros_like(gap), where=filled)
            out["mce"] = np.where(filled, ratio, -np.inf).max(axis=1)
        return out

    def chunk(self, counts: np.ndarray) -> dict[str, np.ndarray]:
        values = self._calibration(counts) if self.extra else {}
        if not self.fd_names:
            return values
        if self.kernel is not None:
            sums = np.empty((counts.shape[0], len(_kernels.SUM_NAMES) + 1))
            by_position = np.empty(counts.shape[1], dtype=counts.dtype)
            for i in range(counts.shape[0]):
                # A gather then a sequential pass: cheaper than reading the counts through
                # the order inside the kernel (random reads stall its running sums).
                np.take(counts[i], self.gather, out=by_position)
                self.kernel.sums(by_position, sums[i])
            curves = self.kernel.curves_from_sums(sums)
        else:
            by_position = counts[:, self.gather].astype(np.int64)
            if self.cells.cell_start is not None:
                by_position = np.add.reduceat(by_position, self.cells.cell_start, axis=1)
            curves = self.cells.curves(by_position, Workspace(), self.n_bins)
        values.update({name: _EVALUATORS[name][0](curves) for name in self.fd_names})
        return values


class _Classification:
    """The resampled classification metrics, from counts per base position.

    The base order sorts the samples by class, then by top-label confidence bin, so that
    the compiled pass sums runs of one (class, bin) in registers.
    """

    def __init__(self, terms: _Terms, names, compiled):
        self.perm = np.lexsort((terms.bins, terms.labels))
        for key in ("dense", "bins", "labels", "gap", "hit"):
            setattr(terms, key, np.ascontiguousarray(getattr(terms, key)[self.perm]))
        self.terms, self.names = terms, names
        self.kernel = None if compiled is None else compiled[2]
        change = (np.diff(terms.labels) != 0) | (np.diff(terms.bins) != 0)
        self.run_bounds = np.concatenate(([0], np.flatnonzero(change) + 1, [terms.n]))
        self.run_bin = terms.bins[self.run_bounds[:-1]]
        self.run_label = terms.labels[self.run_bounds[:-1]]

    def chunk(self, counts: np.ndarray) -> dict[str, np.ndarray]:
        t = self.terms
        if self.kernel is None:
            sums = t.sums(counts.astype(np.float64))
        else:
            sums = np.empty((counts.shape[0], 3 + t.n_bins + 2 * t.n_classes))
            for i in range(counts.shape[0]):
                self.kernel(
                    counts[i],
                    t.dense,
                    t.gap,
                    self.run_bounds,
                    self.run_bin,
                    self.run_label,
                    t.n_bins,
                    t.n_classes,
                    sums[i],
                )
        values = t.values(sums)
        return {name: values[name] for name in self.names}


def paired_bootstrap_ci(
    confidences: Mapping[str, np.ndarray],
    correct,
    metrics: Sequence[str] | Mapping[str, Sequence[str]] | None = None,
    *,
    classification: tuple | None = None,
    n_resamples: int = 1000,
    confidence_level: float = 0.95,
    random_state=None,
    n_jobs: int | None = None,
    n_bins: int = 15,
    resample_indices=None,
) -> PairedBootstrap:
    """Percentile bootstrap intervals of several CSFs on the same resamples.

    Parameters
    ----------
    confidences : mapping of str to array-like of shape (n_samples,)
        Confidence scores of each CSF on the same samples (may be empty when
        ``classification`` is given).
    correct : array-like of shape (n_samples,)
        1 (or True) where the prediction was right, 0 where it failed (unused without
        confidences).
    metrics : sequence of str, or mapping of CSF name to sequence of str, optional
        Names from :data:`PAIRED_METRICS` (those of
        :data:`~silentscope.metrics.BOOTSTRAP_METRICS` and the calibration metrics mce and
        fail_nll), per CSF with a mapping; default all of BOOTSTRAP_METRICS for every CSF.
    classification : tuple (probs, labels, names), optional
        Also resample these classification metrics (names from
        :data:`~silentscope.metrics.CLASSIFICATION_BOOTSTRAP_METRICS`) of the same samples.
    n_resamples : int, default 1000
    confidence_level : float, default 0.95
    random_state : None, int, SeedSequence or Generator
        Seed: each resample has its own random stream, so the numbers depend on the seed
        only, not on ``n_jobs``.
    n_jobs : int, optional
        Threads over chunks of resamples; default the number of CPUs (at most 8).
    n_bins : int, default 15
        Bins of the ECE and the top-label ECE.
    resample_indices : array-like of shape (n_resamples, n_samples), optional
        Explicit resamples as indices into the inputs, instead of random draws.

    Returns
    -------
    PairedBootstrap

    Raises
    ------
    ValueError
        On invalid inputs, unknown metric names or options. A metric undefined on the full
        data is not an error: it is listed in ``undefined`` with the reason.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> correct = rng.random(500) < 0.8
    >>> good = rng.normal(size=500) + 2 * correct
    >>> weak = rng.normal(size=500) + 0.5 * correct
    >>> ci = paired_bootstrap_ci({"good": good, "weak": weak}, correct, ["auroc_f"],
    ...                          n_resamples=200, random_state=0)
    >>> diff = ci.results["good"]["auroc_f"].samples - ci.results["weak"]["auroc_f"].samples
    >>> bool((diff > 0).all())  # paired: the better CSF wins on every resample
    True
    """
    if not confidences and classification is None:
        raise ValueError("confidences is empty; pass at least one CSF's confidences")
    if not 0 < confidence_level < 1:
        raise ValueError(f"confidence_level must lie in (0, 1), got {confidence_level}")
    n_bins = check_n_bins(n_bins)
    if n_jobs is not None:
        _check_positive_int(n_jobs, "n_jobs")
    checked = {
        name: check_confidence_risk(conf, correct, None)[:2] for name, conf in confidences.items()
    }
    if checked:
        n = next(iter(checked.values()))[1].shape[0]
    else:
        n = np.shape(classification[1])[0]
    if resample_indices is None:
        _check_positive_int(n_resamples, "n_resamples")
        n_resamples = int(n_resamples)
    else:
        explicit = _check_explicit(resample_indices, n)
        n_resamples = explicit.shape[0]
    compiled = _compiled(n * n_resamples * (len(checked) + (classification is not None)))

    consumers, clf_estimates, base_of_sample = {}, {}, None
    if classification is not None:
        probs, labels, clf_names = classification
        p, y = check_probs_labels(probs, labels)
        if p.shape[0] != n:
            raise ValueError(
                f"classification probs have {p.shape[0]} rows but the confidences {n}; "
                "pass the probabilities of the same samples"
            )
        clf_names = [clf_names] if isinstance(clf_names, str) else list(clf_names)
        unknown = [m for m in clf_names if m not in CLASSIFICATION_BOOTSTRAP_METRICS]
        if unknown:
            raise ValueError(
                f"metric {unknown[0]!r} is not a resampled classification metric; choose from "
                f"{', '.join(CLASSIFICATION_BOOTSTRAP_METRICS)}"
            )
        clf_estimates = {m: float(METRICS[m].function(p, y)) for m in clf_names}
        clf = _Classification(_Terms(p, y, n_bins), clf_names, compiled)
        consumers[None] = clf
        # The counts are kept in the classification's base order (sample perm[j] at j).
        base_of_sample = np.empty(n, dtype=np.int64)
        base_of_sample[clf.perm] = np.arange(n)

    estimates, undefined = {}, {}
    for csf, (conf, corr) in checked.items():
        wanted = metrics.get(csf, BOOTSTRAP_METRICS) if isinstance(metrics, Mapping) else metrics
        names = _check_paired_metrics(BOOTSTRAP_METRICS if wanted is None else wanted)
        ranking = Ranking.from_scores(conf, corr)
        names, estimates[csf], undefined[csf] = _estimates(ranking, conf, corr, names, n_bins)
        if names:
            consumers[csf] = _FailureDetection(
                ranking, conf, corr, names, n_bins, compiled, base_of_sample
            )

    if resample_indices is not None:
        drawn = explicit if base_of_sample is None else base_of_sample[explicit]

        def fill(row: int, out: np.ndarray) -> None:
            out[:] = np.bincount(drawn[row], minlength=n)

    else:
        seeds = _seed_sequence(random_state).spawn(n_resamples)
        sampler = _Sampler(n, None, n * n_resamples)

        def fill(row: int, out: np.ndarray) -> None:
            sampler.fill(np.random.default_rng(seeds[row]), out)

    samples = {
        key: {m: np.empty(n_resamples) for m in consumer.names}
        for key, consumer in consumers.items()
    }
    size = max(1, min(n_resamples, _CHUNK_CELLS // max(n, 1)))

    def run_chunk(start: int) -> None:
        stop = min(start + size, n_resamples)
        counts = _draw_chunk(fill, range(start, stop), n)
        for key, consumer in consumers.items():
            for m, values in consumer.chunk(counts).items():
                samples[key][m][start:stop] = values

    starts = range(0, n_resamples, size)
    workers = min(len(starts), n_jobs if n_jobs is not None else min(os.cpu_count() or 1, 8))
    if consumers and workers == 1:
        for start in starts:
            run_chunk(start)
    elif consumers:
        with ThreadPoolExecutor(max_workers=workers) as pool:
            list(pool.map(run_chunk, starts))

    def summary(key, values):
        return {m: _summarise(values[m], samples[key][m], confidence_level) for m in samples[key]}

    return PairedBootstrap(
        results={csf: summary(csf, estimates[csf]) if csf in consumers else {} for csf in checked},
        undefined={csf: reasons for csf, reasons in undefined.items() if reasons},
        classification=summary(None, clf_estimates) if classification is not None else {},
        n_resamples=n_resamples,
    )


def _draw_chunk(fill, rows: range, n: int) -> np.ndarray:
    """Counts of the resamples ``rows``, as uint8 when no count exceeds 255.

    A bootstrap count above 255 is all but impossible (about Poisson(1)), and one byte per
    count quarters the memory the CSFs gather from. A count that overflowed wraps modulo
    256 and lowers the row's total, which must be n, so the check is exact; the chunk is
    then drawn again (same streams) as int32.
    """
    counts = np.empty((len(rows), n), dtype=np.uint8)
    for i, row in enumerate(rows):
        fill(row, counts[i])
    if int(counts.sum(dtype=np.int64)) == len(rows) * n:
        return counts
    wide = np.empty((len(rows), n), dtype=np.int32 if n < 2**31 else np.int64)
    for i, row in enumerate(rows):
        fill(row, wide[i])
    return wide


def _check_paired_metrics(metrics) -> tuple[str, ...]:
    names = (metrics,) if isinstance(metrics, str) else tuple(metrics)
    extra = tuple(name for name in names if name in CALIBRATION_EXTRA)
    rest = tuple(name for name in names if name not in CALIBRATION_EXTRA)
    if rest or not extra:
        _check_metrics(rest)
    return names


def _estimates(ranking, conf, corr, names, n_bins):
    """Full-data values of the metrics defined here, and the reasons of the others."""
    full = ranking.counts(n_bins=n_bins)
    kept, values, reasons = [], {}, {}
    for name in names:
        if name in CALIBRATION_EXTRA:
            function = METRICS[name].function
            try:
                value = function(conf, corr, n_bins) if name == "mce" else function(conf, corr)
            except ValueError as error:
                reasons[name] = str(error)
                continue
            kept.append(name)
            values[name] = float(value)
            continue
        evaluate, (need_correct, need_wrong) = _EVALUATORS[name]
        try:
            if name == "ece":
                check_unit_interval(conf, "ECE")
            full.require(METRICS[name].display_name, correct=need_correct, wrong=need_wrong)
        except ValueError as error:
            reasons[name] = str(error)
            continue
        kept.append(name)
        values[name] = float(evaluate(full))
    return kept, values, reasons


def _check_explicit(resample_indices, n: int) -> np.ndarray:
    explicit = np.asarray(resample_indices)
    if explicit.ndim != 2 or explicit.shape[1] != n or explicit.shape[0] < 1:
        raise ValueError(
            f"resample_indices must have shape (n_resamples, {n}) with n_resamples >= 1, "
            f"got {explicit.shape}"
        )
    if not np.issubdtype(explicit.dtype, np.integer) or (explicit.min() < 0 or explicit.max() >= n):
        raise ValueError(f"resample_indices must be integers in [0, {n})")
    return explicit

"""Vectorised bootstrap confidence intervals for the failure-detection metrics.

The data are sorted and their ties grouped once. A bootstrap resample is then nothing but
a vector of counts (how often each sample was drawn) in that sorted order, so every metric
of a whole chunk of resamples follows from weighted cumulative sums over a
(resamples x groups) count matrix, with the formulas of
:class:`~silentscope.metrics._count_curves.CountCurves` that also give the point estimates.
Nothing is re-sorted per resample.

Speed comes from memory traffic, not arithmetic: the counts are drawn block by block so
that each bincount stays in cache, they are stored as int32, and the metric pass walks
the count matrix in cache-sized column blocks. Chunks of resamples run in threads (numpy
releases the GIL in the heavy loops), each resample with its own random stream, so the
numbers depend on the seed only, not on chunking or threading.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import numpy as np

from . import _kernels
from ._count_curves import CountCurves, Workspace
from ._ranking import Ranking
from ._validation import check_confidence_risk, check_labels, check_unit_interval
from .calibration import check_n_bins
from .registry import METRICS
from .risk_coverage import RiskCoverageCurve

# Default chunk: about this many (resample, sample) counts, i.e. 16 MB of int32, well
# under the 256 MB budget. The metric pass works on cache-sized column blocks of a chunk,
# so larger chunks would gain nothing.
_CHUNK_CELLS = 1 << 22

# name -> (function of the counts, (needs a correct sample, needs a failure))
_EVALUATORS: dict[str, tuple[Callable[[CountCurves], np.ndarray], tuple[bool, bool]]] = {
    "aurc": (lambda c: c.aurc, (False, False)),
    "e_aurc": (lambda c: c.e_aurc, (False, False)),
    "augrc": (lambda c: c.augrc, (False, False)),
    "e_augrc": (lambda c: c.e_augrc, (False, False)),
    "auroc_f": (lambda c: c.auroc, (True, True)),
    "fpr_at_95_tpr": (lambda c: c.fpr_at_tpr, (True, True)),
    "aupr_success": (lambda c: c.aupr_success, (True, False)),
    "aupr_error": (lambda c: c.aupr_error, (False, True)),
    "ece": (lambda c: c.ece, (False, False)),
}

BOOTSTRAP_METRICS: tuple[str, ...] = tuple(_EVALUATORS)

# Metrics defined for a continuous loss: name -> function of (curves, oracle curves), the
# oracle being the same resample ranked by ascending loss (no closed form exists).
_LOSS_EVALUATORS: dict[str, Callable[[CountCurves, Callable[[], CountCurves]], np.ndarray]] = {
    "aurc": lambda c, oracle: c.aurc,
    "e_aurc": lambda c, oracle: c.aurc - oracle().aurc,
    "augrc": lambda c, oracle: c.augrc,
    "e_augrc": lambda c, oracle: c.augrc - oracle().augrc,
}
"""Metrics that :func:`bootstrap_ci` supports (all failure-detection metrics on
(confidence, correct))."""


@dataclass(frozen=True)
class BootstrapResult:
    """Point estimate and percentile bootstrap interval of one metric.

    Attributes
    ----------
    estimate : float
        The metric on the full data.
    low, high : float
        Percentile interval bounds at ``confidence_level`` (NaN if no resample was valid).
    std : float
        Standard deviation of the valid resample values (bootstrap standard error).
    n_resamples : int
        Resamples drawn.
    n_excluded : int
        Resamples where the metric was undefined (e.g. no failure drawn, for AUROC_f);
        they are left out of ``low``, ``high`` and ``std``.
    confidence_level : float
    samples : ndarray of shape (n_resamples,)
        The metric on every resample (NaN where undefined).
    """

    estimate: float
    low: float
    high: float
    std: float
    n_resamples: int
    n_excluded: int = 0
    confidence_level: float = 0.95
    samples: np.ndarray = field(default_factory=lambda: np.empty(0), repr=False, compare=False)


class _Cells:
    """Resampling units: maximal runs of sorted samples sharing confidence and correctness.

    Each tie group holds at most two cells (its correct samples come first, see
    :class:`Ranking`), so per-resample cell counts give the group counts (w, a) directly.
    Without ties every sample is its own cell and no mapping is needed.
    """

    def __init__(self, ranking: Ranking):
        n = ranking.n_samples
        corr = ranking.correct_sorted
        self.n_samples = n
        self.thresholds = ranking.thresholds
        if ranking.n_groups == n:  # no ties: cells, groups and positions coincide
            self.n_cells, self.cell_start, self.pure = n, None, True
            self.cell_correct = corr
            self.wrong_groups = np.flatnonzero(~corr)
            return
        group_of_pos = np.repeat(np.arange(ranking.n_groups), ranking.group_size)
        new_cell = np.ones(n, dtype=bool)
        new_cell[1:] = (group_of_pos[1:] != group_of_pos[:-1]) | (corr[1:] != corr[:-1])
        cell_start = np.flatnonzero(new_cell)
        self.n_cells = cell_start.shape[0]
        # None means "cell index == sorted position".
        self.cell_start = None if self.n_cells == n else cell_start
        self.cell_correct = corr[cell_start]
        cell_group = group_of_pos[cell_start]
        self.pure = self.n_cells == ranking.n_groups
        self.group_first_cell = np.searchsorted(cell_group, np.arange(ranking.n_groups))
        # Cells are sorted by group and each group has at most one failure cell.
        self.wrong_groups = cell_group[~self.cell_correct]

    def curves(self, cell_counts: np.ndarray, workspace: Workspace, n_bins: int) -> CountCurves:
        # Every resample holds n draws, so the row totals are known.
        total = np.full(cell_counts.shape[0], self.n_samples, dtype=np.int64)
        if self.pure:
            return CountCurves(
                cell_counts,
                None,
                self.thresholds,
                correct_flags=self.cell_correct,
                wrong_groups=self.wrong_groups,
                n_bins=n_bins,
                workspace=workspace,
                total=total,
            )
        shape = (cell_counts.shape[0], self.group_first_cell.shape[0])
        dtype = cell_counts.dtype
        correct_counts = np.multiply(
            cell_counts, self.cell_correct, out=workspace.get("a_cells", cell_counts.shape, dtype)
        )
        w = np.add.reduceat(
            cell_counts, self.group_first_cell, axis=-1, out=workspace.get("w", shape, dtype)
        )
        a = np.add.reduceat(
            correct_counts, self.group_first_cell, axis=-1, out=workspace.get("a", shape, dtype)
        )
        return CountCurves(
            w,
            a,
            self.thresholds,
            wrong_groups=self.wrong_groups,
            n_bins=n_bins,
            workspace=workspace,
            total=total,
        )


class _LossCells:
    """Resampling units for a continuous loss: every sorted position is its own cell.

    A resample's group counts are the summed draws (w) and the summed drawn loss (e) per
    tie group, as floats; :meth:`oracle_curves` gives the same resample ranked by
    ascending loss, for the excess metrics.
    """

    cell_start = None

    def __init__(self, ranking: Ranking, loss: np.ndarray):
        n = ranking.n_samples
        self.n_samples = self.n_cells = n
        self._main = self._layout(ranking, loss, np.arange(n))
        oracle = Ranking.from_scores(-loss, loss == 0)
        rank = np.empty(n, dtype=np.int64)
        rank[ranking.order] = np.arange(n)
        # Column j of the oracle layout reads sorted position rank[oracle.order[j]].
        self._oracle = self._layout(oracle, loss, rank[oracle.order])

    @staticmethod
    def _layout(ranking: Ranking, loss: np.ndarray, columns: np.ndarray):
        ls = loss[ranking.order]
        starts = None if ranking.n_groups == ranking.n_samples else ranking.group_start
        lossy = ls > 0 if starts is None else np.add.reduceat(ls, starts) > 0
        identity = bool(np.array_equal(columns, np.arange(columns.shape[0])))
        return (
            None if identity else columns,
            ls,
            starts,
            ranking.thresholds,
            np.flatnonzero(lossy),
        )

    def _curves(self, layout, counts: np.ndarray, n_bins: int) -> CountCurves:
        columns, ls, starts, thresholds, wrong_groups = layout
        draws = counts if columns is None else counts[:, columns]
        e = draws * ls
        w = draws.astype(np.float64)
        if starts is not None:
            w = np.add.reduceat(w, starts, axis=-1)
            e = np.add.reduceat(e, starts, axis=-1)
        return CountCurves(
            w,
            w - e,
            thresholds,
            wrong_groups=wrong_groups,
            n_bins=n_bins,
            total=np.full(counts.shape[0], float(self.n_samples)),
        )

    def curves(self, counts: np.ndarray, workspace: Workspace, n_bins: int) -> CountCurves:
        return self._curves(self._main, counts, n_bins)

    def oracle_curves(self, counts: np.ndarray, n_bins: int) -> CountCurves:
        return self._curves(self._oracle, counts, n_bins)


class _ResampleKernel:
    """Sums of every metric for resamples given as counts per sorted position (compiled).

    Works on the ranking's tie groups directly (a group's correct and failed samples are
    summed in the loop), so no cell counts are formed.
    """

    def __init__(
        self,
        ranking: Ranking,
        resample_sums,
        n_bins: int,
        with_ece: bool = True,
    ):
        self._sums = resample_sums
        self._with_ece = with_ece
        self.n_samples = ranking.n_samples
        self.thresholds = ranking.thresholds
        self.n_bins = n_bins
        self._correct = ranking.correct_sorted.astype(np.float64)
        self._group_bounds = (
            None
            if ranking.n_groups == ranking.n_samples
            else np.append(ranking.group_start, ranking.n_samples).astype(np.int64)
        )
        self._wrong = np.flatnonzero(~ranking.correct_sorted)
        t = ranking.thresholds
        bins = np.clip(np.floor(t * n_bins), 0, n_bins - 1).astype(np.int64)
        self._bin_edges = np.concatenate(([0], np.flatnonzero(np.diff(bins)) + 1, [t.shape[0]]))

    def sums(self, counts: np.ndarray, out: np.ndarray) -> None:
        """Write the sums of one resample (:data:`_kernels.SUM_NAMES`, then n_wrong)."""
        self._sums(
            counts,
            self._correct,
            self._group_bounds,
            self.thresholds,
            self._bin_edges,
            self._wrong,
            self.n_samples,
            0.95,
            self._with_ece,
            out,
        )

    def curves_from_sums(self, sums: np.ndarray) -> CountCurves:
        total = np.full(sums.shape[0], self.n_samples, dtype=np.int64)
        return CountCurves.from_sums(sums, total, self.thresholds, n_bins=self.n_bins)

    def curves(self, rows: range, fill, counts: np.ndarray) -> CountCurves:
        sums = np.empty((len(rows), len(_kernels.SUM_NAMES) + 1))
        for i, row in enumerate(rows):
            fill(row, counts)
            self.sums(counts, sums[i])
        return self.curves_from_sums(sums)


def _seed_sequence(random_state) -> np.random.SeedSequence:
    if isinstance(random_state, np.random.SeedSequence):
        return random_state
    if isinstance(random_state, np.random.Generator):
        return np.random.SeedSequence(int(random_state.integers(2**63)))
    if random_state is None or isinstance(random_state, int | np.integer):
        return np.random.SeedSequence(random_state)
    raise ValueError(
        f"random_state must be None, an int, a SeedSequence or a Generator, got {random_state!r}"
    )


#: Whether to use the compiled kernels of :mod:`._kernels` (when numba is present): None
#: chooses by size (importing numba costs about a second, worth it from
#: ``_KERNEL_MIN_CELLS`` resampled counts on), True always, False never (the numpy path:
#: the benchmark's baseline; the tests compare both).
USE_KERNELS: bool | None = None
_KERNEL_MIN_CELLS = 1 << 24

# Draws of one stratum taken from the generator per call when the kernels fill counts
# (about 2 MB of raw words): any split of the raw stream gives the same counts.
_RAW_DRAWS = 1 << 20


def _compiled(cells: int | None = None):
    if USE_KERNELS is False or (USE_KERNELS is None and (cells or 0) < _KERNEL_MIN_CELLS):
        return None
    return _kernels.kernels()


# Largest block of positions of the multinomial draw (a power of two <= 2**16): the counts
# of one block stay in cache while the draws land in them.
_DRAW_BITS = 14


def _power_of_two_blocks(size: int) -> np.ndarray:
    """Block edges over [0, size): full 2**_DRAW_BITS blocks, then the binary digits of the
    remainder, so that every block length is a power of two."""
    full = size >> _DRAW_BITS
    lengths = [1 << _DRAW_BITS] * full
    rest = size - (full << _DRAW_BITS)
    lengths += [1 << b for b in range(_DRAW_BITS - 1, -1, -1) if rest >> b & 1]
    return np.concatenate(([0], np.cumsum(lengths))).astype(np.int64)


class _Sampler:
    """Draws one resample as counts per sorted position, exactly multinomial.

    Each stratum (all samples, or one class when stratified) is cut into blocks whose
    lengths are powers of two; the stratum's draws are split over the blocks by a
    multinomial with probabilities proportional to block length, then land uniformly inside
    each block. That is the same distribution as drawing every sample uniformly from the
    stratum, but each bincount touches a cache-sized range, and a uniform position in a
    block of 2**b is just b bits of the generator's raw output (exact, and several times
    cheaper than a bounded integer draw).
    """

    def __init__(self, n: int, strata: Sequence[np.ndarray] | None, cells: int | None = None):
        self._cells = cells
        members = [None] if strata is None else list(strata)
        self._plan = []
        for stratum in members:
            size = n if stratum is None else stratum.shape[0]
            edges = _power_of_two_blocks(size)
            lengths = np.diff(edges)
            self._plan.append((stratum, size, edges, lengths, lengths / size))

    @staticmethod
    def _split(rng: np.random.Generator, size: int, probs: np.ndarray):
        if probs.shape[0] == 1:
            return (size,)
        if probs.shape[0] == 2:
            first = int(rng.binomial(size, probs[0]))
            return (first, size - first)
        return rng.multinomial(size, probs)

    def fill(self, rng: np.random.Generator, out: np.ndarray) -> None:
        """Write the counts of one resample into ``out`` (length n, every entry set)."""
        compiled = _compiled(self._cells)
        if compiled is not None:
            self._fill_compiled(compiled[1], rng, out)
            return
        for stratum, size, edges, lengths, probs in self._plan:
            for b, draws in enumerate(self._split(rng, size, probs)):
                length = int(lengths[b])
                words = rng.bit_generator.random_raw((draws + 3) // 4).view(np.uint16)
                local = np.bincount(words[:draws] & (length - 1), minlength=length)
                if stratum is None:
                    out[edges[b] : edges[b + 1]] = local
                else:
                    out[stratum[edges[b] : edges[b + 1]]] = local

    def _fill_compiled(self, fill_blocks, rng: np.random.Generator, out: np.ndarray) -> None:
        """:meth:`fill` in compiled loops: the same raw words, taken in larger pieces."""
        for stratum, size, edges, _lengths, probs in self._plan:
            draws = np.asarray(self._split(rng, size, probs), dtype=np.int64)
            words = (draws + 3) // 4
            use_stratum = stratum is not None
            index = stratum if use_stratum else edges
            step = max(1, _RAW_DRAWS >> _DRAW_BITS)
            for b0 in range(0, draws.shape[0], step):
                b1 = min(b0 + step, draws.shape[0])
                raw = rng.bit_generator.random_raw(int(words[b0:b1].sum())).view(np.uint16)
                fill_blocks(raw, draws[b0:b1], edges[b0 : b1 + 1], index, use_stratum, out)


def _check_metrics(metrics, continuous: bool = False) -> tuple[str, ...]:
    names = (metrics,) if isinstance(metrics, str) else tuple(metrics)
    if not names:
        raise ValueError("metrics is empty; name at least one metric")
    for name in names:
        if continuous and name in _EVALUATORS and name not in _LOSS_EVALUATORS:
            allowed = ", ".join(_LOSS_EVALUATORS)
            raise ValueError(
                f"metric {name!r} is defined only for binary failure (0/1 correct), not for "
                f"a continuous loss; with loss= use {allowed}"
            )
        if name not in _EVALUATORS:
            supported = ", ".join(BOOTSTRAP_METRICS)
            what = "is not supported by bootstrap_ci" if name in METRICS else "is unknown"
            raise ValueError(f"metric {name!r} {what}; supported metrics are: {supported}")
    return names


def _resolve_chunk_size(chunk_size, n_cells: int, n_resamples: int) -> int:
    if chunk_size is None:
        chunk_size = max(1, _CHUNK_CELLS // n_cells)
    else:
        _check_positive_int(chunk_size, "chunk_size")
    return int(min(chunk_size, n_resamples))


def bootstrap_ci(
    confidence,
    correct=None,
    metrics: str | Sequence[str] | None = None,
    *,
    loss=None,
    n_resamples: int = 1000,
    confidence_level: float = 0.95,
    stratify=None,
    random_state=None,
    chunk_size: int | None = None,
    n_jobs: int | None = None,
    n_bins: int = 15,
    resample_indices=None,
) -> dict[str, BootstrapResult]:
    """Percentile bootstrap confidence intervals for failure-detection metrics.

    Resamples the (confidence, correct) pairs with replacement ``n_resamples`` times and
    evaluates every requested metric on each resample, vectorised (see the module
    docstring); the interval is the (1 - level)/2 and (1 + level)/2 percentiles of the
    resample values (Efron & Tibshirani 1993, "An Introduction to the Bootstrap", ch. 13).

    Parameters
    ----------
    confidence : array-like of shape (n_samples,)
        Confidence scores; higher means more confident.
    correct : array-like of shape (n_samples,), optional
        1 (or True) where the prediction was right, 0 where it failed.
    metrics : str or sequence of str, optional
        Registry names: aurc, e_aurc, augrc, e_augrc, auroc_f, fpr_at_95_tpr,
        aupr_success, aupr_error, ece. Default: all of :data:`BOOTSTRAP_METRICS`, or the
        four risk-coverage areas with ``loss``.
    loss : array-like of shape (n_samples,), optional
        Instead of ``correct``: a continuous per-sample loss in [0, 1] (e.g. 1 - Dice).
        Only aurc, e_aurc, augrc and e_augrc are defined for it; the excess metrics use
        the resample ranked by ascending loss as the oracle. A loss holding only 0 and 1
        is treated exactly as ``correct = loss == 0``.
    n_resamples : int, default 1000
    confidence_level : float, default 0.95
    stratify : array-like of shape (n_samples,), optional
        Class labels: each resample then draws within every class as many samples as the
        class holds, keeping class prevalences fixed.
    random_state : None, int, SeedSequence or Generator
        Seed; the same seed gives the same numbers whatever ``chunk_size`` and ``n_jobs``.
    chunk_size : int, optional
        Resamples evaluated together; by default as many as fit about 4 million counts
        (16 MB) in the count matrix. Memory is about 4 x chunk_size x n_samples bytes per
        thread, plus a fixed ~10 MB of scratch.
    n_jobs : int, optional
        Threads over chunks; default: the number of CPUs (at most 8).
    n_bins : int, default 15
        Bins of the ECE.
    resample_indices : array-like of shape (n_resamples, n_samples), optional
        Explicit resamples as indices into the inputs (each row one resample); replaces
        the random draws (``n_resamples``, ``stratify`` and ``random_state`` are then
        ignored). For checking against a plain loop, or for paired comparisons of CSFs.

    Returns
    -------
    dict of str to BootstrapResult
        One result per metric, in the order requested.

    Raises
    ------
    ValueError
        On invalid inputs, unknown or unsupported metric names, a metric undefined on
        the full data (e.g. AUROC_f when every prediction is correct), confidences outside
        [0, 1] when "ece" is requested, or invalid options.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> correct = rng.random(500) < 0.8
    >>> confidence = rng.normal(size=500) + correct
    >>> ci = bootstrap_ci(confidence, correct, ["aurc", "auroc_f"], n_resamples=200,
    ...                   random_state=0)
    >>> r = ci["auroc_f"]
    >>> bool(r.low < r.estimate < r.high), r.n_resamples, r.n_excluded
    (True, 200, 0)
    """
    conf, corr, risk = check_confidence_risk(confidence, correct, loss)
    if metrics is None:
        metrics = BOOTSTRAP_METRICS if risk is None else tuple(_LOSS_EVALUATORS)
    names = _check_metrics(metrics, continuous=risk is not None)
    if not 0 < confidence_level < 1:
        raise ValueError(f"confidence_level must lie in (0, 1), got {confidence_level}")
    n_bins = check_n_bins(n_bins)
    if "ece" in names:
        check_unit_interval(conf, "ECE")
    n = conf.shape[0]
    ranking = Ranking.from_scores(conf, corr)

    estimates = {}
    if risk is None:
        full = ranking.counts(n_bins=n_bins)
        for name in names:
            evaluate, (need_correct, need_wrong) = _EVALUATORS[name]
            full.require(METRICS[name].display_name, correct=need_correct, wrong=need_wrong)
            estimates[name] = float(evaluate(full))
    else:
        curve = RiskCoverageCurve(conf, loss=risk)
        for name in names:
            estimates[name] = float(getattr(curve, name))

    if resample_indices is not None:
        n_resamples, fill = _explicit_filler(resample_indices, ranking)
    else:
        _check_positive_int(n_resamples, "n_resamples")
        n_resamples, fill = _random_filler(int(n_resamples), ranking, stratify, random_state)
    if n_jobs is not None:
        _check_positive_int(n_jobs, "n_jobs")
    cells = _Cells(ranking) if risk is None else _LossCells(ranking, risk)
    size = _resolve_chunk_size(chunk_size, cells.n_cells, n_resamples)
    samples = {name: np.empty(n_resamples) for name in names}
    # Integer counts keep cumulative sums exact; int32 halves the memory traffic.
    count_dtype = np.int32 if n < 2**31 else np.int64
    local = threading.local()
    compiled = _compiled(n * n_resamples) if risk is None else None
    if compiled is not None:
        kernel = _ResampleKernel(ranking, compiled[0], n_bins, with_ece="ece" in names)

    def run_chunk(start: int) -> None:
        if compiled is not None:
            stop = min(start + size, n_resamples)
            if not hasattr(local, "workspace"):
                local.workspace = Workspace()
            by_position = local.workspace.get("by_position", (n,), count_dtype)
            curves = kernel.curves(range(start, stop), fill, by_position)
            for name in names:
                samples[name][start:stop] = _EVALUATORS[name][0](curves)
            return
        stop = min(start + size, n_resamples)
        if not hasattr(local, "workspace"):
            local.workspace = Workspace()
        counts = local.workspace.get("counts", (stop - start, cells.n_cells), count_dtype)
        for i, row in enumerate(range(start, stop)):
            if cells.cell_start is None:
                fill(row, counts[i])
            else:
                by_position = local.workspace.get("by_position", (n,), count_dtype)
                fill(row, by_position)
                np.add.reduceat(by_position, cells.cell_start, out=counts[i])
        curves = cells.curves(counts, local.workspace, n_bins)
        if risk is None:
            for name in names:
                samples[name][start:stop] = _EVALUATORS[name][0](curves)
            return
        oracle = []

        def oracle_curves() -> CountCurves:
            if not oracle:
                oracle.append(cells.oracle_curves(counts, n_bins))
            return oracle[0]

        for name in names:
            samples[name][start:stop] = _LOSS_EVALUATORS[name](curves, oracle_curves)

    starts = range(0, n_resamples, size)
    workers = min(len(starts), n_jobs if n_jobs is not None else min(os.cpu_count() or 1, 8))
    if workers == 1:
        for start in starts:
            run_chunk(start)
    else:
        with ThreadPoolExecutor(max_workers=workers) as pool:
            list(pool.map(run_chunk, starts))

    return {name: _summarise(estimates[name], samples[name], confidence_level) for name in names}


def _check_positive_int(value, name: str) -> None:
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < 1:
        raise ValueError(f"{name} must be a positive integer, got {value!r}")


def _explicit_filler(resample_indices, ranking: Ranking):
    """Counts per sorted position from user-given resample indices (rows = resamples)."""
    n = ranking.n_samples
    explicit = np.asarray(resample_indices)
    if explicit.ndim != 2 or explicit.shape[1] != n or explicit.shape[0] < 1:
        raise ValueError(
            f"resample_indices must have shape (n_resamples, {n}) with n_resamples >= 1, "
            f"got {explicit.shape}"
        )
    if not np.issubdtype(explicit.dtype, np.integer) or (explicit.min() < 0 or explicit.max() >= n):
        raise ValueError(f"resample_indices must be integers in [0, {n})")
    rank = np.empty(n, dtype=np.int64)
    rank[ranking.order] = np.arange(n)

    def fill(row: int, out: np.ndarray) -> None:
        out[:] = np.bincount(rank[explicit[row]], minlength=n)

    return explicit.shape[0], fill


def _random_filler(n_resamples: int, ranking: Ranking, stratify, random_state):
    """Counts per sorted position drawn with one random stream per resample."""
    n = ranking.n_samples
    strata = None
    if stratify is not None:
        labels = check_labels(stratify, n, name="stratify")[ranking.order]
        _, inverse = np.unique(labels, return_inverse=True)
        # Sorted positions of each class, ascending within the class.
        by_class = np.argsort(inverse, kind="stable")
        strata = np.split(by_class, np.cumsum(np.bincount(inverse))[:-1])
    seeds = _seed_sequence(random_state).spawn(n_resamples)
    sampler = _Sampler(n, strata, n * n_resamples)

    def fill(row: int, out: np.ndarray) -> None:
        sampler.fill(np.random.default_rng(seeds[row]), out)

    return n_resamples, fill


def _summarise(estimate: float, samples: np.ndarray, confidence_level: float) -> BootstrapResult:
    valid = samples[~np.isnan(samples)]
    alpha = (1.0 - confidence_level) / 2.0
    if valid.size:
        low, high = (float(q) for q in np.quantile(valid, [alpha, 1.0 - alpha]))
    else:
        low = high = float("nan")
    return BootstrapResult(
        estimate=estimate,
        low=low,
        high=high,
        std=float(valid.std(ddof=1)) if valid.size > 1 else float("nan"),
        n_resamples=int(samples.size),
        n_excluded=int(samples.size - valid.size),
        confidence_level=confidence_level,
        samples=samples,
    )

"""Compiled per-resample kernels of the bootstrap (numba), one fused pass each.

The numpy path of :class:`~silentscope.metrics._count_curves.CountCurves` walks a
(resamples x groups) count matrix a dozen times (cumulative sums, divisions, dot products),
and at 10^7 samples that memory traffic is the whole cost. Here one loop over the groups
of one resample keeps every running sum in registers and reads each count once; the
multinomial draw writes its counts in one pass too. Both produce exactly what the numpy
path produces (same random stream, same sums up to floating-point summation order), and
the numpy path stays as the fallback when numba is missing and as the reference in tests.

numba is a dependency of umap-learn, which silentscope requires. It is imported (and the
kernels compiled, or loaded from numba's on-disk cache) on the first bootstrap only, so
importing the metrics stays cheap; :func:`kernels` returns None when numba is missing, and
the callers then use numpy.
"""

from __future__ import annotations

import functools

import numpy as np

#: Order of the sums written by :func:`resample_sums` (the keys of ``CountCurves._stats``),
#: followed by the failure count of the resample.
SUM_NAMES = ("s_wr", "s_wr1", "e_first", "s_er", "d_lin", "d_tie", "ape", "fp", "ece_gap")


def _resample_sums(
    counts,
    correct_f,
    group_first_cell,
    thresholds,
    bin_edges,
    wrong_cells,
    total,
    tpr,
    with_ece,
    out,
):
    """Every sum of ``CountCurves._stats`` for one resample, in one pass over the groups.

    ``counts[c]`` draws of cell c (cells sorted by descending confidence, correct cells
    first within a tie group); ``correct_f[c]``: 1.0 where cell c is correct, else 0.0
    (float64: a multiplication, not a branch); ``group_first_cell``: the cell range of
    each group (n_groups + 1 bounds), or None when every group is one cell (numba then
    compiles the loop without the inner one). ``bin_edges``: group index ranges of the ECE bins; with
    ``with_ece`` False the thresholds are not read (a stream of 8 bytes per group) and
    the ECE sum is NaN.
    Writes the sums of :data:`SUM_NAMES` and then the failure count into ``out``.
    """
    n_wrong = 0
    for i in range(wrong_cells.shape[0]):
        n_wrong += np.int64(counts[wrong_cells[i]])
    target = (total - n_wrong) * tpr * (1 - 1e-12)
    f_total = float(total)
    f_wrong = float(n_wrong)
    # Counts are carried as float64: integer-valued and below 2**53, so every sum and
    # product of counts is exact, as with integers, without an int-to-float conversion
    # per group for each division and comparison (10% of the loop's time).
    cw = 0.0
    ce = 0.0
    r_prev = 0.0
    s_wr = 0.0
    s_wr1 = 0.0
    s_er = 0.0
    d_lin = 0.0
    d_tie = 0.0
    ape = 0.0
    ece_gap = 0.0
    fp = np.nan
    found = False
    e_first = 0.0
    started = False
    # Branch-free where the branch would be unpredictable: a zero-count group adds 0 to
    # every sum and leaves the risk unchanged (r = 0 on an empty prefix, where ce = 0).
    for b in range(bin_edges.shape[0] - 1):
        bin_conf = 0.0
        bin_correct = 0.0
        for g in range(bin_edges[b], bin_edges[b + 1]):
            # correct as 0.0/1.0 factors, not branches (mispredicted on ~15% of samples)
            if group_first_cell is None:
                w = float(counts[g])
                a = w * correct_f[g]
            else:
                w = 0.0
                a = 0.0
                for c in range(group_first_cell[g], group_first_cell[g + 1]):
                    k = float(counts[c])
                    w += k
                    a += k * correct_f[c]
            e = w - a
            cw += w
            ce += e
            r = ce / max(cw, 1.0)
            s_wr += w * r
            s_wr1 += w * r_prev
            r_prev = r
            if not started:
                if w > 0:
                    e_first = e
                    started = True
            if e > 0:
                d_lin += e * (ce - cw)
                d_tie += e * a
                # below >= w >= e > 0 here (counts are integers); the floor is a guard
                below = max(f_total - cw + w, 1.0)
                ape += e * ((f_wrong - ce + e) / below)
                s_er += e * r
            if not found:
                if cw - ce >= target:
                    fp = ce
                    found = True
            if with_ece:
                bin_conf += w * thresholds[g]
            bin_correct += a
        ece_gap += abs(bin_conf - bin_correct)
    if not with_ece:
        ece_gap = np.nan
    out[0] = s_wr
    out[1] = s_wr1
    out[2] = e_first
    out[3] = s_er
    out[4] = d_lin
    out[5] = d_tie
    out[6] = ape
    out[7] = fp
    out[8] = ece_gap
    out[9] = n_wrong


def _fill_blocks(words, draws, edges, stratum, use_stratum, out):
    """Counts of one stratum's draws: block b gets ``draws[b]`` uniform positions.

    Block b of length L = edges[b+1] - edges[b] (a power of two) reads the next
    ceil(draws[b] / 4) raw 64-bit words as 16-bit lanes and keeps the low log2(L) bits
    of the first draws[b] lanes, exactly as the numpy sampler does.
    """
    lane = 0
    for b in range(draws.shape[0]):
        lo = edges[b]
        length = edges[b + 1] - lo
        mask = length - 1
        if use_stratum:
            for i in range(length):
                out[stratum[lo + i]] = 0
            for i in range(draws[b]):
                out[stratum[lo + (words[lane + i] & mask)]] += 1
        else:
            for i in range(length):
                out[lo + i] = 0
            for i in range(draws[b]):
                out[lo + (words[lane + i] & mask)] += 1
        lane += 4 * ((draws[b] + 3) // 4)


def _class_sums(counts, dense, gap, run_bounds, run_bin, run_label, n_bins, n_classes, out):
    """Weighted sums of the classification terms for one resample, in one pass.

    The samples are ordered so that runs of them share a confidence bin and a class
    (``run_bounds``: n_runs + 1 bounds, ``run_bin`` and ``run_label`` per run), so every
    sum is a running sum in registers, written out once per run. ``dense`` (n, 3) holds
    the hit, NLL and Brier terms. Writes the 3 dense sums, then per bin the weighted
    top-label gap, then per class the weighted hits and the draws: the columns of
    ``classification_bootstrap._Terms.sums``.
    """
    for j in range(out.shape[0]):
        out[j] = 0.0
    hits0 = 3 + n_bins
    sizes0 = hits0 + n_classes
    s_hit = 0.0
    s_nll = 0.0
    s_brier = 0.0
    for r in range(run_bounds.shape[0] - 1):
        r_gap = 0.0
        r_hit = 0.0
        r_size = 0.0
        # branch-free: a sample not drawn adds zeros (a third of them in a resample)
        for i in range(run_bounds[r], run_bounds[r + 1]):
            w = float(counts[i])
            h = w * dense[i, 0]
            r_hit += h
            r_size += w
            r_gap += w * gap[i]
            s_nll += w * dense[i, 1]
            s_brier += w * dense[i, 2]
        s_hit += r_hit
        out[3 + run_bin[r]] += r_gap
        out[hits0 + run_label[r]] += r_hit
        out[sizes0 + run_label[r]] += r_size
    out[0] = s_hit
    out[1] = s_nll
    out[2] = s_brier


@functools.cache
def kernels():
    """(resample_sums, fill_blocks, class_sums) compiled with numba, or None without numba."""
    try:
        from numba import njit
    except ImportError:  # pragma: no cover - numba comes with umap-learn
        return None
    compile_ = njit(nogil=True, cache=True)
    return compile_(_resample_sums), compile_(_fill_blocks), compile_(_class_sums)

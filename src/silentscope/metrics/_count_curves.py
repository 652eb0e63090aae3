"""Failure-detection metrics from per-threshold counts, batched over resamples.

:class:`CountCurves` takes the counts ``w_j`` (samples at the j-th distinct confidence, in
descending order) and ``a_j`` (correct ones among them), with any leading batch axes, and
computes every metric in one blocked pass. The single-estimate functions (one row of
counts) and the bootstrap (one row per resample) share this one implementation.
"""

from __future__ import annotations

import math
from functools import cached_property

import numpy as np

from ._kernels import SUM_NAMES

# Look for the first non-empty group inside this window before scanning whole rows: in a
# bootstrap resample it is almost always among the first few groups.
_FIRST_POSITIVE_WINDOW = 64


def _rowdot(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Row-wise dot products of two (rows, k) arrays.

    einsum, not BLAS: OpenBLAS may spread a long dot product over threads, whose
    start-up and spinning cost far more than the product on a busy machine.
    """
    return np.einsum("ij,ij->i", x, y)


def _first_positive(w: np.ndarray) -> np.ndarray:
    """Index of the first positive entry along the last axis (rows must have one)."""
    window = w[..., :_FIRST_POSITIVE_WINDOW] > 0
    idx = np.argmax(window, axis=-1)
    missing = ~window.any(axis=-1)
    if np.any(missing):
        idx = np.where(missing, np.argmax(w > 0, axis=-1), idx)
    return idx


class Workspace:
    """Scratch arrays reused across calls (one per thread in the bootstrap).

    Touching freshly allocated pages costs more than the arithmetic on them, and page
    faults serialise threads, so the large temporaries are allocated once and reused.
    """

    def __init__(self):
        self._arrays: dict[str, np.ndarray] = {}
        # Small derived values that depend only on the thresholds (e.g. ECE bins).
        self.memo: dict = {}

    def get(self, key: str, shape: tuple[int, ...], dtype) -> np.ndarray:
        size = math.prod(shape)
        arr = self._arrays.get(key)
        if arr is None or arr.size < size or arr.dtype != np.dtype(dtype):
            arr = np.empty(size, dtype=dtype)
            self._arrays[key] = arr
        return arr[:size].reshape(shape)


def optimal_aurc(err):
    """AURC of an oracle CSF with binary residuals: err + (1 - err) ln(1 - err).

    The continuous-coverage limit (Geifman et al. 2019, "Bias-Reduced Uncertainty
    Estimation for Deep Neural Classifiers", ICLR), also used by FD-Shifts. At err = 1 the
    term (1 - err) ln(1 - err) tends to 0, so the optimum is 1 (every accepted sample is
    wrong whatever the ranking).
    """
    err = np.asarray(err, dtype=np.float64)
    keep = 1.0 - err
    log_keep = np.log(keep, out=np.zeros_like(keep), where=keep > 0)
    return err + keep * log_keep


def optimal_augrc(err):
    """AUGRC of an oracle CSF with binary residuals: err^2 / 2 (Traub et al. 2024)."""
    err = np.asarray(err, dtype=np.float64)
    return 0.5 * err * err


# Elements (rows x columns) per block of the streaming pass: the dozen scratch arrays of a
# block stay in cache instead of streaming through main memory, which is what limits
# whole-array numpy code (and keeps threads from scaling).
_BLOCK_ELEMENTS = 1 << 17


class CountCurves:
    """Failure-detection statistics from per-threshold counts, batched over leading axes.

    All metrics come from one pass over the groups in descending confidence, in blocks of
    columns with the cumulative sums carried from block to block.

    Parameters
    ----------
    w : ndarray, shape (..., n_groups)
        Total (weighted) count per distinct confidence, in descending confidence order.
        Zero-weight groups are allowed (bootstrap resamples) and add nothing. Integer
        counts keep every cumulative sum exact.
    a : ndarray, shape (..., n_groups), or None
        Correct (weighted) count per group, same dtype as ``w``. None when every group is
        pure: then ``correct_flags`` says which groups are correct (a = w * flags).
    thresholds : ndarray, shape (n_groups,)
        The distinct confidence values, descending (ECE bins).
    correct_flags : ndarray of bool, shape (n_groups,), optional
        With ``a=None``: whether each (pure) group holds correct predictions.
    wrong_groups : ndarray of int, optional
        Indices (ascending) of the groups that can hold failures at all; the statistics
        that only involve failures then read just those columns, a large saving in the
        bootstrap when failures are rare.
    n_bins : int, default 15
        ECE bins.
    tpr : float, default 0.95
        TPR level of :attr:`fpr_at_tpr`.
    workspace : Workspace, optional
        Where to keep the block scratch arrays.
    total : ndarray, shape (...), optional
        The row sums of ``w`` when the caller knows them (every bootstrap resample has n
        samples), saving a pass over ``w``.

    Undefined values (e.g. AUROC without failures) are returned as NaN; the public
    functions check definedness first and raise instead.
    """

    def __init__(
        self,
        w: np.ndarray,
        a: np.ndarray | None,
        thresholds: np.ndarray,
        *,
        correct_flags: np.ndarray | None = None,
        wrong_groups: np.ndarray | None = None,
        n_bins: int = 15,
        tpr: float = 0.95,
        workspace: Workspace | None = None,
        total: np.ndarray | None = None,
    ):
        if (a is None) == (correct_flags is None):
            raise ValueError("pass exactly one of a and correct_flags")
        self.w = w
        self.a = a
        self.correct_flags = correct_flags
        self.thresholds = thresholds
        self.wrong_groups = wrong_groups
        self.n_bins = n_bins
        self.tpr = tpr
        self._workspace = workspace if workspace is not None else Workspace()
        self._integer = np.issubdtype(w.dtype, np.integer)
        if total is not None:
            self.total = total

    @classmethod
    def from_sums(
        cls, sums: np.ndarray, total: np.ndarray, thresholds: np.ndarray, *, n_bins: int = 15
    ) -> CountCurves:
        """Metrics of resamples whose sums came from the compiled kernel.

        ``sums`` has one row per resample: the values of ``_stats`` in the order of
        :data:`~silentscope.metrics._kernels.SUM_NAMES`, then the failure count. Every
        metric property then applies the same formulas as to counts.
        """
        rows = sums.shape[0]
        curves = cls(
            np.empty((rows, 0), dtype=np.int64),
            None,
            thresholds,
            correct_flags=np.empty(0, dtype=bool),
            n_bins=n_bins,
            total=total,
        )
        curves.__dict__["_stats"] = {name: sums[:, i] for i, name in enumerate(SUM_NAMES)}
        curves.__dict__["n_wrong"] = sums[:, len(SUM_NAMES)].astype(np.int64)
        return curves

    def _buffer(self, key: str, shape, dtype=np.float64) -> np.ndarray:
        return self._workspace.get(key, shape, dtype)

    # -- totals and full cumulative sums --------------------------------------------------
    @cached_property
    def _a_full(self) -> np.ndarray:
        if self.a is not None:
            return self.a
        return self.w * self.correct_flags

    @cached_property
    def total(self) -> np.ndarray:
        return self.w.sum(axis=-1)

    @cached_property
    def n_wrong(self) -> np.ndarray:
        if self.wrong_groups is None:
            return self.total - self._a_full.sum(axis=-1)
        wrong = np.take(self.w, self.wrong_groups, axis=-1).sum(axis=-1)
        if self.a is not None:
            wrong = wrong - np.take(self.a, self.wrong_groups, axis=-1).sum(axis=-1)
        return wrong

    @cached_property
    def n_correct(self) -> np.ndarray:
        return self.total - self.n_wrong

    @cached_property
    def error_rate(self) -> np.ndarray:
        return self.n_wrong / self.total

    @cached_property
    def cum_total(self) -> np.ndarray:
        """Cumulative counts per threshold (the coverage numerators)."""
        return np.cumsum(self.w, axis=-1)

    @cached_property
    def cum_correct(self) -> np.ndarray:
        return np.cumsum(self._a_full, axis=-1)

    # -- the streaming pass ------------------------------------------------------------------
    def _ece_ranges(self) -> tuple[np.ndarray, np.ndarray]:
        """Group index ranges [start, stop) of the non-empty ECE bins, in group order."""
        key = ("ece_ranges", id(self.thresholds), self.n_bins)
        memo = self._workspace.memo
        if key not in memo:
            t = self.thresholds
            bins = np.clip(np.floor(t * self.n_bins), 0, self.n_bins - 1).astype(np.int64)
            starts = np.concatenate(([0], np.flatnonzero(np.diff(bins)) + 1))
            memo[key] = (t, starts, np.append(starts[1:], t.shape[0]))
        return memo[key][1], memo[key][2]

    def _block_layout(self, lo: int, hi: int) -> tuple[np.ndarray, np.ndarray]:
        """Failure columns of block [lo, hi) (block-relative) and the run length of each.

        ``runs[i]`` counts the block columns whose latest failure column is the (i-1)-th of
        the block (i = 0: none yet in this block), so repeating the cumulative failure
        counts by ``runs`` spreads them over every column.
        """
        key = ("block", id(self.wrong_groups), lo, hi)
        memo = self._workspace.memo
        if key not in memo:
            wg = self.wrong_groups
            i0, i1 = np.searchsorted(wg, [lo, hi])
            cols = wg[i0:i1] - lo
            runs = np.diff(np.concatenate(([0], cols, [hi - lo])))
            memo[key] = (wg, cols, runs)
        return memo[key][1], memo[key][2]

    @cached_property
    def _stats(self) -> dict[str, np.ndarray]:
        """Every sum the metrics need, from one blocked pass over the groups.

        With cw_j, ce_j the cumulative total and failure counts and r_j = ce_j / cw_j the
        selective risk (0 on an empty prefix), per row: S_wr = sum_j w_j r_j and
        S_wr1 = sum_{j>=1} w_j r_{j-1}; over the groups k holding failures (e_k > 0):
        sum_k e_k r_k, sum_k e_k (ce_k - cw_k), sum_k e_k a_k and the AUPR-error sum; the
        FP count where the TPR first reaches ``tpr``; per ECE bin the confidence mass
        sum w t and the correct count cw - ce at its end. ce is only summed over failure
        columns and then spread over the others, so no per-column correct count is formed.
        """
        g = self.w.shape[-1]
        w2 = self.w.reshape(-1, g)
        a2 = None if self.a is None else self.a.reshape(-1, g)
        rows = w2.shape[0]
        cdt = w2.dtype if self._integer else np.float64
        total = np.asarray(self.total, dtype=np.float64).reshape(rows)
        wrong = np.asarray(self.n_wrong, dtype=np.float64).reshape(rows)
        target = (total - wrong) * self.tpr * (1 - 1e-12)
        tiny = np.finfo(np.float64).tiny
        t = self.thresholds
        starts, stops = self._ece_ranges()
        subset = self.wrong_groups is not None

        first = _first_positive(w2)
        row_idx = np.arange(rows)
        a_first = (
            w2[row_idx, first] * self.correct_flags[first] if a2 is None else a2[row_idx, first]
        )
        e_first = w2[row_idx, first] - a_first

        def zeros():
            return np.zeros(rows)

        s_wr, s_wr1, s_er, d_lin, d_tie, ape, r_last = (zeros() for _ in range(7))
        cw_carry = np.zeros(rows, dtype=cdt)
        ce_carry = np.zeros(rows, dtype=cdt)
        fp = np.full(rows, np.nan)
        found = np.zeros(rows, dtype=bool)
        bin_conf = np.zeros((rows, starts.shape[0]))
        bin_correct_end = np.zeros((rows, starts.shape[0]))
        next_bin = 0

        size = max(256, min(g, _BLOCK_ELEMENTS // rows))
        for lo in range(0, g, size):
            hi = min(g, lo + size)
            k = hi - lo
            wb = w2[:, lo:hi]
            ab = None if a2 is None else a2[:, lo:hi]
            cw = np.cumsum(wb, axis=1, out=self._buffer("cw", (rows, k), cdt))
            cw += cw_carry[:, None]
            wf = self._buffer("wf", (rows, k))
            np.copyto(wf, wb)
            cwf = self._buffer("cwf", (rows, k))
            np.copyto(cwf, cw)
            # Empty prefix (cw = 0, hence ce = 0): any positive divisor gives r = 0.
            for r in np.flatnonzero(first > lo):
                cwf[r, : first[r] - lo] = 1.0

            # Failures: per failure column e, its cumulative count ce, and cw there.
            if subset:
                cols, runs = self._block_layout(lo, hi)
                e_int = np.take(wb, cols, axis=1)
                a_k = None
                if ab is not None:
                    a_k = np.take(ab, cols, axis=1)
                    e_int -= a_k
                cw_k = np.take(cwf, cols, axis=1)
            else:
                cols = None
                e_int = np.subtract(wb, ab, out=self._buffer("e", (rows, k), cdt))
                a_k, cw_k = ab, cwf
            ce = np.cumsum(e_int, axis=1)
            ce += ce_carry[:, None]
            ce_k = ce.astype(np.float64)
            if subset:
                # Spread: each column takes the count of the latest failure column.
                ext = np.concatenate((ce_carry.astype(np.float64)[:, None], ce_k), axis=1)
                ce_all = np.repeat(ext, runs, axis=1)
            else:
                ce_all = ce_k
            risk = np.divide(ce_all, cwf, out=self._buffer("risk", (rows, k)))

            s_wr += _rowdot(wf, risk)
            s_wr1 += wf[:, 0] * r_last
            if k > 1:
                s_wr1 += _rowdot(wf[:, 1:], risk[:, :-1])
            r_last = risk[:, -1].copy()

            if not found.all():
                for r in np.flatnonzero(~found & (cw[:, -1] - ce_all[:, -1] >= target)):
                    correct_row = cw[r] - ce_all[r]
                    j = int(np.searchsorted(correct_row, target[r], side="left"))
                    fp[r] = ce_all[r, j]
                    found[r] = True

            while next_bin < starts.shape[0] and starts[next_bin] < hi:
                b_lo, b_hi = max(starts[next_bin], lo), min(stops[next_bin], hi)
                bin_conf[:, next_bin] += np.einsum(
                    "ij,j->i", wf[:, b_lo - lo : b_hi - lo], t[b_lo:b_hi]
                )
                if stops[next_bin] > hi:
                    break
                end = stops[next_bin] - 1 - lo
                bin_correct_end[:, next_bin] = cw[:, end] - ce_all[:, end]
                next_bin += 1

            if e_int.shape[1]:
                e = e_int.astype(np.float64)
                d_lin += _rowdot(e, ce_k - cw_k)
                below = total[:, None] - cw_k + e
                if a_k is not None:
                    d_tie += _rowdot(e, a_k)
                    below += a_k
                # An empty tail (below == 0) has e == 0; the floor only avoids 0/0.
                np.maximum(below, tiny, out=below)
                ape += _rowdot(e, (wrong[:, None] - ce_k + e) / below)
                s_er += _rowdot(e, risk if cols is None else np.take(risk, cols, axis=1))
                ce_carry = ce[:, -1].copy()
            cw_carry = cw[:, -1].copy()

        bin_correct = np.diff(bin_correct_end, axis=1, prepend=0.0)
        shape = np.shape(self.total)
        stats = {
            "s_wr": s_wr,
            "s_wr1": s_wr1,
            "e_first": e_first,
            "s_er": s_er,
            "d_lin": d_lin,
            "d_tie": d_tie,
            "ape": ape,
            "fp": fp,
            "ece_gap": np.abs(bin_conf - bin_correct).sum(axis=1),
        }
        return {
            key: np.asarray(value, dtype=np.float64).reshape(shape) for key, value in stats.items()
        }

    # -- risk-coverage areas -----------------------------------------------------------------
    @cached_property
    def aurc(self) -> np.ndarray:
        """Trapezoid area under selective risk vs coverage, with the coverage-0 point.

        Each group j adds the segment from the previous point to (coverage_j, r_j), of width
        w_j / W and mean height (r_{j-1} + r_j) / 2. The first non-empty group j* starts at
        the coverage-0 point, which carries its own risk r_{j*} = e_{j*} / w_{j*}; empty
        prefixes have r = 0, so the sum is (sum_j w_j r_j + sum_{j>=1} w_j r_{j-1} +
        e_{j*}) / (2 W).
        """
        st = self._stats
        return (st["s_wr"] + st["s_wr1"] + st["e_first"]) / (2.0 * self.total)

    @cached_property
    def discordant(self) -> np.ndarray:
        """Correct/failure pairs ranked the wrong way round (ties count one half).

        Counted from the failures' side: a failure group k is ranked above the A - ca_k
        correct samples that are less confident and ties with a_k of them, so, with
        ca = cw - ce, D = A E + sum_k e_k (ce_k - cw_k) + sum_k e_k a_k / 2. Exact for
        integer counts.
        """
        st = self._stats
        a, e = (np.asarray(x, dtype=np.float64) for x in (self.n_correct, self.n_wrong))
        return a * e + st["d_lin"] + 0.5 * st["d_tie"]

    @cached_property
    def augrc(self) -> np.ndarray:
        """Trapezoid area under generalized risk vs coverage: (D + E^2 / 2) / W^2.

        The generalized risk rises by e_j / W over a segment of width w_j / W; summing the
        trapezoids gives (sum_j a_j (F_{<j} + e_j/2) + E^2/2) / W^2 with F_{<j} the
        failures more confident than group j, i.e. the identity
        AUGRC = (1 - AUROC_f) acc (1 - acc) + (1 - acc)^2 / 2 of Traub et al. (2024),
        exact here for any ties.
        """
        e = np.asarray(self.n_wrong, dtype=np.float64)
        return (self.discordant + 0.5 * e * e) / np.asarray(self.total, dtype=np.float64) ** 2

    @cached_property
    def e_aurc(self) -> np.ndarray:
        return self.aurc - optimal_aurc(self.error_rate)

    @cached_property
    def e_augrc(self) -> np.ndarray:
        return self.augrc - optimal_augrc(self.error_rate)

    # -- ranking metrics -------------------------------------------------------------------------
    def require(self, metric: str, *, correct: bool, wrong: bool) -> None:
        """Raise a ValueError when ``metric`` is undefined for these (unbatched) counts."""
        if correct and wrong:
            if self.n_correct == 0 or self.n_wrong == 0:
                raise ValueError(f"correct must contain both 0 and 1 values to compute {metric}")
        elif correct and self.n_correct == 0:
            raise ValueError(
                f"correct must contain at least one 1 (a correct prediction) to compute {metric}"
            )
        elif wrong and self.n_wrong == 0:
            raise ValueError(f"correct must contain at least one 0 (a failure) to compute {metric}")

    def _defined(self, value, need_correct: bool, need_wrong: bool) -> np.ndarray:
        ok = np.ones(np.shape(self.total), dtype=bool)
        if need_correct:
            ok &= self.n_correct > 0
        if need_wrong:
            ok &= self.n_wrong > 0
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where(ok, value(), np.nan)

    @cached_property
    def auroc(self) -> np.ndarray:
        """Mann-Whitney AUROC with correct as the positive class (ties count one half)."""
        pairs = np.asarray(self.n_correct * self.n_wrong, dtype=np.float64)
        return self._defined(lambda: 1.0 - self.discordant / pairs, True, True)

    @cached_property
    def aupr_success(self) -> np.ndarray:
        """Average precision for correct samples, ranked by descending confidence.

        sum_j a_j p_j / A with the precision p = 1 - r, computed as
        1 - (sum_j w_j r_j - sum_k e_k r_k) / A: the first sum is shared with the AURC and
        the second only reads the failure columns.
        """
        st = self._stats
        return self._defined(lambda: 1.0 - (st["s_wr"] - st["s_er"]) / self.n_correct, True, False)

    @cached_property
    def aupr_error(self) -> np.ndarray:
        """Average precision for failures, ranked by ascending confidence.

        At group k, counted from the least confident end, the accepted set holds
        W - cw_k + w_k samples of which E - ce_k + e_k are failures; only groups with
        failures contribute.
        """
        return self._defined(lambda: self._stats["ape"] / self.n_wrong, False, True)

    @cached_property
    def fpr_at_tpr(self) -> np.ndarray:
        """FPR at the highest threshold whose TPR reaches ``tpr`` (whole tie groups).

        TPR >= tpr is tested with a relative tolerance of 1e-12, which absorbs rounding
        in tpr * A (0.95 * 20 is not exactly 19 in floating point).
        """
        return self._defined(lambda: self._stats["fp"] / self.n_wrong, True, True)

    @cached_property
    def ece(self) -> np.ndarray:
        """Expected calibration error over equal-width confidence bins [k/B, (k+1)/B).

        Groups are sorted by confidence, so every bin is a contiguous range of groups:
        sum over bins of |sum w t - sum a| / W.
        """
        return self._stats["ece_gap"] / self.total

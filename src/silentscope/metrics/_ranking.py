"""Sort once, group tied confidences once: the shared basis of every failure-detection metric.

All failure-detection metrics here depend on the data only through the per-threshold counts
``w_j`` (samples whose confidence equals the j-th distinct value, in descending order) and
``a_j`` (how many of them are correct). :class:`Ranking` computes that grouping once;
:class:`~silentscope.metrics._count_curves.CountCurves` turns counts into metrics.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np

from ._count_curves import CountCurves


@dataclass(frozen=True, eq=False)
class Ranking:
    """Samples sorted by descending confidence, with tied confidences grouped.

    Attributes
    ----------
    order : ndarray of int, shape (n,)
        Input indices, most confident first. Within a group of tied confidences the
        correct samples come first, so that (group, correctness) cells are contiguous.
    correct_sorted : ndarray of bool, shape (n,)
    thresholds : ndarray of float, shape (n_groups,)
        Distinct confidence values, descending.
    group_start : ndarray of int, shape (n_groups,)
        First sorted position of each group.
    """

    order: np.ndarray
    correct_sorted: np.ndarray
    thresholds: np.ndarray
    group_start: np.ndarray

    @classmethod
    def from_scores(cls, confidence: np.ndarray, correct: np.ndarray) -> Ranking:
        if _in_ranking_order(confidence, correct):
            # Already ranked (e.g. a subset taken in a cached global ranking, as the viewer
            # does): a linear check replaces the sort. The stable sort below would return
            # exactly this identity order.
            order = np.arange(confidence.shape[0])
            new_group = confidence[1:] != confidence[:-1]
            group_start = np.concatenate(([0], np.flatnonzero(new_group) + 1))
            return cls(order, correct, confidence[group_start], group_start)
        order = np.argsort(-confidence)
        conf_sorted = confidence[order]
        new_group = conf_sorted[1:] != conf_sorted[:-1]
        if not new_group.all():
            # Ties: a deterministic order (not numpy's unstable quicksort's) with the
            # correct samples first inside each tie, so (group, correctness) cells are
            # contiguous. Without ties the order is unique anyway.
            order = np.lexsort((~correct, -confidence))
            conf_sorted = confidence[order]
        group_start = np.concatenate(([0], np.flatnonzero(new_group) + 1))
        return cls(order, correct[order], conf_sorted[group_start], group_start)

    @property
    def n_samples(self) -> int:
        return self.order.shape[0]

    @property
    def n_groups(self) -> int:
        return self.group_start.shape[0]

    @cached_property
    def group_size(self) -> np.ndarray:
        return np.diff(np.append(self.group_start, self.n_samples))

    @cached_property
    def group_correct(self) -> np.ndarray:
        return np.add.reduceat(self.correct_sorted.astype(np.int64), self.group_start)

    def counts(self, sample_weight: np.ndarray | None = None, *, n_bins: int = 15) -> CountCurves:
        """Per-group (total, correct) counts, optionally weighted, as a :class:`CountCurves`."""
        if sample_weight is None:
            return CountCurves(self.group_size, self.group_correct, self.thresholds, n_bins=n_bins)
        ws = sample_weight[self.order]
        w = np.add.reduceat(ws, self.group_start)
        a = np.add.reduceat(ws * self.correct_sorted, self.group_start)
        return CountCurves(w, a, self.thresholds, n_bins=n_bins)

    def loss_counts(
        self, loss: np.ndarray, sample_weight: np.ndarray | None = None, *, n_bins: int = 15
    ) -> CountCurves:
        """Per-group (total, 1 - loss) sums for a continuous per-sample loss in [0, 1].

        A group's "correct" count becomes its total minus its summed loss, so every
        risk-coverage formula of :class:`CountCurves` reads the summed loss where it reads
        the failure count for binary data.
        """
        ls = loss[self.order]
        if sample_weight is None:
            w = self.group_size.astype(np.float64)
            e = np.add.reduceat(ls, self.group_start)
        else:
            ws = sample_weight[self.order]
            w = np.add.reduceat(ws, self.group_start)
            e = np.add.reduceat(ws * ls, self.group_start)
        return CountCurves(w, w - e, self.thresholds, n_bins=n_bins)


def _in_ranking_order(confidence: np.ndarray, correct: np.ndarray) -> bool:
    """Whether samples are already by descending confidence, correct first within ties."""
    if confidence.shape[0] < 2 or confidence[0] < confidence[1]:
        return False  # the common unsorted case exits at once
    step_down = confidence[1:] < confidence[:-1]
    tie = confidence[1:] == confidence[:-1]
    # Within a tie a wrong sample may not precede a correct one.
    return bool(np.all(step_down | (tie & (correct[:-1] | ~correct[1:]))))

"""Consensus of a slicer over seeds: align the fits' slices, then vote.

One mixture fit depends on its initialisation; the instability of Domino-style mixtures
is a weakness that Liu, Bhatia and Fetit (2026) report. :class:`ConsensusSlicer` fits
the same slicer with several seeds, aligns every fit's slices to those of the most
central fit (the medoid: highest error-weighted matched Jaccard to the others,
Hungarian matching), and averages the aligned scores, in the spirit of consensus
clustering by evidence accumulation (Fred and Jain 2005) with the label correspondence
solved by matching instead of a co-association matrix (which would grow as N^2). A
sample belongs to the slice with the highest mean aligned responsibility; it is a *member* of a slice when
more than half of the seeds put it there (a majority vote).

Each consensus slice's stability is its mean Jaccard index to the aligned slice of
every seed's own fit (:attr:`ConsensusSlicer.stability_`): how much of the reported
slice an individual seed reproduces.
"""

from __future__ import annotations

import numpy as np
from scipy.optimize import linear_sum_assignment
from sklearn.base import BaseEstimator, clone
from sklearn.utils.validation import check_is_fitted

from silentscope.slices.slicers import membership_and_scores, slice_scores
from silentscope.slices.stability import StabilityResult, jaccard_matrix


def _alignment(reference: np.ndarray, other: np.ndarray) -> np.ndarray:
    """Column of ``other`` matched to each column of ``reference`` (Hungarian on Jaccard)."""
    scores = jaccard_matrix(reference, other)
    rows, cols = linear_sum_assignment(scores, maximize=True)
    order = np.arange(other.shape[1])
    order[rows] = cols
    return order


class ConsensusSlicer(BaseEstimator):
    """A slicer fitted with ``n_seeds`` seeds whose aligned slices vote.

    Parameters
    ----------
    slicer : estimator
        A slicer with ``random_state``, ``predict_proba`` and ``predict_membership``
        returning the same number of slices for every seed (e.g. the error-aware mixture).
    n_seeds : int, default=5
        Fits with seeds ``random_state, random_state + 1, ...``.
    use_predictions : bool, default=False
        Whether memberships are computed with the predicted probabilities. The default
        (representation and labels only) is how
        :func:`~silentscope.slices.discover_slices` assigns members.
    random_state : int, default=0

    Attributes
    ----------
    fits_ : list of estimators
        One fit per seed.
    orders_ : list of ndarray
        For each fit, its slice aligned to each consensus slice.
    reference_ : int
        Index of the medoid fit the others are aligned to.
    stability_ : StabilityResult
        Jaccard index of each consensus slice to the aligned slice of every seed.
    n_slices_ : int

    Examples
    --------
    >>> from silentscope.slices.mixture import ErrorAwareMixture
    >>> rng = np.random.default_rng(0)
    >>> X = np.vstack([rng.normal(0, 1, (60, 2)), rng.normal(8, 1, (60, 2))])
    >>> y, proba = np.zeros(120, int), np.tile([0.4, 0.6], (120, 1))
    >>> consensus = ConsensusSlicer(ErrorAwareMixture(2), n_seeds=3).fit(X, y, proba)
    >>> consensus.stability_.seed_stability.round(2).tolist()
    [1.0, 1.0]
    """

    def __init__(self, slicer, n_seeds=5, use_predictions=False, random_state=0):
        self.slicer = slicer
        self.n_seeds = n_seeds
        self.use_predictions = use_predictions
        self.random_state = random_state

    def _targets(self, y, y_proba):
        return (y, y_proba) if self.use_predictions else (y, None)

    def fit(self, X, y=None, y_proba=None, errors=None):
        """Fit every seed, align the fits to the medoid and measure each slice's stability.

        Parameters
        ----------
        X, y, y_proba : arrays
            As for the wrapped slicer.
        errors : array-like of bool, shape (N,), optional
            Weights slices by their errors when choosing the medoid; default
            ``argmax(y_proba) != y``.

        Returns
        -------
        self
        """
        if int(self.n_seeds) < 1:
            raise ValueError(f"n_seeds must be >= 1, got {self.n_seeds}")
        base = int(self.random_state) if self.random_state is not None else 0
        if errors is None:
            errors = np.asarray(y_proba).argmax(axis=1) != np.asarray(y)
        errors = np.asarray(errors, dtype=bool)
        self.fits_ = [
            clone(self.slicer).set_params(random_state=base + i).fit(X, y, y_proba)
            for i in range(int(self.n_seeds))
        ]
        targets = self._targets(y, y_proba)
        members = [fit.predict_membership(X, *targets) for fit in self.fits_]
        sizes = {m.shape[1] for m in members}
        if len(sizes) != 1:
            raise ValueError(
                "the slicer returned a different number of slices per seed; a consensus needs "
                "a fixed number (e.g. the mixture's n_components)"
            )
        self.reference_ = _medoid(members, errors)
        self.orders_ = [_alignment(members[self.reference_], m) for m in members]
        self.n_slices_ = sizes.pop()
        # the members just computed, aligned and voted on (as predict_membership would,
        # without a second pass over the samples)
        (votes,) = _running_mean(
            (member.astype(np.float32)[:, order],)
            for member, order in zip(members, self.orders_, strict=True)
        )
        consensus = votes > 0.5
        seeds = [
            np.diag(jaccard_matrix(consensus, m[:, order]))
            for m, order in zip(members, self.orders_, strict=True)
        ]
        self.stability_ = StabilityResult(np.column_stack(seeds), np.zeros((self.n_slices_, 0)))
        return self

    def _mean_aligned(self, method, X, y, y_proba) -> np.ndarray:
        return self._aligned_means(lambda *a: (method(*a),), X, y, y_proba)[0]

    def _aligned_means(self, method, X, y, y_proba) -> tuple[np.ndarray, ...]:
        """Mean over the seeds of each array ``method(fit, X, ...)`` returns, aligned."""
        check_is_fitted(self, "fits_")
        return _running_mean(
            tuple(value[:, order] for value in method(fit, X, *self._targets(y, y_proba)))
            for fit, order in zip(self.fits_, self.orders_, strict=True)
        )

    def predict_proba(self, X, y=None, y_proba=None) -> np.ndarray:
        """Mean aligned membership probabilities over the seeds, shape (N, n_slices)."""
        return self._mean_aligned(lambda f, *a: f.predict_proba(*a), X, y, y_proba)

    def slice_scores(self, X, y=None, y_proba=None) -> np.ndarray:
        """Mean aligned within-slice ranking scores over the seeds, shape (N, n_slices)."""
        return self._mean_aligned(slice_scores, X, y, y_proba)

    def predict_membership(self, X, y=None, y_proba=None) -> np.ndarray:
        """Members: samples that more than half of the seeds put in the aligned slice, bool (N, K).

        Works for partitions (the mixture) and overlapping slices (Spotlight) alike; a
        sample the seeds disagree on belongs to no slice.
        """
        votes = self._mean_aligned(
            lambda f, *a: f.predict_membership(*a).astype(np.float32), X, y, y_proba
        )
        return votes > 0.5

    def membership_and_scores(self, X, y=None, y_proba=None) -> tuple[np.ndarray, np.ndarray]:
        """:meth:`predict_membership` and :meth:`slice_scores` from one pass per seed."""

        def both(fit, *arguments):
            member, scores = membership_and_scores(fit, *arguments)
            return member.astype(np.float32), scores

        votes, scores = self._aligned_means(both, X, y, y_proba)
        return votes > 0.5, scores


def _running_mean(per_seed) -> tuple[np.ndarray, ...]:
    """Mean over the seeds of each array of their tuples, summed in seed order as they
    come (one seed's arrays in memory at a time, beside the totals)."""
    totals, n = None, 0
    for values in per_seed:
        totals = (
            list(values) if totals is None else [t + v for t, v in zip(totals, values, strict=True)]
        )
        n += 1
    return tuple(total / n for total in totals)


def _medoid(members: list[np.ndarray], errors: np.ndarray) -> int:
    """The fit with the highest error-weighted mean matched Jaccard to the others."""
    if len(members) == 1:
        return 0
    scores = []
    for i, member in enumerate(members):
        weight = member[errors].sum(axis=0).astype(np.float64) + 1e-9
        matched = []
        for j, other in enumerate(members):
            if j != i:
                jaccard = jaccard_matrix(member, other)
                rows, cols = linear_sum_assignment(jaccard, maximize=True)
                best = np.zeros(member.shape[1])
                best[rows] = jaccard[rows, cols]
                matched.append((best * weight).sum() / weight.sum())
        scores.append(np.mean(matched))
    return int(np.argmax(scores))


__all__ = ["ConsensusSlicer"]

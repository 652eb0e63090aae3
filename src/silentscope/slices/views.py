"""Multi-view slicing: the slicer on each modality alone and on the fused representation.

One mixture over the fused image + text + metadata representation finds failures that
show in all modalities at once, but a failure that lives in one modality (a report
keyword such as "cataract", an age band) is diluted by the others: its samples are
spread over the joint components. :class:`MultiViewSlicer` fits the slicer (as a
:class:`~silentscope.slices.consensus.ConsensusSlicer` over seeds) on every *view*: each
modality's block of the representation and the whole fused matrix; the candidate slices
of all views are pooled. The held-out confirmation with Benjamini-Hochberg control over
all candidates and the merging of overlapping slices in
:func:`~silentscope.slices.discover_slices` then decide which are reported, and each
reported slice names the view that found it.

This is the multi-view idea of clustering ensembles (Strehl and Ghosh 2002: combine
partitions found in different feature subsets) applied to candidate slices: nothing is
averaged across views, so a slice visible in one view alone keeps its own component.
On the planted scenarios of ``benchmarks/slices.py`` it recovered every single-modality
slice that the joint mixture missed (docs/slices_results.md).
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
from sklearn.base import BaseEstimator, clone
from sklearn.utils.validation import check_is_fitted

from silentscope.slices.consensus import ConsensusSlicer
from silentscope.slices.slicers import membership_and_scores
from silentscope.slices.stability import StabilityResult

#: The view over every column of the representation.
JOINT_VIEW = "joint"


def _columns(view, n_features: int) -> np.ndarray:
    if isinstance(view, slice):
        return np.arange(n_features)[view]
    columns = np.asarray(view, dtype=np.intp)
    if (
        columns.ndim != 1
        or len(columns) == 0
        or (columns < 0).any()
        or (columns >= n_features).any()
    ):
        raise ValueError(
            f"a view must be a slice or non-empty column indices below {n_features}, got {view!r}"
        )
    return columns


class MultiViewSlicer(BaseEstimator):
    """A slicer fitted on several column subsets (views) of one representation, slices pooled.

    Parameters
    ----------
    slicer : estimator
        A slicer with ``random_state`` and a fixed number of slices per seed (e.g. the
        error-aware mixture). Where it has a ``feature_weights`` parameter, each view
        gets its own columns' weights.
    views : mapping of str to slice or array of int
        Columns of each view, e.g. ``Representation.blocks`` plus ``{"joint": slice(None)}``.
    n_seeds : int, default=5
        Seeds of the consensus in every view.
    feature_weights : array-like of shape (D,), optional
        Per-dimension weights of the whole representation, cut per view.
    random_state : int, default=0
    view_params : mapping of str to dict, optional
        Slicer parameters that differ in one view (e.g. the mixture's class-blind
        ``{"gamma": 0, "gamma_hat": 0, "error_weight": 10}``), keyed by view name.

    Attributes
    ----------
    consensus_ : dict of str to ConsensusSlicer
        The fitted consensus of each view.
    slice_view_ : ndarray of str, shape (n_slices_,)
        The view each pooled slice comes from.
    stability_ : StabilityResult
        Per-seed Jaccard indices of every pooled slice (the views' own, stacked).
    n_slices_ : int

    Examples
    --------
    >>> from silentscope.slices.mixture import ErrorAwareMixture
    >>> rng = np.random.default_rng(0)
    >>> X = np.column_stack([rng.normal(size=120), np.r_[np.zeros(60), np.ones(60) * 8]])
    >>> y, proba = np.zeros(120, int), np.tile([0.4, 0.6], (120, 1))
    >>> views = {"a": [0], "b": [1], "joint": slice(None)}
    >>> pooled = MultiViewSlicer(ErrorAwareMixture(2), views, n_seeds=2).fit(X, y, proba)
    >>> pooled.slice_view_.tolist()
    ['a', 'a', 'b', 'b', 'joint', 'joint']
    >>> pooled.predict_membership(X, y).shape
    (120, 6)
    """

    def __init__(
        self, slicer, views, n_seeds=5, feature_weights=None, random_state=0, view_params=None
    ):
        self.slicer = slicer
        self.views = views
        self.view_params = view_params
        self.n_seeds = n_seeds
        self.feature_weights = feature_weights
        self.random_state = random_state

    def _view_columns(self, n_features: int) -> dict[str, np.ndarray]:
        if not isinstance(self.views, Mapping) or not self.views:
            raise ValueError("views must be a non-empty mapping of view name to columns")
        return {str(name): _columns(view, n_features) for name, view in self.views.items()}

    def fit(self, X, y=None, y_proba=None, errors=None):
        """Fit the consensus of the slicer on every view.

        Parameters
        ----------
        X : array-like of shape (N, D)
        y, y_proba, errors : arrays
            As for :meth:`ConsensusSlicer.fit`.

        Returns
        -------
        self
        """
        X = np.asarray(X)
        columns = self._view_columns(X.shape[1])
        weights = None if self.feature_weights is None else np.asarray(self.feature_weights)
        if weights is not None and weights.shape != (X.shape[1],):
            raise ValueError(
                f"feature_weights must have one weight per column ({X.shape[1]}), got {weights.shape}"
            )
        self.columns_, self.consensus_ = columns, {}
        for name, cols in columns.items():
            estimator = clone(self.slicer)
            if weights is not None and "feature_weights" in estimator.get_params():
                estimator.set_params(feature_weights=weights[cols])
            estimator.set_params(**dict((self.view_params or {}).get(name, {})))
            wanted = estimator.get_params().get("n_components")
            if wanted is not None:  # a view of a few discrete values (two yes/no columns)
                distinct = len(np.unique(X[:, cols], axis=0))  # cannot hold more components
                if distinct < int(wanted):
                    estimator.set_params(n_components=max(distinct, 1))
            self.consensus_[name] = ConsensusSlicer(
                estimator, self.n_seeds, random_state=self.random_state
            ).fit(X[:, cols], y, y_proba, errors)
        fits = self.consensus_.values()
        self.slice_view_ = np.concatenate(
            [np.full(fit.n_slices_, name, dtype=object) for name, fit in self.consensus_.items()]
        ).astype(str)
        self.n_slices_ = len(self.slice_view_)
        self.stability_ = StabilityResult(
            np.vstack([fit.stability_.seeds for fit in fits]),
            np.vstack([fit.stability_.resamples for fit in fits]),
        )
        return self

    def _per_view(self, function, X, y, y_proba) -> list:
        """``function(consensus, X of the view, y, y_proba)`` for every view, in order."""
        check_is_fitted(self, "consensus_")
        X = np.asarray(X)
        return [
            function(fit, X[:, self.columns_[name]], y, y_proba)
            for name, fit in self.consensus_.items()
        ]

    def _pooled(self, method: str, X, y, y_proba) -> np.ndarray:
        return np.hstack(
            self._per_view(lambda fit, *a: getattr(fit, method)(*a), X, y, y_proba)
        )  # fmt: skip

    def predict_proba(self, X, y=None, y_proba=None) -> np.ndarray:
        """Each view's consensus probabilities side by side, shape (N, n_slices_).

        The columns of one view sum to 1 per sample; the views overlap by design.
        """
        return self._pooled("predict_proba", X, y, y_proba)

    def slice_scores(self, X, y=None, y_proba=None) -> np.ndarray:
        """Within-slice ranking scores of every pooled slice, shape (N, n_slices_)."""
        return self._pooled("slice_scores", X, y, y_proba)

    def predict_membership(self, X, y=None, y_proba=None) -> np.ndarray:
        """Membership of every pooled slice, bool (N, n_slices_); a sample is in one slice per view at most."""
        return self._pooled("predict_membership", X, y, y_proba)

    def membership_and_scores(self, X, y=None, y_proba=None) -> tuple[np.ndarray, np.ndarray]:
        """:meth:`predict_membership` and :meth:`slice_scores` from one pass per view and seed."""
        both = self._per_view(membership_and_scores, X, y, y_proba)
        return np.hstack([member for member, _ in both]), np.hstack([score for _, score in both])


def modality_views(blocks: Mapping[str, slice]) -> dict[str, slice]:
    """Each modality's block as a view, plus the joint view when there are several blocks.

    Examples
    --------
    >>> modality_views({"image": slice(0, 8), "text": slice(8, 12)})
    {'image': slice(0, 8, None), 'text': slice(8, 12, None), 'joint': slice(None, None, None)}
    >>> modality_views({"text": slice(0, 10)})
    {'text': slice(None, None, None)}
    """
    views = {name: block for name, block in blocks.items() if name != JOINT_VIEW}
    if len(views) > 1:
        return {**views, JOINT_VIEW: slice(None)}
    return {next(iter(blocks)): slice(None)}  # one block: it is the whole representation


__all__ = ["JOINT_VIEW", "MultiViewSlicer", "modality_views"]

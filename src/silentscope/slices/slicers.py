"""The slicer registry: every slicer by its exact name, with one protocol.

A slicer is a scikit-learn style estimator with ``random_state`` and

- ``fit(X, y, y_proba)``: representation, true labels, predicted probabilities;
- ``predict_proba(X, y=None, y_proba=None)``: membership scores (N, K), higher = more in;
- ``predict_membership(X, y=None, y_proba=None)``: hard membership, bool (N, K);
- optionally ``slice_scores(X, y=None, y_proba=None)``: scores that rank samples within
  each slice, when ``predict_proba`` cannot (the mixture's responsibilities are ~0/1);
- optionally ``membership_and_scores(X, y=None, y_proba=None)``: both of the above from
  one pass over the samples (the mixture's responsibilities are computed once).
"""

from __future__ import annotations

from silentscope.slices.error_clusters import ErrorClusterSlicer
from silentscope.slices.mixture import ErrorAwareMixture
from silentscope.slices.spotlight import SpotlightSlicer

#: Slicers by exact name.
SLICERS = {
    "error_mixture": ErrorAwareMixture,
    "error_clusters": ErrorClusterSlicer,
    "spotlight": SpotlightSlicer,
}


def make_slicer(name: str, **params):
    """Instantiate a registered slicer by its exact name.

    Examples
    --------
    >>> make_slicer("error_mixture", n_components=5).n_components
    5
    """
    if name not in SLICERS:
        raise ValueError(f"unknown slicer {name!r}; choose from {', '.join(SLICERS)}")
    return SLICERS[name](**params)


def slice_scores(slicer, X, y=None, y_proba=None):
    """Scores (N, K) that rank samples within each slice: ``slice_scores`` where defined.

    Examples
    --------
    >>> import numpy as np
    >>> X = np.r_[np.zeros((20, 2)), np.ones((20, 2)) * 5] + np.linspace(0, 1, 40)[:, None]
    >>> fitted = make_slicer("spotlight", n_slices=1, random_state=0).fit(
    ...     X, np.zeros(40, int), np.tile([0.3, 0.7], (40, 1)))
    >>> slice_scores(fitted, X).shape
    (40, 1)
    """
    if hasattr(slicer, "slice_scores"):
        return slicer.slice_scores(X, y, y_proba)
    return slicer.predict_proba(X, y, y_proba)


def membership_and_scores(slicer, X, y=None, y_proba=None):
    """``predict_membership`` and :func:`slice_scores` together, in one pass where offered.

    Discovery needs both for every sample; the mixture computes its responsibilities
    once for the two (at 100,000 samples, a second pass cost seconds per view and seed).

    Examples
    --------
    >>> import numpy as np
    >>> X = np.r_[np.zeros((20, 2)), np.ones((20, 2)) * 5] + np.linspace(0, 1, 40)[:, None]
    >>> fitted = make_slicer("error_mixture", n_components=2, random_state=0).fit(
    ...     X, np.zeros(40, int), np.tile([0.3, 0.7], (40, 1)))
    >>> member, scores = membership_and_scores(fitted, X)
    >>> bool((member == fitted.predict_membership(X)).all()), bool((scores == slice_scores(fitted, X)).all())
    (True, True)
    """
    if hasattr(slicer, "membership_and_scores"):
        return slicer.membership_and_scores(X, y, y_proba)
    return slicer.predict_membership(X, y, y_proba), slice_scores(slicer, X, y, y_proba)


__all__ = ["SLICERS", "make_slicer", "membership_and_scores", "slice_scores"]

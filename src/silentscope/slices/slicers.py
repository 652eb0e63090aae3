"""The slicer registry: every slicer by its exact name, with one protocol.

A slicer is a scikit-learn style estimator with ``random_state`` and

- ``fit(X, y, y_proba)``: representation, true labels, predicted probabilities;
- ``predict_proba(X, y=None, y_proba=None)``: membership scores (N, K), higher = more in;
- ``predict_membership(X, y=None, y_proba=None)``: hard membership, bool (N, K).
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


__all__ = ["SLICERS", "make_slicer"]

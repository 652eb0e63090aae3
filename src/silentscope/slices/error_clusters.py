"""Baseline slicer: cluster the errors, then assign every sample to its nearest error cluster.

The simplest error-aware slicer (used as a baseline by Eyuboglu et al. 2022 and by
d'Eon et al. 2022): only misclassified samples are clustered, by k-means or by Ward
agglomerative clustering; each cluster's centre defines a slice that every sample joins
by nearest centre. Membership scores are a softmax of negative squared distances at the
errors' own within-cluster spread, so that they can rank samples for precision@k.
"""

from __future__ import annotations

import numpy as np
from scipy.special import softmax
from sklearn.base import BaseEstimator
from sklearn.cluster import AgglomerativeClustering, KMeans
from sklearn.utils import check_random_state
from sklearn.utils.validation import check_array, check_is_fitted

from silentscope.slices.ranking import check_slicer_targets

CLUSTER_METHODS = ("kmeans", "agglomerative")


class ErrorClusterSlicer(BaseEstimator):
    """Slices as clusters of the misclassified samples.

    Parameters
    ----------
    n_slices : int, default=10
    method : {"kmeans", "agglomerative"}, default="kmeans"
        Ward agglomerative clustering is quadratic in memory: above ``max_errors``
        errors it runs on a random subsample of that size.
    max_errors : int, default=5000
    random_state : int, RandomState or None, default=None

    Attributes
    ----------
    centers_ : ndarray of shape (n_slices_, D)
    n_slices_ : int
        ``min(n_slices, number of errors)``.
    temperature_ : float
        Mean squared distance of the errors to their centre.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(200, 2))
    >>> y = np.zeros(200, int)
    >>> proba = np.where((X[:, :1] > 1), [[0.2, 0.8]], [[0.9, 0.1]])
    >>> slicer = ErrorClusterSlicer(n_slices=2, random_state=0).fit(X, y, proba)
    >>> slicer.predict_proba(X).shape
    (200, 2)
    """

    def __init__(self, n_slices=10, method="kmeans", max_errors=5000, random_state=None):
        self.n_slices = n_slices
        self.method = method
        self.max_errors = max_errors
        self.random_state = random_state

    def fit(self, X, y, y_proba):
        """Cluster the errors (``argmax(y_proba) != y``) of ``X``; returns self."""
        X = check_array(X, dtype=[np.float64, np.float32])
        if self.method not in CLUSTER_METHODS:
            raise ValueError(f"method must be one of {CLUSTER_METHODS}, got {self.method!r}")
        if int(self.n_slices) < 1:
            raise ValueError(f"n_slices must be >= 1, got {self.n_slices}")
        _, errors = check_slicer_targets(X.shape[0], y, y_proba, 1.0, 1.0)
        rows = np.flatnonzero(errors)
        if len(rows) < 2:
            raise ValueError(
                "clustering errors needs at least 2 misclassified samples; this data has fewer"
            )
        random_state = check_random_state(self.random_state)
        self.n_slices_ = int(min(self.n_slices, len(rows)))
        if self.method == "kmeans":
            model = KMeans(self.n_slices_, n_init=1, random_state=random_state).fit(X[rows])
            labels = model.labels_
        else:
            if len(rows) > self.max_errors:
                rows = np.sort(random_state.choice(rows, self.max_errors, replace=False))
            labels = AgglomerativeClustering(self.n_slices_, linkage="ward").fit_predict(X[rows])
        self.centers_ = np.vstack(
            [X[rows][labels == k].mean(axis=0) for k in range(self.n_slices_)]
        )
        self.temperature_ = float(
            max(((X[rows] - self.centers_[labels]) ** 2).sum(axis=1).mean(), 1e-12)
        )
        self.n_features_in_ = X.shape[1]
        return self

    def _squared_distances(self, X) -> np.ndarray:
        check_is_fitted(self, "centers_")
        X = check_array(X, dtype=[np.float64, np.float32])
        if X.shape[1] != self.n_features_in_:
            raise ValueError(
                f"X has {X.shape[1]} features but the slicer was fitted on {self.n_features_in_}"
            )
        return (
            (X**2).sum(axis=1)[:, None]
            - 2 * X @ self.centers_.T
            + (self.centers_**2).sum(axis=1)[None, :]
        )

    def predict_proba(self, X, y=None, y_proba=None) -> np.ndarray:
        """Soft slice membership, shape (N, n_slices_), rows summing to 1."""
        return softmax(-self._squared_distances(X) / self.temperature_, axis=1)

    def predict(self, X, y=None, y_proba=None) -> np.ndarray:
        """Nearest error cluster per sample."""
        return self._squared_distances(X).argmin(axis=1)

    def predict_membership(self, X, y=None, y_proba=None) -> np.ndarray:
        """Hard membership (nearest centre), bool (N, n_slices_)."""
        return self.predict(X)[:, None] == np.arange(self.n_slices_)[None, :]


__all__ = ["CLUSTER_METHODS", "ErrorClusterSlicer"]

"""Mahalanobis distance to the nearest class-conditional Gaussian of the training features."""

from __future__ import annotations

import numpy as np

from silentscope.audit import AuditSet
from silentscope.confidence.base import (
    ConfidenceScorer,
    CSFUnavailableError,
    as_float64_rows,
    register_csf,
    row_chunks,
)


@register_csf
class Mahalanobis(ConfidenceScorer):
    r"""Negative minimum Mahalanobis distance to the class means (Lee et al. 2018).

    Fitted on the training features :math:`f(x_i)` with labels :math:`y_i` only:

    .. math:: \mu_c = \frac{1}{N_c}\sum_{i: y_i = c} f(x_i), \qquad
              \Sigma = \frac{1}{N}\sum_i (f(x_i) - \mu_{y_i})(f(x_i) - \mu_{y_i})^\top

    .. math:: \kappa(x) = -\min_c\, (f(x) - \mu_c)^\top \Sigma^{+} (f(x) - \mu_c)

    :math:`\Sigma^{+}` is the pseudo-inverse: eigen-directions with eigenvalue below
    ``rcond`` times the largest are dropped, so collinear features (common in the
    penultimate layer after ReLU) do not blow up the distance. Classes without training
    samples are left out of the minimum. Lee, K., Lee, K., Lee, H. and Shin, J., "A simple
    unified framework for detecting out-of-distribution samples and adversarial attacks",
    NeurIPS 2018 (the score without input pre-processing or feature ensembles).

    Parameters
    ----------
    rcond : float, default 1e-10
        Relative eigenvalue cut-off of the pseudo-inverse.

    Attributes
    ----------
    classes_ : ndarray of shape (K,)
        Class indices with at least one training sample.
    means_ : ndarray of shape (K, D)
        Class means of the training features.
    whitening_ : ndarray of shape (D, r)
        :math:`W` with :math:`W W^\top = \Sigma^{+}`; r is the rank kept.
    n_features_in_ : int

    Examples
    --------
    >>> import numpy as np
    >>> from silentscope.audit import AuditSet
    >>> rng = np.random.default_rng(0)
    >>> train = np.concatenate([rng.normal(0, 1, (50, 2)), rng.normal(5, 1, (50, 2))])
    >>> audit = AuditSet(sample_id=["near", "far"], test_set=["iid", "iid"], label=[0, 1],
    ...                  logits=np.eye(2) * 3, class_names=["no", "yes"],
    ...                  features=np.array([[0.0, 0.0], [20.0, -20.0]]),
    ...                  train_features=train, train_labels=np.repeat([0, 1], 50))
    >>> near, far = Mahalanobis().fit(audit).score(audit)
    >>> bool(near > far)
    True
    """

    name = "Mahalanobis"
    display_name = "Mahalanobis distance"
    requires = ("logits", "features", "train_features")
    fitted = True

    def __init__(self, rcond: float = 1e-10):
        self.rcond = rcond

    def fit(self, audit: AuditSet) -> Mahalanobis:
        self.check_inputs(audit)
        features = np.asarray(audit.train_features, dtype=np.float64)
        labels = np.asarray(audit.train_labels)
        classes = np.unique(labels)
        if len(features) <= len(classes):
            raise CSFUnavailableError(
                f"Mahalanobis needs more training samples than classes to estimate a covariance, "
                f"got {len(features)} samples for {len(classes)} classes; pass more train_features"
            )
        index = np.searchsorted(classes, labels)
        counts = np.bincount(index, minlength=len(classes)).astype(np.float64)
        means = np.zeros((len(classes), features.shape[1]))
        np.add.at(means, index, features)
        means /= counts[:, None]
        centred = features - means[index]
        covariance = centred.T @ centred / len(features)
        eigenvalues, eigenvectors = np.linalg.eigh(covariance)
        keep = eigenvalues > float(self.rcond) * max(eigenvalues.max(), 0.0)
        if not keep.any():
            raise CSFUnavailableError(
                "Mahalanobis found no within-class variance in train_features (all samples of "
                "a class are identical); pass the real penultimate-layer features"
            )
        self.classes_ = classes
        self.means_ = means
        self.whitening_ = eigenvectors[:, keep] / np.sqrt(eigenvalues[keep])
        self.n_features_in_ = features.shape[1]
        return self

    def score(self, audit: AuditSet) -> np.ndarray:
        self._check_fitted("whitening_")
        self.check_inputs(audit)
        if audit.features.shape[1] != self.n_features_in_:
            raise ValueError(
                f"features have {audit.features.shape[1]} dims but Mahalanobis was fitted on "
                f"{self.n_features_in_}; fit and score with features from the same layer"
            )
        white_means = self.means_ @ self.whitening_  # (K, r)
        mean_norms = (white_means**2).sum(axis=1)
        n, d = audit.features.shape
        out = np.empty(n, dtype=np.float64)
        for start, stop in row_chunks(n, d + len(self.classes_)):
            z = as_float64_rows(audit.features, start, stop) @ self.whitening_
            # ||z - m||^2 expanded; float64 keeps the cancellation error far below the distances.
            squared = (z**2).sum(axis=1)[:, None] - 2.0 * z @ white_means.T + mean_norms[None, :]
            out[start:stop] = -np.maximum(squared.min(axis=1), 0.0)
        return out

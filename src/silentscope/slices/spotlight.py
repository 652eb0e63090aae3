"""Baseline slicer: the Spotlight (d'Eon, d'Eon, Wright and Leyton-Brown, FAccT 2022).

A spotlight is a Gaussian kernel in representation space, ``w_i = exp(-||x_i - mu||^2 /
(2 s^2))``, placed where the kernel-weighted mean loss ``L = sum w_i l_i / sum w_i`` is
highest, subject to a minimum weight ``sum w_i >= S`` (the spotlight size, a fraction of
the samples). The constraint enters as the penalty ``lambda (S - sum w)_+^2 / S^2``;
``mu`` and ``log s`` follow Adam on the exact gradients::

    dL/dmu    = sum_i (l_i - L) w_i (x_i - mu) / (W s^2)
    dL/dlog s = sum_i (l_i - L) w_i ||x_i - mu||^2 / (W s^2)

Later spotlights see the losses multiplied by ``(1 - w)`` of the earlier ones, which
steers them to other regions, as in the paper. The loss is the cross-entropy of the
true label. A sample belongs to a spotlight where its kernel weight is at least 0.5.
"""

from __future__ import annotations

import numpy as np
from sklearn.base import BaseEstimator
from sklearn.utils import check_random_state
from sklearn.utils.validation import check_array, check_is_fitted

from silentscope.slices.ranking import check_slicer_targets


def _adam(grad, state, lr, beta1=0.9, beta2=0.999, eps=1e-8):
    state["t"] += 1
    state["m"] = beta1 * state["m"] + (1 - beta1) * grad
    state["v"] = beta2 * state["v"] + (1 - beta2) * grad**2
    m_hat = state["m"] / (1 - beta1 ** state["t"])
    v_hat = state["v"] / (1 - beta2 ** state["t"])
    return lr * m_hat / (np.sqrt(v_hat) + eps)


class SpotlightSlicer(BaseEstimator):
    """Spotlights of high loss in a representation (d'Eon et al. 2022).

    Parameters
    ----------
    n_slices : int, default=10
        Number of spotlights, found one after another.
    spotlight_size : float, default=0.02
        Minimum kernel weight as a fraction of the samples.
    n_steps : int, default=300
        Adam steps per spotlight.
    learning_rate : float, default=0.05
        Adam step size, relative to the data's standard deviation for ``mu``.
    penalty : float, default=10.0
        Weight of the size constraint.
    max_samples : int, default=20000
        Optimise on a random subsample of this size (the gradients are means).
    random_state : int, RandomState or None, default=None

    Attributes
    ----------
    centers_ : ndarray of shape (n_slices, D)
    scales_ : ndarray of shape (n_slices,)
        Kernel widths ``s``.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(300, 2))
    >>> y = np.zeros(300, int)
    >>> proba = np.where((X[:, :1] > 1.5), [[0.1, 0.9]], [[0.9, 0.1]])
    >>> slicer = SpotlightSlicer(n_slices=1, spotlight_size=0.05, random_state=0).fit(X, y, proba)
    >>> bool(slicer.centers_[0, 0] > 1.0)
    True
    """

    def __init__(
        self,
        n_slices=10,
        spotlight_size=0.02,
        n_steps=300,
        learning_rate=0.05,
        penalty=10.0,
        max_samples=20000,
        random_state=None,
    ):
        self.n_slices = n_slices
        self.spotlight_size = spotlight_size
        self.n_steps = n_steps
        self.learning_rate = learning_rate
        self.penalty = penalty
        self.max_samples = max_samples
        self.random_state = random_state

    def _fit_one(self, X, losses, size, start, scale0, lr):
        mu, log_s = start.copy(), np.log(scale0)
        states = [
            {"t": 0, "m": np.zeros_like(mu), "v": np.zeros_like(mu)},
            {"t": 0, "m": 0.0, "v": 0.0},
        ]
        for _ in range(int(self.n_steps)):
            s2 = np.exp(2 * log_s)
            diff = X - mu
            d2 = (diff**2).sum(axis=1)
            w = np.exp(-d2 / (2 * s2))
            total = w.sum() + 1e-12
            mean_loss = (w * losses).sum() / total
            coef = (losses - mean_loss) / total
            shortfall = max(size - total, 0.0)
            coef = coef + 2 * self.penalty * shortfall / size**2  # ascent on -penalty
            grad_mu = (coef * w) @ diff / s2
            grad_log_s = (coef * w * d2).sum() / s2
            mu = mu + _adam(grad_mu, states[0], lr)
            log_s = log_s + _adam(grad_log_s, states[1], self.learning_rate)
        return mu, float(np.exp(log_s))

    def fit(self, X, y, y_proba):
        """Find ``n_slices`` spotlights of high cross-entropy loss; returns self."""
        X = check_array(X, dtype=[np.float64, np.float32]).astype(np.float64)
        if int(self.n_slices) < 1 or not 0 < self.spotlight_size < 1:
            raise ValueError("n_slices must be >= 1 and spotlight_size in (0, 1)")
        (onehot, proba), errors = check_slicer_targets(X.shape[0], y, y_proba, 1.0, 1.0)
        losses = -np.log(np.maximum((onehot * proba).sum(axis=1), 1e-12))
        random_state = check_random_state(self.random_state)
        if len(X) > self.max_samples:
            rows = random_state.choice(len(X), int(self.max_samples), replace=False)
            X, losses, errors = X[rows], losses[rows], errors[rows]
        size = max(self.spotlight_size * len(X), 2.0)
        scale = X.std(axis=0).mean() + 1e-12
        d2_typical = np.median(((X - X.mean(axis=0)) ** 2).sum(axis=1))
        scale0 = np.sqrt(d2_typical) / 2 + 1e-12
        candidates = np.flatnonzero(errors) if errors.any() else np.arange(len(X))
        centers, scales = [], []
        remaining = losses.copy()
        for _ in range(int(self.n_slices)):
            start = X[random_state.choice(candidates)]
            mu, s = self._fit_one(X, remaining, size, start, scale0, self.learning_rate * scale)
            centers.append(mu)
            scales.append(s)
            remaining = remaining * (1 - np.exp(-((X - mu) ** 2).sum(axis=1) / (2 * s**2)))
        self.centers_ = np.vstack(centers)
        self.scales_ = np.asarray(scales)
        self.n_slices_ = int(self.n_slices)
        self.n_features_in_ = X.shape[1]
        return self

    def predict_proba(self, X, y=None, y_proba=None) -> np.ndarray:
        """Kernel weight of each sample in each spotlight, shape (N, n_slices), in [0, 1]."""
        check_is_fitted(self, "centers_")
        X = check_array(X, dtype=[np.float64, np.float32])
        if X.shape[1] != self.n_features_in_:
            raise ValueError(
                f"X has {X.shape[1]} features but the slicer was fitted on {self.n_features_in_}"
            )
        d2 = (
            (X**2).sum(axis=1)[:, None]
            - 2 * X @ self.centers_.T
            + (self.centers_**2).sum(axis=1)[None, :]
        )
        return np.exp(-np.maximum(d2, 0) / (2 * self.scales_[None, :] ** 2))

    def predict(self, X, y=None, y_proba=None) -> np.ndarray:
        """Spotlight with the highest kernel weight per sample."""
        return self.predict_proba(X).argmax(axis=1)

    def predict_membership(self, X, y=None, y_proba=None) -> np.ndarray:
        """Members: kernel weight >= 0.5 (spotlights may overlap), bool (N, n_slices)."""
        return self.predict_proba(X) >= 0.5


__all__ = ["SpotlightSlicer"]

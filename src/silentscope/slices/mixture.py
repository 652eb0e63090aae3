"""The error-aware Gaussian mixture slicer (Domino-style, Eyuboglu et al. 2022).

Each component ``k`` is a diagonal (or spherical) Gaussian over the representation and
two categorical distributions, one over the true label and one over the predicted
class. The log-likelihood of sample ``i`` under component ``k`` is::

    log pi_k + sum_d w_d log N(x_id; mu_kd, sigma_kd^2)
             + gamma     * sum_c y_ic     log p_kc
             + gamma_hat * sum_c yhat_ic  log q_kc

with ``y_i`` the one-hot label, ``yhat_i`` the predicted probabilities, and ``w_d``
per-dimension weights (all one by default; the weighted fusion of
:mod:`silentscope.slices.representation` sets them so that no modality dominates by its
dimension). Expectation-maximisation updates ``pi, mu, sigma^2`` exactly as
scikit-learn's ``GaussianMixture`` does (the weights ``w_d`` cancel in the M-step) and
``p_kc, q_kc`` as responsibility-weighted means of ``y`` and ``yhat``. With
``gamma = gamma_hat = 0`` and unit weights the algorithm *is* scikit-learn's, step for
step: same initialisation for the same ``random_state``, same convergence rule (change
of the mean log-likelihood below ``tol``), same covariance regularisation.
"""

from __future__ import annotations

import numpy as np
from sklearn.base import BaseEstimator
from sklearn.cluster import KMeans, kmeans_plusplus
from sklearn.utils import check_random_state
from sklearn.utils.validation import check_array, check_is_fitted

from silentscope.slices.ranking import check_slicer_targets

COVARIANCE_TYPES = ("diag", "spherical")
INIT_PARAMS = ("kmeans", "k-means++", "random", "errors")
_PROBABILITY_FLOOR = 1e-6  # keeps log p_kc finite for a class a component never saw


_INIT_SUBSAMPLE = 20_000


def _kmeans_labels(X: np.ndarray, k: int, random_state) -> np.ndarray:
    """k-means labels, fitted on at most ``_INIT_SUBSAMPLE`` rows and extended by nearest centre."""
    if len(X) <= _INIT_SUBSAMPLE:
        return KMeans(n_clusters=k, n_init=1, random_state=random_state).fit(X).labels_
    rows = random_state.choice(len(X), _INIT_SUBSAMPLE, replace=False)
    return KMeans(n_clusters=k, n_init=1, random_state=random_state).fit(X[rows]).predict(X)


def _with_squares(X: np.ndarray) -> np.ndarray:
    """``[X, X**2]`` side by side, so that the first two moments take one matrix product."""
    return np.hstack([X, X * X])


def _normalise(log_prob: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Responsibilities and per-sample log-normaliser, with one exponential pass (in place)."""
    top = log_prob.max(axis=1, keepdims=True)
    np.subtract(log_prob, top, out=log_prob)
    np.exp(log_prob, out=log_prob)
    total = log_prob.sum(axis=1, keepdims=True)
    log_prob /= total
    return log_prob, (top + np.log(total))[:, 0]


class ErrorAwareMixture(BaseEstimator):
    """Error-aware Gaussian mixture over a representation, labels and predictions.

    Parameters
    ----------
    n_components : int, default=25
        Number of mixture components (candidate slices).
    gamma : float, default=10.0
        Weight of the label term (Domino's ``y_log_likelihood_weight``).
    gamma_hat : float, default=10.0
        Weight of the prediction term (Domino's ``y_hat_log_likelihood_weight``).
    covariance_type : {"diag", "spherical"}, default="diag"
    tol : float, default=1e-3
        Stop when the mean log-likelihood changes by less than this.
    reg_covar : float, default=1e-6
        Added to the variances for numerical stability.
    max_iter : int, default=100
    n_init : int, default=1
        Restarts; the one with the highest likelihood is kept.
    init_params : {"kmeans", "k-means++", "random", "errors"}, default="kmeans"
        The first three are scikit-learn's (identical results for one ``random_state``;
        above 20,000 samples ``kmeans`` fits k-means on a random subsample of 20,000 and
        assigns the rest to their nearest centre, which keeps large fits fast).
        ``errors`` runs k-means separately on the errors and on the correct samples
        (half the components each, at least one), so that error regions are seeded;
        above ``20,000`` samples per group k-means runs on a random subsample of that
        size and the rest join their nearest centre, which keeps large fits fast.
    means_init, weights_init : array-like, optional
        Fixed initial means (K, D) and weights (K,), as in scikit-learn.
    feature_weights : array-like of shape (D,), optional
        Per-dimension likelihood weights ``w_d``; default all ones.
    assignment_gamma : float, default=1.0
        Weight of the label term when samples are assigned *without* predictions
        (``predict_proba(X, y)``, as :func:`~silentscope.slices.discover_slices` does;
        the weight used is ``min(gamma, assignment_gamma)``). ``gamma`` emphasises the
        label while fitting so that components become pure in label and prediction;
        once the prediction is left out, that emphasis would let every label-pure error
        component ("label 1, predicted 0") claim all samples of its label nearby. 1 is
        the label's plain likelihood under the fitted component. With ``y_proba`` given,
        assignment uses ``gamma`` and ``gamma_hat`` as in fitting (Domino's rule).
    error_weight : float, default=0.0
        Weight of an error term used in fitting only: each component also models the
        rate ``r_k`` at which its samples are misclassified (``argmax(y_proba) != y``), and
        sample ``i`` adds ``error_weight * log(r_k)`` if it is an error, ``error_weight *
        log(1 - r_k)`` otherwise. Unlike the label and prediction terms it does not make
        components pure in a class: with ``gamma = gamma_hat = 0`` the mixture looks for
        regions of the representation where the classifier fails, whatever the class, so a
        cause that spans every class (an image artefact) is one component, not one per
        class. Members are then assigned from the representation alone: the errors are
        never used at assignment, so a held-out confirmation stays honest.
    variance_floor : float, default=0.0
        Smallest component variance, as a fraction of each dimension's variance over
        all samples. One-hot and other discrete dimensions otherwise give components
        that are pure in one value a near-zero variance and an unbounded likelihood
        bonus, so the mixture splits by ``sex`` or ``eye`` instead of by errors;
        :func:`~silentscope.slices.discover_slices` uses 0.3. With 0 the EM is exact.
    random_state : int, RandomState or None, default=None

    Attributes
    ----------
    weights_, means_, covariances_ : ndarrays
        Mixture weights (K,), means (K, D) and variances (K, D).
    label_probs_, pred_probs_ : ndarrays of shape (K, C)
        Per-component label and prediction distributions (absent when the term's
        weight is 0 and no targets were given).
    converged_ : bool
    n_iter_ : int
    lower_bound_ : float
        Mean log-likelihood per sample of the best restart.
    feature_weights_ : ndarray of shape (D,)
        The per-dimension weights used.
    variance_floor_ : ndarray of shape (D,)
        The variance floor per dimension.
    n_features_in_ : int

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> X = np.vstack([rng.normal(0, 1, (100, 2)), rng.normal(5, 1, (100, 2))])
    >>> y = np.r_[np.zeros(100, int), np.ones(100, int)]
    >>> proba = np.eye(2)[np.r_[np.zeros(190, int), np.ones(10, int)]] * 0.9 + 0.05
    >>> slicer = ErrorAwareMixture(n_components=3, random_state=0).fit(X, y, proba)
    >>> slicer.predict_proba(X, y, proba).shape
    (200, 3)
    """

    def __init__(
        self,
        n_components=25,
        gamma=10.0,
        gamma_hat=10.0,
        covariance_type="diag",
        tol=1e-3,
        reg_covar=1e-6,
        max_iter=100,
        n_init=1,
        init_params="kmeans",
        means_init=None,
        weights_init=None,
        feature_weights=None,
        assignment_gamma=1.0,
        variance_floor=0.0,
        error_weight=0.0,
        random_state=None,
    ):
        self.n_components = n_components
        self.gamma = gamma
        self.gamma_hat = gamma_hat
        self.covariance_type = covariance_type
        self.tol = tol
        self.reg_covar = reg_covar
        self.max_iter = max_iter
        self.n_init = n_init
        self.init_params = init_params
        self.means_init = means_init
        self.weights_init = weights_init
        self.feature_weights = feature_weights
        self.assignment_gamma = assignment_gamma
        self.variance_floor = variance_floor
        self.error_weight = error_weight
        self.random_state = random_state

    # ------------------------------------------------------------------ validation
    def _check_params(self, X: np.ndarray) -> None:
        if int(self.n_components) < 1 or int(self.n_components) > X.shape[0]:
            raise ValueError(
                f"n_components must be between 1 and the number of samples ({X.shape[0]}), got {self.n_components}"
            )
        if self.covariance_type not in COVARIANCE_TYPES:
            raise ValueError(
                f"covariance_type must be one of {COVARIANCE_TYPES}, got {self.covariance_type!r}"
            )
        if self.init_params not in INIT_PARAMS:
            raise ValueError(f"init_params must be one of {INIT_PARAMS}, got {self.init_params!r}")
        for name in (
            "gamma",
            "gamma_hat",
            "assignment_gamma",
            "reg_covar",
            "tol",
            "variance_floor",
            "error_weight",
        ):
            value = getattr(self, name)
            if not (np.isfinite(value) and value >= 0):
                raise ValueError(f"{name} must be a finite number >= 0, got {value}")
        if int(self.max_iter) < 1 or int(self.n_init) < 1:
            raise ValueError("max_iter and n_init must be >= 1")

    def _dim_weights(self, n_features: int) -> np.ndarray:
        if self.feature_weights is None:
            return np.ones(n_features)
        w = np.asarray(self.feature_weights, dtype=np.float64)
        if w.shape != (n_features,) or not np.isfinite(w).all() or (w < 0).any():
            raise ValueError(
                f"feature_weights must be {n_features} finite non-negative numbers, got shape {w.shape}"
            )
        return w

    # ------------------------------------------------------------------ EM pieces
    def _estimate(self, XX, resp, targets) -> None:
        """M-step: parameters from responsibilities (scikit-learn's formulas).

        ``XX = [X, X**2]``: both moments come from one matrix product.
        """
        nk = resp.sum(axis=0, dtype=np.float64) + 10 * np.finfo(resp.dtype).eps
        # (XX.T @ resp).T, not resp.T @ XX: OpenBLAS is several times faster with the
        # long sample axis inside and the small (K, D) result transposed afterwards
        moments = (XX.T @ resp.astype(XX.dtype, copy=False)).T.astype(np.float64) / nk[:, None]
        n_features = XX.shape[1] // 2
        means = moments[:, :n_features]
        variances = moments[:, n_features:] - means**2 + self.reg_covar
        variances = np.maximum(variances, self.variance_floor_)
        if self.covariance_type == "spherical":
            variances = np.repeat(variances.mean(axis=1, keepdims=True), n_features, axis=1)
        self.weights_ = nk / nk.sum()
        self.means_ = means
        self.covariances_ = variances
        y_onehot, proba = targets
        if y_onehot is not None:
            self.label_probs_ = (y_onehot.T @ resp).T / nk[:, None]
        if proba is not None:
            self.pred_probs_ = (proba.T @ resp).T / nk[:, None]
        if self.error_weight > 0 and self._fit_errors is not None:
            rates = (self._fit_errors.astype(resp.dtype) @ resp) / nk
            self.error_rates_ = np.clip(rates, _PROBABILITY_FLOOR, 1 - _PROBABILITY_FLOOR)

    def _gaussian_log_prob(self, XX) -> np.ndarray:
        """Weighted diagonal-Gaussian log-density of every sample under every component."""
        precisions = self.feature_weights_ / self.covariances_  # w_d / sigma^2_kd
        # one matrix product of [X, X**2] for all components at once, no per-component
        # loop; it runs in the data's precision (float32 halves the memory traffic)
        coefficients = np.hstack([-2.0 * self.means_ * precisions, precisions])
        quadratic = (self.means_**2 * precisions).sum(axis=1) + XX @ coefficients.T.astype(XX.dtype)
        log_det = 0.5 * (self.feature_weights_ * np.log(1.0 / self.covariances_)).sum(axis=1)
        return -0.5 * (self.feature_weights_.sum() * np.log(2 * np.pi) + quadratic) + log_det

    def _weighted_log_prob(self, XX, targets, gaussian=None, gamma=None, errors=None) -> np.ndarray:
        if gaussian is None:
            gaussian = self._gaussian_log_prob(XX)
        log_prob = gaussian + np.log(self.weights_)
        y_onehot, proba = targets
        gamma = self.gamma if gamma is None else gamma
        if gamma > 0 and y_onehot is not None:
            log_prob += gamma * (
                y_onehot @ np.log(np.maximum(self.label_probs_, _PROBABILITY_FLOOR)).T
            )
        if self.gamma_hat > 0 and proba is not None:
            log_prob += self.gamma_hat * (
                proba @ np.log(np.maximum(self.pred_probs_, _PROBABILITY_FLOOR)).T
            )
        if errors is not None:  # fitting only: assignment never sees the errors
            wrong = errors.astype(log_prob.dtype)[:, None]
            log_prob += self.error_weight * (
                wrong * np.log(self.error_rates_) + (1 - wrong) * np.log1p(-self.error_rates_)
            )
        return log_prob

    def _initial_resp(self, X, targets, errors, random_state) -> np.ndarray | None:
        n, k = X.shape[0], int(self.n_components)
        resp = np.zeros((n, k), dtype=X.dtype)
        if self.init_params == "kmeans":
            resp[np.arange(n), _kmeans_labels(X, k, random_state)] = 1
        elif self.init_params == "random":
            resp = random_state.uniform(size=(n, k)).astype(X.dtype)
            resp /= resp.sum(axis=1)[:, None]
        elif self.init_params == "k-means++":
            _, indices = kmeans_plusplus(X, k, random_state=random_state)
            resp[indices, np.arange(k)] = 1
        else:  # "errors": seed error regions with their own components
            n_err = 0 if errors is None else int(errors.sum())
            if n_err == 0 or n_err == n:  # no error/correct contrast to seed: plain k-means
                labels = KMeans(n_clusters=k, n_init=1, random_state=random_state).fit(X).labels_
                resp[np.arange(n), labels] = 1
                return resp
            k_err = min(int(np.clip(round(k / 2), 1, max(k - 1, 1))), n_err)
            k_ok = min(k - k_err, n - n_err)
            k_err = k - k_ok
            offset = 0
            for mask, count in ((errors, k_err), (~errors, k_ok)):
                if count == 0:
                    continue
                rows = np.flatnonzero(mask)
                resp[rows, offset + _kmeans_labels(X[rows], count, random_state)] = 1
                offset += count
        return resp

    # ------------------------------------------------------------------ public API
    def fit(self, X, y=None, y_proba=None):
        """Fit the mixture by EM.

        Parameters
        ----------
        X : array-like of shape (N, D)
        y : array-like of int, shape (N,), optional
            True labels; needed when ``gamma > 0``.
        y_proba : array-like of shape (N, C), optional
            Predicted class probabilities; needed when ``gamma_hat > 0``.

        Returns
        -------
        self
        """
        X = check_array(X, dtype=[np.float64, np.float32], ensure_min_samples=2)
        self._check_params(X)
        self.feature_weights_ = self._dim_weights(X.shape[1])
        targets, errors = check_slicer_targets(X.shape[0], y, y_proba, self.gamma, self.gamma_hat)
        if self.error_weight > 0 and errors is None:
            raise ValueError(
                "this slicer weighs the errors (error_weight > 0) and needs y and y_proba; "
                "pass the true labels and the predicted probabilities"
            )
        self._fit_errors = errors if self.error_weight > 0 else None
        XX = _with_squares(X)
        self.variance_floor_ = float(self.variance_floor) * X.var(axis=0)
        random_state = check_random_state(self.random_state)
        best, best_bound = None, -np.inf
        for _ in range(int(self.n_init)):
            resp = self._initial_resp(X, targets, errors, random_state)
            self._estimate(XX, resp, targets)
            if self.weights_init is not None:
                self.weights_ = np.asarray(self.weights_init, dtype=np.float64)
            if self.means_init is not None:
                self.means_ = np.asarray(self.means_init, dtype=np.float64)
            lower_bound, converged, n_iter = -np.inf, False, 0
            while n_iter < int(self.max_iter):
                n_iter += 1
                previous = lower_bound
                resp, log_norm = _normalise(
                    self._weighted_log_prob(XX, targets, errors=self._fit_errors)
                )
                self._estimate(XX, resp, targets)
                lower_bound = float(log_norm.mean(dtype=np.float64))
                if abs(lower_bound - previous) < self.tol:
                    converged = True
                    break
            if best is None or lower_bound > best_bound:
                best_bound = lower_bound
                best = (self._get_state(), converged, n_iter)
        state, self.converged_, self.n_iter_ = best
        self.__dict__.update(state)
        del self._fit_errors
        self.lower_bound_ = best_bound
        self.n_features_in_ = X.shape[1]
        given = [t for t in targets if t is not None]
        self.n_classes_ = given[0].shape[1] if given else None
        return self

    def _get_state(self) -> dict:
        names = (
            "weights_",
            "means_",
            "covariances_",
            "label_probs_",
            "pred_probs_",
            "error_rates_",
        )
        return {name: getattr(self, name).copy() for name in names if hasattr(self, name)}

    def predict_proba(self, X, y=None, y_proba=None) -> np.ndarray:
        """Component responsibilities, shape (N, K); rows sum to 1.

        The label and prediction terms are used where ``y`` / ``y_proba`` are given,
        as in fitting (Domino does the same), otherwise the Gaussian part alone; the
        label term alone (no ``y_proba``) is weighted by ``min(gamma, assignment_gamma)``.
        """
        return self._responsibilities(X, y, y_proba)[0]

    def _responsibilities(self, X, y, y_proba) -> tuple[np.ndarray, np.ndarray]:
        """Responsibilities and the Gaussian log-densities they came from."""
        check_is_fitted(self, "means_")
        X = check_array(X, dtype=[np.float64, np.float32])
        if X.shape[1] != self.n_features_in_:
            raise ValueError(
                f"X has {X.shape[1]} features but the slicer was fitted on {self.n_features_in_}"
            )
        targets, _ = check_slicer_targets(
            X.shape[0], y, y_proba, 0.0, 0.0, n_classes=getattr(self, "n_classes_", None)
        )
        if not hasattr(self, "label_probs_"):
            targets = (None, targets[1])
        if not hasattr(self, "pred_probs_"):
            targets = (targets[0], None)
        XX = _with_squares(X)
        gaussian = self._gaussian_log_prob(XX)
        gamma = self.gamma if targets[1] is not None else min(self.gamma, self.assignment_gamma)
        return _normalise(self._weighted_log_prob(XX, targets, gaussian, gamma))[0], gaussian

    def slice_scores(self, X, y=None, y_proba=None) -> np.ndarray:
        """Ranking scores within each slice: responsibility times typicality, shape (N, K).

        Responsibilities are nearly 0 or 1 in a fitted mixture, so they cannot order the
        members of a slice. Each is multiplied by the sample's typicality for the
        component, ``exp((log N_k(x_i) - max_j log N_k(x_j)) / W)`` with ``W`` the total
        feature weight (the per-dimension geometric mean of the density ratio to the
        component's most typical sample, in (0, 1]): members near the component's centre
        rank first, where its label and error profile hold most surely.

        Examples
        --------
        >>> rng = np.random.default_rng(0)
        >>> X = np.vstack([rng.normal(0, 1, (50, 2)), rng.normal(6, 1, (50, 2))])
        >>> slicer = ErrorAwareMixture(2, gamma=0, gamma_hat=0, random_state=0).fit(X)
        >>> scores = slicer.slice_scores(np.array([[0.0, 0.0], [1.5, 1.5], [6.0, 6.0]]))
        >>> k = scores[0].argmax()
        >>> bool(scores[0, k] > scores[1, k] > scores[2, k])
        True
        """
        return self.membership_and_scores(X, y, y_proba)[1]

    def membership_and_scores(self, X, y=None, y_proba=None) -> tuple[np.ndarray, np.ndarray]:
        """:meth:`predict_membership` and :meth:`slice_scores` from one set of responsibilities."""
        responsibilities, density = self._responsibilities(X, y, y_proba)
        member = _one_hot(responsibilities.argmax(axis=1), int(self.n_components))
        typicality = np.exp((density - density.max(axis=0)) / self.feature_weights_.sum())
        return member, responsibilities * typicality

    def predict(self, X, y=None, y_proba=None) -> np.ndarray:
        """Most likely component per sample, shape (N,)."""
        return self.predict_proba(X, y, y_proba).argmax(axis=1)

    def predict_membership(self, X, y=None, y_proba=None) -> np.ndarray:
        """Hard slice membership (each sample in its most likely component), bool (N, K)."""
        return _one_hot(self.predict(X, y, y_proba), int(self.n_components))


def _one_hot(labels: np.ndarray, k: int) -> np.ndarray:
    """Bool (N, k): each sample in the component of its label."""
    return labels[:, None] == np.arange(k)[None, :]


__all__ = ["COVARIANCE_TYPES", "ErrorAwareMixture", "INIT_PARAMS"]

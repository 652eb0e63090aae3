"""Virtual-logit matching (ViM, Wang et al. 2022)."""

from __future__ import annotations

import numpy as np
from scipy.special import logsumexp

from silentscope.audit import AuditSet
from silentscope.confidence.base import (
    ConfidenceScorer,
    CSFUnavailableError,
    as_float64_rows,
    register_csf,
    row_chunks,
)
from silentscope.confidence.linear_head import classification_head


def default_principal_dim(n_features: int) -> int:
    """The principal-subspace size used by Wang et al.: 1000 for D >= 2048, 512 for D >= 768, else D/2.

    Examples
    --------
    >>> default_principal_dim(2048), default_principal_dim(768), default_principal_dim(512)
    (1000, 512, 256)
    """
    if n_features >= 2048:
        return 1000
    if n_features >= 768:
        return 512
    return n_features // 2


@register_csf
class ViM(ConfidenceScorer):
    r"""Virtual-logit matching: energy minus the scaled norm of the residual feature.

    With the classification head :math:`z = W f + b`, the origin
    :math:`u = -W^{+} b` and the training features centred on it, let :math:`R` span the
    eigen-directions of their (uncentred) covariance *outside* the top ``dim`` ones. Then

    .. math:: v(x) = \alpha \lVert R^\top (f(x) - u) \rVert_2, \qquad
              \alpha = \frac{\operatorname{mean}_i \max_c z_c(x_i)}
                            {\operatorname{mean}_i \lVert R^\top (f(x_i) - u) \rVert_2}

    over the training samples :math:`x_i`, and the confidence is

    .. math:: \kappa(x) = \log \sum_c e^{z_c(x)} - v(x).

    Wang, H., Li, Z., Feng, L. and Zhang, W., "ViM: Out-of-distribution with virtual-logit
    matching", CVPR 2022.

    The AuditSet holds no network weights, so unless ``weight`` and ``bias`` are given the
    head is recovered by least squares from the audited samples' (features, logits) pairs.
    That uses no labels, only the model's own deterministic map; fitting refuses features
    whose logits are not a linear function of them (relative residual above
    ``head_tolerance``), because ViM is then undefined.

    Parameters
    ----------
    dim : int, optional
        Size of the principal subspace; default :func:`default_principal_dim`.
    weight : array of shape (C, D), optional
        Weight of the final linear layer.
    bias : array of shape (C,), optional
        Bias of the final linear layer.
    head_tolerance : float, default 1e-2
        Largest relative RMS residual accepted for the least-squares head.

    Attributes
    ----------
    origin_ : ndarray of shape (D,)
    residual_basis_ : ndarray of shape (D, D - dim)
    alpha_ : float
    weight_, bias_ : ndarrays of shapes (C, D) and (C,)
    head_residual_ : float
        Relative RMS residual of the head (0 when ``weight``/``bias`` were given).
    n_features_in_ : int

    Examples
    --------
    >>> import numpy as np
    >>> from silentscope.audit import AuditSet
    >>> rng = np.random.default_rng(0)
    >>> basis = np.linalg.qr(rng.normal(size=(6, 6)))[0]
    >>> train = rng.normal(size=(300, 3)) @ basis[:, :3].T  # training features span 3 dims
    >>> w, b = rng.normal(size=(2, 6)), np.array([0.5, -0.5])
    >>> features = np.concatenate([rng.normal(size=(20, 3)) @ basis[:, :3].T,
    ...                            10 * basis[:, 3:].T])  # 20 in-distribution, 3 off-subspace
    >>> audit = AuditSet(sample_id=[str(i) for i in range(23)], test_set=["iid"] * 23,
    ...                  label=np.zeros(23, dtype=int), logits=features @ w.T + b,
    ...                  class_names=["no", "yes"], features=features, train_features=train,
    ...                  train_labels=np.zeros(300, dtype=int))
    >>> scores = ViM(dim=3).fit(audit).score(audit)
    >>> bool(scores[:20].min() > scores[20:].max())
    True
    """

    name = "ViM"
    display_name = "Virtual-logit matching"
    requires = ("logits", "true_logits", "features", "train_features")
    fitted = True

    def __init__(
        self,
        dim: int | None = None,
        weight=None,
        bias=None,
        head_tolerance: float = 1e-2,
    ):
        self.dim = dim
        self.weight = weight
        self.bias = bias
        self.head_tolerance = head_tolerance

    def fit(self, audit: AuditSet) -> ViM:
        self.check_inputs(audit)
        n_features = audit.train_features.shape[1]
        dim = default_principal_dim(n_features) if self.dim is None else int(self.dim)
        if not 0 < dim < n_features:
            raise CSFUnavailableError(
                f"ViM needs a principal subspace smaller than the {n_features} feature dimensions, "
                f"got dim={dim}; pass 0 < dim < {n_features}"
            )
        self.weight_, self.bias_, self.head_residual_ = self._head(audit)
        self.origin_ = -np.linalg.pinv(self.weight_) @ self.bias_
        train = np.asarray(audit.train_features, dtype=np.float64)
        centred = train - self.origin_
        eigenvalues, eigenvectors = np.linalg.eigh(centred.T @ centred / len(train))
        order = np.argsort(eigenvalues)[::-1]
        self.residual_basis_ = np.ascontiguousarray(eigenvectors[:, order[dim:]])
        residual_norm = np.linalg.norm(centred @ self.residual_basis_, axis=1)
        train_max_logit = (train @ self.weight_.T + self.bias_).max(axis=1)
        if residual_norm.mean() <= 0:
            raise CSFUnavailableError(
                "ViM found no training-feature variance outside the principal subspace; pass a smaller dim"
            )
        self.alpha_ = float(train_max_logit.mean() / residual_norm.mean())
        self.n_features_in_ = n_features
        return self

    def _head(self, audit: AuditSet) -> tuple[np.ndarray, np.ndarray, float]:
        return classification_head(audit, self.weight, self.bias, self.head_tolerance, "ViM")

    def score(self, audit: AuditSet) -> np.ndarray:
        self._check_fitted("residual_basis_")
        self.check_inputs(audit)
        if audit.features.shape[1] != self.n_features_in_:
            raise ValueError(
                f"features have {audit.features.shape[1]} dims but ViM was fitted on "
                f"{self.n_features_in_}; fit and score with features from the same layer"
            )
        n, d = audit.features.shape
        out = np.empty(n, dtype=np.float64)
        for start, stop in row_chunks(n, d + audit.n_classes):
            features = as_float64_rows(audit.features, start, stop)
            virtual = self.alpha_ * np.linalg.norm(
                (features - self.origin_) @ self.residual_basis_, axis=1
            )
            out[start:stop] = (
                logsumexp(as_float64_rows(audit.logits, start, stop), axis=1) - virtual
            )
        return out

"""ReAct: rectified activations re-scored through the classification head (Sun et al. 2021)."""

from __future__ import annotations

import numpy as np
from scipy.special import logsumexp, softmax

from silentscope.audit import AuditSet
from silentscope.confidence.base import (
    ConfidenceScorer,
    CSFUnavailableError,
    as_float64_rows,
    register_csf,
    row_chunks,
)
from silentscope.confidence.linear_head import classification_head

_OUTPUTS = ("energy", "msr", "mls")


@register_csf
class ReAct(ConfidenceScorer):
    r"""ReAct: clip the penultimate features at a percentile of the training features, re-score.

    With the classification head :math:`z = W f + b` and :math:`c` the ``percentile``-th
    percentile of all training-feature values (one scalar, as Sun et al.),

    .. math:: \tilde z(x) = W \min(f(x), c) + b, \qquad
              \kappa(x) = \log \sum_k e^{\tilde z_k(x)}

    (``output="energy"``, the paper's choice; ``"msr"`` gives :math:`\max_k
    \operatorname{softmax}(\tilde z)_k`, ``"mls"`` :math:`\max_k \tilde z_k`: FD-Shifts'
    ``react_energy_mls``, ``react_det_mcp``, ``react_det_mls``). Sun, Y., Guo, C. and Li, Y.,
    "ReAct: Out-of-distribution detection with rectified activations", NeurIPS 2021.

    What is possible model-free: the AuditSet holds the features and the logits but no
    network weights. Unless ``weight`` and ``bias`` are given, the head is recovered by
    least squares from the audited (features, logits) pairs
    (:func:`~silentscope.confidence.linear_head.classification_head`): exact when
    ``features`` are the input of the final linear layer, and refused otherwise (features
    from another layer, or a non-linear head), so the CSF is then unavailable with the
    reason rather than a number. Clipping happens before that layer, so it cannot be
    computed from logits alone. With float16 logits (FD-Shifts HEAD) the recovered head
    carries their rounding (relative residual about 1e-3, within ``head_tolerance``).

    Parameters
    ----------
    percentile : float, default 90
        Percentile (0-100) of the training-feature values used as the clipping threshold.
    output : {"energy", "msr", "mls"}, default "energy"
        What is computed from the clipped logits. No variant gets calibration metrics
        (ECE): even the MSR of clipped logits is not the classifier's probability.
    weight : array of shape (C, D), optional
        Weight of the final linear layer.
    bias : array of shape (C,), optional
        Bias of the final linear layer.
    head_tolerance : float, default 1e-2
        Largest relative RMS residual accepted for the least-squares head.

    Attributes
    ----------
    threshold_ : float
        The clipping value c.
    weight_, bias_ : ndarrays of shapes (C, D) and (C,)
    head_residual_ : float
        Relative RMS residual of the head (0 when ``weight``/``bias`` were given).
    n_features_in_ : int

    Examples
    --------
    >>> import numpy as np
    >>> from silentscope.audit import AuditSet
    >>> rng = np.random.default_rng(0)
    >>> features = np.abs(rng.normal(size=(30, 4)))
    >>> features[0, 0] = 50.0  # one abnormally large activation
    >>> w, b = rng.normal(size=(3, 4)), np.zeros(3)
    >>> audit = AuditSet(sample_id=[str(i) for i in range(30)], test_set=["iid"] * 30,
    ...                  label=np.zeros(30, dtype=int), logits=features @ w.T + b,
    ...                  class_names=["a", "b", "c"], features=features,
    ...                  train_features=np.abs(rng.normal(size=(200, 4))),
    ...                  train_labels=np.zeros(200, dtype=int))
    >>> from scipy.special import logsumexp
    >>> csf = ReAct().fit(audit)
    >>> round(csf.threshold_, 3)
    1.519
    >>> plain_energy = logsumexp(audit.logits, axis=1)
    >>> csf.score(audit)[:3].round(3).tolist(), plain_energy[:3].round(3).tolist()
    ([1.346, -0.105, 1.657], [39.39, -0.105, 1.657])

    The abnormal activation no longer makes sample 0 look confident.
    """

    name = "ReAct"
    display_name = "ReAct (rectified activations, energy)"
    requires = ("logits", "true_logits", "features", "train_features")
    fitted = True

    def __init__(
        self,
        percentile: float = 90.0,
        output: str = "energy",
        weight=None,
        bias=None,
        head_tolerance: float = 1e-2,
    ):
        self.percentile = percentile
        self.output = output
        self.weight = weight
        self.bias = bias
        self.head_tolerance = head_tolerance

    def fit(self, audit: AuditSet) -> ReAct:
        self.check_inputs(audit)
        if self.output not in _OUTPUTS:
            raise ValueError(f"output must be one of {', '.join(_OUTPUTS)}, got {self.output!r}")
        percentile = float(self.percentile)
        if not 0.0 < percentile <= 100.0:
            raise ValueError(f"percentile must lie in (0, 100], got {self.percentile!r}")
        self.weight_, self.bias_, self.head_residual_ = classification_head(
            audit, self.weight, self.bias, self.head_tolerance, self.name
        )
        train = np.asarray(audit.train_features, dtype=np.float64)
        if train.size == 0:
            raise CSFUnavailableError("ReAct needs training features to set its clipping value")
        self.threshold_ = float(np.percentile(train, percentile))
        self.n_features_in_ = train.shape[1]
        return self

    def score(self, audit: AuditSet) -> np.ndarray:
        self._check_fitted("threshold_")
        self.check_inputs(audit)
        if audit.features.shape[1] != self.n_features_in_:
            raise ValueError(
                f"features have {audit.features.shape[1]} dims but ReAct was fitted on "
                f"{self.n_features_in_}; fit and score with features from the same layer"
            )
        n, d = audit.features.shape
        out = np.empty(n, dtype=np.float64)
        for start, stop in row_chunks(n, d + audit.n_classes):
            clipped = np.minimum(as_float64_rows(audit.features, start, stop), self.threshold_)
            logits = clipped @ self.weight_.T + self.bias_
            if self.output == "energy":
                out[start:stop] = logsumexp(logits, axis=1)
            elif self.output == "mls":
                out[start:stop] = logits.max(axis=1)
            else:
                out[start:stop] = softmax(logits, axis=1).max(axis=1)
        return out

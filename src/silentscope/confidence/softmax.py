"""Stateless CSFs computed from the logits of one deterministic forward pass.

All four are computed in float64 from log-softmax / log-sum-exp, so logits of any
magnitude give finite confidences.
"""

from __future__ import annotations

import numpy as np
from scipy.special import log_softmax, logsumexp

from silentscope.audit import AuditSet
from silentscope.confidence.base import (
    ConfidenceScorer,
    as_float64_rows,
    register_csf,
    row_chunks,
)


def _per_chunk(logits, function) -> np.ndarray:
    n, c = logits.shape
    out = np.empty(n, dtype=np.float64)
    for start, stop in row_chunks(n, c):
        out[start:stop] = function(as_float64_rows(logits, start, stop))
    return out


@register_csf
class MSR(ConfidenceScorer):
    r"""Maximum softmax response (Hendrycks & Gimpel 2017).

    .. math:: \kappa(x) = \max_c \operatorname{softmax}(z(x))_c

    Range [1/C, 1]. Hendrycks, D. and Gimpel, K., "A baseline for detecting
    misclassified and out-of-distribution examples in neural networks", ICLR 2017.

    Examples
    --------
    >>> import numpy as np
    >>> from silentscope.audit import AuditSet
    >>> audit = AuditSet(sample_id=["a", "b"], test_set=["iid", "iid"], label=[0, 1],
    ...                  logits=np.array([[0.0, 0.0], [2.0, 0.0]]), class_names=["no", "yes"])
    >>> MSR().fit(audit).score(audit).round(4).tolist()
    [0.5, 0.8808]
    """

    name = "MSR"
    display_name = "Maximum softmax response"
    probability_valued = True

    def score(self, audit: AuditSet) -> np.ndarray:
        self.check_inputs(audit)
        return _per_chunk(audit.logits, lambda z: np.exp(log_softmax(z, axis=1).max(axis=1)))


@register_csf
class MLS(ConfidenceScorer):
    r"""Maximum logit score (Hendrycks et al. 2022).

    .. math:: \kappa(x) = \max_c z_c(x)

    Unbounded; not invariant to adding a constant to the logits. Hendrycks, D. et al.,
    "Scaling out-of-distribution detection for real-world settings", ICML 2022.

    Examples
    --------
    >>> import numpy as np
    >>> from silentscope.audit import AuditSet
    >>> audit = AuditSet(sample_id=["a", "b"], test_set=["iid", "iid"], label=[0, 1],
    ...                  logits=np.array([[0.0, 1.5], [2.0, 0.0]]), class_names=["no", "yes"])
    >>> MLS().fit(audit).score(audit).tolist()
    [1.5, 2.0]
    """

    name = "MLS"
    display_name = "Maximum logit score"
    requires = ("logits", "true_logits")  # on log-probabilities it is log(MSR), not MLS

    def score(self, audit: AuditSet) -> np.ndarray:
        self.check_inputs(audit)
        return _per_chunk(audit.logits, lambda z: z.max(axis=1))


@register_csf
class PE(ConfidenceScorer):
    r"""Negative predictive entropy of the softmax distribution.

    .. math:: \kappa(x) = -H(p) = \sum_c p_c \log p_c, \quad p = \operatorname{softmax}(z(x))

    Range [-log C, 0] (natural log). As used for failure detection by Jaeger et al.,
    "A call to reflect on evaluation practices for failure detection in image
    classification", ICLR 2023.

    Examples
    --------
    >>> import numpy as np
    >>> from silentscope.audit import AuditSet
    >>> audit = AuditSet(sample_id=["a", "b"], test_set=["iid", "iid"], label=[0, 1],
    ...                  logits=np.array([[0.0, 0.0], [50.0, 0.0]]), class_names=["no", "yes"])
    >>> PE().fit(audit).score(audit).round(4).tolist()
    [-0.6931, -0.0]
    """

    name = "PE"
    display_name = "Negative predictive entropy"

    def score(self, audit: AuditSet) -> np.ndarray:
        self.check_inputs(audit)
        return _per_chunk(audit.logits, _negative_entropy_from_logits)


@register_csf
class Energy(ConfidenceScorer):
    r"""Negative free energy of the logits (Liu et al. 2020).

    .. math:: \kappa(x) = -E(x; T) = T \log \sum_c \exp(z_c(x) / T)

    Liu, W., Wang, X., Owens, J. and Li, Y., "Energy-based out-of-distribution detection",
    NeurIPS 2020. The paper's default ``temperature=1`` is used here.

    Parameters
    ----------
    temperature : float, default 1.0
        Energy temperature ``T > 0``.

    Examples
    --------
    >>> import numpy as np
    >>> from silentscope.audit import AuditSet
    >>> audit = AuditSet(sample_id=["a", "b"], test_set=["iid", "iid"], label=[0, 1],
    ...                  logits=np.array([[0.0, 0.0], [1000.0, 0.0]]), class_names=["no", "yes"])
    >>> Energy().fit(audit).score(audit).round(4).tolist()
    [0.6931, 1000.0]
    """

    name = "energy"
    display_name = "Energy score"
    requires = ("logits", "true_logits")  # log-sum-exp of log-probabilities is 0 for every sample

    def __init__(self, temperature: float = 1.0):
        self.temperature = temperature

    def score(self, audit: AuditSet) -> np.ndarray:
        self.check_inputs(audit)
        t = float(self.temperature)
        if not np.isfinite(t) or t <= 0:
            raise ValueError(
                f"energy temperature must be a positive number, got {self.temperature!r}"
            )
        return _per_chunk(audit.logits, lambda z: t * logsumexp(z / t, axis=1))


def _negative_entropy_from_logits(z: np.ndarray) -> np.ndarray:
    log_p = log_softmax(z, axis=1)
    # exp(log_p) * log_p is 0 * -inf = nan for a class with probability exactly 0; it contributes 0.
    return np.where(np.isneginf(log_p), 0.0, np.exp(log_p) * log_p).sum(axis=1)

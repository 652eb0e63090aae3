r"""CSFs from M stochastic (MC-dropout) forward passes, as defined in FD-Shifts.

With :math:`p_m = \operatorname{softmax}(z_m(x))` the softmax of pass :math:`m` and
:math:`\bar p = \frac{1}{M}\sum_m p_m` their mean, Jaeger et al. define (ICLR 2023, "A call
to reflect on evaluation practices for failure detection in image classification";
Gal & Ghahramani 2016 for MC dropout):

- MCD-MSR: :math:`\max_c \bar p_c`
- MCD-PE:  :math:`-H(\bar p)` (predictive entropy)
- MCD-EE:  :math:`-\frac{1}{M}\sum_m H(p_m)` (expected entropy)
- MCD-MI:  :math:`-\big(H(\bar p) - \frac{1}{M}\sum_m H(p_m)\big)` (mutual information)
- MCD-SV:  :math:`-\operatorname{Var}_m\, p_{m,\hat y}`, :math:`\hat y = \arg\max_c \bar p_c`

All are negated where needed so that higher = more confident. They describe the MC-mean
prediction :math:`\hat y`; the evaluation pairs them with the AuditSet's predictions
(arg-max of ``logits``), so build the AuditSet with ``logits = log(mean softmax)`` when the
MC-mean is the prediction being audited. FD-Shifts' code averages the standard deviation
over all classes for SV; here it is the variance of the predicted class, as in the paper's
description.
"""

from __future__ import annotations

import numpy as np
from scipy.special import log_softmax

from silentscope.audit import AuditSet
from silentscope.confidence.base import (
    ConfidenceScorer,
    as_float64_rows,
    register_csf,
    row_chunks,
)


def mc_softmax_statistics(mc_logits) -> dict[str, np.ndarray]:
    """Per-sample MC statistics from logits of shape (N, C, M), computed in row chunks.

    Returns a dict with ``max_mean`` (max of the mean softmax), ``mean_entropy_neg``
    (:math:`-H(\\bar p)`), ``expected_entropy_neg`` (:math:`-E_m H(p_m)`) and
    ``predicted_variance`` (:math:`Var_m p_{m,\\hat y}`), each of shape (N,).

    Examples
    --------
    >>> import numpy as np
    >>> stats = mc_softmax_statistics(np.zeros((1, 2, 3)))
    >>> float(stats["max_mean"][0]), round(float(stats["mean_entropy_neg"][0]), 4)
    (0.5, -0.6931)
    """
    n, c, m = mc_logits.shape
    keys = ("max_mean", "mean_entropy_neg", "expected_entropy_neg", "predicted_variance")
    out = {key: np.empty(n, dtype=np.float64) for key in keys}
    for start, stop in row_chunks(n, c * m):
        log_p = log_softmax(as_float64_rows(mc_logits, start, stop), axis=1)  # (n, C, M)
        p = np.exp(log_p)
        mean_p = p.mean(axis=2)  # (n, C)
        out["max_mean"][start:stop] = mean_p.max(axis=1)
        out["mean_entropy_neg"][start:stop] = _plogp(
            mean_p, np.log(np.maximum(mean_p, 1e-300))
        ).sum(1)
        out["expected_entropy_neg"][start:stop] = _plogp(p, log_p).sum(axis=1).mean(axis=1)
        predicted = mean_p.argmax(axis=1)
        p_hat = np.take_along_axis(p, predicted[:, None, None], axis=1)[:, 0, :]  # (n, M)
        out["predicted_variance"][start:stop] = p_hat.var(axis=1)
    return out


def _plogp(p: np.ndarray, log_p: np.ndarray) -> np.ndarray:
    # p log p -> 0 as p -> 0; guards the 0 * -inf of an underflowed class.
    return np.where(p > 0, p * log_p, 0.0)


class _MCDropoutCSF(ConfidenceScorer):
    requires = ("logits", "mc_logits")
    _statistic = ""

    def score(self, audit: AuditSet) -> np.ndarray:
        self.check_inputs(audit)
        return self._from_statistics(mc_softmax_statistics(audit.mc_logits))

    def _from_statistics(self, stats: dict[str, np.ndarray]) -> np.ndarray:
        raise NotImplementedError


@register_csf
class MCDropoutMSR(_MCDropoutCSF):
    r"""Maximum of the mean MC-dropout softmax: :math:`\kappa = \max_c \bar p_c`.

    Range [1/C, 1]. Jaeger et al., ICLR 2023 (see the module docstring).

    Examples
    --------
    >>> import numpy as np
    >>> from silentscope.audit import AuditSet
    >>> mc = np.array([[[2.0, 2.0], [0.0, 0.0]], [[3.0, -1.0], [0.0, 0.0]]])  # (N, C, M)
    >>> audit = AuditSet(sample_id=["a", "b"], test_set=["iid", "iid"], label=[0, 0],
    ...                  logits=mc.mean(axis=2), mc_logits=mc, class_names=["no", "yes"])
    >>> MCDropoutMSR().fit(audit).score(audit).round(4).tolist()
    [0.8808, 0.6108]
    """

    name = "MCD-MSR"
    display_name = "MC-dropout maximum softmax response"
    probability_valued = True

    def _from_statistics(self, stats):
        return stats["max_mean"]


@register_csf
class MCDropoutPE(_MCDropoutCSF):
    r"""Negative entropy of the mean MC-dropout softmax: :math:`\kappa = -H(\bar p)`.

    Range [-log C, 0]. Captures total (aleatoric + epistemic) uncertainty. Jaeger et al.,
    ICLR 2023 (see the module docstring).

    Examples
    --------
    >>> import numpy as np
    >>> from silentscope.audit import AuditSet
    >>> mc = np.array([[[2.0, 2.0], [0.0, 0.0]], [[3.0, -1.0], [0.0, 0.0]]])  # (N, C, M)
    >>> audit = AuditSet(sample_id=["a", "b"], test_set=["iid", "iid"], label=[0, 0],
    ...                  logits=mc.mean(axis=2), mc_logits=mc, class_names=["no", "yes"])
    >>> MCDropoutPE().fit(audit).score(audit).round(4).tolist()
    [-0.3653, -0.6684]
    """

    name = "MCD-PE"
    display_name = "MC-dropout negative predictive entropy"

    def _from_statistics(self, stats):
        return stats["mean_entropy_neg"]


@register_csf
class MCDropoutEE(_MCDropoutCSF):
    r"""Negative expected entropy over MC passes: :math:`\kappa = -\frac{1}{M}\sum_m H(p_m)`.

    Range [-log C, 0]. Captures the aleatoric part of the uncertainty. Jaeger et al.,
    ICLR 2023 (see the module docstring).

    Examples
    --------
    >>> import numpy as np
    >>> from silentscope.audit import AuditSet
    >>> mc = np.array([[[2.0, 2.0], [0.0, 0.0]], [[3.0, -1.0], [0.0, 0.0]]])  # (N, C, M)
    >>> audit = AuditSet(sample_id=["a", "b"], test_set=["iid", "iid"], label=[0, 0],
    ...                  logits=mc.mean(axis=2), mc_logits=mc, class_names=["no", "yes"])
    >>> MCDropoutEE().fit(audit).score(audit).round(4).tolist()
    [-0.3653, -0.3865]
    """

    name = "MCD-EE"
    display_name = "MC-dropout negative expected entropy"

    def _from_statistics(self, stats):
        return stats["expected_entropy_neg"]


@register_csf
class MCDropoutMI(_MCDropoutCSF):
    r"""Negative mutual information between prediction and weights (BALD).

    .. math:: \kappa = -\Big(H(\bar p) - \frac{1}{M}\sum_m H(p_m)\Big)

    Range [-log C, 0]; zero when all passes agree. Captures the epistemic part of the
    uncertainty. Jaeger et al., ICLR 2023 (see the module docstring).

    Examples
    --------
    >>> import numpy as np
    >>> from silentscope.audit import AuditSet
    >>> mc = np.array([[[2.0, 2.0], [0.0, 0.0]], [[3.0, -1.0], [0.0, 0.0]]])  # (N, C, M)
    >>> audit = AuditSet(sample_id=["a", "b"], test_set=["iid", "iid"], label=[0, 0],
    ...                  logits=mc.mean(axis=2), mc_logits=mc, class_names=["no", "yes"])
    >>> MCDropoutMI().fit(audit).score(audit).round(4).tolist()
    [0.0, -0.2819]
    """

    name = "MCD-MI"
    display_name = "MC-dropout negative mutual information"

    def _from_statistics(self, stats):
        # -MI = (-H(mean p)) - (-E H(p_m)); MI >= 0 by Jensen's inequality, so positive
        # values are rounding noise and are clipped to keep the output a valid -MI.
        return np.minimum(stats["mean_entropy_neg"] - stats["expected_entropy_neg"], 0.0)


@register_csf
class MCDropoutSV(_MCDropoutCSF):
    r"""Negative MC variance of the softmax of the predicted class.

    .. math:: \kappa = -\frac{1}{M}\sum_m \big(p_{m,\hat y} - \bar p_{\hat y}\big)^2,
              \quad \hat y = \arg\max_c \bar p_c

    Range [-1/4, 0]. Jaeger et al., ICLR 2023 (see the module docstring).

    Examples
    --------
    >>> import numpy as np
    >>> from silentscope.audit import AuditSet
    >>> mc = np.array([[[2.0, 2.0], [0.0, 0.0]], [[3.0, -1.0], [0.0, 0.0]]])  # (N, C, M)
    >>> audit = AuditSet(sample_id=["a", "b"], test_set=["iid", "iid"], label=[0, 0],
    ...                  logits=mc.mean(axis=2), mc_logits=mc, class_names=["no", "yes"])
    >>> MCDropoutSV().fit(audit).score(audit).round(4).tolist()
    [-0.0, -0.1168]
    """

    name = "MCD-SV"
    display_name = "MC-dropout negative softmax variance"

    def _from_statistics(self, stats):
        return -stats["predicted_variance"]


@register_csf
class MCDropoutWAIC(_MCDropoutCSF):
    r"""WAIC-style MC-dropout confidence: mean softmax of the prediction minus its MC spread.

    .. math:: \kappa = \max_c \bar p_c - \operatorname{Std}_m\, p_{m,\hat y},
              \quad \hat y = \arg\max_c \bar p_c

    (population standard deviation over the M passes). Range [-1/2, 1]. FD-Shifts'
    ``mcd_waic`` (``fd_shifts/analysis/confid_scores.py``; Jaeger et al., ICLR 2023, after
    the widely applicable information criterion of Watanabe 2010 as used for OOD detection
    by Choi et al. 2018). FD-Shifts' code takes the standard deviations with ``np.take``
    without an axis, which reads them from the *first sample's* row for every sample; here
    each sample's own spread is used.

    Examples
    --------
    >>> import numpy as np
    >>> from silentscope.audit import AuditSet
    >>> mc = np.array([[[2.0, 2.0], [0.0, 0.0]], [[3.0, -1.0], [0.0, 0.0]]])  # (N, C, M)
    >>> audit = AuditSet(sample_id=["a", "b"], test_set=["iid", "iid"], label=[0, 0],
    ...                  logits=mc.mean(axis=2), mc_logits=mc, class_names=["no", "yes"])
    >>> MCDropoutWAIC().fit(audit).score(audit).round(4).tolist()
    [0.8808, 0.2689]
    """

    name = "MCD-WAIC"
    display_name = "MC-dropout WAIC (mean minus spread of the predicted class)"

    def _from_statistics(self, stats):
        return stats["max_mean"] - np.sqrt(stats["predicted_variance"])

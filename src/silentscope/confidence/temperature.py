"""Temperature scaling (Guo et al. 2017): a single temperature fitted on the validation split."""

from __future__ import annotations

import numpy as np
from scipy.optimize import minimize_scalar
from scipy.special import log_softmax, logsumexp

from silentscope.audit import VALIDATION, AuditSet
from silentscope.confidence.base import (
    ConfidenceScorer,
    as_float64_rows,
    register_csf,
    row_chunks,
)


def temperature_nll(logits: np.ndarray, labels: np.ndarray, temperature: float) -> float:
    r"""Mean negative log-likelihood of ``labels`` under ``softmax(logits / temperature)``.

    .. math:: \mathrm{NLL}(T) = \frac{1}{n} \sum_i \Big[\log \sum_c e^{z_{ic}/T} - z_{i y_i}/T\Big]

    Examples
    --------
    >>> import numpy as np
    >>> round(temperature_nll(np.array([[0.0, 0.0]]), np.array([0]), 1.0), 4)
    0.6931
    """
    scaled = np.asarray(logits, dtype=np.float64) / temperature
    picked = scaled[np.arange(len(scaled)), labels]
    return float(np.mean(logsumexp(scaled, axis=1) - picked))


@register_csf
class TemperatureScaledMSR(ConfidenceScorer):
    r"""Maximum softmax response after temperature scaling (Guo et al. 2017).

    The temperature is fitted on the validation split (test set ``val``) only:

    .. math:: T^* = \arg\min_T \mathrm{NLL}_{val}(T), \qquad
              \kappa(x) = \max_c \operatorname{softmax}(z(x) / T^*)_c

    The minimisation is over :math:`\log T` within ``bounds`` (scipy's bounded Brent
    method), so T stays positive and small and large temperatures are searched evenly.
    For two classes the ranking equals MSR's; for more classes it can differ. Guo, C.,
    Pleiss, G., Sun, Y. and Weinberger, K. Q., "On calibration of modern neural
    networks", ICML 2017.

    Parameters
    ----------
    bounds : tuple of float, default (0.01, 100.0)
        Search interval for the temperature.

    Attributes
    ----------
    temperature_ : float
        The fitted temperature T*.
    T_ : float
        Alias of ``temperature_``.
    nll_ : float
        Validation NLL at T*.
    n_fit_ : int
        Number of validation samples used.

    Examples
    --------
    >>> import numpy as np
    >>> from silentscope.audit import VALIDATION, AuditSet
    >>> logits = np.array([[4.0, 0.0], [0.0, 4.0], [4.0, 0.0], [3.0, 0.0]])
    >>> audit = AuditSet(sample_id=list("abcd"), test_set=["val", "val", "val", "iid"],
    ...                  label=[0, 1, 1, 0], logits=logits, class_names=["no", "yes"])
    >>> csf = TemperatureScaledMSR().fit(audit)
    >>> bool(csf.T_ > 1)  # one confident error on val: the model is over-confident
    True
    >>> csf.score(audit).shape
    (4,)
    """

    name = "TS-MSR"
    display_name = "Temperature-scaled MSR"
    requires = ("logits", "validation")
    probability_valued = True
    fitted = True

    def __init__(self, bounds: tuple[float, float] = (0.01, 100.0)):
        self.bounds = bounds

    def fit(self, audit: AuditSet) -> TemperatureScaledMSR:
        self.check_inputs(audit)
        low, high = (float(b) for b in self.bounds)
        if not 0 < low < high < np.inf:
            raise ValueError(f"bounds must satisfy 0 < low < high, got {self.bounds!r}")
        rows = np.flatnonzero(audit.test_set == VALIDATION)
        logits = np.asarray(audit.logits[rows], dtype=np.float64)
        labels = audit.label[rows]
        result = minimize_scalar(
            lambda log_t: temperature_nll(logits, labels, float(np.exp(log_t))),
            bounds=(np.log(low), np.log(high)),
            method="bounded",
            options={"xatol": 1e-6},
        )
        self.temperature_ = float(np.exp(result.x))
        self.nll_ = float(result.fun)
        self.n_fit_ = len(rows)
        return self

    @property
    def T_(self) -> float:
        self._check_fitted("temperature_")
        return self.temperature_

    def score(self, audit: AuditSet) -> np.ndarray:
        self._check_fitted("temperature_")
        n, c = audit.logits.shape
        out = np.empty(n, dtype=np.float64)
        for start, stop in row_chunks(n, c):
            z = as_float64_rows(audit.logits, start, stop) / self.temperature_
            out[start:stop] = np.exp(log_softmax(z, axis=1).max(axis=1))
        return out

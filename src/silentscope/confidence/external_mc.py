"""MC-dropout variants of external confidences, from ``AuditSet.mc_confidences`` (N x M).

A learned CSF (ConfidNet, DeepGamblers, DeVries, ...) run with dropout active gives M
confidences per sample; FD-Shifts writes them to ``external_confids_dist.npz``. With
:math:`k_m(x)` the external confidence of pass m (Jaeger et al., ICLR 2023;
``mcd_ext`` / ``ext_waic`` in ``fd_shifts/analysis/confid_scores.py``):

- ``mcd-ext:<key>``:  :math:`\\bar k = \\frac{1}{M}\\sum_m k_m`
- ``waic-ext:<key>``: :math:`\\bar k - \\operatorname{Std}_m k_m` (population std)

Like every MC-dropout CSF they describe the MC-averaged prediction; under
``evaluate(mc_correctness="mc_mean")`` they are judged against its correctness.
"""

from __future__ import annotations

import numpy as np

from silentscope.audit import AuditSet
from silentscope.confidence.base import ConfidenceScorer, CSFUnavailableError

#: Name prefixes: ``mcd-ext:<key>`` and ``waic-ext:<key>`` for ``audit.mc_confidences[key]``.
MC_EXTERNAL_PREFIX = "mcd-ext:"
WAIC_EXTERNAL_PREFIX = "waic-ext:"


class MCExternalConfidence(ConfidenceScorer):
    """Mean over the M dropout passes of an external confidence: ``mcd-ext:<key>``.

    Reads ``audit.mc_confidences[key]`` (N x M, higher = more confident) and returns its
    mean over M; FD-Shifts' ``mcd_ext`` / ``ext_mcd``. Not read as a probability of being
    correct, so calibration metrics are not computed for it.

    Parameters
    ----------
    key : str
        Name of the array in ``audit.mc_confidences``.

    Examples
    --------
    >>> import numpy as np
    >>> from silentscope.audit import AuditSet
    >>> audit = AuditSet(sample_id=["a", "b"], test_set=["iid", "iid"], label=[0, 1],
    ...                  logits=np.eye(2) * 3, class_names=["no", "yes"],
    ...                  mc_confidences={"ConfidNet": [[0.9, 0.7], [0.2, 0.4]]})
    >>> csf = MCExternalConfidence("ConfidNet")
    >>> csf.name, csf.fit(audit).score(audit).round(6).tolist()
    ('mcd-ext:ConfidNet', [0.8, 0.3])
    """

    display_name = "MC-dropout external confidence (mean over passes)"
    prefix = MC_EXTERNAL_PREFIX

    def __init__(self, key: str):
        self.key = key

    @property
    def name(self) -> str:  # one instance per external confidence, named after its key
        return f"{self.prefix}{self.key}"

    def missing_inputs(self, audit: AuditSet) -> list[str]:
        return [] if self.key in audit.mc_confidences else [f"mc_confidences[{self.key!r}]"]

    def unavailable_reason(self, audit: AuditSet) -> str | None:
        if self.key in audit.mc_confidences:
            return None
        declared = ", ".join(sorted(audit.mc_confidences)) or "none"
        return (
            f"{self.name} needs the MC-dropout external confidences {self.key!r} (N x M), which "
            f"this AuditSet does not have (its mc_confidences: {declared}); import FD-Shifts' "
            "external_confids_dist.npz or pass AuditSet(mc_confidences=...)"
        )

    def score(self, audit: AuditSet) -> np.ndarray:
        reason = self.unavailable_reason(audit)
        if reason is not None:
            raise CSFUnavailableError(reason)
        return self._reduce(np.asarray(audit.mc_confidences[self.key], dtype=np.float64))

    def _reduce(self, passes: np.ndarray) -> np.ndarray:
        return passes.mean(axis=1)


class MCExternalWAIC(MCExternalConfidence):
    """Mean minus standard deviation over the M passes of an external confidence: ``waic-ext:<key>``.

    FD-Shifts' ``ext_waic``: the mean confidence penalised by its disagreement across
    dropout passes (population standard deviation).

    Parameters
    ----------
    key : str
        Name of the array in ``audit.mc_confidences``.

    Examples
    --------
    >>> import numpy as np
    >>> from silentscope.audit import AuditSet
    >>> audit = AuditSet(sample_id=["a", "b"], test_set=["iid", "iid"], label=[0, 1],
    ...                  logits=np.eye(2) * 3, class_names=["no", "yes"],
    ...                  mc_confidences={"ConfidNet": [[0.9, 0.7], [0.2, 0.4]]})
    >>> MCExternalWAIC("ConfidNet").fit(audit).score(audit).round(6).tolist()
    [0.7, 0.2]
    """

    display_name = "MC-dropout external confidence (WAIC: mean minus spread)"
    prefix = WAIC_EXTERNAL_PREFIX

    def _reduce(self, passes: np.ndarray) -> np.ndarray:
        return passes.mean(axis=1) - passes.std(axis=1)


#: The MC external CSF classes by name prefix.
MC_EXTERNAL_CLASSES = {
    MC_EXTERNAL_PREFIX: MCExternalConfidence,
    WAIC_EXTERNAL_PREFIX: MCExternalWAIC,
}

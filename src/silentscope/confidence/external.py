"""External confidences passed through from the AuditSet (ConfidNet, DeepGamblers, DeVries, ...)."""

from __future__ import annotations

import numpy as np

from silentscope.audit import AuditSet
from silentscope.confidence.base import ConfidenceScorer, CSFUnavailableError

#: Prefix of the names of external confidences: ``ext:<key in AuditSet.confidences>``.
EXTERNAL_PREFIX = "ext:"


class ExternalConfidence(ConfidenceScorer):
    """A confidence computed outside silentscope, read from ``audit.confidences[key]``.

    Learned CSFs such as ConfidNet (Corbière et al. 2019), DeepGamblers (Liu et al. 2019)
    or DeVries & Taylor (2018) come from their own networks; the AuditSet declares them,
    already oriented as *higher = more confident*, and they are evaluated like any other
    CSF under the name ``ext:<key>``. The values are passed through unchanged (as float64).
    Nothing says that they are probabilities of being correct, so calibration metrics (ECE)
    are not computed for them.

    Parameters
    ----------
    key : str
        Name of the confidence in ``audit.confidences``.

    Examples
    --------
    >>> import numpy as np
    >>> from silentscope.audit import AuditSet
    >>> audit = AuditSet(sample_id=["a", "b"], test_set=["iid", "iid"], label=[0, 1],
    ...                  logits=np.eye(2) * 3, class_names=["no", "yes"],
    ...                  confidences={"ConfidNet": [0.9, 0.2]})
    >>> csf = ExternalConfidence("ConfidNet")
    >>> csf.name, csf.fit(audit).score(audit).tolist()
    ('ext:ConfidNet', [0.9, 0.2])
    """

    display_name = "External confidence"

    def __init__(self, key: str):
        self.key = key

    @property
    def name(self) -> str:  # one instance per external confidence, named after its key
        return f"{EXTERNAL_PREFIX}{self.key}"

    def unavailable_reason(self, audit: AuditSet) -> str | None:
        if self.key in audit.confidences:
            return None
        declared = ", ".join(sorted(audit.confidences)) or "none"
        return (
            f"{self.name} needs the external confidence {self.key!r}, which this AuditSet does "
            f"not have (it declares: {declared})"
        )

    def missing_inputs(self, audit: AuditSet) -> list[str]:
        return [] if self.key in audit.confidences else [f"confidences[{self.key!r}]"]

    def score(self, audit: AuditSet) -> np.ndarray:
        reason = self.unavailable_reason(audit)
        if reason is not None:
            raise CSFUnavailableError(reason)
        return np.asarray(audit.confidences[self.key], dtype=np.float64)

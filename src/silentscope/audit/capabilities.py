"""Which analyses an AuditSet's columns allow, and why not where they don't."""

from __future__ import annotations

from dataclasses import dataclass

from silentscope.audit.auditset import AuditSet


@dataclass(frozen=True)
class Analysis:
    name: str
    command: str
    requires: tuple[str, ...]
    any_of: tuple[str, ...] = ()


#: The model-free analyses and the AuditSet inputs each needs.
ANALYSES = (
    Analysis("failure-detection metrics (MSR, PE, MLS, energy)", "evaluate", ()),
    Analysis("temperature scaling, thresholds, calibration fits", "evaluate", ("validation",)),
    Analysis("MC-dropout CSFs", "evaluate", ("mc_logits",)),
    Analysis(
        "feature-based CSFs (Mahalanobis, ViM, kNN)", "evaluate", ("features", "train_features")
    ),
    Analysis("slice discovery", "slices", (), any_of=("features", "text", "metadata")),
    Analysis("subgroup analysis", "subgroups", ("metadata",)),
    Analysis("misclassification predictor", "predictor", ("validation",)),
    Analysis("latent-space viewer", "view", ("features",)),
)


def analysis_availability(audit: AuditSet) -> list[tuple[Analysis, str | None]]:
    """Each analysis with ``None`` if available, else the reason it is not.

    Examples
    --------
    >>> import numpy as np
    >>> audit = AuditSet(sample_id=["a", "b"], test_set=["iid", "iid"], label=[0, 1],
    ...                  logits=np.eye(2), class_names=["no", "yes"])
    >>> [reason for analysis, reason in analysis_availability(audit)][6]
    'needs validation'
    """
    result = []
    for analysis in ANALYSES:
        missing = [name for name in analysis.requires if not audit.has(name)]
        if analysis.any_of and not any(audit.has(name) for name in analysis.any_of):
            missing.append(" or ".join(analysis.any_of))
        result.append((analysis, f"needs {', '.join(missing)}" if missing else None))
    return result

"""Which analyses an AuditSet's columns allow, and why not where they don't."""

from __future__ import annotations

from dataclasses import dataclass

from silentscope.audit.auditset import AuditSet
from silentscope.audit.roles import analysable_columns, roles_of


@dataclass(frozen=True)
class Analysis:
    name: str
    command: str
    requires: tuple[str, ...]
    any_of: tuple[str, ...] = ()


#: The model-free analyses and the AuditSet inputs each needs.
ANALYSES = (
    Analysis("failure-detection metrics (MSR, PE)", "evaluate", ()),
    # "true_logits": the classifier's own logits; imported probabilities' logarithms are not
    # (their energy is 0 for every sample, their maximum is log MSR)
    Analysis("logit-based CSFs (MLS, energy)", "evaluate", ("true_logits",)),
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


def metadata_status(audit: AuditSet) -> tuple[list[str], str | None]:
    """The analysable metadata columns, and why there are none where there are none.

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> audit = AuditSet(sample_id=[str(i) for i in range(40)], test_set=["iid"] * 40,
    ...                  label=np.arange(40) % 2, logits=np.zeros((40, 2)), class_names=["a", "b"],
    ...                  metadata=pd.DataFrame({"source_index": range(40)}))
    >>> metadata_status(audit)[1]
    'no testable attribute (source_index is a row index)'
    """
    if not audit.has("metadata"):
        return [], "needs metadata"
    roles = roles_of(audit)
    kept, left_out = analysable_columns(roles)
    if kept:
        return kept, None
    short = ", ".join(
        f"{name} is {_ROLE_WORDS.get(roles[name].role, 'excluded')}" for name, _ in left_out
    )
    return [], f"no testable attribute ({short})"


_ROLE_WORDS = {
    "identifier": "an identifier",
    "index": "a row index",
    "file": "a file name",
    "ground_truth": "planted ground truth",
    "label_derived": "derived from the label",
}


def analysis_availability(audit: AuditSet) -> list[tuple[Analysis, str | None]]:
    """Each analysis with ``None`` if available, else the reason it is not.

    Metadata counts only through its analysable columns (:mod:`silentscope.audit.roles`):
    a store whose only column is a row index cannot be analysed by subgroup.

    Examples
    --------
    >>> import numpy as np
    >>> audit = AuditSet(sample_id=["a", "b"], test_set=["iid", "iid"], label=[0, 1],
    ...                  logits=np.eye(2) * 3, class_names=["no", "yes"])
    >>> [reason for analysis, reason in analysis_availability(audit)][7]
    'needs validation'
    """
    columns, metadata_reason = metadata_status(audit)

    def has(name: str) -> bool:
        if name == "true_logits":
            return audit.outputs == "logits"
        return bool(columns) if name == "metadata" else audit.has(name)

    result = []
    for analysis in ANALYSES:
        missing = [name for name in analysis.requires if not has(name)]
        if analysis.any_of and not any(has(name) for name in analysis.any_of):
            missing.append(" or ".join(analysis.any_of))
        reason = f"needs {', '.join(missing)}" if missing else None
        if missing == ["true_logits"]:
            source = (
                "a deep ensemble's log mean-softmax"
                if "ensemble" in audit.provenance
                else "logarithms of imported probabilities"
            )
            reason = f"needs the classifier's logits (these are {source})"
        elif missing == ["metadata"] and audit.has("metadata"):
            reason = metadata_reason
        elif missing and audit.has("metadata") and "metadata" in analysis.any_of:
            reason += f"; its metadata has {metadata_reason}"
        result.append((analysis, reason))
    return result

"""How ``evaluate`` judges CSFs against a continuous per-sample risk (segmentation volumes).

When an AuditSet has a ``risk`` column (e.g. ``1 - Dice`` per volume), failure detection is
measured on that risk, not on 0/1 correctness:

- the risk-coverage areas AURC, AUGRC and their excess forms E-AURC, E-AUGRC are computed
  with the metrics' ``loss=`` argument (selective risk = mean risk of the accepted
  samples; the excess forms subtract an oracle that accepts samples by ascending risk),
  with the same vectorised bootstrap CIs; any other failure-detection metric is defined
  for binary failure only and is reported as undefined with that reason;
- the group facts read ``accuracy`` as ``1 - mean risk`` (the mean Dice for risk
  ``1 - Dice``) and ``n_errors`` as the number of samples with risk above 0;
- classification metrics are not computed for a segmentation AuditSet (its per-volume
  logits summarise class volumes, they are not a classifier's output), and the logit
  CSFs (MSR, PE, ...) are refused for the same reason: its confidences are the stored
  segmentation CSFs (``ext:msr@mean``, ...).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from silentscope.confidence import EXTERNAL_PREFIX, ConfidenceScorer
from silentscope.confidence.external_mc import MC_EXTERNAL_CLASSES
from silentscope.metrics import bootstrap_ci
from silentscope.metrics.risk_coverage import RiskCoverageCurve

#: Failure-detection metrics defined on a continuous risk.
LOSS_METRICS = ("aurc", "e_aurc", "augrc", "e_augrc")

RISK_FACTS_DEFINITION = (
    "continuous risk: accuracy is 1 - mean risk (the mean Dice for risk 1 - Dice), n_errors "
    "counts samples with risk above 0, and AURC/AUGRC/E-AURC/E-AUGRC rank the CSFs against the risk"
)

NOT_LOGITS = (
    "{name} reads the per-volume logits, which in a segmentation AuditSet summarise the "
    "predicted class volumes and are not a classifier's output; use the segmentation CSFs "
    "stored as confidences (e.g. ext:msr@mean)"
)


def _is_external(name: str) -> bool:
    prefixes = (EXTERNAL_PREFIX, *MC_EXTERNAL_CLASSES)
    return any(name.startswith(prefix) for prefix in prefixes)


def segmentation_csfs(
    audit, csfs: Sequence[str | ConfidenceScorer] | None
) -> tuple[list[str | ConfidenceScorer], dict[str, str]]:
    """The CSFs to fit on a segmentation AuditSet, and the refused ones with the reason.

    Default: every stored confidence (``ext:<name>``). A named logit CSF is refused. The
    CSFs that could not be computed when the AuditSet was made (e.g. the quality regressor
    with too few validation volumes: ``provenance["segmentation_csfs"]["unavailable"]``)
    are returned as refused with their recorded reason.
    """
    recorded = audit.provenance.get("segmentation_csfs", {}).get("unavailable", {})
    recorded = {f"{EXTERNAL_PREFIX}{name}": str(reason) for name, reason in recorded.items()}
    if csfs is None:
        return [f"{EXTERNAL_PREFIX}{key}" for key in audit.confidences], recorded
    names = [csfs] if isinstance(csfs, str | ConfidenceScorer) else list(csfs)
    kept, refused = [], {}
    for item in names:
        name = item if isinstance(item, str) else item.name
        if name in recorded:
            refused[name] = recorded[name]
        elif _is_external(name):
            kept.append(item)
        else:
            refused[name] = NOT_LOGITS.format(name=name)
    return kept, refused


def risk_facts(risk: np.ndarray) -> dict:
    """Group facts on a continuous risk (see the module docstring)."""
    return {
        "n_errors": int((risk > 0).sum()),
        "accuracy": float(1.0 - risk.mean()),
        "balanced_accuracy": float("nan"),
    }


def risk_metrics(confidence, loss, names, *, n_bootstrap: int, level: float, seed: int) -> dict:
    """Values and bootstrap CIs of ``names`` against the continuous ``loss``.

    Examples
    --------
    >>> out = risk_metrics([0.9, 0.5, 0.1], [0.0, 0.2, 0.9], ["aurc", "auroc_f"], n_bootstrap=0,
    ...                    level=0.95, seed=0)
    >>> round(out["aurc"]["value"], 4), out["auroc_f"]["note"][:40]
    (0.0944, 'undefined: auroc_f is defined for binary')
    """
    defined = [name for name in names if name in LOSS_METRICS]
    results: dict[str, dict] = {}
    if defined and n_bootstrap:
        batch = bootstrap_ci(
            confidence,
            loss=loss,
            metrics=defined,
            n_resamples=n_bootstrap,
            confidence_level=level,
            random_state=seed,
        )
        for name in defined:
            r = batch[name]
            note = ""
            if r.n_excluded:
                note = f"CI from the {r.n_resamples - r.n_excluded} of {r.n_resamples} resamples where the metric is defined"
            results[name] = {"value": r.estimate, "ci_low": r.low, "ci_high": r.high, "note": note}
    elif defined:
        curve = RiskCoverageCurve(confidence, loss=loss)
        for name in defined:
            results[name] = {
                "value": float(getattr(curve, name)),
                "ci_low": np.nan,
                "ci_high": np.nan,
                "note": "",
            }
    for name in names:
        if name not in results:
            results[name] = {
                "value": np.nan,
                "ci_low": np.nan,
                "ci_high": np.nan,
                "note": f"undefined: {name} is defined for binary failure only, not for a continuous "
                f"risk (use {', '.join(LOSS_METRICS)})",
            }
    return {name: results[name] for name in names}


__all__ = [
    "LOSS_METRICS",
    "NOT_LOGITS",
    "RISK_FACTS_DEFINITION",
    "risk_facts",
    "risk_metrics",
    "segmentation_csfs",
]

"""Deploy-time check of a CSF: a threshold tuned on validation for a target risk, applied to tests.

For each CSF the threshold is the one with the largest validation coverage whose validation
selective risk is at most r* (:func:`~silentscope.metrics.validation_tuned_risk_coverage`);
every test set then reports the selective risk and coverage it actually gets at that fixed
threshold. A test risk above r* is the silent failure a deployed abstention rule would
suffer under shift, and is flagged in the row (``exceeds_target``), not only in a print.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from silentscope.audit import VALIDATION, AuditSet, parse_test_set
from silentscope.confidence import ConfidenceScorer, fit_score_csfs
from silentscope.evaluation.correctness import OOD_CONVENTIONS, check_convention, judged_rows
from silentscope.evaluation.groups import select_test_sets
from silentscope.metrics import validation_tuned_risk_coverage

#: What the table's numbers mean, recorded with every result.
DEFINITION = (
    "threshold: the confidence threshold with the largest validation coverage whose validation "
    "selective risk is at most target_risk (plug-in choice, no finite-sample guarantee; fitted CSFs "
    "were fitted on the same validation split); test_risk / test_coverage: the error rate among "
    "accepted test samples and the share accepted at that fixed threshold (test_risk NaN when "
    "nothing is accepted); exceeds_target: test_risk > target_risk"
)


@dataclass
class TunedThresholdResult:
    """Per CSF and test set, what a validation-tuned threshold gives on test data."""

    table: pd.DataFrame
    unavailable: dict[str, str] = field(default_factory=dict)
    settings: dict = field(default_factory=dict)


def tuned_threshold_table(
    audit: AuditSet,
    target_risk: float,
    csfs: Sequence[str | ConfidenceScorer] | None = None,
    test_sets: Sequence[str] | None = None,
    ood_convention: str = "fdshifts",
) -> TunedThresholdResult:
    """Test selective risk and coverage of each CSF at a threshold tuned on validation for r*.

    Parameters
    ----------
    audit : AuditSet
        Must hold a validation split (test set ``val``).
    target_risk : float
        The tolerated selective risk r*, in [0, 1].
    csfs : sequence of str or ConfidenceScorer, optional
        Default every registered CSF and every external confidence of ``audit``; those whose
        inputs are missing are listed in ``unavailable`` with the reason.
    test_sets : sequence of str, optional
        Default every test set except ``val``.
    ood_convention : {"fdshifts", "all_iid"}, default "fdshifts"
        Which iid samples an ``ood/`` test set is judged together with
        (:mod:`silentscope.evaluation.correctness`).

    Returns
    -------
    TunedThresholdResult
        ``table`` with columns csf, test_set, target_risk, threshold, val_risk,
        val_coverage, test_risk, test_coverage, exceeds_target, n, note; ``unavailable``;
        ``settings`` (target_risk, ood_convention, definition).

    Raises
    ------
    AuditSetError
        If ``audit`` has no validation split.
    ValueError
        On a target outside [0, 1], an unknown test set, CSF or convention.

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> logits = rng.normal(size=(400, 2)) * 2
    >>> labels = np.where(rng.random(400) < 0.85, logits.argmax(1), 1 - logits.argmax(1))
    >>> audit = AuditSet(sample_id=[str(i) for i in range(400)],
    ...                  test_set=["val"] * 200 + ["iid"] * 200, label=labels, logits=logits,
    ...                  class_names=["no", "yes"])
    >>> result = tuned_threshold_table(audit, 0.05, csfs=["MSR"])
    >>> row = result.table.iloc[0]
    >>> row["csf"], row["test_set"], bool(row["val_risk"] <= 0.05), bool(0 < row["test_coverage"] < 1)
    ('MSR', 'iid', True, True)
    """
    target_risk = float(target_risk)
    if not 0.0 <= target_risk <= 1.0:
        raise ValueError(f"target_risk must lie in [0, 1], got {target_risk}")
    check_convention(ood_convention, OOD_CONVENTIONS, "ood_convention")
    val_rows = np.flatnonzero(audit.test_set == VALIDATION)
    if not len(val_rows):
        audit.validation()  # raises the AuditSet's one-sentence error with the fix
    names = select_test_sets(audit, test_sets)
    confidences, unavailable, _ = fit_score_csfs(audit, csfs)
    correct = audit.correct
    rows = []
    for csf, values in confidences.items():
        for name in names:
            group = np.flatnonzero(audit.test_set == name)
            kind = parse_test_set(name).kind
            group, note = judged_rows(audit, group, kind, correct, ood_convention)
            result = validation_tuned_risk_coverage(
                values[val_rows], correct[val_rows], values[group], correct[group], target_risk
            )
            rows.append(
                {
                    "csf": csf,
                    "test_set": name,
                    "target_risk": target_risk,
                    "threshold": result.threshold,
                    "val_risk": result.val_risk,
                    "val_coverage": result.val_coverage,
                    "test_risk": result.test_risk,
                    "test_coverage": result.test_coverage,
                    "exceeds_target": result.exceeds_target,
                    "n": len(group),
                    "note": note
                    if np.isfinite(result.threshold)
                    else "no validation threshold meets the target: everything is rejected",
                }
            )
    return TunedThresholdResult(
        table=pd.DataFrame(rows),
        unavailable=unavailable,
        settings={
            "target_risk": target_risk,
            "ood_convention": ood_convention,
            "definition": DEFINITION,
        },
    )

"""What a CSF is judged against: which prediction's correctness, and on which samples.

Two conventions that change failure-detection numbers, both explicit and recorded in every
:class:`~silentscope.evaluation.EvaluationResult` (``settings`` and the rows' ``note``):

MC correctness (``mc_correctness``)
    ``"deterministic"``: every CSF is judged against the correctness of the deterministic
    prediction (the arg-max of ``logits``). ``"mc_mean"``: CSFs computed from MC-dropout
    passes (those requiring ``mc_logits``, and the ``mcd-ext:`` / ``waic-ext:`` CSFs of
    ``AuditSet.mc_confidences``) are judged against the correctness of the MC-averaged
    prediction, the arg-max over classes of the softmax averaged over the M passes, as
    FD-Shifts (Jaeger et al. 2023) scores its ``mcd_*`` CSFs. The other CSFs keep the
    deterministic prediction.

New-class (``ood/``) test sets (``ood_convention``)
    A new-class sample belongs to no class the classifier knows, so it is always a failure,
    and a new-class test set alone holds nothing but failures. It is therefore evaluated
    together with the in-distribution samples (``iid``):

    ``"fdshifts"`` (default): the *correctly classified* iid samples plus every ood sample,
    each ood sample a failure: FD-Shifts' new-class study ("proposed_mode"), which
    measures how well a CSF separates new-class samples from the classifier's successes.
    Under ``mc_mean`` the iid samples kept for an MC CSF are those the MC-averaged
    prediction classifies correctly, as FD-Shifts does.
    ``"all_iid"``: every iid sample plus every ood sample; a failure is a misclassified
    iid sample or any ood sample (the selective-classification view of new classes).

    FD-Shifts' "original_mode" (every iid sample counted as correct) is not offered: it
    counts the classifier's own errors as successes.
"""

from __future__ import annotations

import numpy as np

from silentscope.audit import IID, AuditSet
from silentscope.confidence.external_mc import MCExternalConfidence

MC_CORRECTNESS = ("deterministic", "mc_mean")
OOD_CONVENTIONS = ("fdshifts", "all_iid")

#: What each convention means, for run records and captions.
MC_CORRECTNESS_DEFINITIONS = {
    "deterministic": "every CSF is judged against the correctness of the deterministic prediction",
    "mc_mean": (
        "MC-dropout CSFs are judged against the correctness of the MC-averaged prediction "
        "(arg-max of the softmax averaged over the passes), as FD-Shifts scores its mcd_* CSFs; "
        "the other CSFs against the deterministic prediction"
    ),
}
OOD_DEFINITIONS = {
    "fdshifts": (
        "an ood/ test set is evaluated on the correctly classified iid samples plus every ood "
        "sample, each ood sample a failure (FD-Shifts' new-class study, proposed_mode)"
    ),
    "all_iid": (
        "an ood/ test set is evaluated on every iid sample plus every ood sample; a failure is "
        "a misclassified iid sample or any ood sample"
    ),
}


def check_convention(value: str, allowed: tuple[str, ...], name: str) -> str:
    if value not in allowed:
        raise ValueError(f"{name} must be one of {', '.join(map(repr, allowed))}, got {value!r}")
    return value


def mc_mean_correct(audit: AuditSet) -> np.ndarray:
    """Whether the MC-averaged prediction is right: arg-max of the mean softmax over M passes.

    Examples
    --------
    >>> mc = np.zeros((1, 2, 2)); mc[0, :, 0] = [3.0, 0.0]; mc[0, :, 1] = [0.0, 1.0]
    >>> audit = AuditSet(sample_id=["a"], test_set=["iid"], label=[0], logits=np.array([[0.0, 2.0]]),
    ...                  mc_logits=mc, class_names=["no", "yes"])
    >>> audit.correct.tolist(), mc_mean_correct(audit).tolist()
    ([False], [True])
    """
    if audit.mc_logits is None:
        raise ValueError(
            "mc_correctness='mc_mean' needs mc_logits, which this AuditSet does not have"
        )
    predictions = np.empty(audit.n_samples, dtype=np.int64)
    step = max(1, 2**22 // max(1, audit.mc_logits.shape[1] * audit.mc_logits.shape[2]))
    for start in range(0, audit.n_samples, step):  # in blocks: (N, C, M) float64 may not fit
        block = np.asarray(audit.mc_logits[start : start + step], dtype=np.float64)
        block = np.exp(block - block.max(axis=1, keepdims=True))
        mean = (block / block.sum(axis=1, keepdims=True)).mean(axis=2)
        predictions[start : start + step] = mean.argmax(axis=1)
    return predictions == audit.label


def is_mc_csf(scorer, audit: AuditSet) -> bool:
    """Whether a fitted CSF is computed from MC-dropout passes."""
    if isinstance(scorer, MCExternalConfidence):  # mcd-ext:, waic-ext: (mc_confidences)
        return True
    return "mc_logits" in getattr(scorer, "requires", ())


def judged_rows(
    audit: AuditSet, rows: np.ndarray, kind: str, correct: np.ndarray, ood_convention: str
) -> tuple[np.ndarray, str]:
    """The rows a group is judged on, and a note saying what was added (empty for most groups).

    A group of kind ``ood`` gets the iid samples its convention adds (see the module).
    """
    if kind != "ood":
        return rows, ""
    iid = np.flatnonzero(audit.test_set == IID)
    if not len(iid):
        raise ValueError(
            "ood/ test sets are evaluated together with the iid samples (new-class samples alone are "
            "all failures), but this AuditSet has no 'iid' test set; add the in-distribution test set"
        )
    if ood_convention == "fdshifts":
        iid = iid[correct[iid]]
        added = f"{len(iid)} correctly classified iid samples"
    else:
        added = f"{len(iid)} iid samples"
    note = f"judged on {added} + {len(rows)} ood samples (each a failure; ood_convention={ood_convention!r})"
    return np.concatenate([iid, rows]), note


def has_unknown_labels(audit: AuditSet, rows: np.ndarray) -> bool:
    return bool((audit.label[rows] < 0).any())

"""The whole predictor analysis in one call: choose, train, compare with MSR, correct.

:func:`run_predictor` is what ``silentscope predictor`` runs; the command only parses its
options, calls it, prints the :class:`PredictorReport` and saves its artifacts.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import pandas as pd

from silentscope.audit.auditset import AuditSet
from silentscope.audit.health import model_health, warn_degenerate_analysis
from silentscope.audit.test_sets import IID, VALIDATION
from silentscope.predictor.comparison import compare_confidences
from silentscope.predictor.correction import selective_correction
from silentscope.predictor.importance import feature_importances
from silentscope.predictor.risk import RiskEstimate
from silentscope.predictor.selection import AUTO, ModelSelection, select_model
from silentscope.predictor.selective import ACTIONS

#: Below this many training errors the report says to trust the intervals only.
FEW_ERRORS = 100

#: Artifacts the analysis writes; all are rewritten on every run, so none is left stale.
ARTIFACT_NAMES = (
    "predictor_selection",
    "predictor_risk",
    "predictor_comparison",
    "predictor_importance",
    "predictor_correction",
    "predictor_settings",
)


@dataclass
class PredictorReport:
    """Result of :func:`run_predictor`.

    Attributes
    ----------
    selection : ModelSelection
        Cross-validated AUROC_f of every candidate model and the choice.
    estimate : RiskEstimate or None
        The chosen predictor's out-of-sample risks; None when no predictor beats chance.
    comparison : DataFrame or None
        AUROC_f and AURC of MSR and MisPred per evaluated test set, with paired bootstrap
        intervals (see :func:`~silentscope.predictor.compare_confidences`).
    importance : DataFrame or None
        Permutation importance of each feature (see
        :func:`~silentscope.predictor.feature_importances`).
    corrections : DataFrame or None
        With an ``action``: the flip or abstention table of the learned risk and, as the
        baseline, of ``1 - MSR`` (column ``risk_from``), with the thresholds.
    notes : list of str
        Caveats a reader must see beside the numbers.
    settings : dict
    """

    selection: ModelSelection
    estimate: RiskEstimate | None
    comparison: pd.DataFrame | None = None
    importance: pd.DataFrame | None = None
    corrections: pd.DataFrame | None = None
    notes: list[str] = field(default_factory=list)
    settings: dict = field(default_factory=dict)

    @property
    def available(self) -> bool:
        """Whether a predictor better than chance was found and its results computed."""
        return self.selection.available

    @property
    def unavailable_reason(self) -> str | None:
        """Why no predictor results are reported (one sentence), or None."""
        return self.selection.reason

    def risk_table(self, audit: AuditSet) -> pd.DataFrame:
        """``sample_id, test_set, risk, fold`` of every sample (empty when unavailable)."""
        if self.estimate is None:
            return pd.DataFrame(columns=["sample_id", "test_set", "risk", "fold"])
        return pd.DataFrame(
            {
                "sample_id": audit.sample_id,
                "test_set": audit.test_set,
                "risk": self.estimate.risk,
                "fold": self.estimate.fold,
            }
        )

    def artifacts(self, audit: AuditSet) -> dict[str, pd.DataFrame | dict]:
        """Every artifact by name (:data:`ARTIFACT_NAMES`); empty tables when unavailable."""
        empty = pd.DataFrame()
        return {
            "predictor_selection": self.selection.scores,
            "predictor_risk": self.risk_table(audit),
            "predictor_comparison": empty if self.comparison is None else self.comparison,
            "predictor_importance": empty if self.importance is None else self.importance,
            "predictor_correction": empty if self.corrections is None else self.corrections,
            "predictor_settings": self.settings,
        }

    def summary(self) -> str:
        """The results as plain text: the choice, MisPred vs MSR, and any correction."""
        lines = [f"model selection (cross-validated AUROC_f): {self.selection.describe()}"]
        if not self.available:
            lines.append(f"no predictor reported: {self.unavailable_reason}")
        else:
            lines.append(f"chosen: {self.selection.chosen}")
            for _, row in self.comparison.iterrows():
                if row["csf"] == "MisPred":
                    lines.append(
                        f"{row['test_set']} {row['metric']}: MisPred {row['estimate']:.3g} "
                        f"[{row['low']:.3g}, {row['high']:.3g}], MisPred - MSR {row['delta']:.3g} "
                        f"[{row['delta_low']:.3g}, {row['delta_high']:.3g}]"
                    )
            for _, row in (self.corrections if self.corrections is not None else []).iterrows():
                lines.append(
                    f"{row['risk_from']} on {row['test_set']}: {row['changed']}/{row['n']} changed, "
                    f"{row['metric']} {row['before']:.4g} -> {row['after']:.4g}"
                )
        return "\n".join(lines + [f"note: {note}" for note in self.notes])


def run_predictor(
    audit: AuditSet,
    *,
    model: str = AUTO,
    metadata: Sequence[str] | None = None,
    action: str | None = None,
    objective: str | None = None,
    positive_class: str | int | None = None,
    train_split: str | None = None,
    cluster: str | None = None,
    n_splits: int = 5,
    n_bootstrap: int = 1000,
    random_state: int | None = 0,
    on_step: Callable[[str], None] | None = None,
    keep_label_derived: bool = False,
) -> PredictorReport:
    """Choose and train a misclassification predictor, compare it with MSR, flip or abstain.

    Parameters
    ----------
    audit : AuditSet
    model : {"auto", "hgb", "logreg"}, default "auto"
        ``auto`` picks the model with the best cross-validated AUROC_f on the training
        split (:func:`~silentscope.predictor.select_model`); a named model gets the same
        check against chance.
    metadata : list of str, optional
        Metadata columns used as features.
    action : {None, "flip", "abstain"}
        Also choose a threshold on the validation split and apply it to every test set.
    objective : str, optional
        Default ``f1`` (flip) or ``risk=0.05`` (abstain).
    positive_class : str or int, optional
        Positive class of the binary decision (one-vs-rest).
    train_split : str, optional
        Test set the predictor learns from; default ``val``, else cross-fitted on ``iid``.
    cluster : str, optional
        Metadata column of the patient: folds and bootstrap by patient.
    n_splits, n_bootstrap, random_state
        Folds of the cross-fitting, resamples of every interval, seed of everything.
    on_step : callable, optional
        Called with a short description before each long step (for a progress display).
    keep_label_derived : bool, default False
        Use named metadata columns that restate the label (left out, with the reason, by
        default; see :mod:`silentscope.audit.roles`).

    Returns
    -------
    PredictorReport
        With ``available`` False and the reason when no model beats chance; then no risk,
        comparison, importance or correction is computed.

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> n = 800
    >>> z = rng.normal(0, 2, n)
    >>> label = (z + rng.normal(0, 1.5, n) > 0).astype(int)
    >>> audit = AuditSet(sample_id=np.arange(n).astype(str), label=label,
    ...                  logits=np.stack([np.zeros(n), z], axis=1), class_names=["a", "b"],
    ...                  test_set=np.where(np.arange(n) < 400, "val", "iid"))
    >>> report = run_predictor(audit, n_bootstrap=100)
    >>> report.available, sorted(set(report.comparison["csf"]))
    (True, ['MSR', 'MisPred'])
    """
    if action is not None and action not in ACTIONS:
        raise ValueError(f"action must be one of {', '.join(ACTIONS)} or None, got {action!r}")
    step = on_step or (lambda _: None)
    notes: list[str] = []
    health = model_health(audit)
    warn_degenerate_analysis(health, "misclassification predictor's risks")
    if health.degenerate:
        notes.append(f"the classifier is degenerate: {health.reason}")
    if train_split is None:
        train_split = _default_train_split(audit, notes)
    step("choosing the misclassification predictor (cross-validated AUROC_f)")
    selection = select_model(
        audit,
        model,
        metadata=metadata,
        train_split=train_split,
        positive_class=positive_class,
        n_splits=n_splits,
        cluster=cluster,
        n_bootstrap=n_bootstrap,
        random_state=random_state,
        keep_label_derived=keep_label_derived,
    )
    estimate = selection.estimate
    settings = {
        **next((e.settings for e in selection.estimates.values()), {}),
        "model": selection.chosen,
        "model_requested": model,
        "available": selection.available,
        "unavailable_reason": selection.reason,
        "selection": selection.scores.to_dict("records"),
        "action": action,
        "n_bootstrap": n_bootstrap,
    }
    report = PredictorReport(selection, estimate, notes=notes, settings=settings)
    if estimate is None:
        return report
    n_errors = int(estimate.target[estimate.train_mask].sum())
    if len(selection.scores) > 1:
        notes.append(
            f"{selection.chosen} was chosen by cross-validated AUROC_f on {train_split!r}; "
            "that score favours the chosen model, the test-set comparison does not"
        )
    if n_errors < FEW_ERRORS:
        notes.append(
            f"the predictor learnt from {n_errors} errors only; "
            "trust the intervals, not the point estimates"
        )
    step("comparing with MSR (paired bootstrap)")
    msr = audit.probabilities.max(axis=1)
    # Every sample's risk is out of sample, so every test set but val can be evaluated.
    report.comparison = compare_confidences(
        audit,
        {"MSR": msr, "MisPred": estimate.confidence},
        correct=~estimate.target,
        test_sets=[name for name in audit.test_sets if name != VALIDATION],
        n_resamples=n_bootstrap,
        random_state=random_state,
    )
    held_out = ~estimate.train_mask if (~estimate.train_mask).any() else None
    report.importance = feature_importances(estimate, held_out, random_state=random_state)
    if action is not None:
        if train_split != VALIDATION and not audit.has_validation:
            notes.append(
                "--flip/--abstain skipped: the threshold must be chosen on a validation split "
                "that is not evaluated; add test set 'val'"
            )
        else:
            step(f"choosing the {action} threshold on validation")
            objective = objective or ("f1" if action == "flip" else "risk=0.05")
            settings["objective"] = objective
            report.corrections = _corrections(
                audit, estimate, msr, action, objective, train_split, positive_class,
                cluster, n_bootstrap, random_state, notes,
            )  # fmt: skip
    return report


def _default_train_split(audit: AuditSet, notes: list[str]) -> str:
    if audit.has_validation:
        return VALIDATION
    split = IID if IID in audit.test_sets else audit.test_sets[0]
    notes.append(
        f"no validation split: the predictor is cross-fitted on {split!r}, each sample scored by a "
        "model that never saw it; samples of other test sets that share images or patients with it "
        "are only kept apart with --cluster"
    )
    return split


def _corrections(
    audit, estimate, msr, action, objective, fit_on, positive_class, cluster, n_bootstrap,
    seed, notes,
) -> pd.DataFrame:  # fmt: skip
    """Flip or abstain with the learned risk and, as the baseline, with 1 - MSR."""
    tables = []
    for source, risk in (("MisPred", estimate.risk), ("MSR", 1.0 - msr)):
        result = selective_correction(
            audit,
            risk,
            action=action,
            objective=objective,
            fit_on=fit_on,
            positive_class=positive_class,
            cluster=cluster,
            n_bootstrap=n_bootstrap,
            random_state=seed,
        )
        tables.append(result.table.assign(risk_from=source, threshold=result.corrector.threshold_))
        notes += [f"({source}) {note}" for note in result.notes]
    return pd.concat(tables, ignore_index=True)

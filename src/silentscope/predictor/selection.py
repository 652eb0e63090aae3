"""Which misclassification predictor to trust, if any: cross-validated AUROC_f and a guard.

Each candidate model is cross-fitted on the training split (the validation split by
default, see :func:`~silentscope.predictor.estimate_risk`), so every training sample has a
risk from a model that never saw it. The candidates are compared by the AUROC_f of those
out-of-fold risks (how well ``1 - risk`` separates the classifier's errors from its
correct predictions), with a percentile bootstrap interval and the spread over folds.

A predictor is only reported when it beats chance: its interval lies above 0.5 and it is
not constant on the data. On a small split with few errors a flexible model can learn
nothing at all (boosting whose leaves cannot hold enough samples predicts the error rate
for everyone); its "AUROC_f 0.5", zero importances and zero flips would otherwise be
printed as results.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy import sparse
from sklearn.metrics import roc_auc_score

from silentscope.audit.auditset import AuditSet
from silentscope.audit.test_sets import VALIDATION
from silentscope.predictor.model import MODELS, TooFewErrorsError
from silentscope.predictor.risk import RiskEstimate, estimate_risk

#: Model names accepted by the selection: "auto" tries every model of :data:`MODELS`.
AUTO = "auto"

#: A risk whose spread over the data is below this is constant: it ranks nothing.
CONSTANT_TOLERANCE = 1e-9


@dataclass
class ModelSelection:
    """Cross-validated AUROC_f of each candidate predictor, the choice, and why (not).

    Attributes
    ----------
    scores : DataFrame
        One row per candidate: ``model``, ``auroc_f`` (pooled out-of-fold), ``low``,
        ``high`` (bootstrap interval), ``fold_mean``, ``fold_std`` (AUROC_f within each
        fold), ``constant`` (the risk takes one value), ``better_than_chance`` and
        ``n_train``, ``n_errors``.
    chosen : str or None
        The candidate with the highest AUROC_f among those better than chance; None when
        none is.
    estimates : dict of str to RiskEstimate
        Every candidate's cross-fitted estimate (the chosen one is reused, not refitted).
    reason : str or None
        One sentence saying why no predictor is reported; None when one is.
    settings : dict
        The candidates, the interval's level and resamples, the training split.
    """

    scores: pd.DataFrame
    chosen: str | None
    estimates: dict[str, RiskEstimate] = field(default_factory=dict)
    reason: str | None = None
    settings: dict = field(default_factory=dict)

    @property
    def available(self) -> bool:
        """Whether a predictor better than chance was found."""
        return self.chosen is not None

    @property
    def estimate(self) -> RiskEstimate | None:
        """The chosen model's estimate, or None when no predictor is available."""
        return None if self.chosen is None else self.estimates[self.chosen]

    def describe(self) -> str:
        """The candidates' scores in one line, e.g. ``logreg 0.69 [0.55, 0.81]; hgb constant``."""
        return "; ".join(_describe_row(row) for _, row in self.scores.iterrows())


def candidate_models(model: str | Sequence[str]) -> tuple[str, ...]:
    """The models to compare: every one for ``"auto"``, else the ones named.

    Examples
    --------
    >>> candidate_models("auto"), candidate_models("hgb")
    (('logreg', 'hgb'), ('hgb',))
    """
    # logreg first: on a tie the model with fewer parameters wins
    names = ("logreg", *[m for m in MODELS if m != "logreg"]) if model == AUTO else model
    names = (names,) if isinstance(names, str) else tuple(names)
    unknown = [m for m in names if m not in MODELS]
    if unknown or not names:
        raise ValueError(
            f"model {unknown[0] if unknown else model!r} is not a misclassification predictor; "
            f"choose {AUTO!r} or one of {', '.join(MODELS)}"
        )
    return names


def select_model(
    audit: AuditSet,
    model: str | Sequence[str] = AUTO,
    *,
    metadata: Sequence[str] | None = None,
    train_split: str = VALIDATION,
    positive_class: str | int | None = None,
    n_splits: int = 5,
    cluster: str | None = None,
    n_bootstrap: int = 1000,
    confidence_level: float = 0.95,
    random_state: int | None = 0,
    keep_label_derived: bool = False,
) -> ModelSelection:
    """Cross-fit each candidate predictor and keep the best one that beats chance.

    Parameters
    ----------
    audit : AuditSet
    model : "auto", a model name or a list of names, default "auto"
        ``"auto"`` compares every model of :data:`~silentscope.predictor.MODELS`; a
        single name is still checked against chance.
    metadata, train_split, positive_class, n_splits, cluster, keep_label_derived
        As in :func:`~silentscope.predictor.estimate_risk` (same folds for every model).
    n_bootstrap : int, default 1000
        Resamples of the AUROC_f interval (of patients, with ``cluster``).
    confidence_level : float, default 0.95
    random_state : int, optional
        Seed of the folds, the models and the bootstrap.

    Returns
    -------
    ModelSelection

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> n = 600
    >>> label = rng.integers(0, 2, n)
    >>> logits = np.stack([np.zeros(n), rng.normal(0, 2, n)], axis=1)
    >>> audit = AuditSet(sample_id=np.arange(n).astype(str), label=label, logits=logits,
    ...                  test_set=np.where(np.arange(n) < 300, "val", "iid"), class_names=["a", "b"])
    >>> selection = select_model(audit, n_bootstrap=200)
    >>> selection.available, selection.reason  # errors are random: nothing to learn
    (False, ...)
    """
    candidates = candidate_models(model)
    if not 0 < confidence_level < 1:
        raise ValueError(f"confidence_level must lie in (0, 1), got {confidence_level}")
    estimates, rows = {}, []
    settings = {
        "candidates": list(candidates),
        "train_split": train_split,
        "n_bootstrap": n_bootstrap,
        "confidence_level": confidence_level,
        "random_state": random_state,
    }
    for name in candidates:
        try:
            estimate = estimate_risk(
                audit,
                model=name,
                metadata=metadata,
                train_split=train_split,
                positive_class=positive_class,
                n_splits=n_splits,
                cluster=cluster,
                random_state=random_state,
                keep_label_derived=keep_label_derived,
            )
        except TooFewErrorsError as error:
            # Nothing can be learnt from a handful of errors: no model is fitted, and the
            # report says so instead of stopping the analysis (or printing a number).
            reason = f"a misclassification predictor cannot be trained on {train_split!r}: {error}"
            return ModelSelection(pd.DataFrame(), None, reason=reason, settings=settings)
        estimates[name] = estimate
        rows.append(
            {"model": name, **_score(estimate, audit, n_bootstrap, confidence_level, random_state)}
        )
    scores = pd.DataFrame(rows)
    scores["better_than_chance"] = ~scores["constant"] & (scores["low"] > 0.5)
    good = scores[scores["better_than_chance"]]
    # the stable sort keeps the candidates' order on ties (the simpler model first)
    chosen = (
        None
        if good.empty
        else str(good.sort_values("auroc_f", ascending=False, kind="stable")["model"].iloc[0])
    )
    selection = ModelSelection(scores, chosen, estimates, settings=settings)
    if chosen is None:
        first = scores.iloc[0]
        selection.reason = (
            f"no misclassification predictor is better than chance on {train_split!r} "
            f"({int(first['n_train'])} samples, {int(first['n_errors'])} errors): cross-validated "
            f"AUROC_f {selection.describe()}; its risks, MisPred and flips are not reported "
            "(use a larger validation split or more informative features)"
        )
    return selection


def _score(
    estimate: RiskEstimate,
    audit: AuditSet,
    n_bootstrap: int,
    confidence_level: float,
    random_state: int | None,
) -> dict:
    rows = np.flatnonzero(estimate.train_mask)
    risk, error = estimate.risk[rows], estimate.target[rows]
    fold = estimate.fold[rows]
    # AUROC_f ranks errors below successes by confidence 1 - risk: the AUROC of the risk
    # for the errors is the same number.
    auroc = float(roc_auc_score(error, risk))
    per_fold = [
        roc_auc_score(error[fold == k], risk[fold == k])
        for k in np.unique(fold)
        if len(np.unique(error[fold == k])) == 2
    ]
    # Constant: the whole-split model ranks nothing, or no fold model ranks its held-out fold
    # (fold models at different constants would make the pooled AUROC_f an artefact).
    whole = np.ptp(estimate.model.predict_risk(estimate.features)) <= CONSTANT_TOLERANCE
    folds_constant = all(np.ptp(risk[fold == k]) <= CONSTANT_TOLERANCE for k in np.unique(fold))
    low, high = _bootstrap(risk, error, _clusters(estimate, audit, rows), n_bootstrap,
                           confidence_level, random_state)  # fmt: skip
    if whole or folds_constant:
        # A constant ranks nothing: its AUROC_f is 0.5. The pooled number can differ only
        # because fold models predict different constants (the error rates of their folds).
        auroc, low, high = 0.5, 0.5, 0.5
    return {
        "auroc_f": auroc,
        "low": low,
        "high": high,
        "fold_mean": float(np.mean(per_fold)) if per_fold else np.nan,
        "fold_std": float(np.std(per_fold)) if per_fold else np.nan,
        "constant": bool(whole or folds_constant),
        "n_train": len(rows),
        "n_errors": int(error.sum()),
    }


def _clusters(estimate: RiskEstimate, audit: AuditSet, rows: np.ndarray) -> np.ndarray | None:
    cluster = estimate.settings["cluster"]
    if cluster is None:
        return None
    return pd.factorize(audit.metadata[cluster].astype(str).to_numpy()[rows])[0]


def _bootstrap(
    risk: np.ndarray,
    error: np.ndarray,
    groups: np.ndarray | None,
    n_bootstrap: int,
    confidence_level: float,
    random_state: int | None,
) -> tuple[float, float]:
    """Percentile interval of the AUROC_f, resampling samples (or whole clusters).

    A resample is a vector of draw counts per sample; the AUROC of weighted samples is
    computed on the distinct risk values at once (ties count one half), so all resamples
    take a few matrix products instead of one ``roc_auc_score`` call each.
    """
    if n_bootstrap < 1:
        raise ValueError(f"n_bootstrap must be at least 1, got {n_bootstrap}")
    rng = np.random.default_rng(random_state)
    units = np.arange(len(risk)) if groups is None else groups
    n_units = int(units.max()) + 1
    values, level = np.unique(risk, return_inverse=True)
    one_hot = sparse.csr_matrix(
        (np.ones(len(risk)), (np.arange(len(risk)), level)), shape=(len(risk), len(values))
    )
    aurocs = []
    for start in range(0, n_bootstrap, 200):
        size = min(200, n_bootstrap - start)
        counts = rng.multinomial(n_units, np.full(n_units, 1 / n_units), size=size)[:, units]
        positive = np.asarray((one_hot.T @ (counts * error).T).T)
        negative = np.asarray((one_hot.T @ (counts * ~error).T).T)
        below = np.cumsum(negative, axis=1) - negative
        pairs = positive.sum(axis=1) * negative.sum(axis=1)
        with np.errstate(invalid="ignore", divide="ignore"):
            aurocs.append(((positive * (below + 0.5 * negative)).sum(axis=1)) / pairs)
    aurocs = np.concatenate(aurocs)
    aurocs = aurocs[np.isfinite(aurocs)]  # resamples without an error or a success
    if not len(aurocs):
        return np.nan, np.nan
    tail = (1 - confidence_level) / 2
    low, high = np.quantile(aurocs, [tail, 1 - tail])
    return float(low), float(high)


def _describe_row(row) -> str:
    text = f"{row['model']} {row['auroc_f']:.3f} [{row['low']:.3f}, {row['high']:.3f}]"
    if row["constant"]:
        return f"{text} (constant: it predicts the same risk for every sample)"
    if not row["better_than_chance"]:
        return f"{text} (interval covers 0.5)"
    return text

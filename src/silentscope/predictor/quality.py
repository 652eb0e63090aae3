"""The learned quality regressor: the segmentation counterpart of the misclassification predictor.

It predicts each volume's risk (``1 - Dice`` by default) from its aggregated confidence
scores (every ``<voxel>@<aggregator>`` CSF of the AuditSet) and the predicted class
fractions, with a ridge regression on standardised features (few volumes, correlated
scores: a linear model with shrinkage is what such data support). Its confidence is the
negated predicted risk, stored as the CSF ``quality@learned``.

It learns only from the validation volumes. Those are scored by cross-fitting (no volume
is scored by a model trained on it; folds keep a patient's volumes together when the
metadata has ``patient_id``), every other volume by the model fitted on all of them.
It is reported as unavailable, with the reason, never as a column of numbers, when

- fewer than :data:`MIN_VOLUMES` validation volumes exist,
- the validation risk is constant, or
- it learned nothing: its cross-fitted predictions do not rank the validation risks
  (Spearman correlation <= 0) or their mean absolute error is not below that of
  predicting the training folds' mean risk.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np
from scipy.stats import spearmanr
from sklearn.base import BaseEstimator, RegressorMixin
from sklearn.linear_model import Ridge
from sklearn.model_selection import GroupKFold, KFold
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils.validation import check_is_fitted

from silentscope.audit import VALIDATION, AuditSet

#: Fewer validation volumes than this cannot be cross-validated into a trustworthy model.
MIN_VOLUMES = 10
#: The name of its confidence in the AuditSet (and ``ext:quality@learned`` in evaluate).
QUALITY_CSF = "quality@learned"


class QualityRegressor(RegressorMixin, BaseEstimator):
    """Ridge regression of a per-volume risk in [0, 1] on standardised features.

    Parameters
    ----------
    alpha : float, default 1.0
        Ridge penalty.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(40, 3)); risk = np.clip(0.3 - 0.1 * X[:, 0], 0, 1)
    >>> model = QualityRegressor().fit(X, risk)
    >>> bool(np.corrcoef(model.predict(X), risk)[0, 1] > 0.9)
    True
    """

    def __init__(self, alpha: float = 1.0):
        self.alpha = alpha

    def fit(self, X, y) -> QualityRegressor:
        X, y = np.asarray(X, dtype=np.float64), np.asarray(y, dtype=np.float64)
        self.pipeline_ = make_pipeline(StandardScaler(), Ridge(alpha=float(self.alpha)))
        self.pipeline_.fit(X, y)
        self.n_features_in_ = X.shape[1]
        return self

    def predict(self, X) -> np.ndarray:
        """Predicted risk, clipped to [0, 1]."""
        check_is_fitted(self, "pipeline_")
        return np.clip(self.pipeline_.predict(np.asarray(X, dtype=np.float64)), 0.0, 1.0)


@dataclass
class QualityEstimate:
    """What :func:`quality_scores` found.

    Attributes
    ----------
    confidence : ndarray of shape (N,) or None
        ``-(predicted risk)`` per volume (higher = more confident); None when unavailable.
    reason : str
        Why it is unavailable, or how well it did on the validation volumes.
    features : list of str
    n_train : int
    cv_spearman, cv_mae, baseline_mae : float
        Cross-fitted on the validation volumes (NaN when not computed).
    """

    confidence: np.ndarray | None
    reason: str
    features: list[str] = field(default_factory=list)
    n_train: int = 0
    cv_spearman: float = float("nan")
    cv_mae: float = float("nan")
    baseline_mae: float = float("nan")

    @property
    def available(self) -> bool:
        return self.confidence is not None

    def to_dict(self) -> dict:
        """JSON-ready summary (no per-volume values), for provenance and run records."""
        return {
            "available": self.available,
            "reason": self.reason,
            "features": list(self.features),
            "n_train": self.n_train,
            "cv_spearman": self.cv_spearman,
            "cv_mae": self.cv_mae,
            "baseline_mae": self.baseline_mae,
        }


def quality_features(audit: AuditSet) -> tuple[np.ndarray, list[str]]:
    """The regressor's inputs: every ``<voxel>@<aggregator>`` confidence and the class fractions."""
    names = sorted(k for k in audit.confidences if "@" in k and k != QUALITY_CSF)
    columns = [np.asarray(audit.confidences[k], dtype=np.float64) for k in names]
    fractions = np.exp(np.asarray(audit.logits, dtype=np.float64))
    for k, class_name in enumerate(audit.class_names):
        columns.append(fractions[:, k])
        names.append(f"fraction_{class_name}")
    return np.column_stack(columns), names


def _folds(n: int, groups, n_splits: int, random_state: int):
    k = min(n_splits, n if groups is None else len(np.unique(groups)))
    if groups is not None:
        return GroupKFold(n_splits=k).split(np.zeros(n), groups=groups)
    return KFold(n_splits=k, shuffle=True, random_state=random_state).split(np.zeros(n))


def quality_scores(
    audit: AuditSet, *, alpha: float = 1.0, n_splits: int = 5, random_state: int = 0
) -> QualityEstimate:
    """Fit the quality regressor on the validation volumes and score every volume.

    See the module docstring for the rules. Never raises for too little data: the reason
    is in the returned :class:`QualityEstimate`.

    Examples
    --------
    >>> n = 30
    >>> rng = np.random.default_rng(0)
    >>> risk = rng.uniform(0.05, 0.6, n)
    >>> audit = AuditSet(sample_id=[str(i) for i in range(n)], test_set=["val"] * 20 + ["iid"] * 10,
    ...                  label=[0] * n, logits=np.log(np.full((n, 2), 0.5)), class_names=["bg", "x"],
    ...                  confidences={"msr@mean": 1 - risk + rng.normal(0, 0.05, n)}, risk=risk,
    ...                  provenance={"task": "segmentation"})
    >>> estimate = quality_scores(audit)
    >>> estimate.available, estimate.n_train, bool(estimate.cv_spearman > 0.8)
    (True, 20, True)
    >>> quality_scores(audit.select("val").subset(np.arange(5))).reason
    'only 5 validation volumes; the quality regressor needs at least 10 to be cross-validated'
    """
    if audit.risk is None:
        return QualityEstimate(None, "the AuditSet has no risk column to learn from")
    train = audit.test_set == VALIDATION
    n = int(train.sum())
    if n < MIN_VOLUMES:
        return QualityEstimate(
            None,
            f"only {n} validation volumes; the quality regressor needs at least {MIN_VOLUMES} "
            "to be cross-validated",
            n_train=n,
        )
    X, names = quality_features(audit)
    y = audit.risk[train]
    if np.ptp(y) == 0:
        return QualityEstimate(
            None, f"the validation risk is constant ({y[0]:.3g}); nothing to learn", names, n
        )
    groups = None
    if audit.metadata is not None and "patient_id" in audit.metadata.columns:
        groups = audit.metadata["patient_id"].astype(str).to_numpy()[train]
        if len(np.unique(groups)) < 2:
            groups = None
    Xt = X[train]
    cross = np.empty(n)
    baseline = np.empty(n)
    for fit_rows, held_out in _folds(n, groups, n_splits, random_state):
        model = QualityRegressor(alpha).fit(Xt[fit_rows], y[fit_rows])
        cross[held_out] = model.predict(Xt[held_out])
        baseline[held_out] = y[fit_rows].mean()
    cv_mae = float(np.abs(cross - y).mean())
    base_mae = float(np.abs(baseline - y).mean())
    rho = float(spearmanr(cross, y).statistic) if np.ptp(cross) > 0 else float("nan")
    numbers = dict(features=names, n_train=n, cv_spearman=rho, cv_mae=cv_mae, baseline_mae=base_mae)
    if not np.isfinite(rho) or rho <= 0 or cv_mae >= base_mae:
        return QualityEstimate(
            None,
            f"learned nothing on {n} validation volumes: cross-validated Spearman {rho:.3f}, MAE "
            f"{cv_mae:.4f} vs {base_mae:.4f} for predicting the mean risk",
            **numbers,
        )
    predicted = QualityRegressor(alpha).fit(Xt, y).predict(X)
    predicted[train] = cross  # validation volumes: cross-fitted, never scored by their own model
    return QualityEstimate(
        -predicted,
        f"cross-validated on {n} validation volumes: Spearman {rho:.3f}, MAE {cv_mae:.4f} vs "
        f"{base_mae:.4f} for predicting the mean risk",
        **numbers,
    )


def with_quality_confidence(audit: AuditSet, **kwargs) -> AuditSet:
    """A copy with the confidence ``quality@learned``, or with the reason it is unavailable.

    The outcome is recorded in ``provenance["quality_regressor"]``; when unavailable the
    reason also goes to ``provenance["segmentation_csfs"]["unavailable"]``, which
    ``evaluate`` reports beside the CSFs it ranks.
    """
    estimate = quality_scores(audit, **kwargs)
    provenance = dict(audit.provenance)
    provenance["quality_regressor"] = estimate.to_dict()
    confidences = dict(audit.confidences)
    confidences.pop(QUALITY_CSF, None)
    if estimate.available:
        confidences[QUALITY_CSF] = estimate.confidence
    else:
        csfs = dict(provenance.get("segmentation_csfs", {}))
        csfs["unavailable"] = {**csfs.get("unavailable", {}), QUALITY_CSF: estimate.reason}
        provenance["segmentation_csfs"] = csfs
    return replace(audit, confidences=confidences, provenance=provenance)


__all__ = [
    "MIN_VOLUMES",
    "QUALITY_CSF",
    "QualityEstimate",
    "QualityRegressor",
    "quality_features",
    "quality_scores",
    "with_quality_confidence",
]

"""Misclassification risk for every sample of an AuditSet, never from a model trained on it.

The predictor learns from one split (the validation split by default). The samples of that
split are scored by cross-fitting: K models, each trained without one fold, each scoring
only its held-out fold. Every other sample is scored by the model trained on the whole
split. With a cluster column (the patient), folds never split a patient, and a sample of
another test set whose patient is in the training split is scored by the fold model that
never saw that patient.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from sklearn.model_selection import GroupKFold, StratifiedGroupKFold, StratifiedKFold

from silentscope.audit.auditset import AuditSet
from silentscope.audit.test_sets import VALIDATION
from silentscope.audit.validation import quoted
from silentscope.predictor.features import build_features
from silentscope.predictor.model import MisclassificationPredictor, TooFewErrorsError
from silentscope.subgroups.attributes import Skipped


@dataclass
class RiskEstimate:
    """Predicted misclassification risk of every sample and how it was obtained.

    Attributes
    ----------
    risk : ndarray of float, shape (N,)
        Predicted probability that the prediction is wrong.
    target : ndarray of bool, shape (N,)
        The error the predictor learnt to predict (misclassification, or the one-vs-rest
        decision error for ``positive_class``).
    train_mask : ndarray of bool, shape (N,)
        The samples of the training split.
    fold : ndarray of int, shape (N,)
        Which model scored each sample: ``k >= 0`` the model trained without fold k,
        ``-1`` the model trained on the whole split.
    fold_train_index : list of ndarray of int
        The AuditSet rows each fold model was trained on.
    model : MisclassificationPredictor
        The predictor trained on the whole split.
    fold_models : list of MisclassificationPredictor
    features : DataFrame
        The feature table of every sample.
    fold_of_id, fold_of_cluster : dict
        The held-out fold of each training sample id and (with clusters) training cluster,
        used to score any AuditSet out of sample (:meth:`score`).
    skipped : list of Skipped
    settings : dict
    """

    risk: np.ndarray
    target: np.ndarray
    train_mask: np.ndarray
    fold: np.ndarray
    fold_train_index: list[np.ndarray]
    model: MisclassificationPredictor
    fold_models: list[MisclassificationPredictor]
    features: pd.DataFrame
    fold_of_id: dict[str, int] = field(default_factory=dict)
    fold_of_cluster: dict = field(default_factory=dict)
    skipped: list[Skipped] = field(default_factory=list)
    settings: dict = field(default_factory=dict)

    @property
    def confidence(self) -> np.ndarray:
        """``1 - risk``: a confidence score, higher = more likely correct."""
        return 1.0 - self.risk

    def score(self, audit: AuditSet) -> tuple[np.ndarray, np.ndarray]:
        """Risk and scoring fold of every sample of ``audit`` (this or another AuditSet).

        A sample whose id, or whose cluster, was in the training split is scored by the
        fold model that never saw it; every other sample by the model of the whole split.
        """
        features, _ = build_features(
            audit,
            self.settings["metadata"],
            keep_label_derived=self.settings.get("keep_label_derived", False),
        )
        fold = np.array([self.fold_of_id.get(i, -1) for i in audit.sample_id], dtype=int)
        cluster = self.settings["cluster"]
        if cluster is not None:
            clusters = _cluster_values(audit, cluster)
            by_cluster = np.array([self.fold_of_cluster.get(c, -1) for c in clusters], dtype=int)
            fold = np.where(fold >= 0, fold, by_cluster)
        risk = self.model.predict_risk(features)
        for k, model in enumerate(self.fold_models):
            rows = np.flatnonzero(fold == k)
            if len(rows):
                risk[rows] = model.predict_risk(features.iloc[rows])
        return risk, fold


def error_target(audit: AuditSet, positive_class: str | int | None = None) -> np.ndarray:
    """What counts as an error: a misclassification, or a wrong one-vs-rest decision.

    With ``positive_class`` the decision is "predicted class == positive" and the error
    is that decision disagreeing with "label == positive" (the binary task of one finding).

    Examples
    --------
    >>> audit = AuditSet(sample_id=list("abc"), test_set=["iid"] * 3, label=[0, 1, 2],
    ...                  logits=np.eye(3)[[1, 1, 0]] * 3, class_names=["a", "b", "c"])
    >>> error_target(audit).tolist(), error_target(audit, "c").tolist()
    ([True, False, True], [False, False, True])
    """
    if positive_class is None:
        return ~audit.correct
    c = class_index(audit, positive_class)
    return (audit.predictions == c) != (audit.label == c)


def class_index(audit: AuditSet, positive_class: str | int) -> int:
    """Index of a class given by name or index; a clear error otherwise."""
    if isinstance(positive_class, int | np.integer) and not isinstance(positive_class, bool):
        if 0 <= positive_class < audit.n_classes:
            return int(positive_class)
    elif str(positive_class) in audit.class_names:
        return audit.class_names.index(str(positive_class))
    raise ValueError(
        f"positive class {positive_class!r} is not a class of this AuditSet; choose one of {quoted(audit.class_names)}"
    )


def estimate_risk(
    audit: AuditSet,
    *,
    model: str = "hgb",
    metadata: Sequence[str] | None = None,
    train_split: str = VALIDATION,
    positive_class: str | int | None = None,
    n_splits: int = 5,
    cluster: str | None = None,
    random_state: int | None = 0,
    keep_label_derived: bool = False,
    **model_params,
) -> RiskEstimate:
    """Train a misclassification predictor on one split and score every sample out of sample.

    Parameters
    ----------
    audit : AuditSet
    model : {"hgb", "logreg"}, default "hgb"
    metadata : list of str, optional
        Metadata columns to use as clinical features. None by default: metadata may hold
        columns derived from the label (diagnosis codes, report text), which would leak.
        Columns whose role is not analysable (identifiers, row indices, file names, and
        label-derived columns unless ``keep_label_derived``) are skipped with the reason.
    train_split : str, default "val"
        The test set to learn from; its own samples are scored by cross-fitting.
    positive_class : str or int, optional
        Learn one-vs-rest decision errors for this class instead of misclassification.
    n_splits : int, default 5
        Folds of the cross-fitting.
    cluster : str, optional
        Metadata column of the patient (or other unit): folds keep a patient together.
    random_state : int, optional
        Seed of the folds and the models.
    **model_params
        Passed to :class:`MisclassificationPredictor`.

    Returns
    -------
    RiskEstimate

    Raises
    ------
    AuditSetError
        If the training split is the validation split and the AuditSet has none.
    ValueError
        If the split is absent or too small, or an argument is invalid.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> n = 600
    >>> label = rng.integers(0, 2, n)
    >>> logits = np.stack([np.zeros(n), rng.normal(0, 2, n)], axis=1)
    >>> audit = AuditSet(sample_id=np.arange(n).astype(str), label=label, logits=logits,
    ...                  test_set=np.where(np.arange(n) < 300, "val", "iid"), class_names=["a", "b"])
    >>> estimate = estimate_risk(audit, model="logreg")
    >>> sorted(set(estimate.fold[estimate.train_mask].tolist())), set(estimate.fold[~estimate.train_mask].tolist())
    ([0, 1, 2, 3, 4], {-1})
    """
    if train_split == VALIDATION and not audit.has_validation:
        audit.validation()  # raises the AuditSet's own message on the missing split
    if train_split not in audit.test_sets:
        raise ValueError(
            f"training split {train_split!r} not in this AuditSet; available: {', '.join(audit.test_sets)}"
        )
    if n_splits < 2:
        raise ValueError(f"n_splits must be at least 2 for cross-fitting, got {n_splits}")
    features, skipped = build_features(audit, metadata, keep_label_derived=keep_label_derived)
    target = error_target(audit, positive_class)
    train_mask = audit.test_set == train_split
    train_rows = np.flatnonzero(train_mask)
    groups = _cluster_codes(audit, cluster)
    folds = _folds(
        target[train_rows], None if groups is None else groups[train_rows], n_splits, random_state
    )

    def fitted(rows: np.ndarray) -> MisclassificationPredictor:
        predictor = MisclassificationPredictor(model, random_state=random_state, **model_params)
        return predictor.fit(features.iloc[rows].reset_index(drop=True), target[rows].astype(int))

    fold_of_id, fold_of_cluster, fold_models, fold_train_index = {}, {}, [], []
    for k, (fit_part, held_out) in enumerate(folds):
        fold_train_index.append(train_rows[fit_part])
        fold_models.append(fitted(train_rows[fit_part]))
        fold_of_id.update(dict.fromkeys(audit.sample_id[train_rows[held_out]], k))
        if cluster is not None:
            fold_of_cluster.update(
                dict.fromkeys(_cluster_values(audit, cluster)[train_rows[held_out]], k)
            )
    settings = {
        "model": model,
        "metadata": list(metadata or []),
        "keep_label_derived": keep_label_derived,
        "train_split": train_split,
        "positive_class": None
        if positive_class is None
        else audit.class_names[class_index(audit, positive_class)],
        "n_splits": n_splits,
        "cluster": cluster,
        "random_state": random_state,
    }
    estimate = RiskEstimate(
        np.empty(audit.n_samples),
        target,
        train_mask,
        np.empty(audit.n_samples, dtype=int),
        fold_train_index,
        fitted(train_rows),
        fold_models,
        features,
        fold_of_id,
        fold_of_cluster,
        skipped,
        settings,
    )
    estimate.risk, estimate.fold = estimate.score(audit)
    return estimate


def _cluster_values(audit: AuditSet, cluster: str) -> np.ndarray:
    if audit.metadata is None or cluster not in audit.metadata.columns:
        raise ValueError(f"cluster column {cluster!r} not in the metadata; name a metadata column")
    column = audit.metadata[cluster]
    if column.isna().any():
        raise ValueError(
            f"cluster column {cluster!r} has missing values; every sample needs a cluster id"
        )
    return column.astype(str).to_numpy()


def _cluster_codes(audit: AuditSet, cluster: str | None) -> np.ndarray | None:
    return None if cluster is None else pd.factorize(_cluster_values(audit, cluster))[0]


def _folds(target: np.ndarray, groups: np.ndarray | None, n_splits: int, random_state: int | None):
    n_minority = int(min(target.sum(), len(target) - target.sum()))
    if groups is None:
        if n_minority < n_splits:
            raise TooFewErrorsError(
                f"the training split has {n_minority} samples of its rarer outcome, fewer than "
                f"n_splits={n_splits}; lower n_splits or use a larger split"
            )
        return list(
            StratifiedKFold(n_splits, shuffle=True, random_state=random_state).split(target, target)
        )
    if len(np.unique(groups)) < n_splits:
        raise ValueError(
            f"the training split has fewer than n_splits={n_splits} clusters; lower n_splits"
        )
    if n_minority >= n_splits:
        splitter = StratifiedGroupKFold(n_splits, shuffle=True, random_state=random_state)
    else:
        splitter = GroupKFold(n_splits)
    return list(splitter.split(target, target, groups))

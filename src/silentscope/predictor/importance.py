"""Which features the misclassification predictor relies on, measured on held-out data."""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.metrics import roc_auc_score

from silentscope.predictor.risk import RiskEstimate


def feature_importances(
    estimate: RiskEstimate,
    held_out: np.ndarray | None = None,
    *,
    n_repeats: int = 5,
    random_state: int | None = 0,
) -> pd.DataFrame:
    """Permutation importance: the drop in AUROC when one feature column is shuffled.

    Importance is measured where the model did not learn (Breiman, "Random forests", 2001;
    Fisher, Rudin & Dominici, JMLR 2019): on ``held_out`` rows with the model trained on
    the whole split, or, by default, on each cross-fitting fold with the model that left it
    out (averaged over folds, weighted by fold size). A categorical metadata attribute is
    shuffled as a whole. All shuffles of one feature are scored in one call of the model.

    Parameters
    ----------
    estimate : RiskEstimate
    held_out : array of bool or int, optional
        Rows outside the training split to measure on (e.g. the ``iid`` test set).
    n_repeats : int, default 5
        Shuffles per feature.
    random_state : int, optional

    Returns
    -------
    DataFrame
        ``feature, importance, importance_std, n``: mean AUROC drop (higher = more
        important), its standard deviation over shuffles, rows used. Sorted by importance.

    Raises
    ------
    ValueError
        If ``held_out`` overlaps the training split or holds a single outcome.

    Examples
    --------
    >>> from silentscope.audit import AuditSet
    >>> from silentscope.predictor.risk import estimate_risk
    >>> rng = np.random.default_rng(0)
    >>> n = 300
    >>> logits = np.stack([np.zeros(n), rng.normal(0, 2, n)], axis=1)
    >>> audit = AuditSet(sample_id=np.arange(n).astype(str), label=rng.integers(0, 2, n),
    ...                  logits=logits, test_set=["val"] * n, class_names=["a", "b"])
    >>> table = feature_importances(estimate_risk(audit, model="logreg"), n_repeats=2)
    >>> list(table.columns)
    ['feature', 'importance', 'importance_std', 'n']
    """
    target = estimate.target.astype(int)
    parts = []
    if held_out is not None:
        rows = (
            np.flatnonzero(held_out) if np.asarray(held_out).dtype == bool else np.asarray(held_out)
        )
        if estimate.train_mask[rows].any():
            raise ValueError(
                "held-out rows overlap the training split; importances must be measured out of sample"
            )
        parts.append((estimate.model, rows))
    else:
        for k, model in enumerate(estimate.fold_models):
            parts.append((model, np.flatnonzero((estimate.fold == k) & estimate.train_mask)))
    usable = [(m, r) for m, r in parts if len(np.unique(target[r])) == 2]
    if not usable:
        raise ValueError(
            "the held-out rows hold a single outcome (all correct or all wrong); importance needs both"
        )
    rng = np.random.default_rng(random_state)
    weights, means, variances = [], [], []
    for model, rows in usable:
        drops = _auroc_drops(
            model, estimate.features.iloc[rows].reset_index(drop=True), target[rows], n_repeats, rng
        )
        weights.append(len(rows))
        means.append(drops.mean(axis=1))
        variances.append(drops.var(axis=1))
    weights = np.asarray(weights, dtype=float) / np.sum(weights)
    table = pd.DataFrame(
        {
            "feature": estimate.features.columns,
            "importance": np.average(means, axis=0, weights=weights),
            "importance_std": np.sqrt(np.average(variances, axis=0, weights=weights)),
            "n": int(sum(len(r) for _, r in usable)),
        }
    )
    return table.sort_values("importance", ascending=False, kind="stable").reset_index(drop=True)


def _auroc_drops(model, X: pd.DataFrame, y: np.ndarray, n_repeats: int, rng) -> np.ndarray:
    """AUROC on ``X`` minus AUROC with one column shuffled: shape (features, repeats)."""
    if n_repeats < 1:
        raise ValueError(f"n_repeats must be at least 1, got {n_repeats}")
    baseline = roc_auc_score(y, model.predict_risk(X))
    n = len(X)
    stacked = pd.concat([X] * n_repeats, ignore_index=True)
    drops = np.empty((X.shape[1], n_repeats))
    for j, column in enumerate(X.columns):
        shuffled = stacked.copy()
        order = np.concatenate([r * n + rng.permutation(n) for r in range(n_repeats)])
        shuffled[column] = stacked[column].iloc[order].reset_index(drop=True)  # keeps the dtype
        risk = model.predict_risk(shuffled).reshape(n_repeats, n)
        drops[j] = [baseline - roc_auc_score(y, r) for r in risk]
    return drops

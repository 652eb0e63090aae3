"""Scoring slice discovery against planted ground truth, as in dcbench (Eyuboglu et al. 2022).

For a ground-truth slice and a predicted slice, samples are ranked by the predicted
slice's membership score: precision@k is the fraction of the top ``k`` samples that
belong to the ground-truth slice, and average precision summarises the whole ranking.
As in dcbench and the Domino paper, each ground-truth slice is credited with its
best-matching predicted slice (the maximum over predicted slices, per metric).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.metrics import average_precision_score


def precision_at_k(truth, scores, k: int) -> float:
    """Fraction of the ``k`` highest-scored samples that are in the ground-truth slice.

    Ties at the cut-off are broken by sample order (stable sort).

    Examples
    --------
    >>> precision_at_k([1, 0, 1, 0], [0.9, 0.8, 0.7, 0.1], k=2)
    0.5
    """
    truth = np.asarray(truth, dtype=bool)
    scores = np.asarray(scores, dtype=np.float64)
    if truth.shape != scores.shape or truth.ndim != 1:
        raise ValueError(
            f"truth and scores must be 1-D of one length, got {truth.shape} and {scores.shape}"
        )
    if not 1 <= int(k) <= len(truth):
        raise ValueError(f"k must be between 1 and the number of samples ({len(truth)}), got {k}")
    top = np.argsort(-scores, kind="stable")[: int(k)]
    return float(truth[top].mean())


def score_discovery(truth, slice_scores, ks=(10, 25)) -> dict[str, float]:
    """Best-match precision@k and average precision of predicted slices for one true slice.

    Parameters
    ----------
    truth : array-like of bool, shape (N,)
        Ground-truth slice membership.
    slice_scores : array-like, shape (N, K)
        Membership scores of K predicted slices.
    ks : sequence of int, default=(10, 25)

    Returns
    -------
    dict
        ``precision_at_<k>`` for each k and ``average_precision``, each the maximum over
        predicted slices, and ``best_slice`` (the slice with the highest average precision).

    Examples
    --------
    >>> truth = np.array([1, 1, 0, 0, 0] * 10, bool)
    >>> scores = np.column_stack([truth + 0.0, np.linspace(0, 1, 50)])
    >>> score_discovery(truth, scores)["precision_at_10"]
    1.0
    """
    truth = np.asarray(truth, dtype=bool)
    slice_scores = np.asarray(slice_scores, dtype=np.float64)
    if slice_scores.ndim != 2 or slice_scores.shape[0] != len(truth):
        raise ValueError(
            f"slice_scores must be (N, K) with N = {len(truth)}, got {slice_scores.shape}"
        )
    if not truth.any() or truth.all():
        raise ValueError("the ground-truth slice must have members and non-members")
    aps = np.array(
        [average_precision_score(truth, slice_scores[:, j]) for j in range(slice_scores.shape[1])]
    )
    result = {
        f"precision_at_{k}": max(
            precision_at_k(truth, slice_scores[:, j], k) for j in range(slice_scores.shape[1])
        )
        for k in ks
    }
    result["average_precision"] = float(aps.max())
    result["best_slice"] = int(aps.argmax())
    return result


def score_table(truths: dict[str, np.ndarray], slice_scores, ks=(10, 25)) -> pd.DataFrame:
    """:func:`score_discovery` for several named ground-truth slices, one row each.

    Examples
    --------
    >>> truth = np.array([1, 0] * 20, bool)
    >>> score_table({"odd": truth}, np.column_stack([truth + 0.0]))["average_precision"].tolist()
    [1.0]
    """
    rows = [
        {"truth": name, **score_discovery(mask, slice_scores, ks)} for name, mask in truths.items()
    ]
    return pd.DataFrame(rows)


__all__ = ["precision_at_k", "score_discovery", "score_table"]

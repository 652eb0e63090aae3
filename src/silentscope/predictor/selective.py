"""Choose a threshold on predicted misclassification risk: flip or abstain above it.

Actions and objectives:

- ``flip`` (binary decisions: a two-class model, or one class against the rest): turn the
  decision over where ``risk > threshold``, with the threshold that maximises ``f1``,
  ``balanced_accuracy`` or ``accuracy`` on validation.
- ``abstain``: defer predictions with ``risk > threshold`` to a human, with the largest
  coverage whose selective risk (error rate of the kept predictions) on validation is at
  most the target, ``risk=0.05``.

Thresholds fall between distinct risk values only, so tied samples are always treated
alike; among equally good thresholds the one that changes fewest predictions is taken.
"""

from __future__ import annotations

import numpy as np
from sklearn.base import BaseEstimator

ACTIONS = ("flip", "abstain")
FLIP_OBJECTIVES = ("f1", "balanced_accuracy", "accuracy")


def parse_objective(objective: str) -> tuple[str, float | None]:
    """Split ``risk=0.05`` into ``("risk", 0.05)``; other objectives have no value.

    Examples
    --------
    >>> parse_objective("risk=0.05"), parse_objective("f1")
    (('risk', 0.05), ('f1', None))
    """
    if objective in FLIP_OBJECTIVES:
        return objective, None
    name, _, value = objective.partition("=")
    if name == "risk":
        try:
            target = float(value)
        except ValueError:
            target = np.nan
        if 0 < target < 1:
            return "risk", target
    raise ValueError(
        f"unknown objective {objective!r}; use {', '.join(FLIP_OBJECTIVES)} (flip) or risk=<target in (0, 1)> (abstain)"
    )


def binary_metric(name: str, tp, fp, fn, tn) -> np.ndarray:
    """F1, balanced accuracy or accuracy from confusion counts (arrays broadcast); 0 where undefined."""
    tp, fp, fn, tn = (np.asarray(v, dtype=float) for v in (tp, fp, fn, tn))
    with np.errstate(invalid="ignore", divide="ignore"):
        if name == "f1":
            value = 2 * tp / (2 * tp + fp + fn)
        elif name == "balanced_accuracy":
            value = 0.5 * (tp / (tp + fn) + tn / (tn + fp))
        elif name == "accuracy":
            value = (tp + tn) / (tp + fp + fn + tn)
        else:
            raise ValueError(f"unknown metric {name!r}")
    return np.nan_to_num(value, nan=0.0)


def confusion(truth: np.ndarray, decision: np.ndarray) -> np.ndarray:
    """Per-sample one-hot of (TP, FP, FN, TN), shape (n, 4)."""
    truth, decision = truth.astype(bool), decision.astype(bool)
    return np.stack(
        [truth & decision, ~truth & decision, truth & ~decision, ~truth & ~decision], axis=1
    ).astype(float)


def _boundaries(sorted_risk: np.ndarray) -> np.ndarray:
    """Numbers of top-ranked samples k at which a threshold can fall (between distinct risks)."""
    n = len(sorted_risk)
    ks = np.flatnonzero(np.r_[True, sorted_risk[1:] != sorted_risk[:-1]])
    return np.r_[ks, n]


class SelectiveCorrector(BaseEstimator):
    """Choose a risk threshold on validation data, then flip or abstain above it.

    Parameters
    ----------
    action : {"flip", "abstain"}, default "flip"
    objective : str, default "f1"
        ``f1``, ``balanced_accuracy`` or ``accuracy`` for ``flip``; ``risk=<target>`` for
        ``abstain``.

    Attributes
    ----------
    threshold_ : float
        Act on samples with ``risk > threshold_`` (``inf``: never act).
    validation_before_, validation_after_ : float
        The objective's metric on the fitting data before and after (in-sample: optimistic).
    target_reached_ : bool
        For ``abstain``, whether some coverage met the target on validation.

    Examples
    --------
    >>> truth = np.array([1, 1, 0, 0, 1, 0])
    >>> decision = np.array([1, 0, 0, 1, 1, 0])
    >>> risk = np.array([0.1, 0.9, 0.2, 0.8, 0.1, 0.3])
    >>> corrector = SelectiveCorrector("flip", "f1").fit(risk, truth, decision)
    >>> corrector.threshold_, corrector.apply(risk, decision).tolist()
    (0.55, [1, 1, 0, 0, 1, 0])
    """

    def __init__(self, action: str = "flip", objective: str = "f1"):
        self.action = action
        self.objective = objective

    def resolve_objective(self) -> tuple[str, float | None]:
        """The objective's metric and target risk; a clear error if it does not fit the action."""
        if self.action not in ACTIONS:
            raise ValueError(f"action must be one of {', '.join(ACTIONS)}, got {self.action!r}")
        name, target = parse_objective(self.objective)
        if self.action == "flip" and name == "risk":
            raise ValueError(
                "flipping optimises f1, balanced_accuracy or accuracy; a risk target is for abstain"
            )
        if self.action == "abstain" and name != "risk":
            raise ValueError(
                f"abstaining on {name} would be maximised by abstaining on everything; use objective risk=<target>"
            )
        return name, target

    def fit(self, risk, truth, decision) -> SelectiveCorrector:
        """Choose the threshold on ``risk`` (out-of-sample on these rows), ``truth`` and ``decision``.

        For ``flip``, ``truth`` and ``decision`` are binary (1 = positive); for ``abstain``
        any labels, an error being ``truth != decision``.
        """
        name, target = self.resolve_objective()
        risk, truth, decision = _check_arrays(risk, truth, decision, binary=self.action == "flip")
        order = np.argsort(-risk, kind="stable")
        ks = _boundaries(risk[order])
        if self.action == "flip":
            before = confusion(truth, decision)
            after = confusion(truth, ~decision.astype(bool))
            cumulative = np.vstack([np.zeros(4), np.cumsum(after[order] - before[order], axis=0)])
            counts = before.sum(axis=0) + cumulative[ks]
            scores = binary_metric(name, *counts.T)
            best = int(np.flatnonzero(scores >= scores.max() - 1e-12)[0])  # fewest flips among ties
            self.validation_before_, self.validation_after_ = float(scores[0]), float(scores[best])
            self.target_reached_ = True
        else:
            errors = (truth != decision)[order[::-1]]  # lowest risk first
            kept = len(risk) - ks[::-1]  # kept counts at each boundary, increasing
            kept_errors = np.r_[0, np.cumsum(errors)][kept]
            with np.errstate(invalid="ignore"):
                selective_risk = np.where(kept > 0, kept_errors / np.maximum(kept, 1), 0.0)
            feasible = np.flatnonzero((selective_risk <= target) & (kept > 0))
            self.target_reached_ = len(feasible) > 0
            index = int(feasible[-1]) if len(feasible) else 0
            best = len(ks) - 1 - index
            self.validation_before_ = float(errors.mean())
            self.validation_after_ = (
                float(selective_risk[index]) if self.target_reached_ else np.nan
            )
        k = int(ks[best])
        sorted_risk = risk[order]
        if k == 0:
            self.threshold_ = float(np.inf)
        elif k == len(risk):
            self.threshold_ = float(-np.inf)
        else:
            self.threshold_ = float((sorted_risk[k - 1] + sorted_risk[k]) / 2)
        return self

    def acts_on(self, risk) -> np.ndarray:
        """Mask of the samples flipped or abstained on."""
        return np.asarray(risk, dtype=float) > self.threshold_

    def apply(self, risk, decision) -> np.ndarray:
        """Flipped decisions (``flip``), or the mask of kept predictions (``abstain``)."""
        act = self.acts_on(risk)
        decision = np.asarray(decision)
        if self.action == "flip":
            return np.where(act, 1 - decision.astype(int), decision.astype(int))
        return ~act


def _check_arrays(risk, truth, decision, *, binary: bool):
    risk, truth, decision = np.asarray(risk, dtype=float), np.asarray(truth), np.asarray(decision)
    if risk.ndim != 1 or truth.shape != risk.shape or decision.shape != risk.shape:
        raise ValueError("risk, truth and decision must be 1-D arrays of the same length")
    if len(risk) == 0:
        raise ValueError("there are no samples to choose a threshold on")
    if not np.isfinite(risk).all():
        raise ValueError("risk contains NaN or infinite values")
    if binary and not (np.isin(truth, (0, 1)).all() and np.isin(decision, (0, 1)).all()):
        raise ValueError("flipping needs binary truth and decisions (1 = positive class)")
    return risk, truth, decision

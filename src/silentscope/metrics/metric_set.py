"""Several failure-detection metrics of one CSF from one sort of its confidences."""

from __future__ import annotations

from collections.abc import Sequence

from ._ranking import Ranking
from ._validation import check_confidence_risk, check_unit_interval
from .bootstrap import _EVALUATORS, _LOSS_EVALUATORS, BOOTSTRAP_METRICS, _check_metrics
from .calibration import check_n_bins
from .registry import METRICS
from .risk_coverage import RiskCoverageCurve


def failure_detection_metrics(
    confidence,
    correct=None,
    metrics: str | Sequence[str] | None = None,
    *,
    loss=None,
    n_bins: int = 15,
) -> dict[str, float]:
    """The metrics of :data:`~silentscope.metrics.BOOTSTRAP_METRICS` from one sort.

    Each public metric function sorts the confidences on its own; this sorts and groups
    them once and reads every metric off the same counts (the point estimates of
    :func:`~silentscope.metrics.bootstrap_ci`), with the same values.

    Parameters
    ----------
    confidence : array-like of shape (n_samples,)
    correct : array-like of shape (n_samples,), optional
        1 (or True) where the prediction was right, 0 where it failed.
    metrics : str or sequence of str, optional
        Names from :data:`~silentscope.metrics.BOOTSTRAP_METRICS`; default all of them (the
        four risk-coverage areas with ``loss``).
    loss : array-like of shape (n_samples,), optional
        Instead of ``correct``: a continuous per-sample loss in [0, 1].
    n_bins : int, default 15
        Bins of the ECE.

    Returns
    -------
    dict of str to float

    Raises
    ------
    ValueError
        On invalid inputs or names, or a metric undefined on the data, with the message of
        its own function.

    Examples
    --------
    >>> values = failure_detection_metrics([0.9, 0.8, 0.7, 0.6], [1, 1, 0, 1], ["aurc", "auroc_f"])
    >>> {k: round(v, 4) for k, v in values.items()}
    {'aurc': 0.1146, 'auroc_f': 0.6667}
    """
    conf, corr, risk = check_confidence_risk(confidence, correct, loss)
    if metrics is None:
        metrics = BOOTSTRAP_METRICS if risk is None else tuple(_LOSS_EVALUATORS)
    names = _check_metrics(metrics, continuous=risk is not None)
    if risk is not None:
        curve = RiskCoverageCurve(conf, loss=risk)
        return {name: float(getattr(curve, name)) for name in names}
    n_bins = check_n_bins(n_bins)
    if "ece" in names:
        check_unit_interval(conf, "ECE")
    counts = Ranking.from_scores(conf, corr).counts(n_bins=n_bins)
    values = {}
    for name in names:
        evaluate, (need_correct, need_wrong) = _EVALUATORS[name]
        counts.require(METRICS[name].display_name, correct=need_correct, wrong=need_wrong)
        values[name] = float(evaluate(counts))
    return values

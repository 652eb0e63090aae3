"""Is the learned predictor a better failure detector than the plain confidence (MSR)?"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from silentscope.audit.auditset import AuditSet

# Index matrices of paired resamples are built in chunks of at most this many entries.
_MAX_INDEX_ENTRIES = 4_000_000


def compare_confidences(
    audit: AuditSet,
    confidences: Mapping[str, np.ndarray],
    *,
    baseline: str = "MSR",
    correct: np.ndarray | None = None,
    test_sets: Sequence[str] | None = None,
    metrics: Sequence[str] = ("auroc_f", "aurc"),
    n_resamples: int = 1000,
    confidence_level: float = 0.95,
    random_state: int | None = 0,
) -> pd.DataFrame:
    """Failure-detection metrics of several confidences per test set, with paired differences.

    Every confidence is evaluated on the same bootstrap resamples of a test set, so the
    interval of the difference to ``baseline`` is that of a paired comparison.

    Parameters
    ----------
    audit : AuditSet
    confidences : mapping of name to array of shape (N,)
        Higher = more confident; must include ``baseline``.
    baseline : str, default "MSR"
    correct : array of bool, shape (N,), optional
        What counts as a success; the AuditSet's correctness by default (pass the
        one-vs-rest decision correctness of a one-class predictor).
    test_sets : list of str, optional
        Default: every test set except ``val``.
    metrics : list of str, default ("auroc_f", "aurc")
        Names from :data:`silentscope.metrics.BOOTSTRAP_METRICS`.
    n_resamples : int, default 1000
    confidence_level : float, default 0.95
    random_state : int, optional

    Returns
    -------
    DataFrame
        ``test_set, csf, metric, estimate, low, high, delta, delta_low, delta_high, note``;
        ``delta = estimate - baseline's estimate`` (NaN on the baseline's rows).

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> n = 500
    >>> z = rng.normal(0, 2, n)
    >>> label = (z + rng.normal(0, 1.5, n) > 0).astype(int)  # errors where |z| is small
    >>> logits = np.stack([np.zeros(n), z], axis=1)
    >>> audit = AuditSet(sample_id=np.arange(n).astype(str), label=label, logits=logits,
    ...                  test_set=["iid"] * n, class_names=["a", "b"])
    >>> msr = audit.probabilities.max(axis=1)
    >>> table = compare_confidences(audit, {"MSR": msr, "random": rng.random(n)}, n_resamples=200)
    >>> row = table[(table.csf == "random") & (table.metric == "auroc_f")].iloc[0]
    >>> bool(row["delta_high"] < 0)  # a random score detects failures worse than MSR
    True
    """
    # imported here: registering the MisPred CSF imports this package, and the CSF registry
    # should not need the metrics package to load
    from silentscope.metrics import bootstrap_ci

    if baseline not in confidences:
        raise ValueError(
            f"the baseline {baseline!r} is not among the confidences ({', '.join(confidences)})"
        )
    names = list(audit.evaluation_sets()) if test_sets is None else list(test_sets)
    success = audit.correct if correct is None else np.asarray(correct, dtype=bool)
    if success.shape != (audit.n_samples,):
        raise ValueError(
            f"correct must have one entry per sample ({audit.n_samples}), got shape {success.shape}"
        )
    rng = np.random.default_rng(random_state)
    rows = []
    for name in names:
        rows_in_set = np.flatnonzero(audit.test_set == name)
        correct = success[rows_in_set]
        n = len(rows_in_set)
        results, notes = {}, {}
        chunk = max(1, _MAX_INDEX_ENTRIES // max(1, n))
        draws = [
            rng.integers(0, n, size=(min(chunk, n_resamples - start), n))
            for start in range(0, n_resamples, chunk)
        ]
        for csf, values in confidences.items():
            values = np.asarray(values, dtype=float)[rows_in_set]
            try:
                parts = [
                    bootstrap_ci(
                        values,
                        correct,
                        list(metrics),
                        resample_indices=d,
                        confidence_level=confidence_level,
                    )
                    for d in draws
                ]
            except ValueError as error:
                notes[csf] = str(error)
                continue
            results[csf] = {
                m: (parts[0][m].estimate, np.concatenate([p[m].samples for p in parts]))
                for m in metrics
            }
        tail = (1 - confidence_level) / 2
        for csf in confidences:
            for metric in metrics:
                row = {"test_set": name, "csf": csf, "metric": metric, "note": notes.get(csf, "")}
                if csf in results:
                    estimate, samples = results[csf][metric]
                    row.update(_interval("", estimate, samples, tail))
                    if csf != baseline and baseline in results:
                        base_estimate, base_samples = results[baseline][metric]
                        row.update(
                            _interval(
                                "delta_", estimate - base_estimate, samples - base_samples, tail
                            )
                        )
                rows.append(row)
    columns = [
        "test_set",
        "csf",
        "metric",
        "estimate",
        "low",
        "high",
        "delta",
        "delta_low",
        "delta_high",
        "note",
    ]
    return pd.DataFrame(rows).reindex(columns=columns)


def _interval(prefix: str, estimate: float, samples: np.ndarray, tail: float) -> dict:
    valid = samples[np.isfinite(samples)]
    low, high = np.quantile(valid, [tail, 1 - tail]) if len(valid) else (np.nan, np.nan)
    key = prefix.rstrip("_") or "estimate"
    return {key: float(estimate), f"{prefix}low": float(low), f"{prefix}high": float(high)}

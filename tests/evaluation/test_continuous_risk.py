"""``evaluate`` on a continuous per-sample risk: AURC, AUGRC, E-AURC against brute force."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from silentscope.audit import AuditSet
from silentscope.evaluation import evaluate


def _brute(confidence, risk):
    """Trapezoid areas of the risk-coverage curves, one point per sample (distinct confidences)."""
    n = len(risk)
    ordered = risk[np.argsort(-confidence)]
    cumulative = np.cumsum(ordered)
    selective = cumulative / np.arange(1, n + 1)
    selective = np.concatenate(([selective[0]], selective))
    generalized = np.concatenate(([0.0], cumulative / n))
    coverage = np.arange(n + 1) / n
    return np.trapezoid(selective, coverage), np.trapezoid(generalized, coverage)


def _audit(seed=0, n=40, task="segmentation"):
    rng = np.random.default_rng(seed)
    risk = np.clip(rng.beta(2, 5, n), 0, 1)
    confidence = -risk + rng.normal(0, 0.15, n)
    return (
        AuditSet(
            sample_id=[f"v{i}" for i in range(n)],
            test_set=["iid"] * (n // 2) + ["cor/rician_noise/3"] * (n - n // 2),
            label=np.zeros(n, int),
            logits=np.zeros((n, 4)),
            class_names=["background", "CSF", "GM", "WM"],
            confidences={"msr@mean": confidence},
            risk=risk,
            provenance={"task": task, "risk": "1 - mean foreground Dice"},
        ),
        confidence,
        risk,
    )


def test_continuous_risk_metrics_equal_brute_force():
    audit, confidence, risk = _audit()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        result = evaluate(audit, n_bootstrap=200)
    table = result.table.set_index(["test_set", "metric"])
    for name in ("iid", "cor/rician_noise/3"):
        rows = audit.test_set == name
        aurc, augrc = _brute(confidence[rows], risk[rows])
        oracle_aurc, oracle_augrc = _brute(-risk[rows], risk[rows])
        assert table.loc[(name, "aurc"), "value"] == pytest.approx(aurc)
        assert table.loc[(name, "augrc"), "value"] == pytest.approx(augrc)
        assert table.loc[(name, "e_aurc"), "value"] == pytest.approx(aurc - oracle_aurc)
        assert table.loc[(name, "e_augrc"), "value"] == pytest.approx(augrc - oracle_augrc)
        row = table.loc[(name, "aurc")]
        assert row["ci_low"] <= row["value"] <= row["ci_high"]
        assert row["accuracy"] == pytest.approx(1 - risk[rows].mean())
        assert row["csf"] == "ext:msr@mean"
    assert result.settings["risk"]["kind"] == "continuous"
    assert result.classification.empty


def test_binary_only_metric_is_undefined_on_continuous_risk():
    audit, _, _ = _audit()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        result = evaluate(audit, metrics=["aurc", "auroc_f"], n_bootstrap=0)
    row = result.table.set_index(["test_set", "metric"]).loc[("iid", "auroc_f")]
    assert np.isnan(row["value"]) and "binary failure only" in row["note"]


def test_logit_csfs_are_refused_on_a_segmentation_audit():
    audit, _, _ = _audit()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        result = evaluate(audit, csfs=["MSR", "ext:msr@mean"], n_bootstrap=0)
    assert "not a classifier's output" in result.unavailable["MSR"]
    assert set(result.table["csf"]) == {"ext:msr@mean"}


def test_risk_on_a_classification_audit_also_reaches_the_metrics():
    audit, confidence, risk = _audit(task="classification")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        result = evaluate(audit, csfs=["ext:msr@mean"], n_bootstrap=0, test_sets=["iid"])
    rows = audit.test_set == "iid"
    aurc, _ = _brute(confidence[rows], risk[rows])
    value = result.table.set_index("metric").loc["aurc", "value"]
    assert value == pytest.approx(aurc)

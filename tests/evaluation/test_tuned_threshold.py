"""A threshold tuned on validation for a target risk, applied unchanged to every test set."""

from __future__ import annotations

import numpy as np
import pytest

from silentscope.audit import AuditSet, AuditSetError
from silentscope.evaluation import tuned_threshold_table
from silentscope.metrics import selective_risk_coverage, selective_threshold


def _audit(n=600, seed=0, with_val=True):
    rng = np.random.default_rng(seed)
    logits = rng.normal(size=(n, 3)) * 2
    predicted = logits.argmax(1)
    labels = np.where(rng.random(n) < 0.8, predicted, (predicted + 1) % 3)
    # the shifted set gets extra errors among confident samples: its risk at the val threshold rises
    sets = np.array(["val"] * 200 + ["iid"] * 200 + ["acq/site_b"] * 200)
    shifted = np.flatnonzero(sets == "acq/site_b")
    labels[shifted[:60]] = (predicted[shifted[:60]] + 2) % 3
    if not with_val:
        sets[sets == "val"] = "iid"
    return AuditSet(
        sample_id=[str(i) for i in range(n)], test_set=sets, label=labels, logits=logits,
        class_names=["a", "b", "c"],
    )  # fmt: skip


def test_threshold_from_validation_applied_to_each_test_set():
    audit = _audit()
    result = tuned_threshold_table(audit, 0.1, csfs=["MSR", "MCD-MSR"])
    assert "MCD-MSR" in result.unavailable  # no mc_logits: reported, not dropped
    table = result.table.set_index("test_set")
    val = audit.test_set == "val"
    msr = audit.probabilities.max(axis=1)
    threshold = selective_threshold(msr[val], audit.correct[val], 0.1)
    for name in ("iid", "acq/site_b"):
        rows = audit.test_set == name
        expected = selective_risk_coverage(msr[rows], audit.correct[rows], threshold)
        assert table.loc[name, "threshold"] == threshold
        assert table.loc[name, "test_risk"] == pytest.approx(expected.selective_risk)
        assert table.loc[name, "test_coverage"] == pytest.approx(expected.coverage)
        assert table.loc[name, "exceeds_target"] == (expected.selective_risk > 0.1)
    assert bool(table.loc["acq/site_b", "exceeds_target"])  # the shift breaks the guarantee
    assert table.loc["iid", "val_risk"] <= 0.1
    assert "no finite-sample guarantee" in result.settings["definition"]


def test_needs_a_validation_split_and_a_valid_target():
    with pytest.raises(AuditSetError, match="no validation split"):
        tuned_threshold_table(_audit(with_val=False), 0.1, csfs=["MSR"])
    with pytest.raises(ValueError, match="target_risk must lie in"):
        tuned_threshold_table(_audit(), 1.5, csfs=["MSR"])


def test_an_unreachable_target_rejects_everything_and_says_so():
    table = tuned_threshold_table(_audit(), 0.0, csfs=["MLS"]).table
    if np.isinf(table["threshold"]).all():
        assert (table["test_coverage"] == 0).all() and table["test_risk"].isna().all()
        assert table["note"].str.contains("everything is rejected").all()
    else:  # a zero-error top group exists on validation
        assert (table.loc[np.isfinite(table["threshold"]), "val_risk"] == 0).all()


def test_cli_prints_the_rows_marks_exceeded_targets_and_writes_csv(tmp_path):
    import pandas as pd
    from typer.testing import CliRunner

    from silentscope.audit.store import save_audit
    from silentscope.cli import app

    store = save_audit(_audit(), tmp_path / "store")
    out = tmp_path / "tuned.csv"
    arguments = ["tuned-threshold", str(store), "--target-risk", "0.1", "--csf", "MSR",
                 "--csf", "MCD-MSR", "--out", str(out)]  # fmt: skip
    result = CliRunner().invoke(app, arguments, terminal_width=200)
    assert result.exit_code == 0, result.output
    assert "exceeds" in result.output and "acq/site_b" in result.output
    assert "unavailable MCD-MSR: MCD-MSR needs mc_logits" in result.output
    table = pd.read_csv(out)
    assert list(table["test_set"]) == ["iid", "acq/site_b"]
    assert bool(table.set_index("test_set").loc["acq/site_b", "exceeds_target"])
    bad = CliRunner().invoke(app, ["tuned-threshold", str(store), "-r", "1.5"])
    assert bad.exit_code == 2 and "target_risk must lie in [0, 1]" in bad.output

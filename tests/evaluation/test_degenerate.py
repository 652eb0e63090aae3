"""An evaluation of a degenerate classifier carries the verdict; balanced accuracy beside accuracy."""

from __future__ import annotations

import pytest

from silentscope.audit import AuditSet
from silentscope.audit.health import DegenerateModelWarning
from silentscope.evaluation import evaluate, read_evaluation
from tests.support.audits import imbalanced_audit


def audit(constant: bool, n: int = 300, seed: int = 0) -> AuditSet:
    """27% minority class; logits either informative or always favouring the majority."""
    return imbalanced_audit(constant, n, seed)


def test_a_degenerate_classifier_is_flagged_in_the_result_and_its_file(tmp_path):
    with pytest.warns(DegenerateModelWarning, match="predicts only 'normal'"):
        result = evaluate(audit(constant=True), csfs=["MSR"], metrics=["aurc"], n_bootstrap=0)
    assert result.degenerate
    assert result.health.split == "val" and "predicts only 'normal'" in result.health.reason
    assert "DEGENERATE" in repr(result)
    again = read_evaluation(result.to_json(tmp_path / "evaluation.json"))
    assert again.degenerate and again.health == result.health


def test_a_useful_classifier_is_not_flagged():
    result = evaluate(audit(constant=False), csfs=["MSR"], metrics=["aurc"], n_bootstrap=0)
    assert not result.degenerate and result.health.assessed


def test_rows_carry_balanced_accuracy_beside_accuracy():
    result = evaluate(audit(constant=True), csfs=["MSR"], metrics=["aurc"], n_bootstrap=0)
    row = result.table.iloc[0]
    assert row["accuracy"] == pytest.approx(1 - audit(True).label[100:].mean())
    assert row["balanced_accuracy"] == pytest.approx(0.5)  # the majority class is all it says


def test_silentscope_evaluate_prints_the_verdict_first(tmp_path):
    from typer.testing import CliRunner

    from silentscope.audit.store import save_audit
    from silentscope.cli import app

    save_audit(audit(constant=True), tmp_path / "collapsed")
    save_audit(audit(constant=False), tmp_path / "fine")
    arguments = ["--csf", "MSR", "--metric", "aurc", "--bootstrap", "0"]
    collapsed = CliRunner().invoke(app, ["evaluate", str(tmp_path / "collapsed"), *arguments])
    assert collapsed.exit_code == 0, collapsed.output
    first = collapsed.output.splitlines()[0]  # before the tables, one line, no source line
    assert first.startswith("warning: the evaluated classifier is degenerate: predicts only")
    fine = CliRunner().invoke(app, ["evaluate", str(tmp_path / "fine"), *arguments])
    assert "degenerate" not in fine.output
    from silentscope.audit.store import read_artifact

    saved = read_artifact(tmp_path / "collapsed", "evaluation.info")  # saved in the store
    assert saved["health"]["degenerate"] and saved["health"]["imbalanced"]

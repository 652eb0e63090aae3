"""`silentscope evaluate` and `silentscope csfs` through typer's CliRunner."""

from __future__ import annotations

import json

import pandas as pd
import pytest
from typer.testing import CliRunner

from silentscope.audit.store import list_artifacts, read_artifact, save_audit
from silentscope.cli import app
from silentscope.confidence import registered_csfs
from tests.support.synthetic import make_synthetic_audit

runner = CliRunner()


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    path = tmp_path_factory.mktemp("stores") / "audit"
    save_audit(make_synthetic_audit(seed=2, mc=False), path)
    return path


def test_evaluate_prints_the_table_lists_unavailable_csfs_and_writes_files(store, tmp_path):
    out = tmp_path / "results"
    arguments = ["evaluate", str(store), "--csf", "MSR", "--csf", "PE", "--csf", "MCD-MI",
                 "--metric", "aurc", "--metric", "auroc_f", "--metric", "accuracy",
                 "--bootstrap", "30", "--out", str(out), "--format", "csv,json"]  # fmt: skip
    result = runner.invoke(app, arguments, terminal_width=200)
    assert result.exit_code == 0, result.output
    assert "AURC (x1000)" in result.output
    assert "cor (pooled)" in result.output
    assert "MCD-MI: MCD-MI needs mc_logits" in result.output
    assert sorted(p.name for p in out.iterdir()) == [
        "evaluation.classification.csv", "evaluation.csv", "evaluation.json",
    ]  # fmt: skip
    table = pd.read_csv(out / "evaluation.csv")
    assert set(table["csf"]) == {"MSR", "PE"} and set(table["metric"]) == {"aurc", "auroc_f"}
    document = json.loads((out / "evaluation.json").read_text())
    assert set(document["unavailable"]) == {"MCD-MI"}
    assert document["settings"]["n_bootstrap"] == 30


def test_evaluate_without_out_saves_into_the_store(store):
    result = runner.invoke(
        app, ["evaluate", str(store), "--csf", "MSR", "--metric", "augrc", "--bootstrap", "0"]
    )
    assert result.exit_code == 0, result.output
    assert {"evaluation", "evaluation.classification", "evaluation.info"} <= set(
        list_artifacts(store)
    )
    # one commit, named once, not three paths into the commit folder
    assert "wrote evaluation, evaluation.classification, evaluation.info into" in " ".join(
        result.output.split()
    )
    saved = read_artifact(store, "evaluation")
    assert set(saved["metric"]) == {"augrc"} and saved["ci_low"].isna().all()
    # --show aurc was not evaluated: the table falls back to the metric that was
    assert "AUGRC (x1000)" in result.output


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["--csf", "msr"], "did you mean 'MSR'"),
        (["--format", "xlsx"], "unknown --format 'xlsx'"),
        (["--test-set", "val"], "validation split"),
    ],
)
def test_user_errors_are_one_line_and_exit_code_2(store, arguments, message):
    result = runner.invoke(app, ["evaluate", str(store), "--bootstrap", "0", *arguments])
    assert result.exit_code == 2
    assert message in result.output
    assert "Traceback" not in result.output


def test_missing_store_is_a_clear_error(tmp_path):
    result = runner.invoke(app, ["evaluate", str(tmp_path / "nothing")])
    assert result.exit_code == 2 and "no audit store" in result.output


def test_csfs_lists_every_registered_csf_with_requirements_and_availability(store):
    result = runner.invoke(app, ["csfs"], terminal_width=200)
    assert result.exit_code == 0, result.output
    for name in registered_csfs():
        assert name in result.output
    assert "logits, mc_logits" in result.output
    with_store = runner.invoke(app, ["csfs", str(store)], terminal_width=250)
    assert with_store.exit_code == 0, with_store.output
    assert "MCD-SV needs mc_logits, which this AuditSet does not have" in with_store.output
    assert "ext:DG" in with_store.output


def test_help_shows_an_example():
    result = runner.invoke(app, ["evaluate", "--help"], terminal_width=200)
    assert result.exit_code == 0 and "Example: silentscope evaluate" in result.output


def test_a_test_set_without_errors_is_named_where_every_csf_ties(tmp_path):
    # AURC 0.0 for every CSF, each marked best, reads as perfect failure detection: the
    # command says that the set had no errors to detect.
    import numpy as np

    from tests.support.audits import tiny_audit

    rng = np.random.default_rng(0)
    n = 120
    labels = rng.integers(0, 2, n)
    logits = rng.normal(0, 1, (n, 2))
    iid = np.arange(n) >= 60
    logits[np.arange(n), labels] += np.where(iid, 10.0, 1.0)  # iid: always right
    audit = tiny_audit(logits, labels, test_set=np.where(iid, "iid", "acq/b"))
    save_audit(audit, tmp_path / "store")
    result = CliRunner().invoke(
        app, ["evaluate", str(tmp_path / "store"), "--bootstrap", "0"], terminal_width=200
    )
    assert result.exit_code == 0, result.output
    assert "iid: no errors, so every CSF's risk there is 0" in result.output
    assert "acq/b: no errors" not in result.output

"""``silentscope predictor STORE``: train, compare with MSR, flip or abstain."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from silentscope.audit.store import read_artifact, save_audit
from silentscope.cli import app
from tests.support.planted import simulate_audit, synthetic_audit

runner = CliRunner()


@pytest.fixture(scope="module")
def odir_store(odir_metadata, tmp_path_factory):
    return save_audit(
        simulate_audit(odir_metadata, 0, n_patients=700), tmp_path_factory.mktemp("p") / "store"
    )


def test_predictor_flip_reports_gains_against_msr_and_saves_artifacts(odir_store):
    result = runner.invoke(
        app, ["predictor", str(odir_store), "-m", "age", "-m", "sex", "--flip", "--objective", "f1",
              "--model", "logreg", "--cluster", "patient_id", "--n-bootstrap", "200"],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "MisPred" in result.output and "meta.age" in result.output
    comparison = read_artifact(odir_store, "predictor_comparison")
    assert set(comparison["csf"]) == {"MSR", "MisPred"} and set(comparison["test_set"]) == {"iid"}
    correction = read_artifact(odir_store, "predictor_correction")
    assert set(correction["risk_from"]) == {"MisPred", "MSR"} and set(correction["metric"]) == {
        "f1"
    }
    risk = read_artifact(odir_store, "predictor_risk")
    assert (risk.loc[risk["test_set"] == "val", "fold"] >= 0).all()
    assert read_artifact(odir_store, "predictor_settings")["metadata"] == ["age", "sex"]


def test_predictor_abstain_defaults_to_a_five_percent_target(odir_store):
    result = runner.invoke(
        app,
        ["predictor", str(odir_store), "--abstain", "--model", "logreg", "--n-bootstrap", "100"],
    )
    assert result.exit_code == 0, result.output
    correction = read_artifact(odir_store, "predictor_correction")
    assert set(correction["metric"]) == {"selective_risk"} and set(correction["target"]) == {0.05}


def test_predictor_errors_are_one_line(odir_store):
    result = runner.invoke(app, ["predictor", str(odir_store), "--flip", "--abstain"])
    assert result.exit_code == 2 and "choose one of --flip and --abstain" in result.output
    result = runner.invoke(app, ["predictor", str(odir_store), "-m", "height"])
    assert result.exit_code == 2 and "metadata column(s) ['height'] not found" in result.output
    assert "Traceback" not in result.output


def test_without_validation_the_predictor_is_cross_fitted_and_flipping_is_skipped(tmp_path):
    store = save_audit(synthetic_audit(400, n_val=0), tmp_path / "noval")
    result = runner.invoke(
        app, ["predictor", str(store), "--model", "logreg", "--flip", "--n-bootstrap", "100"]
    )
    assert result.exit_code == 0, result.output
    assert "no validation split: the predictor is cross-fitted on 'iid'" in result.output
    assert "--flip/--abstain skipped" in result.output
    risk = read_artifact(store, "predictor_risk")
    assert (risk["fold"] >= 0).all()  # every sample scored out of fold
    assert set(read_artifact(store, "predictor_comparison")["test_set"]) == {"iid"}

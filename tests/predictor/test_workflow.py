"""Choosing the predictor by cross-validated AUROC_f, and reporting nothing when none beats chance.

The small audits here are built like the case that went wrong (issue 13, case 2): about
150 validation samples with 18 errors, where the default gradient boosting (leaves of at
least 40 samples) cannot split and predicts the error rate for everyone.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from silentscope.audit import AuditSet
from silentscope.audit.store import read_artifact, save_audit
from silentscope.cli import app
from silentscope.confidence import compute_confidences, get_csf
from silentscope.predictor import MisclassificationPredictor, run_predictor, select_model
from tests.support.planted import synthetic_audit

runner = CliRunner()


def saturated_audit(n_val: int = 150, n_iid: int = 156, seed: int = 0) -> AuditSet:
    """Most predictions equally sure (identical logits); the errors among the few unsure ones.

    Boosting with leaves of 40 samples cannot separate the 30 unsure samples from the rest,
    so it is constant; a logistic model on the confidence finds them.
    """
    rng = np.random.default_rng(seed)
    parts = []
    for name, n, n_errors in (("val", n_val, 18), ("iid", n_iid, 18)):
        unsure = np.zeros(n, bool)
        unsure[rng.choice(n, 30, replace=False)] = True
        margin = np.where(unsure, rng.uniform(0.05, 1.0, n), 8.0)
        predicted = np.ones(n, int)
        wrong = np.zeros(n, bool)
        wrong[rng.choice(np.flatnonzero(unsure), n_errors, replace=False)] = True
        label = np.where(wrong, 1 - predicted, predicted)
        parts.append((name, n, np.stack([np.zeros(n), margin], axis=1), label))
    return AuditSet(
        sample_id=[f"s{i}" for i in range(n_val + n_iid)],
        test_set=np.concatenate([[name] * n for name, n, _, _ in parts]),
        label=np.concatenate([p[3] for p in parts]),
        logits=np.concatenate([p[2] for p in parts]),
        class_names=["normal", "pneumonia"],
    )


def band_audit(n: int = 1200, seed: int = 0) -> AuditSet:
    """Errors in a middle band of one metadata column: a tree finds it, a linear model cannot."""
    rng = np.random.default_rng(seed)
    age = rng.uniform(0, 100, n)
    wrong = rng.random(n) < np.where((age > 40) & (age < 60), 0.6, 0.05)
    label = rng.integers(0, 2, n)
    margin = rng.gamma(3.0, 0.6, n)  # the confidence says nothing about the errors
    logits = np.zeros((n, 2))
    logits[np.arange(n), np.where(wrong, 1 - label, label)] = margin
    return AuditSet(
        sample_id=[f"s{i}" for i in range(n)],
        test_set=np.where(np.arange(n) < n // 2, "val", "iid"),
        label=label,
        logits=logits,
        class_names=["a", "b"],
        metadata=pd.DataFrame({"age": age}),
    )


def test_default_boosting_is_constant_on_the_small_saturated_split():
    # the premise of the guard: with its current settings, hgb learns nothing here
    audit = saturated_audit()
    val = audit.test_set == "val"
    from silentscope.predictor import build_features

    features, _ = build_features(audit)
    risk = MisclassificationPredictor("hgb").fit(features[val], (~audit.correct[val]).astype(int))
    assert np.ptp(risk.predict_risk(features)) == 0


@pytest.mark.parametrize(
    ("make", "metadata", "better", "worse"),
    [(saturated_audit, None, "logreg", "hgb"), (band_audit, ["age"], "hgb", "logreg")],
)
def test_selection_picks_the_model_with_the_better_cross_validated_auroc(
    make, metadata, better, worse
):
    selection = select_model(make(), metadata=metadata, n_bootstrap=300)
    scores = selection.scores.set_index("model")
    assert selection.chosen == better
    assert scores.loc[better, "auroc_f"] > scores.loc[worse, "auroc_f"] + 0.1
    assert scores.loc[better, "low"] > 0.5 and scores.loc[better, "better_than_chance"]
    assert scores.loc[better, "fold_std"] >= 0 and set(scores.index) == {"logreg", "hgb"}
    assert selection.estimate.settings["model"] == better


def test_the_constant_default_model_is_reported_unavailable_with_the_reason():
    selection = select_model(saturated_audit(), "hgb", n_bootstrap=200)
    row = selection.scores.iloc[0]
    assert bool(row["constant"]) and not row["better_than_chance"]
    assert not selection.available and selection.estimate is None
    assert selection.reason.startswith(
        "no misclassification predictor is better than chance on 'val' (150 samples, 18 errors)"
    )
    assert "hgb 0.500 [0.500, 0.500] (constant" in selection.reason
    report = run_predictor(saturated_audit(), model="hgb", action="flip", n_bootstrap=200)
    assert not report.available and report.unavailable_reason == selection.reason
    assert report.comparison is None and report.importance is None and report.corrections is None
    assert report.settings["available"] is False and report.settings["model"] is None
    assert "no predictor reported: no misclassification predictor" in report.summary()
    assert "MisPred" not in report.summary().split("no predictor reported")[0]


def test_when_errors_are_random_no_model_is_reported_and_the_csf_is_unavailable():
    rng = np.random.default_rng(3)
    n = 400
    label = rng.integers(0, 2, n)
    logits = np.stack([np.zeros(n), rng.normal(0, 2, n)], axis=1)
    label = np.where(rng.random(n) < 0.15, 1 - (logits[:, 1] > 0), logits[:, 1] > 0).astype(int)
    audit = AuditSet(sample_id=np.arange(n).astype(str), label=label, logits=logits,
                     test_set=np.where(np.arange(n) < 200, "val", "iid"), class_names=["a", "b"])  # fmt: skip
    report = run_predictor(audit, n_bootstrap=300)
    assert not report.available
    assert (report.selection.scores["low"] <= 0.5).all()
    confidences, unavailable = compute_confidences(
        audit, ["MSR", get_csf("MisPred", n_bootstrap=300)]
    )
    assert "MisPred" not in confidences
    assert unavailable["MisPred"] == f"MisPred is unavailable: {report.unavailable_reason}"


def test_mispred_csf_is_unavailable_rather_than_a_constant_column():
    audit = saturated_audit()
    confidences, unavailable = compute_confidences(
        audit, [get_csf("MisPred", model="hgb", n_bootstrap=200)]
    )
    assert confidences == {} and "(constant" in unavailable["MisPred"]
    # chosen automatically, the informative model is used and scores vary
    confidences, unavailable = compute_confidences(audit, [get_csf("MisPred", n_bootstrap=200)])
    assert not unavailable and np.ptp(confidences["MisPred"]) > 0.1


def test_cli_prints_the_reason_instead_of_numbers_and_clears_old_results(tmp_path):
    store = save_audit(saturated_audit(), tmp_path / "store")
    result = runner.invoke(
        app, ["predictor", str(store), "--model", "logreg", "--flip", "--n-bootstrap", "100"]
    )
    assert result.exit_code == 0 and "MisPred - MSR" in result.output
    assert len(read_artifact(store, "predictor_comparison"))
    result = runner.invoke(
        app, ["predictor", str(store), "--model", "hgb", "--flip", "--n-bootstrap", "100"]
    )
    assert result.exit_code == 0, result.output
    text = " ".join(result.output.split())
    assert "no predictor reported: no misclassification predictor is better than chance" in text
    assert "MisPred - MSR" not in text and "permutation importance" not in text
    assert "selective correction" not in text and "constant" in text
    for name in ("predictor_comparison", "predictor_importance", "predictor_correction"):
        assert read_artifact(store, name).empty  # the earlier logreg results are gone
    settings = read_artifact(store, "predictor_settings")
    assert settings["available"] is False and "constant" in settings["unavailable_reason"]


def test_library_report_gives_the_numbers_the_cli_prints_and_saves(tmp_path):
    audit = synthetic_audit(500, seed=2)
    store = save_audit(audit, tmp_path / "store")
    args = ["-m", "risky", "--flip", "--n-bootstrap", "150", "--seed", "4"]
    result = runner.invoke(app, ["predictor", str(store), *args], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    report = run_predictor(
        audit, metadata=["risky"], action="flip", n_bootstrap=150, random_state=4
    )
    assert report.available and f"{report.selection.chosen} (chosen)" in result.output
    pd.testing.assert_frame_equal(read_artifact(store, "predictor_comparison"), report.comparison)
    pd.testing.assert_frame_equal(read_artifact(store, "predictor_correction"), report.corrections)
    pd.testing.assert_frame_equal(
        read_artifact(store, "predictor_selection"), report.selection.scores
    )
    mispred = report.comparison.query("csf == 'MisPred' and metric == 'auroc_f'").iloc[0]
    assert (
        f"{mispred['estimate']:.3g} [{mispred['low']:.3g}, {mispred['high']:.3g}]" in result.output
    )
    flipped = report.corrections.query("risk_from == 'MisPred'").iloc[0]
    assert f"{flipped['changed']}/{flipped['n']}" in result.output


def few_errors_audit() -> AuditSet:
    """A strong classifier: 4 validation errors, fewer than any predictor can learn from."""
    rng = np.random.default_rng(3)
    n = 200
    label = rng.integers(0, 2, n)
    predicted = label.copy()
    wrong = np.array([3, 30, 50, 90, 120, 160, 170, 180])  # 4 in val (< 100), 4 in iid
    predicted[wrong] = 1 - label[wrong]
    logits = np.zeros((n, 2))
    logits[np.arange(n), predicted] = rng.uniform(0.5, 4.0, n)
    return AuditSet(
        sample_id=[f"s{i}" for i in range(n)],
        test_set=np.where(np.arange(n) < 100, "val", "iid"),
        label=label,
        logits=logits,
        class_names=["benign", "malignant"],
    )


def test_too_few_errors_is_an_unavailable_predictor_not_a_crash(tmp_path):
    audit = few_errors_audit()
    report = run_predictor(audit, action="flip", n_bootstrap=50)
    assert not report.available
    assert "rarer outcome" in report.unavailable_reason or "4 errors" in report.unavailable_reason
    assert report.comparison is None and report.corrections is None
    store = save_audit(audit, tmp_path / "store")
    result = runner.invoke(app, ["predictor", str(store), "--flip", "--n-bootstrap", "50"])
    assert result.exit_code == 0, result.output
    assert report.unavailable_reason in " ".join(result.output.split())
    assert "AUROC_f" not in result.output  # no table of a model that was never fitted
    confidences, unavailable = compute_confidences(audit, ["MisPred"])
    assert "MisPred" not in confidences and "cannot be trained" in unavailable["MisPred"]

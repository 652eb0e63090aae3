"""One definition of "cor": the mean over corruption test sets, in evaluate, study tables and report."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from silentscope.audit.store import save_audit
from silentscope.cli import app
from silentscope.evaluation import evaluate, kind_caption, kind_means
from silentscope.study.results import accuracy_table, summary_table
from tests.support.synthetic import make_synthetic_audit


@pytest.fixture(scope="module")
def result():
    audit = make_synthetic_audit(seed=4, mc=False)
    return evaluate(audit, csfs=["MSR"], metrics=["aurc", "accuracy"], n_bootstrap=0)


def test_cor_is_the_mean_over_corruption_test_sets_not_the_pooled_value(result):
    table = result.table
    per_set = table[table["test_set"].str.startswith("cor/")]["value"]
    mean = result.kind_means("aurc").set_index("kind").loc["cor"]
    assert mean["value"] == pytest.approx(per_set.mean())
    assert mean["n_test_sets"] == 3
    pooled = table.loc[table["test_set"] == "cor (pooled)", "value"].item()
    assert abs(pooled - mean["value"]) > 1e-3  # the two definitions differ on these data
    accuracy = result.kind_means("accuracy").set_index("kind").at["cor", "value"]
    clf = result.classification
    assert accuracy == pytest.approx(clf[clf["test_set"].str.startswith("cor/")]["value"].mean())
    assert "Bungert" in result.settings["kind_mean"]


def test_study_tables_use_the_same_function(result):
    # the study's long table is the evaluation table with run columns
    long = result.table.assign(dataset="d", objective="ce", seed=0)
    expected = kind_means(result.table, by=["csf"]).set_index("kind").at["cor", "value"]
    assert summary_table(long, "aurc").loc["MSR", ("d", "cor", "mean")] == pytest.approx(expected)
    accuracy = accuracy_table(long).loc["ce", ("d", "cor")]
    cor_sets = result.table[result.table["test_set"].str.startswith("cor/")]
    assert accuracy == pytest.approx(cor_sets.drop_duplicates("test_set")["accuracy"].mean())


def test_kind_means_ignore_pooled_rows_and_count_each_test_set_once():
    long = pd.DataFrame(
        {
            "test_set": ["cor/a/1", "cor/a/1", "cor/b/1", "cor (pooled)", "iid"],
            "value": [0.2, 0.2, 0.4, 0.9, 0.1],
        }
    )
    means = kind_means(long).set_index("kind")
    assert means.at["cor", "value"] == pytest.approx(0.3)
    assert means.at["cor", "n_test_sets"] == 2
    assert np.isclose(means.at["iid", "value"], 0.1)


def test_evaluate_prints_the_mean_and_labels_the_pooled_value(tmp_path):
    store = tmp_path / "audit"
    save_audit(make_synthetic_audit(seed=4, mc=False), store)
    output = CliRunner().invoke(
        app, ["evaluate", str(store), "--csf", "MSR", "--bootstrap", "0", "--out", str(tmp_path)],
        env={"COLUMNS": "200"},
    ).output  # fmt: skip
    assert "cor (mean of 3)" in output and "cor (pooled)" in output
    assert "cor = mean over 3 corruption test sets" in output
    assert "(pooled) = the kind's samples taken as one set" in output


def test_a_corrupted_set_whose_images_did_not_change_is_not_averaged_as_a_shift():
    long = pd.DataFrame(
        {
            "test_set": ["iid", "cor/gaussian_blur/1", "cor/noise/1", "cor/noise/3"],
            "value": [0.1, 0.1, 0.3, 0.5],
            "shift_change": [np.nan, 0.0, 4.0, 9.0],
        }
    )
    means = kind_means(long).set_index("kind")
    assert means.at["cor", "value"] == pytest.approx(0.4)
    assert (means.at["cor", "n_test_sets"], means.at["cor", "n_unchanged"]) == (2, 1)
    assert "leaving out 1 whose images did not change" in kind_caption(means.reset_index())


def test_the_printed_summary_does_not_show_an_unchanged_set_as_a_shift():
    from silentscope.evaluation import EvaluationResult
    from silentscope.evaluation.summary import summarize

    names = ["iid", "cor/gaussian_blur/1", "cor/noise/1", "cor/noise/3"]
    table = pd.DataFrame(
        {
            "csf": "MSR", "metric": "aurc", "test_set": names, "value": [0.1, 0.1, 0.3, 0.5],
            "ci_low": np.nan, "ci_high": np.nan, "shift_change": [np.nan, 0.0, 4.0, 9.0],
        }
    )  # fmt: skip
    summary = summarize(EvaluationResult(table, pd.DataFrame()), "aurc")
    assert list(summary.values.columns) == ["iid", "cor/noise/1", "cor/noise/3", "cor (mean of 2)"]
    assert "not shown as shifts: cor/gaussian_blur/1" in summary.caption

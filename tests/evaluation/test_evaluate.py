"""evaluate(): the CSF x test set x metric table against direct metric calls."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from silentscope import metrics
from silentscope.confidence import compute_confidences
from silentscope.evaluation import (
    DEFAULT_CLASSIFICATION_METRICS,
    DEFAULT_FD_METRICS,
    evaluate,
    read_evaluation,
)
from tests.support.synthetic import make_synthetic_audit

CSFS = ["MSR", "PE", "MLS", "TS-MSR", "MCD-MI", "Mahalanobis", "kNN", "ext:DG"]
FD = ["aurc", "augrc", "auroc_f", "ece"]


@pytest.fixture(scope="module")
def audit():
    return make_synthetic_audit(seed=0)


@pytest.fixture(scope="module")
def result(audit):
    return evaluate(audit, csfs=CSFS, metrics=[*FD, "accuracy", "nll"], n_bootstrap=200)


def group_rows(audit, test_set):
    if test_set == "cor (pooled)":
        return np.char.startswith(audit.test_set.astype(str), "cor/")
    if test_set == "cor (severity 3, pooled)":
        return np.isin(audit.test_set, ["cor/blur/3", "cor/gaussian_noise/3"])
    return audit.test_set == test_set


def test_table_covers_every_csf_group_and_metric_with_the_documented_columns(result):
    table = result.table
    assert list(table.columns) == [
        "csf", "test_set", "test_set_kind", "pooled", "metric", "value", "ci_low", "ci_high",
        "n", "n_errors", "accuracy", "balanced_accuracy", "shift_change", "note",
    ]  # fmt: skip
    groups = [
        "iid", "cor/blur/3", "cor/gaussian_noise/1", "cor/gaussian_noise/3", "acq/site_b",
        "man/easy", "cor (pooled)", "cor (severity 3, pooled)",
    ]  # fmt: skip
    assert result.groups == groups
    assert "val" not in set(table["test_set"])
    # ECE only for the probability-valued CSFs (MSR, TS-MSR), every other metric for all
    assert len(table) == len(CSFS) * len(groups) * (len(FD) - 1) + 2 * len(groups)
    assert set(table.loc[table["metric"] == "ece", "csf"]) == {"MSR", "TS-MSR"}
    assert not table.duplicated(["csf", "test_set", "metric"]).any()
    pooled = table[table["pooled"]]
    assert set(pooled["test_set"]) == {"cor (pooled)", "cor (severity 3, pooled)"}
    assert set(pooled["test_set_kind"]) == {"cor"}


def test_rows_equal_direct_metric_calls(audit, result):
    confidences, _ = compute_confidences(audit, CSFS)
    functions = {"aurc": metrics.aurc, "augrc": metrics.augrc, "auroc_f": metrics.auroc_f,
                 "ece": metrics.ece}  # fmt: skip
    checked = 0
    for row in result.table.itertuples():
        rows = group_rows(audit, row.test_set)
        correct = audit.correct[rows]
        assert row.n == rows.sum() and row.n_errors == (~correct).sum()
        assert row.accuracy == pytest.approx(correct.mean())
        if np.isnan(row.value):
            continue
        expected = functions[row.metric](confidences[row.csf][rows], correct)
        assert row.value == pytest.approx(expected, rel=1e-12, abs=1e-15), row
        checked += 1
    # the only undefined values: AUROC_f without errors (ECE of other CSFs is not computed)
    undefined = result.table[result.table["value"].isna()]
    explained = (undefined["test_set"] == "man/easy") & (undefined["metric"] == "auroc_f")
    assert explained.all() and checked == len(result.table) - len(undefined) >= 190


def test_intervals_contain_their_estimates(result):
    defined = result.table.dropna(subset=["value"])
    assert len(defined) and not defined[["ci_low", "ci_high"]].isna().any().any()
    assert (defined["ci_low"] <= defined["value"] + 1e-12).all()
    assert (defined["value"] <= defined["ci_high"] + 1e-12).all()
    # a real interval, not a point, where there are errors to resample
    iid = defined[(defined["test_set"] == "iid") & (defined["metric"] == "aurc")]
    assert (iid["ci_high"] > iid["ci_low"]).all()


def test_undefined_metrics_are_nan_with_a_note_not_a_crash(result):
    table = result.table
    easy = table[(table["test_set"] == "man/easy") & (table["metric"] == "auroc_f")]
    assert easy["value"].isna().all()
    assert easy["note"].str.contains("both 0 and 1").all()
    aurc_easy = table[(table["test_set"] == "man/easy") & (table["metric"] == "aurc")]
    assert (aurc_easy["value"] == 0).all()  # AURC is defined without errors: zero risk
    # ECE of a CSF that is not a probability is not computed (no NaN rows), and said once
    assert not ((table["csf"] == "MLS") & (table["metric"] == "ece")).any()
    left_out = result.settings["not_computed"]["ece"]
    assert left_out["csfs"] == ["PE", "MLS", "MCD-MI", "Mahalanobis", "kNN", "ext:DG"]
    assert "not probabilities of being correct" in left_out["reason"]
    msr_ece = table[(table["csf"] == "MSR") & (table["metric"] == "ece")]
    assert msr_ece["value"].notna().all()


def test_classification_metrics_per_group(audit, result):
    frame = result.classification
    assert set(frame["metric"]) == {"accuracy", "nll"}
    for row in frame.itertuples():
        rows = group_rows(audit, row.test_set)
        probabilities, labels = audit.probabilities[rows], audit.label[rows]
        function = {"accuracy": metrics.accuracy, "nll": metrics.nll}[row.metric]
        assert row.value == pytest.approx(function(probabilities, labels), rel=1e-12)
        assert row.ci_low <= row.value <= row.ci_high
    accuracy = frame[frame["metric"] == "accuracy"].set_index("test_set")
    assert accuracy.loc["iid", "value"] > accuracy.loc["cor/gaussian_noise/3", "value"]


def test_unavailable_csfs_are_listed_with_reasons():
    audit = make_synthetic_audit(mc=False)
    result = evaluate(audit, csfs=["MSR", "MCD-MSR", "MCD-PE", "ext:ConfidNet"], metrics=["aurc"],
                      n_bootstrap=0)  # fmt: skip
    assert result.csfs == ["MSR"]
    assert set(result.unavailable) == {"MCD-MSR", "MCD-PE", "ext:ConfidNet"}
    assert result.unavailable["MCD-PE"].startswith(
        "MCD-PE needs mc_logits, which this AuditSet does not have"
    )
    assert result.table["ci_low"].isna().all()  # n_bootstrap=0: point estimates only


def test_default_run_uses_every_registered_csf_and_metric():
    audit = make_synthetic_audit(seed=1, test_sets={"val": (0.0, 60), "iid": (0.5, 80)})
    result = evaluate(audit, n_bootstrap=20)
    assert result.metrics == list(DEFAULT_FD_METRICS)
    assert set(result.classification["metric"]) == set(DEFAULT_CLASSIFICATION_METRICS)
    assert set(result.csfs) >= {"MSR", "TS-MSR", "MCD-SV", "ViM", "kNN", "ext:DG"}
    assert result.csf_params["TS-MSR"]["temperature_"] > 0
    assert result.csf_params["kNN"]["k"] == 50


def test_same_seed_same_numbers_and_groups_are_seeded_independently(audit):
    kwargs = dict(csfs=["MSR"], metrics=["aurc"], n_bootstrap=100)
    first = evaluate(audit, **kwargs, random_state=3).table
    again = evaluate(audit, **kwargs, random_state=3).table
    pd.testing.assert_frame_equal(first, again)
    other = evaluate(audit, **kwargs, random_state=4).table
    assert not np.allclose(first["ci_low"], other["ci_low"])
    alone = evaluate(audit, **kwargs, test_sets=["acq/site_b"], random_state=3).table
    from_all = first[first["test_set"] == "acq/site_b"].reset_index(drop=True)
    pd.testing.assert_frame_equal(alone, from_all)


def test_wide_scales_only_as_the_metric_registry_says(result):
    aurc = result.wide("aurc")
    assert aurc.columns.name == "AURC (x1000)"
    assert list(aurc.index) == [name for name in CSFS]
    long = result.table.set_index(["csf", "test_set", "metric"])["value"]
    assert aurc.loc["PE", "iid"] == pytest.approx(1000 * long["PE", "iid", "aurc"])
    auroc = result.wide("auroc_f", "ci_high")
    assert auroc.columns.name == "AUROC_f (%)"
    assert auroc.loc["MSR", "iid"] == pytest.approx(
        100
        * result.table.set_index(["csf", "test_set", "metric"])["ci_high"]["MSR", "iid", "auroc_f"]
    )
    accuracy = result.wide("accuracy")
    assert list(accuracy.index) == ["classifier"]
    with pytest.raises(ValueError, match="was not evaluated"):
        result.wide("e_augrc")


def test_files_round_trip(result, tmp_path):
    csv, csv_classification = result.to_csv(tmp_path / "out" / "evaluation.csv")
    parquet, _ = result.to_parquet(tmp_path / "evaluation.parquet")
    json_path = result.to_json(tmp_path / "evaluation.json")
    assert csv_classification.name == "evaluation.classification.csv"
    pd.testing.assert_frame_equal(pd.read_parquet(parquet), result.table)
    from_csv = pd.read_csv(csv, keep_default_na=False, na_values=[""])
    np.testing.assert_allclose(from_csv["value"], result.table["value"], equal_nan=True)
    loaded = read_evaluation(json_path)
    pd.testing.assert_frame_equal(
        loaded.table.drop(columns="note"), result.table.drop(columns="note"), check_dtype=False
    )
    assert loaded.unavailable == result.unavailable
    assert loaded.settings["random_state"] == 0
    assert (
        loaded.csf_params["TS-MSR"]["temperature_"] == result.csf_params["TS-MSR"]["temperature_"]
    )


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"test_sets": ["val"]}, "validation split"),
        ({"test_sets": ["acq/site_c"]}, "not in this AuditSet"),
        ({"metrics": ["aurc_v2"]}, "unknown metric"),
        ({"metrics": []}, "metrics is empty"),
        ({"n_bootstrap": -1}, "non-negative integer"),
        ({"confidence_level": 1.5}, "confidence_level"),
        ({"csfs": ["msr"]}, "did you mean 'MSR'"),
    ],
)
def test_bad_arguments_are_one_clear_error(audit, kwargs, message):
    with pytest.raises(ValueError, match=message):
        evaluate(audit, **{"n_bootstrap": 0, **kwargs})


def test_csfs_of_a_test_set_share_paired_resamples(audit):
    """The intervals of every CSF and the classification metrics of a test set come from one
    paired bootstrap: they equal paired_bootstrap_ci on that set with the group's seed."""
    from silentscope.evaluation.evaluate import _group_seed

    result = evaluate(
        audit,
        csfs=["MSR", "MLS"],
        metrics=["aurc", "auroc_f", "mce", "accuracy", "aurc_achievable"],
        test_sets=["iid"],
        n_bootstrap=50,
        random_state=3,
    )
    rows = audit.test_set == "iid"
    scores, _ = compute_confidences(audit, ["MSR", "MLS"])
    paired = metrics.paired_bootstrap_ci(
        {csf: scores[csf][rows] for csf in ("MSR", "MLS")},
        audit.correct[rows],
        {"MSR": ["aurc", "auroc_f", "mce"], "MLS": ["aurc", "auroc_f"]},  # MCE: probabilities only
        classification=(audit.probabilities[rows], audit.label[rows], ["accuracy"]),
        n_resamples=50,
        random_state=_group_seed(3, "iid"),
    )
    table = result.table.set_index(["csf", "metric"])
    for csf in ("MSR", "MLS"):
        for metric in paired.results[csf]:
            want = paired.results[csf][metric]
            got = table.loc[(csf, metric)]
            assert (got["value"], got["ci_low"], got["ci_high"]) == (
                want.estimate,
                want.low,
                want.high,
            )
    accuracy = result.classification.set_index("metric").loc["accuracy"]
    assert accuracy["ci_low"] == paired.classification["accuracy"].low
    resampling = result.settings["resampling"]
    assert "paired" in resampling["definition"]
    assert resampling["paired_metrics"] == ["aurc", "auroc_f", "mce", "accuracy"]
    assert resampling["loop_metrics"] == ["aurc_achievable"]
    assert "not paired" in resampling["loop_reason"]

"""A slice card says whether its failures are silent (confident) or admitted by the confidence."""

from dataclasses import replace

import numpy as np
import pandas as pd

from silentscope.audit import AuditSet
from silentscope.slices import discover_slices
from silentscope.slices.notes import silence_note


def _two_failing_devices(n=3000, seed=0):
    """Device A fails confidently, device B fails while the network says it is unsure."""
    rng = np.random.default_rng(seed)
    device = rng.choice(["A", "B", "C", "D", "E"], n, p=[0.1, 0.1, 0.3, 0.3, 0.2])
    label = rng.integers(0, 2, n)
    wrong = rng.random(n) < np.where(np.isin(device, ["A", "B"]), 0.6, 0.06)
    margin = np.where(device == "B", rng.uniform(0.0, 0.2, n), rng.gamma(4.0, 0.6, n))
    logits = np.zeros((n, 2))
    logits[np.arange(n), np.where(wrong, 1 - label, label)] = margin
    return AuditSet(
        sample_id=[f"s{i}" for i in range(n)], test_set=["iid"] * n, label=label,
        logits=logits, class_names=["neg", "pos"],
        metadata=pd.DataFrame({"device": device, "age": rng.integers(20, 90, n)}),
    )  # fmt: skip


def test_confident_failures_are_called_silent_and_unsure_ones_are_not():
    report = discover_slices(_two_failing_devices(), modalities=["metadata"], n_seeds=2)
    table = report.slices
    by_device = {}
    for row in table.to_dict("records"):
        for device in ("A", "B"):
            if f"device = {device}" in row["rule"] and row["rule_precision"] > 0.8:
                by_device.setdefault(device, row)
    assert set(by_device) == {"A", "B"}, table[["rule", "error_rate"]]
    silent, unsure = by_device["A"], by_device["B"]
    # both fail alike; only the confidence tells them apart
    assert silent["error_rate"] > 0.45 and unsure["error_rate"] > 0.45
    assert silent["expected_error_rate"] < 0.2 < 0.4 < unsure["expected_error_rate"]
    assert silence_note(silent).startswith("silent: ")
    assert silence_note(unsure).startswith("not silent: ")
    # and every place that shows the card says it
    assert "silent: its confidence expects" in str(report)
    assert "not silent: its confidence already expects" in report.to_markdown()


def test_tables_saved_before_the_expected_rates_existed_show_no_note():
    assert silence_note({"error_rate": 0.5}) == ""
    assert silence_note({"error_rate": 0.5, "expected_error_rate": np.nan}) == ""


def test_the_line_is_half_of_the_errors_admitted():
    assert silence_note({"error_rate": 0.6, "expected_error_rate": 0.31}).startswith("not silent")
    assert silence_note({"error_rate": 0.6, "expected_error_rate": 0.29}).startswith("silent")


def test_a_continuous_risk_gets_no_silence_note():
    """One minus a maximum softmax does not estimate 'any error' of a segmentation."""
    import dataclasses

    audit = _two_failing_devices()
    wrong = ~np.asarray(audit.correct)
    risk = np.where(wrong, 0.6, 0.0)  # a continuous risk, zero where the prediction is right
    report = discover_slices(
        dataclasses.replace(audit, risk=risk), modalities=["metadata"], n_seeds=2
    )
    assert report.n_slices >= 1
    assert report.slices["expected_error_rate"].isna().all()
    assert "silent" not in str(report)


def test_a_slice_found_only_in_features_that_encode_the_prediction_carries_a_caveat():
    """Errors independent of everything but the network's own features: no cause to name."""
    rng = np.random.default_rng(0)
    n = 3000
    label = rng.integers(0, 2, n)
    wrong = rng.random(n) < 0.1
    prediction = np.where(wrong, 1 - label, label)
    # like a real network's features: they place each sample where its prediction lies
    features = rng.normal(size=(n, 8))
    features[:, 0] += np.where(prediction == 1, 4.0, -4.0)
    audit = AuditSet(
        sample_id=[f"s{i}" for i in range(n)], test_set=["iid"] * n, label=label,
        logits=np.eye(2)[prediction] * rng.gamma(4.0, 0.6, n)[:, None],
        class_names=["a", "b"], features=features,
        metadata=pd.DataFrame({"age": rng.integers(20, 90, n), "sex": rng.choice(["F", "M"], n)}),
    )  # fmt: skip
    report = discover_slices(audit, n_seeds=2)
    assert report.n_slices >= 1  # "class a, placed with class b": all errors, by construction
    # every slice here restates the prediction, and each says so
    assert (report.slices["caveat"] != "").all()
    assert "found only in the classifier's own features" in str(report)
    # an image embedding given by the user is not the classifier's own: no caveat
    own = discover_slices(audit, n_seeds=2, embeddings={"image": features})
    assert (own.slices["caveat"] == "").all()


def test_slices_that_may_restate_the_prediction_are_listed_last():
    rng = np.random.default_rng(1)
    n = 4000
    label = rng.integers(0, 2, n)
    device = rng.choice(["A", "B", "C"], n, p=[0.15, 0.45, 0.4])
    wrong = rng.random(n) < np.where(device == "A", 0.25, 0.06)
    prediction = np.where(wrong, 1 - label, label)
    features = rng.normal(size=(n, 8))
    features[:, 0] += np.where(prediction == 1, 4.0, -4.0)  # features that carry the prediction
    audit = AuditSet(
        sample_id=[f"s{i}" for i in range(n)], test_set=["iid"] * n, label=label,
        logits=np.eye(2)[prediction] * rng.gamma(4.0, 0.6, n)[:, None],
        class_names=["a", "b"], features=features,
        metadata=pd.DataFrame({"device": device, "age": rng.integers(20, 90, n)}),
    )  # fmt: skip
    report = discover_slices(audit, n_seeds=2, modalities=["image", "metadata"])
    table = report.slices
    flagged = (table["caveat"] != "").to_numpy()
    assert flagged.any() and not flagged.all()
    # the restatements fail more surely (all errors), yet the finding is listed first
    assert table["ci_low"][flagged].min() > table["ci_low"][~flagged].max()
    assert not (flagged[:-1] & ~flagged[1:]).any()  # no unflagged slice after a flagged one
    assert table["rule"].iloc[0] == "device = A"
    assert table["rank"].tolist() == list(range(1, report.n_slices + 1))
    # the membership table follows the new ranks
    first = report.membership.loc[report.membership["rank"] == 1, "sample_id"]
    assert len(first) == table["size"].iloc[0]


def test_the_slices_command_prints_the_silence_note_on_each_card(tmp_path):
    from typer.testing import CliRunner

    from silentscope.audit.store import save_audit
    from silentscope.cli import app

    save_audit(_two_failing_devices(), tmp_path / "store")
    result = CliRunner().invoke(
        app, ["slices", str(tmp_path / "store"), "-m", "metadata", "--seeds", "2"]
    )
    assert result.exit_code == 0, result.output
    text = " ".join(result.output.split())  # the console wraps long lines
    assert "failures: silent: its confidence expects" in text
    assert "failures: not silent: its confidence already expects" in text


def test_a_degenerate_classifier_s_slices_carry_the_warning_in_the_result():
    """Always predicting one class, its 'silent' slices are the class it never predicts."""
    import warnings

    from silentscope.audit.health import DegenerateModelWarning

    rng = np.random.default_rng(0)
    n = 2000
    label = rng.integers(0, 2, n)
    logits = np.tile([2.0, 0.0], (n, 1)) + rng.normal(0, 0.1, (n, 2))  # always "a"
    audit = AuditSet(
        sample_id=[f"s{i}" for i in range(n)], test_set=np.where(np.arange(n) < 600, "val", "iid"),
        label=label, logits=logits, class_names=["a", "b"],
        metadata=pd.DataFrame({"device": rng.choice(["A", "B"], n)}),
    )  # fmt: skip
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DegenerateModelWarning)
        report = discover_slices(audit, n_seeds=2)
    assert report.n_slices >= 1
    # carried by the result object, not only by a Python warning: notes, text, markdown
    assert "it is degenerate" in report.notes[0]
    assert report.summary_lines()[0].startswith("warning: the failure slices describe where")
    assert report.to_markdown().startswith("**warning:** the failure slices describe where")
    # an empty table of the same classifier keeps the warning before "no slice confirmed"
    empty = replace(report, slices=report.slices.iloc[:0])
    lines = empty.summary_lines()
    assert lines[0].startswith("warning: the failure slices") and lines[1].startswith("no slice")
    healthy = discover_slices(_two_failing_devices(), modalities=["metadata"], n_seeds=2)
    assert healthy.degenerate_note() == "" and not str(healthy).startswith("warning")

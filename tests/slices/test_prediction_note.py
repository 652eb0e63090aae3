"""A slice card says which class the network reads the slice as, when it reads it as one."""

import html
from dataclasses import replace

import numpy as np
import pandas as pd

from silentscope.audit import AuditSet
from silentscope.slices import discover_slices
from silentscope.slices.notes import prediction_note


def _one_device_read_as_left(n=3000, seed=0):
    """Device A's images are read as 'left' 90% of the time: its right eyes are its errors."""
    rng = np.random.default_rng(seed)
    device = rng.choice(["A", "B", "C", "D"], n, p=[0.12, 0.3, 0.3, 0.28])
    label = rng.integers(0, 2, n)
    predicted = np.where(rng.random(n) < 0.06, 1 - label, label)
    on_a = device == "A"
    predicted[on_a] = np.where(rng.random(on_a.sum()) < 0.9, 0, label[on_a])
    # device B fails as often, in both directions: no class to name there
    on_b = (device == "B") & (rng.random(n) < 0.45)
    predicted[on_b] = 1 - label[on_b]
    logits = np.eye(2)[predicted] * rng.gamma(4.0, 0.6, n)[:, None]
    return AuditSet(
        sample_id=[f"s{i}" for i in range(n)], test_set=["iid"] * n, label=label,
        logits=logits, class_names=["left", "right"],
        metadata=pd.DataFrame({"device": device, "age": rng.integers(20, 90, n)}),
    )  # fmt: skip


def _by_device(report):
    found = {}
    for row in report.slices.to_dict("records"):
        for device in ("A", "B"):
            if f"device = {device}" in row["rule"] and row["rule_precision"] > 0.8:
                found.setdefault(device, row)
    return found


def test_a_slice_read_as_one_class_says_so_and_one_failing_both_ways_does_not():
    report = discover_slices(_one_device_read_as_left(), modalities=["metadata"], n_seeds=2)
    found = _by_device(report)
    assert set(found) == {"A", "B"}, report.slices[["rule", "error_rate"]]
    note = found["A"]["prediction"]
    assert note.startswith("the network predicts 'left' for "), note
    share = int(note.split(" for ")[1].split("%")[0])
    assert 85 <= share <= 99  # 90% read as left (and half the rest are left eyes)
    assert found["B"]["prediction"] == ""
    # every place that shows the card says it
    assert "the network predicts 'left'" in str(report)
    assert "the network predicts 'left'" in report.to_markdown()


def test_the_note_needs_a_majority_that_the_outside_does_not_share():
    predicted = np.array([0] * 70 + [1] * 30 + [0] * 60 + [1] * 40)
    inside = np.arange(200) < 100
    held = np.ones(200, bool)
    # 70% inside but 60% outside: the network predicts 'left' everywhere, not here
    assert prediction_note(predicted, inside, held, ["left", "right"]) == ""
    assert prediction_note(predicted, inside, np.zeros(200, bool), ["left", "right"]) == ""
    outside_right = np.array([0] * 70 + [1] * 30 + [0] * 20 + [1] * 80)
    note = prediction_note(outside_right, inside, held, ["left", "right"])
    assert note == "the network predicts 'left' for 70% of its held-out members (20% outside)"


def test_a_continuous_risk_gets_no_prediction_note():
    audit = _one_device_read_as_left()
    risk = np.where(np.asarray(audit.correct), 0.0, 0.6)
    report = discover_slices(replace(audit, risk=risk), modalities=["metadata"], n_seeds=2)
    assert report.n_slices >= 1
    assert (report.slices["prediction"] == "").all()


def test_the_cli_the_report_and_the_viewer_show_the_saved_note(tmp_path):
    from starlette.testclient import TestClient
    from typer.testing import CliRunner

    from silentscope.audit.store import read_artifact, save_audit
    from silentscope.cli import app
    from silentscope.report.build import build_report
    from silentscope.viewer.data import load_viewer_data
    from silentscope.viewer.prepare import prepare_store
    from silentscope.viewer.server import create_app

    store = tmp_path / "store"
    save_audit(_one_device_read_as_left(), store)
    result = CliRunner().invoke(app, ["slices", str(store), "-m", "metadata", "--seeds", "2"])
    assert result.exit_code == 0, result.output
    saved = read_artifact(store, "slices")
    (note,) = [text for text in saved["prediction"] if text]
    assert "predicted: the network predicts 'left' for " in " ".join(result.output.split())
    assert html.escape(note) in build_report(store, tmp_path / "report.html").read_text()
    prepare_store(store, method="pca")
    client = TestClient(create_app(load_viewer_data(store)), base_url="http://127.0.0.1")
    shown = [s["summary"].get("prediction") for s in client.get("/api/meta").json()["slices"]]
    assert note in shown

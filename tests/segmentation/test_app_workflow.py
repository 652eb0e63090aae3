"""The segmentation workflow end to end on tiny generated volumes: train CLI, study, demo."""

from __future__ import annotations

import json
import warnings

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from silentscope.audit.artifacts import list_artifacts, read_artifact
from silentscope.audit.health import DegenerateModelWarning
from silentscope.audit.store import load_audit
from silentscope.audit.volume_slices import SLICES_ARTIFACT
from silentscope.cli import app

runner = CliRunner()
TINY_DATA = [
    "--data-option", "size=16", "--data-option", "n_train=4",
    "--data-option", "n_val=2", "--data-option", "n_test=3",
]  # fmt: skip
FAST = ["--epochs", "2", "--width", "4", "--mc-samples", "2", "--threads", "1", "--no-progress"]


@pytest.fixture(autouse=True)
def _quiet():
    with warnings.catch_warnings():  # two epochs train a degenerate network; said, not tested here
        warnings.simplefilter("ignore", DegenerateModelWarning)
        yield


def test_train_segmentation_writes_model_history_and_a_per_volume_store(tmp_path):
    out = tmp_path / "run"
    args = [
        "train", "--task", "segmentation", "--dataset", "mni152:tissue", *TINY_DATA, *FAST,
        "--augment", "texture", "--corruption", "rician_noise", "--severity", "1",
        "--severity", "5", "--out", str(out),
    ]  # fmt: skip
    result = runner.invoke(app, args, env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    assert (out / "model.pt").is_file()
    history = pd.read_csv(out / "history.csv")
    assert len(history) == 2 and "val_dice" in history
    audit = load_audit(out / "audit")
    assert audit.task == "segmentation"
    assert audit.test_sets == ("val", "iid", "cor/rician_noise/1", "cor/rician_noise/5")
    assert audit.n_samples == 2 + 3 * 3 and ((audit.risk >= 0) & (audit.risk <= 1)).all()
    assert "msr@mean" in audit.confidences
    assert audit.provenance["augment"] == "texture"
    records = [json.loads(r) for r in audit.shift_params[audit.test_set == "cor/rician_noise/5"]]
    assert records[0]["corruption"] == "rician_noise" and records[0]["change"] > 0.5
    stack = read_artifact(out / "audit", SLICES_ARTIFACT)
    assert stack.shape == (audit.n_samples, 3, 3, 16, 16)
    # the printed table is the stored risk: Dice per test set = 1 - mean risk
    iid = 1 - audit.risk[audit.test_set == "iid"].mean()
    assert f"{iid:.3f}" in result.output
    again = runner.invoke(app, args)
    assert again.exit_code == 2 and "--resume" in again.output


@pytest.mark.slow  # two trainings and audits: about a minute on 2 idle cores
def test_segmentation_study_runs_resumes_and_writes_dice_and_csf_tables(tmp_path):
    from silentscope.study.results import write_results
    from silentscope.study.runner import run_study
    from silentscope.study.spec import parse_study

    spec = parse_study(
        {
            "name": "seg",
            "task": "segmentation",
            "datasets": [
                {
                    "name": "mni152:tissue",
                    "options": {"size": 16, "n_train": 4, "n_val": 2, "n_test": 3, "seed": 0},
                    "corruptions": ["ghosting"],
                    "severities": [5],
                }
            ],
            "objectives": ["baseline"],
            "seeds": [0, 1],
            "train": {"epochs": 1, "mc_samples": 0, "options": {"width": 4}},
            "evaluation": {"bootstrap": 20},
        }
    )
    out = tmp_path / "study"
    first = run_study(spec, out, live=False)
    assert [o.status for o in first.outcomes] == ["done", "done"]
    again = run_study(spec, out, live=False)  # resumable: nothing is trained twice
    assert [o.status for o in again.outcomes] == ["skipped", "skipped"]
    written = write_results(out)
    dice = pd.read_csv(written["segmentation_dice"])
    assert set(dice["test_set"]) == {"iid", "cor/ghosting/5"}
    assert (dice["n_seeds"] == 2).all() and (dice["n_volumes"] == 3).all()
    assert (dice["ci_low"] <= dice["value"]).all() and (dice["value"] <= dice["ci_high"]).all()
    aurc = pd.read_csv(written["segmentation_aurc"])
    assert {"iid", "cor (pooled)"} <= set(aurc["group"]) and "msr@mean" in set(aurc["csf"])
    store = out / "runs" / "mni152-tissue__baseline__seed0" / "audit"
    assert SLICES_ARTIFACT in list_artifacts(store)
    long = pd.read_csv(out / "results" / "evaluation_long.csv")
    assert set(long["metric"]) <= {"aurc", "augrc", "e_aurc", "e_augrc"}
    # the rank resampling judges CSFs on the same continuous risk as evaluate (not risk == 0)
    from silentscope.study.ranking import study_rankings
    from silentscope.study.results import combined_results

    ranking = study_rankings([out], combined_results([out]), ["aurc"], False, 50, 0)["aurc"]
    assert ranking.check < 1e-9


@pytest.mark.slow  # the whole demo, tiny: two trainings, audits, tables and the report
def test_the_demo_quick_path_prints_dice_and_the_aurc_table(tmp_path):
    out = tmp_path / "demo"
    result = runner.invoke(
        app,
        ["demo", "--task", "segmentation", "--quick", "--out", str(out)],
        env={"COLUMNS": "240"},
    )
    assert result.exit_code == 0, result.output
    text = " ".join(result.output.split())
    assert "Dice per test set" in text and "AURC x1000" in text
    assert "cor/rician_noise/5" in text and "msr@mean" in text
    assert (out / "report.html").is_file()
    assert "Segmentation: Dice per test set and severity" in (out / "report.html").read_text()
    assert np.isfinite(pd.read_csv(out / "results" / "segmentation_dice.csv")["value"]).all()

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import pandas as pd
import pytest

from silentscope.study.results import collect_results, failed_runs, summary_table, write_results
from silentscope.study.runner import run_study
from silentscope.study.spec import ExecutorSpec, load_study, parse_study
from tests.support.studies import store_study


def test_study_over_stores_writes_results(tmp_path):
    spec = parse_study(store_study(tmp_path, bootstrap=50))
    outcome = run_study(spec, tmp_path / "study", live=False)
    assert [o.status for o in outcome.outcomes] == ["done"] * 3
    long = collect_results(tmp_path / "study")
    assert set(long["dataset"]) == {"model0", "model1", "model2"}
    table = summary_table(long, "aurc")
    assert set(table.columns.get_level_values(1)) == {"iid", "cor", "acq"}
    # the cor cell is the mean over corruption test sets of the per-test-set values
    rows = long[(long.metric == "aurc") & (long.csf == "MSR") & (long.dataset == "model0")]
    expected = rows[rows.test_set.str.match(r"^cor/")]["value"].mean()
    assert table.loc["MSR", ("model0", "cor", "mean")] == pytest.approx(expected)
    written = write_results(tmp_path / "study")
    assert (tmp_path / "study" / "results" / "summary_aurc.tex").read_text().count("\\textbf") == 9
    assert written["long_csv"].is_file()


def test_failing_run_is_recorded_and_others_finish(tmp_path):
    raw = store_study(tmp_path, n_stores=2)
    raw["datasets"].append({"name": "store", "label": "broken", "store": str(tmp_path / "missing")})
    outcome = run_study(parse_study(raw), tmp_path / "study", live=False)
    assert [o.status for o in outcome.outcomes] == ["done", "done", "failed"]
    failures = failed_runs(tmp_path / "study")
    assert "no audit store" in failures["broken__store__seed0"]
    assert "traceback" in json.loads(
        (tmp_path / "study" / "failed" / "broken__store__seed0.json").read_text()
    )


def test_resume_skips_finished_runs_and_redoes_half_written(tmp_path):
    spec = parse_study(store_study(tmp_path))
    study = tmp_path / "study"
    run_study(spec, study, live=False)
    record = study / "runs" / "model0__store__seed0" / "run.json"
    first_mtime = record.stat().st_mtime_ns
    # simulate a crash: one run half-written (only its temp folder), one run missing
    shutil_target = study / "runs" / "model2__store__seed0"
    os.rename(shutil_target, study / "runs" / ".model2__store__seed0.tmp-deadbeef")
    (study / "runs" / ".model2__store__seed0.tmp-deadbeef" / "run.json").unlink()
    outcome = run_study(spec, study, live=False)
    statuses = {o.run_id: o.status for o in outcome.outcomes}
    assert statuses == {
        "model0__store__seed0": "skipped",
        "model1__store__seed0": "skipped",
        "model2__store__seed0": "done",
    }
    assert record.stat().st_mtime_ns == first_mtime
    assert not [p for p in (study / "runs").iterdir() if p.name.startswith(".")]


def test_changed_spec_is_not_resumed_silently(tmp_path):
    raw = store_study(tmp_path, n_stores=1)
    run_study(parse_study(raw), tmp_path / "study", live=False)
    raw["csfs"] = ["MSR"]
    with pytest.raises(ValueError, match="different study specification"):
        run_study(parse_study(raw), tmp_path / "study", live=False)
    outcome = run_study(parse_study(raw), tmp_path / "study", live=False, restart=True)
    assert outcome.outcomes[0].status == "done"


def test_killed_study_resumes(tmp_path):
    raw = store_study(tmp_path, n_stores=6, bootstrap=300)
    study_file = tmp_path / "study.yaml"
    import yaml

    study_file.write_text(yaml.safe_dump(raw))
    study = tmp_path / "study"
    command = [
        sys.executable,
        "-m",
        "silentscope",
        "study",
        "run",
        str(study_file),
        "--out",
        str(study),
    ]
    process = subprocess.Popen(
        command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True
    )
    deadline = time.time() + 120
    while time.time() < deadline and not list((study / "runs").glob("*/run.json")):
        time.sleep(0.05)
    os.killpg(process.pid, signal.SIGKILL)
    process.wait()
    finished_before = {
        p.parent.name: p.stat().st_mtime_ns for p in (study / "runs").glob("*/run.json")
    }
    assert 1 <= len(finished_before) < 6, "the kill should land in the middle of the study"
    outcome = run_study(load_study(study_file), study, live=False)
    assert all(o.status in ("done", "skipped") for o in outcome.outcomes)
    assert {o.run_id for o in outcome.outcomes if o.status == "skipped"} == set(finished_before)
    for run_id, mtime in finished_before.items():
        assert (study / "runs" / run_id / "run.json").stat().st_mtime_ns == mtime
    assert len(collect_results(study)["dataset"].unique()) == 6


def test_parallel_local_executor(tmp_path):
    spec = parse_study(store_study(tmp_path, n_stores=2, workers=2))
    outcome = run_study(spec, tmp_path / "study", live=False)
    assert [o.status for o in outcome.outcomes] == ["done", "done"]


def test_ray_executor_runs_a_small_study(tmp_path):
    pytest.importorskip("ray", reason="ray is not installed (pip install 'ray[default]')")
    spec = parse_study(store_study(tmp_path, n_stores=2))
    outcome = run_study(
        spec, tmp_path / "study", executor=ExecutorSpec(kind="ray", workers=2), live=False
    )
    assert [o.status for o in outcome.outcomes] == ["done", "done"]
    long = collect_results(tmp_path / "study")
    local = parse_study(store_study(tmp_path / "again", n_stores=2))
    run_study(local, tmp_path / "local", live=False)
    pd.testing.assert_frame_equal(
        long.sort_values(list(long.columns[:6])).reset_index(drop=True),
        collect_results(tmp_path / "local")
        .sort_values(list(long.columns[:6]))
        .reset_index(drop=True),
    )


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ({"name": "x"}, "datasets: Field required"),
        (
            {"name": "x", "datasets": [{"name": "synthetic", "severties": [1]}]},
            "datasets.0.severties: unknown key",
        ),
        (
            {"name": "x", "datasets": [{"name": "synthetic", "severities": [0, 6]}]},
            "severities must be between 1 and 5",
        ),
        ({"name": "a b", "datasets": [{"name": "synthetic"}]}, "name: may only hold"),
        (
            {"name": "x", "datasets": [{"name": "s"}], "executor": {"kind": "slurm"}},
            "executor.kind",
        ),
    ],
)
def test_spec_errors_are_one_sentence(raw, message):
    with pytest.raises(ValueError, match=message):
        parse_study(raw)

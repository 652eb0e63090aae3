"""A study stops whole (its workers die with it) and its runs fail alone (a dead worker
is retried, then recorded in failed/), tested by SIGKILL of real processes."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time

import psutil
import pytest
import yaml

from silentscope.study.results import failed_runs
from silentscope.study.runner import run_study
from silentscope.study.runs import RunLocks, progress_file
from silentscope.study.spec import load_study, parse_study
from tests.support.studies import store_study


def _hidden(study):
    """Temporary folders, progress and lock files left in runs/."""
    return sorted(p.name for p in (study / "runs").iterdir() if p.name.startswith("."))


def _worker_pid(study, run_id):
    try:
        return json.loads(progress_file(study, run_id).read_text())["pid"]
    except (OSError, ValueError, KeyError):
        return None


def test_killing_the_parent_stops_its_workers_and_a_rerun_resumes(tmp_path):
    raw = store_study(tmp_path, n_stores=2, bootstrap=1000, workers=2)
    study_file = tmp_path / "study.yaml"
    study_file.write_text(yaml.safe_dump(raw))
    study = tmp_path / "study"
    parent = subprocess.Popen(
        [sys.executable, "-m", "silentscope", "study", "run", str(study_file), "--out", str(study)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,  # its own group: the test can clean up whatever happens
    )
    try:
        deadline = time.time() + 120
        while time.time() < deadline and len(list(study.glob("runs/.*.progress"))) < 2:
            time.sleep(0.05)
        assert len(list(study.glob("runs/.*.progress"))) == 2, "both workers should be running"
        children = psutil.Process(parent.pid).children(recursive=True)
        assert len(children) >= 2
        os.kill(parent.pid, signal.SIGKILL)  # the parent only, as the OOM killer would
        parent.wait()
        _, alive = psutil.wait_procs(children, timeout=5)
        assert not alive, f"survived their parent: {[p.cmdline()[-2:] for p in alive]}"
    finally:
        if parent.poll() is None:
            os.killpg(parent.pid, signal.SIGKILL)
    # the dead study's run locks are stale: a rerun takes them over and finishes cleanly
    outcome = run_study(load_study(study_file), study, live=False)
    assert all(o.status in ("done", "skipped") for o in outcome.outcomes)
    assert _hidden(study) == []
    assert failed_runs(study) == {}


def test_a_killed_worker_is_retried_then_recorded_while_others_finish(tmp_path):
    raw = store_study(tmp_path, n_stores=3, bootstrap=500, workers=2, retries=1)
    spec = parse_study(raw)
    study = tmp_path / "study"
    once, always = "model0__store__seed0", "model1__store__seed0"
    kills = {once: [], always: []}
    stop = threading.Event()

    def killer():  # kill model0's worker once and model1's every time it starts
        while not stop.is_set():
            for run_id, killed in kills.items():
                pid = _worker_pid(study, run_id)
                if pid and pid not in killed and (run_id == always or not killed):
                    os.kill(pid, signal.SIGKILL)
                    killed.append(pid)
            time.sleep(0.01)

    thread = threading.Thread(target=killer, daemon=True)
    thread.start()
    try:
        outcome = run_study(spec, study, live=False)
    finally:
        stop.set()
        thread.join()
    statuses = {o.run_id: o.status for o in outcome.outcomes}
    assert statuses == {once: "done", always: "failed", "model2__store__seed0": "done"}
    assert len(kills[once]) == 1 and len(kills[always]) == 2  # retried once, then given up
    failure = json.loads((study / "failed" / f"{always}.json").read_text())
    assert failure["attempts"] == 2
    assert failure["error"].startswith("WorkerDied:") and "SIGKILL" in failure["error"]
    assert _hidden(study) == []  # the dead workers' temporary folders are gone
    # a rerun does only the failed run
    again = run_study(spec, study, live=False)
    assert {o.run_id: o.status for o in again.outcomes} == {
        once: "skipped",
        always: "done",
        "model2__store__seed0": "skipped",
    }
    assert failed_runs(study) == {}


def test_a_run_locked_by_a_live_process_is_left_to_it(tmp_path):
    spec = parse_study(store_study(tmp_path, n_stores=2))
    study = tmp_path / "study"
    other = RunLocks(study)  # another open file description: as another process would
    assert other.acquire("model0__store__seed0") is None
    outcome = run_study(spec, study, live=False)
    busy = {o.run_id: o for o in outcome.outcomes}["model0__store__seed0"]
    assert busy.status == "busy"
    assert f"being run by pid {os.getpid()}" in busy.error
    assert [o.run_id for o in outcome.done] == ["model1__store__seed0"]
    assert not (study / "runs" / "model0__store__seed0").exists()
    with pytest.raises(ValueError, match=r"cannot --restart .* stop that process first"):
        run_study(spec, study, live=False, restart=True)
    other.release_all()
    again = run_study(spec, study, live=False)
    assert [o.status for o in again.outcomes] == ["done", "skipped"]


def test_the_lock_of_a_killed_process_is_taken_over(tmp_path):
    spec = parse_study(store_study(tmp_path, n_stores=1))
    study = tmp_path / "study"
    code = (
        "import sys, time; from silentscope.study.runs import RunLocks; "
        f"assert RunLocks({str(study)!r}).acquire('model0__store__seed0') is None; "
        "print('locked', flush=True); time.sleep(60)"
    )
    holder = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    assert holder.stdout.readline().strip() == "locked"
    blocked = run_study(spec, study, live=False)
    assert blocked.outcomes[0].status == "busy"
    assert f"pid {holder.pid}" in blocked.outcomes[0].error
    holder.kill()
    holder.wait()
    outcome = run_study(spec, study, live=False)
    assert outcome.outcomes[0].status == "done"
    assert _hidden(study) == []

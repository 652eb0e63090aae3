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
    attempts = {o.run_id: o.attempts for o in outcome.outcomes}
    assert attempts == {once: 2, always: 2, "model2__store__seed0": 1}
    recorded = json.loads((study / "outcome.json").read_text())
    assert [o["attempts"] for o in recorded] == [2, 2, 1]
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


@pytest.mark.slow  # a local Ray cluster starts in ~25 s on a loaded 2-core machine
def test_a_killed_ray_worker_fails_its_run_alone(tmp_path):
    pytest.importorskip("ray", reason="ray is not installed (pip install 'ray[default]')")
    raw = store_study(tmp_path, n_stores=2, bootstrap=1000, kind="ray", workers=2, retries=1)
    study = tmp_path / "study"
    victim = "model1__store__seed0"
    killed = []
    stop = threading.Event()

    def killer():  # kill -9 the Ray worker running the victim, every attempt
        while not stop.is_set():
            pid = _worker_pid(study, victim)
            if pid and pid not in killed:
                os.kill(pid, signal.SIGKILL)
                killed.append(pid)
            time.sleep(0.01)

    thread = threading.Thread(target=killer, daemon=True)
    thread.start()
    try:
        outcome = run_study(parse_study(raw), study, live=False)
    finally:
        stop.set()
        thread.join()
    statuses = {o.run_id: o.status for o in outcome.outcomes}
    assert statuses == {"model0__store__seed0": "done", victim: "failed"}
    assert len(killed) == 2  # Ray started it again once (retries=1)
    failure = json.loads((study / "failed" / f"{victim}.json").read_text())
    assert failure["error"].startswith("WorkerDied:") and "WorkerCrashedError" in failure["error"]
    assert _hidden(study) == []


_CONNECT = """
import sys
from pathlib import Path
from silentscope.study.runner import run_study
from silentscope.study.spec import ExecutorSpec, parse_study
from tests.support.studies import store_study
out, address = Path(sys.argv[1]), sys.argv[2]
spec = parse_study(store_study(out, n_stores=1))
try:
    outcome = run_study(spec, out / "study", executor=ExecutorSpec(kind="ray", address=address))
    print("STATUS", outcome.outcomes[0].status)
except ValueError as error:
    print("ERROR", error)
"""


@pytest.mark.slow  # a Ray head and two drivers: about a minute here
def test_a_study_connects_to_a_plainly_started_ray_head(tmp_path):
    pytest.importorskip("ray", reason="ray is not installed (pip install 'ray[default]')")
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = {k: v for k, v in os.environ.items() if not k.startswith("RAY_")}
    env["PYTHONPATH"] = os.pathsep.join([os.getcwd(), *sys.path])
    # started plainly: with a token file (~/.ray/auth_token or RAY_AUTH_TOKEN_PATH), Ray
    # turns token authentication on, and an explicit address used to send no token
    token = tmp_path / "auth_token"
    token.write_text("a" * 32)
    env["RAY_AUTH_TOKEN_PATH"] = str(token)
    head = subprocess.Popen(
        [
            *(sys.executable, "-m", "ray.scripts.scripts", "start", "--head", "--block"),
            *(f"--port={port}", "--num-cpus=1", "--include-dashboard=false"),
        ],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        address = f"127.0.0.1:{port}"

        def connect(name, **changes):
            result = subprocess.run(
                [sys.executable, "-c", _CONNECT, str(tmp_path / name), address],
                env={**env, **changes},
                capture_output=True,
                text=True,
                timeout=240,
            )
            lines = [
                line for line in result.stdout.splitlines() if line[:6] in ("STATUS", "ERROR ")
            ]
            return lines[-1] if lines else result.stdout[-500:] + result.stderr[-2000:]

        deadline = time.time() + 90
        while time.time() < deadline and "STATUS" not in (answer := connect("right")):
            time.sleep(2)  # the head may still be starting
        assert answer == "STATUS done"
        wrong = tmp_path / "wrong_token"
        wrong.write_text("b" * 32)
        answer = connect("wrong", RAY_AUTH_TOKEN_PATH=str(wrong))
        assert answer.startswith(f"ERROR the Ray cluster at {address} refused this study's")
        assert "set RAY_AUTH_MODE=token and RAY_AUTH_TOKEN" in answer
    finally:
        os.killpg(head.pid, signal.SIGTERM)
        try:
            head.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(head.pid, signal.SIGKILL)

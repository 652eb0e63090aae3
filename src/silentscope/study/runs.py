"""One run of a study, executed in a worker: written atomically, failures recorded.

A run's folder ``runs/<run_id>/`` appears only when the run has finished: the work happens
in a hidden temporary folder that is renamed at the end. A resumed study therefore never
trusts a half-written run; it simply does it again.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import time
import traceback
import uuid
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from silentscope.study.spec import RunSpec, StudySpec

RUNS = "runs"
FAILED = "failed"
RUN_RECORD = "run.json"


@dataclass
class RunOutcome:
    """What happened to one run."""

    run_id: str
    status: str  # "done", "failed", "skipped" (already done) or "busy" (another process's)
    seconds: float = 0.0
    error: str | None = None
    folder: str | None = None
    #: Set when the run's classifier is degenerate (the reason), as its run.json records.
    warning: str | None = None
    #: Worker processes started for the run, where the executor counts them (local pool:
    #: more than 1 when a worker died and the run was started again); None where it does
    #: not (in-process, or Ray, which retries inside itself).
    attempts: int | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class ProgressWriter:
    """Reports a run's stage to the driver through a small file it polls.

    Files work the same for local processes and for Ray workers on a shared filesystem.
    They also name the worker's process (pid, host), to find the one running a run.
    """

    def __init__(self, path: Path):
        self.path = path

    def __call__(self, stage: str, fraction: float | None = None) -> None:
        tmp = self.path.with_name(self.path.name + ".tmp")
        state = {"stage": stage, "fraction": fraction, "time": time.time()}
        state.update(pid=os.getpid(), host=socket.gethostname())
        tmp.write_text(json.dumps(state))
        os.replace(tmp, self.path)


def run_folder(study_dir: Path, run_id: str) -> Path:
    return study_dir / RUNS / run_id


def progress_file(study_dir: Path, run_id: str) -> Path:
    return study_dir / RUNS / f".{run_id}.progress"


def is_done(study_dir: Path, run: RunSpec) -> bool:
    """Whether the run finished with the same specification (fingerprint)."""
    record = run_folder(study_dir, run.run_id) / RUN_RECORD
    if not record.is_file():
        return False
    data = json.loads(record.read_text())
    if data.get("fingerprint") != run.fingerprint():
        raise ValueError(
            f"run {run.run_id} in {study_dir} was made with a different study specification; "
            "use a new output folder, or --restart to discard the old runs"
        )
    return data.get("status") == "done"


def execute_run(run_json: str, study_dir: str) -> dict[str, Any]:
    """Execute one run (in any process); never raises, returns a :class:`RunOutcome` dict."""
    from silentscope.study.pipelines import run_pipeline

    run = RunSpec.model_validate_json(run_json)
    study = Path(study_dir)
    final = run_folder(study, run.run_id)
    tmp = study / RUNS / f".{run.run_id}.tmp-{uuid.uuid4().hex[:8]}"
    tmp.mkdir(parents=True)
    progress = ProgressWriter(progress_file(study, run.run_id))
    start = time.perf_counter()
    try:
        progress("starting")
        details = run_pipeline(run, tmp, progress)
        seconds = time.perf_counter() - start
        record = {
            "run_id": run.run_id,
            "status": "done",
            "fingerprint": run.fingerprint(),
            "seconds": round(seconds, 2),
            "dataset": run.dataset.key,
            "objective": run.objective,
            "seed": run.seed,
            "details": details,
        }
        (tmp / RUN_RECORD).write_text(json.dumps(record, indent=2, default=str))
        if final.exists():  # an older, unfinished-by-spec run of the same id
            shutil.rmtree(final)
        os.replace(tmp, final)
        _clear_failure(study, run.run_id)
        return RunOutcome(
            run.run_id, "done", seconds, folder=str(final), warning=degenerate_warning(record)
        ).to_dict()
    except BaseException as error:  # a failing run must not stop the others
        seconds = time.perf_counter() - start
        message = f"{type(error).__name__}: {error}"
        record_failure(study, run.run_id, message, seconds, traceback=traceback.format_exc())
        if isinstance(error, KeyboardInterrupt):
            raise
        return RunOutcome(run.run_id, "failed", seconds, error=message).to_dict()
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
        progress_file(study, run.run_id).unlink(missing_ok=True)


def degenerate_warning(record: dict[str, Any]) -> str | None:
    """A run record's degenerate-classifier verdicts as one sentence, or None.

    Examples
    --------
    >>> degenerate_warning({"details": {"health": {"small": {"degenerate": True,
    ...     "reason": "predicts only 'a' for all 9 val samples"}}}})
    "degenerate classifier (small): predicts only 'a' for all 9 val samples"
    """
    health = record.get("details", {}).get("health") or {}
    reasons = [
        f"degenerate classifier ({dataset}): {verdict['reason']}"
        for dataset, verdict in health.items()
        if verdict.get("degenerate")
    ]
    return "; ".join(reasons) or None


def record_failure(
    study: Path,
    run_id: str,
    error: str,
    seconds: float,
    *,
    traceback: str | None = None,
    attempts: int = 1,
) -> None:
    """Write ``failed/<run_id>.json``: the reason a run failed, read by ``failed_runs``."""
    failure = study / FAILED / f"{run_id}.json"
    failure.parent.mkdir(exist_ok=True)
    record = {"run_id": run_id, "error": error, "traceback": traceback}
    record.update(seconds=round(seconds, 2), attempts=attempts)
    failure.write_text(json.dumps(record, indent=2))


def _clear_failure(study: Path, run_id: str) -> None:
    (study / FAILED / f"{run_id}.json").unlink(missing_ok=True)


def _owner(name: str) -> str | None:
    """The run id a hidden temporary item of ``runs/`` belongs to, or None."""
    if not name.startswith("."):
        return None
    for marker in (".tmp-", ".progress"):
        if marker in name:
            return name[1:].split(marker)[0]
    return None


def clean_stale(study_dir: Path, run_ids: set[str] | None = None) -> None:
    """Remove temporary run folders and progress files left by an interrupted study.

    With ``run_ids``, only those runs' leftovers (the runs this process holds the locks of):
    another live process running the same study keeps its temporary folders.
    """
    runs = study_dir / RUNS
    if not runs.is_dir():
        return
    for item in runs.iterdir():
        owner = _owner(item.name)
        if owner is None or (run_ids is not None and owner not in run_ids):
            continue
        if item.is_dir():
            shutil.rmtree(item, ignore_errors=True)
        else:
            item.unlink(missing_ok=True)


class RunLocks:
    """The runs this process is running, locked against a second study process.

    Each run has a lock file ``runs/.<run_id>.lock`` that names its holder (pid, host).
    The lock is an ``flock`` on that file, which the kernel drops when the holder dies
    however it dies (even SIGKILL): the lock of a killed study is stale at once and is
    simply taken over, with no pid guessing and no race between two takers.

    Examples
    --------
    >>> import tempfile
    >>> study = Path(tempfile.mkdtemp())
    >>> first, second = RunLocks(study), RunLocks(study)
    >>> first.acquire("a") is None
    True
    >>> second.acquire("a").startswith("being run by pid")
    True
    >>> first.release_all(); second.acquire("a") is None
    True
    >>> second.release_all()
    """

    def __init__(self, study_dir: Path):
        self.folder = Path(study_dir) / RUNS
        self.held: dict[str, int] = {}

    def path(self, run_id: str) -> Path:
        return self.folder / f".{run_id}.lock"

    def acquire(self, run_id: str) -> str | None:
        """Lock the run for this process; None if locked, else who holds it (a sentence)."""
        try:
            import fcntl
        except ImportError:  # Windows has no flock: runs are not guarded there
            return None

        self.folder.mkdir(parents=True, exist_ok=True)
        path = self.path(run_id)
        while True:
            fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                os.close(fd)
                return f"being run by {self.holder(run_id)}"
            # the holder may have released and removed the file between our open and lock
            try:
                same = os.fstat(fd).st_ino == os.stat(path).st_ino
            except FileNotFoundError:
                same = False
            if same:
                break
            os.close(fd)
        holder = {"pid": os.getpid(), "host": socket.gethostname(), "since": time.time()}
        os.ftruncate(fd, 0)
        os.write(fd, json.dumps(holder).encode())
        self.held[run_id] = fd
        return None

    def holder(self, run_id: str) -> str:
        """Who holds a run's lock, as written in its lock file."""
        try:
            data = json.loads(self.path(run_id).read_text())
            since = time.strftime("%H:%M:%S", time.localtime(data["since"]))
            return f"pid {data['pid']} on {data['host']} (since {since})"
        except (OSError, ValueError, KeyError, TypeError):
            return f"another process (lock file {self.path(run_id)})"

    def release(self, run_id: str) -> None:
        fd = self.held.pop(run_id, None)
        if fd is not None:
            self.path(run_id).unlink(missing_ok=True)  # unlink first: see acquire's check
            os.close(fd)

    def release_all(self) -> None:
        for run_id in list(self.held):
            self.release(run_id)


def remove_leftovers(study_dir: Path, run_id: str) -> None:
    """Remove one run's temporary folders and progress file (after its worker died)."""
    clean_stale(Path(study_dir), {run_id})


def write_study_spec(study_dir: Path, spec: StudySpec) -> None:
    study_dir.mkdir(parents=True, exist_ok=True)
    (study_dir / "study.json").write_text(spec.model_dump_json(indent=2))

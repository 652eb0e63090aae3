"""One run of a study, executed in a worker: written atomically, failures recorded.

A run's folder ``runs/<run_id>/`` appears only when the run has finished: the work happens
in a hidden temporary folder that is renamed at the end. A resumed study therefore never
trusts a half-written run; it simply does it again.
"""

from __future__ import annotations

import json
import os
import shutil
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
    status: str  # "done", "failed" or "skipped" (already done)
    seconds: float = 0.0
    error: str | None = None
    folder: str | None = None
    #: Set when the run's classifier is degenerate (the reason), as its run.json records.
    warning: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class ProgressWriter:
    """Reports a run's stage to the driver through a small file it polls.

    Files work the same for local processes and for Ray workers on a shared filesystem.
    """

    def __init__(self, path: Path):
        self.path = path

    def __call__(self, stage: str, fraction: float | None = None) -> None:
        tmp = self.path.with_name(self.path.name + ".tmp")
        tmp.write_text(json.dumps({"stage": stage, "fraction": fraction, "time": time.time()}))
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
        failure = study / FAILED / f"{run.run_id}.json"
        failure.parent.mkdir(exist_ok=True)
        failure.write_text(
            json.dumps(
                {
                    "run_id": run.run_id,
                    "error": f"{type(error).__name__}: {error}",
                    "traceback": traceback.format_exc(),
                    "seconds": round(seconds, 2),
                },
                indent=2,
            )
        )
        if isinstance(error, KeyboardInterrupt):
            raise
        return RunOutcome(
            run.run_id, "failed", seconds, error=f"{type(error).__name__}: {error}"
        ).to_dict()
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


def _clear_failure(study: Path, run_id: str) -> None:
    (study / FAILED / f"{run_id}.json").unlink(missing_ok=True)


def clean_stale(study_dir: Path) -> None:
    """Remove temporary run folders and progress files left by an interrupted study."""
    runs = study_dir / RUNS
    if not runs.is_dir():
        return
    for item in runs.iterdir():
        if item.name.startswith(".") and ".tmp-" in item.name:
            shutil.rmtree(item, ignore_errors=True)
        elif item.name.endswith(".progress") or item.name.endswith(".progress.tmp"):
            item.unlink(missing_ok=True)


def write_study_spec(study_dir: Path, spec: StudySpec) -> None:
    study_dir.mkdir(parents=True, exist_ok=True)
    (study_dir / "study.json").write_text(spec.model_dump_json(indent=2))

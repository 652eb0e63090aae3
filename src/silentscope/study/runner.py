"""Run a study: plan the grid, skip finished runs, execute the rest, show live progress."""

from __future__ import annotations

import json
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path

from rich.console import Console, Group
from rich.live import Live
from rich.table import Table

from silentscope.preflight import check_study
from silentscope.study.executors import EXECUTORS
from silentscope.study.runs import (
    FAILED,
    RUN_RECORD,
    RUNS,
    RunLocks,
    RunOutcome,
    clean_stale,
    degenerate_warning,
    is_done,
    progress_file,
    write_study_spec,
)
from silentscope.study.spec import ExecutorSpec, StudySpec
from silentscope.study.training_run import corruption_notes


@dataclass
class StudyOutcome:
    """The outcome of every run of a study, in grid order."""

    study_dir: Path
    outcomes: list[RunOutcome] = field(default_factory=list)

    @property
    def failed(self) -> list[RunOutcome]:
        return [o for o in self.outcomes if o.status == "failed"]

    @property
    def busy(self) -> list[RunOutcome]:
        """Runs left to another live process running the same study."""
        return [o for o in self.outcomes if o.status == "busy"]

    @property
    def done(self) -> list[RunOutcome]:
        return [o for o in self.outcomes if o.status in ("done", "skipped")]


def run_study(
    spec: StudySpec,
    study_dir: str | Path,
    *,
    executor: ExecutorSpec | None = None,
    restart: bool = False,
    console: Console | None = None,
    live: bool = True,
) -> StudyOutcome:
    """Execute every run of ``spec`` that is not finished yet, writing into ``study_dir``.

    A study interrupted at any point resumes where it stopped: finished runs (same
    specification) are skipped, half-written ones are redone, failed ones are retried.
    A failing run is recorded in ``failed/<run_id>.json`` and does not stop the others.
    A run that another live process is running (its lock in ``runs/.<run_id>.lock``) is
    left to it and reported ``busy``; the locks of a killed study are taken over.
    """
    check_study(spec)  # a typo fails here, once, before any run starts
    console = console or Console()
    # corruptions that would not change this data's images: said (or refused) before training
    for note in corruption_notes(spec):
        console.print(f"[yellow]warning:[/] {note}", soft_wrap=True, highlight=False)
    study_dir = Path(study_dir)
    locks = RunLocks(study_dir)
    try:
        return _run_locked(spec, study_dir, locks, executor, restart, console, live)
    finally:
        locks.release_all()


def _run_locked(
    spec: StudySpec,
    study_dir: Path,
    locks: RunLocks,
    executor: ExecutorSpec | None,
    restart: bool,
    console: Console,
    live: bool,
) -> StudyOutcome:
    runs = spec.runs()
    if restart and study_dir.exists():
        for run in runs:
            if holder := locks.acquire(run.run_id):
                raise ValueError(
                    f"cannot --restart {study_dir}: run {run.run_id} is {holder}; "
                    "stop that process first"
                )
        locks.release_all()
        for sub in (RUNS, FAILED):
            shutil.rmtree(study_dir / sub, ignore_errors=True)
    write_study_spec(study_dir, spec)
    (study_dir / RUNS).mkdir(exist_ok=True)
    outcomes = {run.run_id: RunOutcome(run.run_id, "pending") for run in runs}
    todo = []
    for run in runs:
        if is_done(study_dir, run):
            folder = study_dir / RUNS / run.run_id
            record = json.loads((folder / RUN_RECORD).read_text())
            outcomes[run.run_id] = RunOutcome(
                run.run_id, "skipped", folder=str(folder), warning=degenerate_warning(record)
            )
        elif holder := locks.acquire(run.run_id):
            outcomes[run.run_id] = RunOutcome(run.run_id, "busy", error=holder)
            console.print(f"[yellow]{run.run_id} is {holder}: left to it[/]", highlight=False)
        else:
            todo.append(run)
    clean_stale(study_dir, set(locks.held))  # only the leftovers of runs this process holds
    started = time.time()

    def on_done(result: dict) -> None:
        outcomes[result["run_id"]] = RunOutcome(**result)

    view = _ProgressView(study_dir, outcomes, started)
    executor = executor or spec.executor
    run_executor = EXECUTORS[executor.kind]
    # Deep-ensemble runs combine finished training runs, so they go in a second phase.
    phases = [[r for r in todo if not r.members], [r for r in todo if r.members]]
    if live and console.is_terminal:
        with Live(view.render(), console=console, refresh_per_second=2, transient=False) as display:
            for phase in phases:
                if phase:
                    run_executor(
                        phase,
                        str(study_dir),
                        executor,
                        on_done,
                        lambda: display.update(view.render()),
                    )
            display.update(view.render())
    else:
        total = len(todo)

        def log_done(result: dict) -> None:
            on_done(result)
            finished = sum(1 for r in todo if outcomes[r.run_id].status in ("done", "failed"))
            console.print(
                f"[{finished}/{total}] {result['run_id']}: {result['status']} ({result['seconds']:.1f} s)"
            )
            if result.get("error"):
                console.print(f"    [red]{result['error']}[/]")
            elif (result.get("attempts") or 1) > 1:
                console.print(
                    f"    [yellow]finished on attempt {result['attempts']}: "
                    "the worker of the earlier attempt(s) died[/]"
                )
            if result.get("warning"):
                console.print(f"    [yellow]warning: {result['warning']}[/]", highlight=False)

        for phase in phases:
            if phase:
                run_executor(phase, str(study_dir), executor, log_done, lambda: None)
    outcome = StudyOutcome(study_dir, [outcomes[run.run_id] for run in runs])
    (study_dir / "outcome.json").write_text(
        json.dumps([o.to_dict() for o in outcome.outcomes], indent=2)
    )
    if live and console.is_terminal:  # the live table ends with the run; say it once more
        for o in outcome.outcomes:
            if o.warning:
                console.print(f"[yellow]warning: {o.run_id}: {o.warning}[/]", highlight=False)
    return outcome


class _ProgressView:
    """A live table: runs done / running / failed, and each running run's stage."""

    def __init__(self, study_dir: Path, outcomes: dict[str, RunOutcome], started: float):
        self.study_dir = study_dir
        self.outcomes = outcomes
        self.started = started

    def render(self) -> Group:
        counts = {"done": 0, "skipped": 0, "failed": 0, "pending": 0}
        for outcome in self.outcomes.values():
            counts[outcome.status] = counts.get(outcome.status, 0) + 1
        table = Table(show_header=True, header_style="bold", expand=False)
        table.add_column("run")
        table.add_column("status")
        table.add_column("detail", overflow="fold")
        for run_id, outcome in self.outcomes.items():
            detail = ""
            status = outcome.status
            if status == "pending":
                stage = self._stage(run_id)
                if stage:
                    status, detail = "[cyan]running[/]", stage
            elif status == "failed":
                status, detail = "[red]failed[/]", outcome.error or ""
            elif status == "busy":
                status, detail = "[yellow]busy[/]", outcome.error or ""
            elif status == "done":
                status, detail = "[green]done[/]", f"{outcome.seconds:.1f} s"
                if (outcome.attempts or 1) > 1:
                    detail += f" (attempt {outcome.attempts}: earlier workers died)"
            elif status == "skipped":
                status, detail = "[green]done[/]", "(earlier)"
            if outcome.warning:
                status, detail = "[yellow]degenerate[/]", f"{detail}; {outcome.warning}"
            table.add_row(run_id, status, detail)
        elapsed = time.time() - self.started
        header = (
            f"[bold]study[/] {self.study_dir}  done {counts['done'] + counts['skipped']}  "
            f"failed {counts['failed']}  to do {counts['pending']}  elapsed {elapsed:.0f} s"
        )
        return Group(header, table)

    def _stage(self, run_id: str) -> str | None:
        path = progress_file(self.study_dir, run_id)
        try:
            data = json.loads(path.read_text())
        except (OSError, ValueError):
            return None
        fraction = data.get("fraction")
        return data["stage"] + (f" {100 * fraction:.0f}%" if fraction is not None else "")

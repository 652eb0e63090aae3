"""Executors: where the runs of a study execute.

- ``local``: parallel worker processes, bounded by the cores and the free memory;
- ``ray``: each run a Ray task with its CPU/GPU needs, results gathered on the driver.

Both call :func:`silentscope.study.runs.execute_run` and report each outcome through a
callback as soon as it is known, so the driver can show live progress.

A study stops whole and its runs fail alone: a local worker dies with the process that
started it (:func:`watch_parent`) and Ray tasks are cancelled when the driver stops; a run
whose worker died (killed, out of memory) is started again ``retries`` times, then
recorded in ``failed/`` while the other runs go on.
"""

from __future__ import annotations

import ctypes
import multiprocessing
import multiprocessing.connection
import os
import signal
import sys
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from multiprocessing.process import BaseProcess
from pathlib import Path
from typing import Any

from silentscope.study.runs import RunOutcome, execute_run, record_failure, remove_leftovers
from silentscope.study.spec import ExecutorSpec, RunSpec

OnDone = Callable[[dict[str, Any]], None]
OnTick = Callable[[], None]

#: Memory a training run is assumed to need, to bound the number of parallel workers.
MEMORY_PER_RUN_BYTES = 3 * 1024**3


def available_memory_bytes() -> int:
    try:
        with open("/proc/meminfo") as handle:
            for line in handle:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 8 * 1024**3


def local_worker_count(requested: int | None, n_runs: int) -> int:
    """Workers for the local executor: requested, else bounded by cores, memory and runs."""
    cores = (
        len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    )
    by_memory = max(1, available_memory_bytes() // MEMORY_PER_RUN_BYTES)
    limit = requested or min(cores, by_memory)
    return max(1, min(limit, n_runs))


def watch_parent(parent_pid: int, interval: float = 0.5) -> None:
    """Make this worker process exit as soon as ``parent_pid``, its parent, dies.

    Two guards, because a killed parent (SIGKILL, OOM killer) runs no cleanup of its own:

    - on Linux, ``prctl(PR_SET_PDEATHSIG, SIGKILL)``: the kernel kills the worker the moment
      the parent dies, even while the worker is deep in native code (a torch kernel);
    - everywhere, a daemon thread that compares :func:`os.getppid` with the parent every
      ``interval`` seconds (an orphan is re-parented). It is portable, and covers a parent
      that died before the signal was armed.
    """
    if sys.platform.startswith("linux"):
        try:
            libc = ctypes.CDLL(None, use_errno=True)
            libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
        except (OSError, AttributeError):  # no libc to call: the thread still guards
            pass
    if os.getppid() != parent_pid:  # the parent died before we got here
        os._exit(1)

    def watch() -> None:
        while os.getppid() == parent_pid:
            time.sleep(interval)
        os._exit(1)

    threading.Thread(target=watch, name="silentscope-parent-watch", daemon=True).start()


_PR_SET_PDEATHSIG = 1  # from <linux/prctl.h>


def _init_worker(threads: int) -> None:
    # Each worker gets its share of the cores instead of every process using all of them.
    os.environ["OMP_NUM_THREADS"] = str(threads)
    try:
        import torch

        torch.set_num_threads(threads)
    except ImportError:
        pass


def _work(run_json: str, study_dir: str, threads: int, parent_pid: int, results: Any) -> None:
    """A local worker process: one run, its outcome sent back through ``results``."""
    watch_parent(parent_pid)
    _init_worker(threads)
    results.send(execute_run(run_json, study_dir))


@dataclass
class _Job:
    run: RunSpec
    attempt: int
    process: BaseProcess
    results: Any  # the receiving end of the worker's pipe
    started: float
    outcome: dict[str, Any] | None = None


def run_local(
    runs: Sequence[RunSpec], study_dir: str, spec: ExecutorSpec, on_done: OnDone, on_tick: OnTick
) -> None:
    workers = local_worker_count(spec.workers, len(runs))
    cores = os.cpu_count() or 1
    threads = max(1, cores // workers)
    if workers == 1:  # no pool: simpler tracebacks, and torch keeps its threads
        for run in runs:
            on_done(execute_run(run.model_dump_json(), study_dir))
            on_tick()
        return
    # One process per run (not a pool): a worker that dies takes only its own run with it,
    # and we know which run that was, to start it again or record it.
    context = multiprocessing.get_context("spawn")
    queue = deque((run, 1) for run in runs)
    jobs: list[_Job] = []
    try:
        while queue or jobs:
            while queue and len(jobs) < workers:
                run, attempt = queue.popleft()
                receive, send = context.Pipe(duplex=False)
                process = context.Process(
                    target=_work,
                    args=(run.model_dump_json(), study_dir, threads, os.getpid(), send),
                    name=f"silentscope-{run.run_id}",
                    daemon=True,  # also stopped by the parent's normal exit
                )
                process.start()
                send.close()
                jobs.append(_Job(run, attempt, process, receive, time.perf_counter()))
            ready = multiprocessing.connection.wait(
                [j.process.sentinel for j in jobs] + [j.results for j in jobs if j.outcome is None],
                timeout=0.5,
            )
            for job in jobs:  # read outcomes first: a large one must not block its sender
                if job.outcome is None and job.results in ready:
                    job.outcome = _receive(job.results)
            for job in [j for j in jobs if not j.process.is_alive()]:
                jobs.remove(job)
                job.process.join()
                if job.outcome is None and job.results.poll():
                    job.outcome = _receive(job.results)
                job.results.close()
                if job.outcome is not None:
                    on_done(job.outcome)
                elif job.attempt <= spec.retries:
                    remove_leftovers(Path(study_dir), job.run.run_id)
                    queue.appendleft((job.run, job.attempt + 1))
                else:
                    reason = _death(job.process.exitcode)
                    on_done(_crashed(study_dir, job.run, reason, job.attempt, job.started))
            on_tick()
    finally:  # interrupted (Ctrl-C, an error here): the workers stop with the study
        for job in jobs:
            job.process.kill()
        for job in jobs:
            job.process.join(5)


def _receive(connection: Any) -> dict[str, Any] | None:
    try:
        return connection.recv()
    except (EOFError, OSError):  # the worker died before sending
        return None


def _death(exitcode: int | None) -> str:
    """Why a worker process ended without an outcome, from its exit code."""
    if exitcode is not None and exitcode < 0:
        name = signal.Signals(-exitcode).name
        if -exitcode == signal.SIGKILL:
            return f"was killed by {name}, by hand or by the system when out of memory"
        return f"was killed by {name}"
    return f"exited with code {exitcode} without finishing"


def _crashed(
    study_dir: str, run: RunSpec, reason: str, attempts: int, started: float
) -> dict[str, Any]:
    """Record a run whose worker died on every attempt; its outcome for the driver."""
    seconds = time.perf_counter() - started
    error = (
        f"WorkerDied: the worker process running {run.run_id} died on all {attempts} "
        f"attempt(s) (the last one {reason}); run the study again to retry it"
    )
    study = Path(study_dir)
    remove_leftovers(study, run.run_id)
    record_failure(study, run.run_id, error, seconds, attempts=attempts)
    return RunOutcome(run.run_id, "failed", seconds, error=error).to_dict()


def run_ray(
    runs: Sequence[RunSpec], study_dir: str, spec: ExecutorSpec, on_done: OnDone, on_tick: OnTick
) -> None:
    try:
        import ray
    except ImportError:
        raise ValueError("the Ray executor needs ray: pip install 'ray[default]'") from None
    started_here = not ray.is_initialized()
    if started_here:
        if spec.address:
            ray.init(address=spec.address, log_to_driver=False)
        else:
            ray.init(
                num_cpus=spec.workers or os.cpu_count(),
                include_dashboard=False,
                log_to_driver=False,
            )
    try:
        task = ray.remote(num_cpus=spec.cpus_per_run, num_gpus=spec.gpus_per_run, max_retries=0)(
            execute_run
        )
        pending = [task.remote(run.model_dump_json(), study_dir) for run in runs]
        while pending:
            done, pending = ray.wait(pending, num_returns=1, timeout=0.5)
            for ref in done:
                on_done(ray.get(ref))
            on_tick()
    finally:
        if started_here:
            ray.shutdown()


EXECUTORS = {"local": run_local, "ray": run_ray}

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
                    on_done({**job.outcome, "attempts": job.attempt})
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
    return RunOutcome(run.run_id, "failed", seconds, error=error, attempts=attempts).to_dict()


def run_ray(
    runs: Sequence[RunSpec], study_dir: str, spec: ExecutorSpec, on_done: OnDone, on_tick: OnTick
) -> None:
    try:
        import ray
    except ImportError:
        raise ValueError("the Ray executor needs ray: pip install 'ray[default]'") from None
    started_here = not ray.is_initialized()
    if started_here:
        _connect(ray, spec)
    pending: dict[Any, tuple[RunSpec, float]] = {}
    try:
        # A task whose worker died is started again by Ray ``retries`` times; a run that
        # raises is recorded by execute_run itself and never retried.
        task = ray.remote(
            num_cpus=spec.cpus_per_run,
            num_gpus=spec.gpus_per_run,
            max_retries=spec.retries,
            retry_exceptions=False,
        )(execute_run)
        for run in runs:
            pending[task.remote(run.model_dump_json(), study_dir)] = (run, time.perf_counter())
        while pending:
            done, _ = ray.wait(list(pending), num_returns=1, timeout=0.5)
            for ref in done:
                run, started = pending.pop(ref)
                try:
                    outcome = ray.get(ref)
                except ray.exceptions.RayError as error:  # this run only: the others go on
                    reason = _ray_reason(error)
                    outcome = _crashed(study_dir, run, reason, spec.retries + 1, started)
                remove_leftovers(Path(study_dir), run.run_id)  # of attempts whose worker died
                on_done(outcome)
            on_tick()
    finally:  # stopped (Ctrl-C, an error here): no task goes on training without us
        for ref in pending:
            try:
                ray.cancel(ref, force=True)
            except Exception:  # noqa: BLE001 - already finished or gone: nothing to stop
                pass
        if started_here:
            ray.shutdown()


def _ray_reason(error: Exception) -> str:
    """A Ray error as the end of "the last one ...": its type and first line."""
    lines = str(error).strip().splitlines() or [""]
    return f"failed in Ray with {type(error).__name__}: {lines[0]}"


def _connect(ray: Any, spec: ExecutorSpec) -> None:
    if not spec.address:
        # "local": a new cluster of our own, never the last one started on this machine
        # (what a bare ray.init() joins: another user's, or a dead one's stale address)
        ray.init(
            address="local",
            num_cpus=spec.workers or os.cpu_count(),
            include_dashboard=False,
            log_to_driver=False,
        )
        return
    use_ray_token()
    try:
        ray.init(address=spec.address, log_to_driver=False)
    except Exception as error:
        cause = _auth_failure(error)
        if cause is None:
            raise
        raise ValueError(
            f"the Ray cluster at {spec.address} refused this study's authentication "
            f"({cause}): set RAY_AUTH_MODE=token and RAY_AUTH_TOKEN (or RAY_AUTH_TOKEN_PATH) "
            "to the cluster's token, which `ray get-auth-token` prints on its head node"
        ) from None


def _auth_failure(error: BaseException | None) -> str | None:
    """The line that says authentication failed, from ``error``'s chain, or None.

    Ray wraps it, as a traceback in the text of ``RuntimeError: Failed to connect to GCS``
    under ``ConnectionError: Failed to connect to Ray cluster``.

    Examples
    --------
    >>> inner = RuntimeError("Failed to connect to GCS.\\nAuthenticationError: InvalidAuthToken")
    >>> outer = ConnectionError("Failed to connect to Ray cluster")
    >>> outer.__cause__ = inner
    >>> _auth_failure(outer), _auth_failure(ConnectionError("refused"))
    ('AuthenticationError: InvalidAuthToken', None)
    """
    while error is not None:
        text = f"{type(error).__name__}: {error}"
        for line in text.splitlines():
            if "AuthToken" in line or "AuthenticationError" in line:
                return line.strip()[:200]
        error = error.__cause__ or error.__context__
    return None


def use_ray_token() -> bool:
    """Send Ray's authentication token to a cluster given by address, when one is set up.

    Ray (2.5x+) turns token authentication on for a head started plainly once a token
    exists (``~/.ray/auth_token``, written by any local ``ray.init``), and
    ``ray.init(address="auto")`` then sends it; an explicit address never does, so the
    head answers ``InvalidAuthToken``. Like ``"auto"``, this enables token mode when
    ``RAY_AUTH_MODE`` is unset and a token is found (``RAY_AUTH_TOKEN``,
    ``RAY_AUTH_TOKEN_PATH`` or the default file). Returns whether token mode is on.
    """
    if os.environ.get("RAY_AUTH_MODE"):
        return os.environ["RAY_AUTH_MODE"].lower() == "token"
    try:  # Ray's own rule for finding a token; absent from Rays without token auth
        from ray._private.authentication.authentication_token_setup import (
            maybe_enable_token_auth_if_token_available,
        )
    except ImportError:
        return False
    return maybe_enable_token_auth_if_token_available(warn_if_disabled=False)


EXECUTORS = {"local": run_local, "ray": run_ray}

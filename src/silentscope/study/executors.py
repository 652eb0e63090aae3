"""Executors: where the runs of a study execute.

- ``local``: parallel worker processes, bounded by the cores and the free memory;
- ``ray``: each run a Ray task with its CPU/GPU needs, results gathered on the driver.

Both call :func:`silentscope.study.runs.execute_run` and report each outcome through a
callback as soon as it is known, so the driver can show live progress.
"""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from typing import Any

from silentscope.study.runs import execute_run
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


def _init_worker(threads: int) -> None:
    # Each worker gets its share of the cores instead of every process using all of them.
    os.environ["OMP_NUM_THREADS"] = str(threads)
    try:
        import torch

        torch.set_num_threads(threads)
    except ImportError:
        pass


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
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(
        workers, mp_context=context, initializer=_init_worker, initargs=(threads,)
    ) as pool:
        pending = {pool.submit(execute_run, run.model_dump_json(), study_dir) for run in runs}
        while pending:
            done, pending = wait(pending, timeout=0.5, return_when=FIRST_COMPLETED)
            for future in done:
                on_done(future.result())
            on_tick()


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

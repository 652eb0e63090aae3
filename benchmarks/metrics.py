"""Benchmark of silentscope.metrics: the failure-detection metric set and its bootstrap CIs.

For each sample size N it times
  * the full failure-detection metric set: the nine public functions, one call (and one
    sort) each, and ``failure_detection_metrics`` (all nine from one sort),
  * ``bootstrap_ci`` for all nine metrics with R resamples (vectorised, threaded; the
    compiled per-resample kernels of ``silentscope.metrics._kernels`` when numba is present),
  * the named baseline "numpy path": the same ``bootstrap_ci`` forced onto its numpy
    implementation (``bootstrap.USE_KERNELS = False``, the code before the kernels), in the
    same run; above ``--numpy-max-cells`` resampled counts it runs 1 and k resamples and
    is extrapolated linearly to R (marked with "~"),
  * a straightforward baseline: per resample, index the data, re-sort it and compute the
    nine metrics with plain numpy (no sklearn). For large N the baseline runs on fewer
    resamples within a time budget and is extrapolated linearly (marked with "~"),
and reports wall and CPU times (CPU time is the sum over threads; on a shared machine it is
the steadier of the two), the speedups, the bootstrap's peak traced memory (tracemalloc,
which numpy reports its buffers to) and the largest difference between baseline and
bootstrap values on the same resamples (a correctness check).

Examples
--------
    python benchmarks/metrics.py --quick
    python benchmarks/metrics.py --sizes 1e4,1e5,1e6,1e7 --resamples 1000
    python benchmarks/metrics.py --sizes 1e6 --resamples 1000 --markdown
"""

from __future__ import annotations

import argparse
import os
import time
import tracemalloc

import numpy as np

from silentscope.metrics import (
    BOOTSTRAP_METRICS,
    bootstrap_ci,
    failure_detection_metrics,
    get_metric,
)
from silentscope.metrics import bootstrap as bootstrap_module

N_BINS = 15
CHECK_RESAMPLES = 3


def synthetic(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """85% accuracy; a probability-like confidence that separates failures imperfectly."""
    rng = np.random.default_rng(seed)
    correct = rng.random(n) < 0.85
    confidence = 1.0 / (1.0 + np.exp(-(rng.normal(size=n) + 1.5 * correct)))
    return confidence, correct


def baseline_metrics(conf: np.ndarray, correct: np.ndarray) -> dict[str, float]:
    """All nine metrics of one (re)sample, the obvious way: sort, group ties, integrate."""
    order = np.argsort(-conf, kind="stable")
    c = conf[order]
    y = correct[order].astype(np.float64)
    n = c.shape[0]
    ends = np.append(np.flatnonzero(c[1:] != c[:-1]), n - 1)
    cw = (np.arange(1, n + 1, dtype=np.float64))[ends]
    ce = np.cumsum(1.0 - y)[ends]
    ca = cw - ce
    n_wrong = ce[-1]
    n_correct = n - n_wrong
    err = n_wrong / n
    cov = np.append(0.0, cw / n)
    sel = np.append(ce[0] / cw[0], ce / cw)
    gen = np.append(0.0, ce / n)
    out = {"aurc": float(np.trapezoid(sel, cov)), "augrc": float(np.trapezoid(gen, cov))}
    opt = err + ((1 - err) * np.log(1 - err) if err < 1 else 0.0)
    out["e_aurc"] = out["aurc"] - opt
    out["e_augrc"] = out["augrc"] - err**2 / 2
    nan = float("nan")
    both = n_correct > 0 and n_wrong > 0
    tpr = np.append(0.0, ca / max(n_correct, 1))
    fpr = np.append(0.0, ce / max(n_wrong, 1))
    out["auroc_f"] = float(np.trapezoid(tpr, fpr)) if both else nan
    j = int(np.argmax(ca >= 0.95 * n_correct * (1 - 1e-12)))
    out["fpr_at_95_tpr"] = float(ce[j] / n_wrong) if both else nan
    a_g = np.diff(ca, prepend=0.0)
    e_g = np.diff(ce, prepend=0.0)
    w_g = a_g + e_g
    out["aupr_success"] = float(np.sum(a_g * ca / cw) / n_correct) if n_correct else nan
    below_w = n - cw + w_g
    below_e = n_wrong - ce + e_g
    out["aupr_error"] = float(np.sum(e_g * below_e / below_w) / n_wrong) if n_wrong else nan
    bins = np.minimum((c * N_BINS).astype(np.int64), N_BINS - 1)
    gap = np.bincount(bins, weights=c, minlength=N_BINS) - np.bincount(
        bins, weights=y, minlength=N_BINS
    )
    out["ece"] = float(np.abs(gap).sum() / n)
    return out


def run_baseline(conf, correct, n_resamples: int, budget_s: float, seed: int):
    """Baseline loop; returns (seconds for n_resamples, resamples run, first index rows)."""
    rng = np.random.default_rng(seed)
    n = conf.shape[0]
    first_rows = []
    done = 0
    start = time.perf_counter()
    while done < n_resamples:
        idx = rng.integers(0, n, size=n)
        if len(first_rows) < CHECK_RESAMPLES:
            first_rows.append((idx, baseline_metrics(conf[idx], correct[idx])))
        else:
            baseline_metrics(conf[idx], correct[idx])
        done += 1
        if time.perf_counter() - start > budget_s and done >= CHECK_RESAMPLES:
            break
    elapsed = time.perf_counter() - start
    return elapsed * n_resamples / done, done, first_rows


def check_agreement(conf, correct, first_rows) -> float:
    """Largest |baseline - bootstrap| over the metrics, on the baseline's own resamples."""
    idx = np.stack([row for row, _ in first_rows])
    ours = bootstrap_ci(conf, correct, resample_indices=idx, n_bins=N_BINS)
    worst = 0.0
    for i, (_, values) in enumerate(first_rows):
        for name in BOOTSTRAP_METRICS:
            a, b = values[name], ours[name].samples[i]
            if not (np.isnan(a) and np.isnan(b)):
                worst = max(worst, abs(a - b))
    return worst


def timed_bootstrap(conf, correct, n_resamples: int, args, kernels: bool | None):
    """(wall, CPU) seconds of one bootstrap_ci call on the chosen implementation."""
    previous = bootstrap_module.USE_KERNELS
    bootstrap_module.USE_KERNELS = kernels
    try:
        start, cpu = time.perf_counter(), time.process_time()
        bootstrap_ci(
            conf, correct, n_resamples=n_resamples, random_state=args.seed, n_jobs=args.n_jobs
        )
        return time.perf_counter() - start, time.process_time() - cpu
    finally:
        bootstrap_module.USE_KERNELS = previous


def numpy_baseline(conf, correct, args) -> tuple[float, float, int]:
    """(wall, CPU, resamples actually run) of the numpy path, extrapolated when large."""
    n, r = conf.shape[0], args.resamples
    if n * r <= args.numpy_max_cells:
        wall, cpu = timed_bootstrap(conf, correct, r, args, False)
        return wall, cpu, r
    k = max(2, min(r, args.numpy_max_cells // n))
    wall_1, cpu_1 = timed_bootstrap(conf, correct, 1, args, False)
    wall_k, cpu_k = timed_bootstrap(conf, correct, k, args, False)
    scale = (r - 1) / (k - 1)
    return wall_1 + (wall_k - wall_1) * scale, cpu_1 + (cpu_k - cpu_1) * scale, k


def bench_size(n: int, args) -> dict:
    conf, correct = synthetic(n, args.seed)
    start, cpu = time.perf_counter(), time.process_time()
    for name in BOOTSTRAP_METRICS:
        get_metric(name).function(conf, correct)
    t_metrics, cpu_metrics = time.perf_counter() - start, time.process_time() - cpu
    start, cpu = time.perf_counter(), time.process_time()
    failure_detection_metrics(conf, correct)
    t_set, cpu_set = time.perf_counter() - start, time.process_time() - cpu

    # Warm-up outside the timing: numba's import and (cached) compilation, once per process.
    timed_bootstrap(conf[:1000], correct[:1000], 2, args, True)
    t_boot, cpu_boot = timed_bootstrap(conf, correct, args.resamples, args, None)
    t_np, cpu_np, np_done = numpy_baseline(conf, correct, args)

    # Peak memory in a second, shorter run (tracemalloc slows Python-level code): enough
    # resamples for every thread to hold a full chunk (the default chunk is ~4M counts).
    jobs = args.n_jobs or min(os.cpu_count() or 1, 8)
    n_mem = min(args.resamples, 2 * jobs * max(1, 2**22 // n))
    tracemalloc.start()
    bootstrap_ci(conf, correct, n_resamples=n_mem, random_state=args.seed, n_jobs=args.n_jobs)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()

    cpu = time.process_time()
    t_base, done, first_rows = run_baseline(
        conf, correct, args.resamples, args.baseline_seconds, args.seed + 1
    )
    cpu_base = (time.process_time() - cpu) * args.resamples / done
    return {
        "n": n,
        "t_metrics": t_metrics,
        "cpu_metrics": cpu_metrics,
        "t_set": t_set,
        "cpu_set": cpu_set,
        "t_boot": t_boot,
        "cpu_boot": cpu_boot,
        "t_np": t_np,
        "cpu_np": cpu_np,
        "np_done": np_done,
        "t_base": t_base,
        "cpu_base": cpu_base,
        "base_done": done,
        "peak_mb": peak / 2**20,
        "max_diff": check_agreement(conf, correct, first_rows),
    }


def format_rows(rows: list[dict], resamples: int) -> tuple[list[str], list[list[str]]]:
    header = [
        "N",
        "9 metric calls wall / CPU (s)",
        "metric set, one sort (s)",
        f"bootstrap {resamples} wall / CPU (s)",
        f"numpy path {resamples} wall / CPU (s)",
        "vs numpy path wall / CPU",
        f"baseline {resamples} wall / CPU (s)",
        "speedup wall / CPU",
        "peak MB",
        "max |diff|",
    ]
    body = []
    for r in rows:
        base = f"{r['t_base']:.2f} / {r['cpu_base']:.2f}"
        if r["base_done"] < resamples:
            base = f"~{base} (from {r['base_done']})"
        speedup = f"{r['t_base'] / r['t_boot']:.1f}x / {r['cpu_base'] / r['cpu_boot']:.1f}x"
        numpy_path = f"{r['t_np']:.2f} / {r['cpu_np']:.2f}"
        if r["np_done"] < resamples:
            numpy_path = f"~{numpy_path} (from {r['np_done']})"
        vs_numpy = f"{r['t_np'] / r['t_boot']:.1f}x / {r['cpu_np'] / r['cpu_boot']:.1f}x"
        body.append(
            [
                f"{r['n']:.0e}".replace("e+0", "e"),
                f"{r['t_metrics']:.2f} / {r['cpu_metrics']:.2f}",
                f"{r['t_set']:.2f} / {r['cpu_set']:.2f}",
                f"{r['t_boot']:.2f} / {r['cpu_boot']:.2f}",
                numpy_path,
                vs_numpy,
                base,
                speedup,
                f"{r['peak_mb']:.0f}",
                f"{r['max_diff']:.1e}",
            ]
        )
    return header, body


def print_table(rows: list[dict], args) -> None:
    header, body = format_rows(rows, args.resamples)
    if args.markdown:
        print("| " + " | ".join(header) + " |")
        print("|" + "|".join("---" for _ in header) + "|")
        for line in body:
            print("| " + " | ".join(line) + " |")
        return
    try:
        from rich.console import Console
        from rich.table import Table
    except ImportError:
        widths = [max(len(h), *(len(b[i]) for b in body)) for i, h in enumerate(header)]
        print("  ".join(h.rjust(w) for h, w in zip(header, widths, strict=True)))
        for line in body:
            print("  ".join(c.rjust(w) for c, w in zip(line, widths, strict=True)))
        return
    table = Table(title="silentscope.metrics: 9 failure-detection metrics")
    for h in header:
        table.add_column(h, justify="right")
    for line in body:
        table.add_row(*line)
    Console().print(table)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0],
        epilog="example: python benchmarks/metrics.py --sizes 1e4,1e6 --resamples 1000",
    )
    parser.add_argument(
        "--sizes",
        default="1e4,1e5,1e6,1e7",
        help="comma-separated sample sizes (default: 1e4,1e5,1e6,1e7)",
    )
    parser.add_argument("--resamples", type=int, default=1000, help="bootstrap resamples")
    parser.add_argument(
        "--quick", action="store_true", help="sizes 1e4,1e5, 200 resamples, 5 s baseline budget"
    )
    parser.add_argument(
        "--baseline-seconds",
        type=float,
        default=30.0,
        help="time budget of the baseline per size before extrapolating",
    )
    parser.add_argument(
        "--numpy-max-cells",
        type=int,
        default=10**9,
        help="largest N x resamples the numpy-path baseline runs in full before extrapolating",
    )
    parser.add_argument("--n-jobs", type=int, default=None, help="bootstrap threads")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--markdown", action="store_true", help="print a Markdown table")
    args = parser.parse_args(argv)
    if args.quick:
        args.sizes, args.resamples, args.baseline_seconds = "1e4,1e5", 200, 5.0
    sizes = [int(float(s)) for s in args.sizes.split(",")]
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"{os.cpu_count()} CPUs, load average {load:.1f} before the run; numpy {np.__version__}")
    rows = []
    for n in sizes:
        rows.append(bench_size(n, args))
        print(f"  N={n:.0e} done", flush=True)
    load_after = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"load average {load_after:.1f} after the run")
    print_table(rows, args)


if __name__ == "__main__":
    main()

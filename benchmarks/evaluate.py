"""End-to-end benchmark of ``silentscope import table`` and ``silentscope evaluate``, as a user
meets them: a Parquet file of 10-class logits with two test sets (iid and acq/site_b).

Each step runs as its own process (the CLI, imports included) and is measured from outside:
wall time, CPU time (user + system, all threads) and peak resident memory (ru_maxrss of
the child). ``evaluate`` runs twice in the same benchmark on the same store: the named
baseline "numpy path" (the bootstrap forced onto its numpy implementation,
``silentscope.metrics.bootstrap.USE_KERNELS = False``: the code before the compiled
kernels) and the default. The load average is printed before and after: on a shared
machine wall times are noisy, CPU times less so.

Examples
--------
    python benchmarks/evaluate.py                        # 10^6 rows, 1000 resamples
    python benchmarks/evaluate.py --rows 100000 --resamples 200 --markdown
    git worktree add /tmp/before <commit>
    python benchmarks/evaluate.py --skip-baseline --compare-src /tmp/before/src --markdown
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

N_CLASSES = 10


def make_parquet(path: Path, rows: int, seed: int) -> None:
    """10-class logits (float32), about 85% accuracy, half iid and half acq/site_b."""
    import pandas as pd

    rng = np.random.default_rng(seed)
    label = rng.integers(0, N_CLASSES, rows)
    logits = rng.normal(size=(rows, N_CLASSES)).astype(np.float32)
    logits[np.arange(rows), label] += 2.5
    frame = pd.DataFrame({f"logit_{c}": logits[:, c] for c in range(N_CLASSES)})
    frame["label"] = label
    frame["test_set"] = np.where(np.arange(rows) < rows // 2, "iid", "acq/site_b")
    frame.to_parquet(path)


def run(command: list[str], src: str | None = None) -> dict:
    """Wall, CPU (user + system) seconds and peak RSS (MB) of one child process.

    ``src``: a source folder put first on the child's PYTHONPATH (another checkout).
    """
    env = dict(os.environ)
    if src is not None:
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [src, env.get("PYTHONPATH")]))
    start = time.perf_counter()
    child = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env)
    _, status, usage = os.wait4(child.pid, 0)
    wall = time.perf_counter() - start
    stderr = child.stderr.read().decode() if child.stderr else ""
    child.returncode = os.waitstatus_to_exitcode(status)
    if child.returncode != 0:
        raise SystemExit(f"{' '.join(command)} failed:\n{stderr[-2000:]}")
    return {
        "wall": wall,
        "cpu": usage.ru_utime + usage.ru_stime,
        "rss_mb": usage.ru_maxrss / 1024,
    }


def cli(*args: str, kernels: bool | None = None) -> list[str]:
    """A ``python -m silentscope`` command line, optionally with the bootstrap path forced."""
    code = (
        "import sys, silentscope.metrics.bootstrap as b; "
        f"b.USE_KERNELS = {kernels!r}; "
        "from silentscope.cli import main; sys.argv = ['silentscope', *sys.argv[1:]]; main()"
    )
    return [sys.executable, "-c", code, *args]


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=float, default=1e6, help="rows of the Parquet file")
    parser.add_argument("--resamples", type=int, default=1000, help="evaluate --bootstrap")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--skip-baseline", action="store_true", help="only the default path")
    parser.add_argument("--markdown", action="store_true", help="print a Markdown table")
    parser.add_argument(
        "--compare-src",
        default=None,
        help="source folder of another checkout (its src/) to run first, as 'before'",
    )
    args = parser.parse_args(argv)
    rows = int(args.rows)
    print(f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f} before the run")
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        parquet, store = Path(tmp) / "predictions.parquet", Path(tmp) / "store"
        make_parquet(parquet, rows, args.seed)
        evaluate = ["evaluate", str(store), "--bootstrap", str(args.resamples), "--seed", "0"]
        before = args.compare_src
        if before is not None:
            old_store = str(Path(tmp) / "store_before")
            step = run(cli("import", "table", str(parquet), "--out", old_store), before)
            results.append(("import table (before)", step))
        results.append(
            ("import table", run(cli("import", "table", str(parquet), "--out", str(store))))
        )
        if before is not None:
            out = str(Path(tmp) / "before")
            old_evaluate = ["evaluate", old_store, *evaluate[2:]]
            results.append(("evaluate (before)", run(cli(*old_evaluate, "--out", out), before)))
        if not args.skip_baseline:
            out = str(Path(tmp) / "baseline")
            step = run(cli(*evaluate, "--out", out, kernels=False))
            results.append(("evaluate, numpy path (baseline)", step))
        out = str(Path(tmp) / "default")
        results.append(("evaluate (default)", run(cli(*evaluate, "--out", out))))
    print(f"load average {os.getloadavg()[0]:.1f} after the run")
    header = ["step", "wall (s)", "CPU (s)", "peak RSS (MB)"]
    body = [
        [name, f"{r['wall']:.1f}", f"{r['cpu']:.1f}", f"{r['rss_mb']:.0f}"] for name, r in results
    ]
    title = f"{rows:,} rows, 10-class logits, 2 test sets, --bootstrap {args.resamples}"
    print(title)
    if args.markdown:
        print("| " + " | ".join(header) + " |")
        print("|" + "|".join("---" for _ in header) + "|")
        for line in body:
            print("| " + " | ".join(line) + " |")
        return
    widths = [max(len(h), *(len(b[i]) for b in body)) for i, h in enumerate(header)]
    print("  ".join(h.rjust(w) for h, w in zip(header, widths, strict=True)))
    for line in body:
        print("  ".join(c.rjust(w) for c, w in zip(line, widths, strict=True)))


if __name__ == "__main__":
    main()

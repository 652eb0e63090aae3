"""Benchmark of opening an audit store with and without verification, against evaluate.

On a synthetic store (N samples, C classes, D-dimensional float32 features, three test
sets) it times, as the median of ``--repeats`` runs with the files in the page cache:

  * ``load_audit(store, verify=False)``: the baseline (manifest contract, paths, sizes,
    shapes, the AuditSet's own validation; no content hashes),
  * ``load_audit(store)`` with an empty verification cache: every file's SHA-256 (what the
    first open of a large store costs, and every open of a store under the cache size),
  * ``load_audit(store)`` again: the hashes come from the cache of file identities,
  * ``evaluate`` on the loaded store with the CLI's defaults (every CSF the store allows,
    every metric, ``--bootstrap`` resamples), once,

and prints the hashing cost as a share of evaluate's wall time (target: at most 20%), and
the throughput of the hashes the standard library offers on this machine.

Examples
--------
    python benchmarks/store.py --n 1e5 --bootstrap 100       # a quick look
    python benchmarks/store.py                               # 1e6 samples, 10 classes, 128-d
"""

from __future__ import annotations

import argparse
import hashlib
import os
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np


def synthetic_store(folder: Path, n: int, n_classes: int, dim: int, seed: int) -> Path:
    """A store of an ~80%-accurate classifier with penultimate features."""
    from silentscope.audit import AuditSet
    from silentscope.audit.store import save_audit

    rng = np.random.default_rng(seed)
    label = rng.integers(0, n_classes, n)
    logits = rng.normal(size=(n, n_classes)).astype(np.float32)
    right = rng.random(n) < 0.8
    logits[np.flatnonzero(right), label[right]] += 3.0
    test_set = np.array(["val", "iid", "cor/gaussian_noise/3"])[rng.integers(0, 3, n)]
    features = rng.normal(size=(n, dim)).astype(np.float32)
    audit = AuditSet(
        sample_id=np.arange(n).astype(str),
        test_set=test_set,
        label=label,
        logits=logits,
        class_names=[f"c{i}" for i in range(n_classes)],
        features=features,
    )
    return save_audit(audit, folder / "store", overwrite=True)


def timed(function, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        function()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def hash_throughput(path: Path) -> dict[str, float]:
    size = path.stat().st_size
    out = {}
    for name in ("sha256", "blake2b", "sha1", "md5"):
        start = time.perf_counter()
        with open(path, "rb") as handle:
            hashlib.file_digest(handle, name)
        out[name] = size / (time.perf_counter() - start) / 1e9
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=float, default=1e6, help="Samples (default 1e6).")
    parser.add_argument("--classes", type=int, default=10)
    parser.add_argument("--dim", type=int, default=128, help="Feature dimension.")
    parser.add_argument(
        "--bootstrap", default="0,1000", help="evaluate's resamples, comma-separated runs."
    )
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--out", type=Path, default=None, help="Folder for the store (temp).")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    from silentscope.audit.store import load_audit
    from silentscope.evaluation import evaluate

    n = int(args.n)
    folder = args.out or Path(tempfile.mkdtemp(prefix="silentscope-store-bench-"))
    folder.mkdir(parents=True, exist_ok=True)
    cache = Path(tempfile.mkdtemp(prefix="silentscope-verify-cache-"))
    os.environ["SILENTSCOPE_CACHE_DIR"] = str(cache)
    start = time.perf_counter()
    store = synthetic_store(folder, n, args.classes, args.dim, args.seed)
    write_s = time.perf_counter() - start
    size = sum(f.stat().st_size for f in store.iterdir() if f.is_file())
    print(
        f"store: {n:,} samples, {args.classes} classes, {args.dim}-d float32 features, "
        f"{size / 1e6:,.0f} MB in {store} (written in {write_s:.1f} s); "
        f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs"
    )

    def cold():
        for file in cache.iterdir():
            file.unlink()
        load_audit(store)

    load_audit(store, verify=False)  # page cache warm for every variant alike
    baseline = timed(lambda: load_audit(store, verify=False), args.repeats)
    hashed = timed(cold, args.repeats)
    cached = timed(lambda: load_audit(store), args.repeats)
    audit = load_audit(store, verify=False)
    evaluations = []
    for n_bootstrap in map(int, args.bootstrap.split(",")):
        start = time.perf_counter()
        result = evaluate(audit, n_bootstrap=n_bootstrap, random_state=0)
        evaluations.append((n_bootstrap, time.perf_counter() - start))

    rows = [
        ("load, verify=False (baseline)", baseline),
        ("load, verified, cache empty (every hash)", hashed),
        ("load, verified, cache warm", cached),
    ]
    rows += [(f"evaluate, {b} bootstrap resamples", s) for b, s in evaluations]
    fastest = min(s for _, s in evaluations)  # the share is largest against the cheapest run
    width = max(len(name) for name, _ in rows)
    print(f"\n{'step':<{width}}  {'wall s':>8}  {'vs baseline':>11}  {'of evaluate':>11}")
    for name, seconds in rows:
        loaded = name.startswith("load") and seconds != baseline
        share = f"{(seconds - baseline) / fastest:+.1%}" if loaded else ""
        versus = f"{seconds - baseline:+.2f} s" if loaded else ""
        print(f"{name:<{width}}  {seconds:8.2f}  {versus:>11}  {share:>11}")
    for n_bootstrap, seconds in evaluations:
        print(
            f"hashing cost: +{hashed - baseline:.2f} s = {(hashed - baseline) / seconds:.1%} of "
            f"evaluate's wall time with {n_bootstrap} resamples (target <= 20%)"
        )
    print(f"cached: +{cached - baseline:.2f} s")
    speeds = hash_throughput(store / "features.npy")
    print(
        "hash throughput on features.npy (GB/s): "
        + ", ".join(f"{name} {speed:.2f}" for name, speed in speeds.items())
    )
    print(f"CSFs evaluated: {', '.join(result.csfs)}")


if __name__ == "__main__":
    main()

"""Slice discovery speed: the error-aware mixture against scikit-learn's GaussianMixture.

Part of benchmarks/slices.py (``--part speed``). Fits: fastest of 3 runs, wall and process
CPU time, load average printed, as the 2 cores are shared. ``ErrorAwareMixture`` against
scikit-learn's ``GaussianMixture`` (the named baseline, Domino v0.1.5's default settings:
PCA to 128, 25 components, diagonal covariance; gamma = gamma-hat = 10 for ours) on
100,000 x 512 embeddings, and the whole ``discover_slices`` analysis on 100,000 samples x
1,000 feature dimensions with reports and metadata.
"""

from __future__ import annotations

import os
import time
import tracemalloc

import numpy as np
import pandas as pd
from sklearn.decomposition import PCA
from sklearn.mixture import GaussianMixture
from slice_scenarios import data_dir

from silentscope.audit import AuditSet
from silentscope.slices import ErrorAwareMixture, discover_slices, simulate_logits


def _timed(function, repeats: int = 1):
    """Value and the fastest of ``repeats`` runs: wall s, process CPU s, peak traced GiB."""
    best, peak = None, 0
    for _ in range(repeats):
        tracemalloc.start()
        wall, cpu = time.perf_counter(), time.process_time()
        value = function()
        times = (time.perf_counter() - wall, time.process_time() - cpu)
        peak = max(peak, tracemalloc.get_traced_memory()[1])
        tracemalloc.stop()
        best = times if best is None or times[0] < best[0] else best
    return value, {"wall_s": best[0], "cpu_s": best[1], "peak_GiB": peak / 2**30}


def speed_data(n: int, d: int, seed: int = 0):
    rng = np.random.default_rng(seed)
    centers = rng.normal(0, 3, (30, d))
    group = rng.integers(0, 30, n)
    X = (centers[group] + rng.normal(size=(n, d))).astype(np.float32)
    label = rng.integers(0, 2, n)
    wrong = rng.random(n) < np.where(group < 2, 0.5, 0.05)
    return X, label, simulate_logits(label, 2, wrong.astype(float), random_state=seed), group


def run_speed(n: int) -> pd.DataFrame:
    X, label, logits, _ = speed_data(n, 512)
    proba = np.exp(logits)
    rows = []
    reduced, timing = _timed(
        lambda: PCA(128, svd_solver="randomized", random_state=0).fit_transform(X)
    )
    rows.append({"step": "PCA 512 -> 128 (randomized, all rows)", **timing})
    reduced = reduced.astype(np.float64)
    _, timing = _timed(
        lambda: GaussianMixture(25, covariance_type="diag", random_state=0).fit(reduced), 3
    )
    rows.append({"step": "sklearn GaussianMixture (baseline, k-means init)", **timing})
    for init in ("kmeans", "errors"):
        model, timing = _timed(
            lambda init=init: ErrorAwareMixture(25, init_params=init, random_state=0).fit(
                reduced, label, proba
            ),
            3,
        )
        rows.append(
            {"step": f"ErrorAwareMixture (gamma=10, {init} init, {model.n_iter_} it.)", **timing}
        )
    return pd.DataFrame(rows)


def _full_analysis(n: int) -> dict:
    X, label, logits, group = speed_data(n, 1000, seed=1)
    reports = pd.read_csv(data_dir() / "iu_xray" / "indiana_reports.csv")
    text = (reports["findings"].fillna("") + " " + reports["impression"].fillna("")).to_numpy()
    rng = np.random.default_rng(1)
    metadata = pd.DataFrame(
        {
            "age": rng.integers(18, 95, n),
            "sex": rng.choice(["F", "M"], n),
            # the two high-error image clusters come from one site, as an acquisition
            # failure would: the analysis then has slices to confirm and explain
            "site": np.where(group < 2, "E", rng.choice(list("ABCD"), n)),
        }
    )
    audit = AuditSet(
        sample_id=np.arange(n).astype(str), test_set=["iid"] * n, label=label, logits=logits,
        class_names=["negative", "positive"], features=X, metadata=metadata, text=text[rng.integers(0, len(text), n)],
    )  # fmt: skip
    # audits made by silentscope carry the images' appearance measures (a fourth modality):
    # real DermaMNIST measures, resampled to n rows
    from silentscope.data.appearance import appearance_measures, with_appearance

    images = np.load(data_dir() / "medmnist" / "dermamnist.npz")["test_images"]
    measured = appearance_measures(images)
    audit = with_appearance(
        audit, measures=measured.iloc[rng.integers(0, len(measured), n)].reset_index(drop=True)
    )
    report, timing = _timed(lambda: discover_slices(audit, n_seeds=5))
    stages = ", ".join(f"{k} {v:.1f}s" for k, v in report.timings.items())
    print(f"\nfull analysis stages: {stages}; {report.n_slices} slices confirmed", flush=True)
    return {
        "step": f"discover_slices, {n:,} x 1,000 + text + metadata + appearance, 5 seeds",
        **timing,
    }


def print_speed(n: int) -> None:
    """Print the speed table for ``n`` samples with the load average around it."""
    from slices import markdown

    print(
        f"Speed on {n:,} samples (2-core machine; Domino v0.1.5 reference: ~4 s for the same fit)"
    )
    load = os.getloadavg()
    rows = pd.concat([run_speed(n), pd.DataFrame([_full_analysis(n)])], ignore_index=True)
    print(markdown(rows, index=False, digits=2))
    print(
        f"load average (1, 5, 15 min): before {load[0]:.1f} {load[1]:.1f} {load[2]:.1f}, "
        "after {:.1f} {:.1f} {:.1f}; {} cores".format(*os.getloadavg(), os.cpu_count())
    )

"""Slice discovery benchmark: planted failures, trained networks, modalities, slicers, speed.

Run:  python benchmarks/slices.py                 (discovery + speed; first run trains and
                                                   caches 4 small CNNs, ~20 min on 2 cores)
      python benchmarks/slices.py --part discovery [--simulated]
      python benchmarks/slices.py --part speed [--n-speed 100000]

Discovery. Every default scenario is a small CNN *trained* (cross-entropy, CPU) on data
with a failure planted into its training or evaluation labels, audited on its test split;
the audit stores are cached in ``silentscope-out/bench-slices/`` (git-ignored; delete to
retrain). The image modality is the network's own penultimate features.

- ODIR-5K at 32 px (real fundus images, ages, sexes, keyword reports), see
  :func:`odir_planted_datasets`: a spurious camera artifact correlated with "normal" in
  training (normal vs abnormal); an under-sampled rare subtype (cataract, eye-laterality
  task); label noise in a subgroup (men over 70, eye-laterality task).
- silentscope's synthetic dermatoscopy data (5,000 images, 32 px): its own planted
  slices ``gt_slice_spurious`` (benign lesions with a ruler), ``gt_slice_rare``
  (amelanotic melanoma) and ``gt_slice_noisy`` (over-70s at site A, noisy labels).

``--simulated`` adds the earlier scenarios with *simulated* predictions on real samples
(silentscope.slices.simulation; labelled ``sim:``), an extra that measures recovery of a
planted failure independently of how a network fails.

Each method is fitted on a stratified half and scored on the other half with dcbench's
metrics (precision@10, precision@25, average precision of the best-matching slice), plus
the Jaccard index of that slice's members with the planted slice; this is repeated over
``--splits`` (default 3) different halves, each with its own seeds, and averaged. Mixture
rows are scored as ``discover_slices`` reports them: the consensus of 5 seeds in every
view (``MultiViewSlicer``: each modality alone plus the joint representation, or the
joint one only; fit time per seed), scores from the representation and the true label,
without the prediction. Baselines are single fits, with 10 slices (their usual setting)
and with as many slices as the default method has candidates (best-match metrics favour
more slices, so equal budgets are compared too). Stability: the best-matching slice's
mean Jaccard to the aligned slice of each seed's fit; reproducibility (default method):
its matched Jaccard to the consensus of 5 *other* seeds.

Speed (fits: fastest of 3 runs, wall and process CPU time, load average printed, as the
2 cores are shared). ``ErrorAwareMixture`` against scikit-learn's ``GaussianMixture``
(the named baseline, same settings as Domino v0.1.5's defaults: PCA to 128, 25
components, diagonal covariance; gamma = gamma-hat = 10 for ours) on 100,000 x 512
embeddings, and the whole ``discover_slices`` analysis on 100,000 samples x 1,000 feature
dimensions with reports and metadata. Domino's own time (~4 s for this fit on 2 cores)
is the published reference in the issue; Domino itself no longer installs with current
scikit-learn.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
import tracemalloc
from pathlib import Path

import cv2
import numpy as np
import pandas as pd
from sklearn.decomposition import PCA
from sklearn.mixture import GaussianMixture
from sklearn.model_selection import train_test_split

from silentscope.audit import AuditSet
from silentscope.slices import (
    ErrorAwareMixture,
    build_representation,
    discover_slices,
    make_slicer,
    score_discovery,
    simulate_logits,
)
from silentscope.slices.discover import MIXTURE_INIT, discovery_slicer
from silentscope.slices.slicers import slice_scores
from silentscope.slices.stability import match_slices

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
SLICE_ERROR, BASE_ERROR = 0.65, 0.06


# ---------------------------------------------------------------------- image embedding
def image_embedding(images: np.ndarray) -> np.ndarray:
    """Pixel statistics of uint8 RGB images (N, H, W, 3): a model-free image embedding."""
    rows = []
    for image in images:
        hsv = cv2.cvtColor(image, cv2.COLOR_RGB2HSV)
        hist = np.concatenate(
            [cv2.calcHist([hsv], [c], None, [16], [0, 256]).ravel() for c in range(3)]
        )
        grey = cv2.cvtColor(image, cv2.COLOR_RGB2GRAY).astype(np.float64) / 255
        thumb = cv2.resize(image, (8, 8), interpolation=cv2.INTER_AREA).ravel() / 255
        stats = [grey.mean(), grey.std(), (grey < 0.05).mean(), np.percentile(grey, 90)]
        rows.append(np.concatenate([thumb, hist / grey.size, stats]))
    return np.asarray(rows)


def load_odir() -> tuple[pd.DataFrame, np.ndarray]:
    frame = (
        pd.read_csv(DATA / "odir" / "metadata.csv").drop_duplicates("md5").reset_index(drop=True)
    )
    images = np.stack(
        [cv2.cvtColor(cv2.imread(str(DATA / "odir" / "images" / f), cv2.IMREAD_REDUCED_COLOR_8), cv2.COLOR_BGR2RGB)
         for f in frame["file"]]
    )  # fmt: skip
    return frame, images


# ---------------------------------------------------------------------- scenarios
def _audit(ids, label, logits, class_names, features, metadata, text) -> AuditSet:
    return AuditSet(
        sample_id=ids, test_set=["iid"] * len(ids), label=label, logits=logits, class_names=class_names,
        features=features, metadata=metadata.reset_index(drop=True), text=text,
    )  # fmt: skip


def odir_scenarios(seed: int = 0) -> dict[str, tuple[AuditSet, np.ndarray]]:
    frame, images = load_odir()
    features = image_embedding(images)
    grey = features[:, -4]
    label = (frame["label_code"] != "N").to_numpy().astype(int)
    metadata = frame[["age", "sex", "eye"]]
    text = frame["keywords"].to_numpy()
    ids = frame["file"].to_numpy()
    truths = {
        "odir/spurious": (frame["age"] < 45).to_numpy() & (label == 1),
        "odir/rare": frame["keywords"].str.contains("myopia").to_numpy(),
        "odir/noisy": ((frame["age"] > 70) & (frame["sex"] == "Male")).to_numpy(),
        "odir/acquisition": grey <= np.quantile(grey, 0.08),
    }
    scenarios = {}
    for i, (name, truth) in enumerate(truths.items()):
        rng = np.random.default_rng([seed, i])
        if name == "odir/noisy":  # the model predicts the clean label; the observed one is flipped
            flipped = truth & (rng.random(len(label)) < 0.35)
            observed = np.where(flipped, 1 - label, label)
            clean_logits = simulate_logits(label, 2, BASE_ERROR, random_state=rng)
            scenarios[name] = (
                _audit(
                    ids, observed, clean_logits, ["normal", "abnormal"], features, metadata, text
                ),
                truth,
            )
        else:
            logits = simulate_logits(
                label, 2, np.where(truth, SLICE_ERROR, BASE_ERROR), random_state=rng
            )
            scenarios[name] = (
                _audit(ids, label, logits, ["normal", "abnormal"], features, metadata, text),
                truth,
            )
    return scenarios


def synthetic_scenarios(
    seed: int = 0, n_samples: int = 5000
) -> dict[str, tuple[AuditSet, np.ndarray]]:
    from silentscope.data.synthetic import make_synthetic

    data = make_synthetic(n_samples, 32, seed=seed)
    test = np.flatnonzero(data.split == "test")
    features = image_embedding(data.load_images(test))
    metadata = data.metadata.iloc[test].reset_index(drop=True)
    label = np.asarray(data.labels)[test]
    text = np.asarray(data.text)[test]
    ids = np.asarray(data.sample_ids)[test]
    scenarios = {}
    for i, column in enumerate(("gt_slice_spurious", "gt_slice_rare", "gt_slice_noisy")):
        truth = metadata[column].to_numpy(dtype=bool)
        rng = np.random.default_rng([seed, 10 + i])
        logits = simulate_logits(
            label, 3, np.where(truth, SLICE_ERROR, BASE_ERROR), random_state=rng
        )
        scenarios[f"synthetic/{column[9:]}"] = (
            _audit(ids, label, logits, list(data.class_names), features, metadata, text),
            truth,
        )
    return scenarios


# ---------------------------------------------------------------------- trained scenarios
#: Trained audit stores are cached here (git-ignored); delete the folder to retrain.
CACHE = Path(__file__).resolve().parents[1] / "silentscope-out" / "bench-slices"
ODIR_SIZE, ODIR_FRACTIONS = 32, (0.6, 0.1, 0.3)


def _trained_audit(dataset, name: str, epochs: int, seed: int = 0, augment="default") -> AuditSet:
    """Train a small CNN with cross-entropy on ``dataset`` and audit its test split (cached)."""
    from silentscope.audit.store import load_audit, save_audit
    from silentscope.models import Trainer

    path = CACHE / name.replace("/", "-")
    if (path / "manifest.json").is_file():
        return load_audit(path)
    print(f"  training {name} ({epochs} epochs, cached in {path}) ...", flush=True)
    start = time.perf_counter()
    trainer = Trainer(
        objective="ce", epochs=epochs, augment=augment, random_state=seed, progress=False
    )
    audit = trainer.fit(dataset).audit(dataset, seed=seed, train_features=False)
    save_audit(audit, path, overwrite=True)
    print(f"  trained {name} in {time.perf_counter() - start:.0f} s", flush=True)
    return load_audit(path)


def _with_truth(audit: AuditSet, truth_by_id: dict) -> tuple[AuditSet, np.ndarray]:
    test = audit.select("iid")
    return test, np.array([truth_by_id[s] for s in test.sample_id], dtype=bool)


def trained_synthetic_scenarios(
    seed: int = 0, n_samples: int = 5000
) -> dict[str, tuple[AuditSet, np.ndarray]]:
    """One CNN trained on the synthetic data; its own planted slices, on its test split."""
    from silentscope.data import load_dataset

    data = load_dataset("synthetic", n_samples=n_samples, size=32, seed=seed)
    audit = _trained_audit(data, f"synthetic-{n_samples}", epochs=12, seed=seed)
    scenarios = {}
    for column in ("gt_slice_spurious", "gt_slice_rare", "gt_slice_noisy"):
        truth = dict(zip(data.sample_ids, data.metadata[column].to_numpy(dtype=bool), strict=True))
        scenarios[f"synthetic/{column[9:]}"] = _with_truth(audit, truth)
    return scenarios


def _odir_base(seed: int):
    from silentscope.data import load_dataset

    return load_dataset(
        "odir", root=DATA / "odir", size=ODIR_SIZE, label_scheme="normal_abnormal",
        duplicates="deduplicate", fractions=ODIR_FRACTIONS, seed=seed,
    )  # fmt: skip


def odir_planted_datasets(seed: int = 0) -> dict[str, tuple[object, np.ndarray]]:
    """ODIR-5K at 32 px with one failure planted per dataset (real images, ages, keywords).

    - ``odir/spurious`` (normal vs abnormal): a camera artifact (a bright overlay block in
      the lower-left corner, metadata ``camera = B``) marks 85% of the *normal* training
      and validation images and 5% of the abnormal ones; on the test split it marks 30%
      of images whatever their label. Ground truth: abnormal test images with the artifact.
    - ``odir/rare`` (eye laterality, left vs right, a task a small CNN learns at 32 px,
      unlike normal vs abnormal): cataract images, whose haze hides the optic disc, kept
      for 4% of their training and validation images. Ground truth: cataract test images.
    - ``odir/noisy`` (eye laterality): 35% of the labels of men over 70 flipped in every
      split, as in the synthetic data. Ground truth: the subgroup.
    """
    import dataclasses

    from silentscope.data.dataset import ArrayImages

    base = _odir_base(seed)
    rng = np.random.default_rng(seed)
    meta = base.metadata.reset_index(drop=True)
    # the per-eye diagnosis code would hand the slicer the answer (it names the subtype)
    base = dataclasses.replace(base, metadata=meta.drop(columns="label_code"))
    fit = base.split != "test"
    abnormal = base.labels == 1
    images = base.load_images()
    marked = np.where(fit, rng.random(len(images)) < np.where(abnormal, 0.05, 0.85),
                      rng.random(len(images)) < 0.30)  # fmt: skip
    artifact = images.copy()
    artifact[marked, -7:-2, 2:10] = 235  # a burnt-in overlay, as some fundus cameras print
    spurious = dataclasses.replace(
        base, images=ArrayImages(artifact),
        metadata=base.metadata.assign(camera=np.where(marked, "B", "A")),
    )  # fmt: skip
    laterality = dataclasses.replace(
        base, labels=(meta["eye"] == "right").to_numpy().astype(int),
        class_names=("left", "right"), metadata=base.metadata.drop(columns="eye"),
    )  # fmt: skip
    cataract = pd.Series(base.text).str.contains("cataract").to_numpy()
    keep = ~(cataract & fit & (rng.random(len(images)) > 0.04))
    rare = laterality.subset(np.flatnonzero(keep))
    old_men = ((meta["age"] > 70) & (meta["sex"] == "Male")).to_numpy()
    flipped = old_men & (rng.random(len(images)) < 0.35)
    noisy = dataclasses.replace(
        laterality, labels=np.where(flipped, 1 - laterality.labels, laterality.labels)
    )
    test = ~fit
    return {
        "odir/spurious": (spurious, marked & abnormal & test),
        "odir/rare": (rare, cataract[keep] & test[keep]),
        "odir/noisy": (noisy, old_men & test),
    }


def trained_odir_scenarios(seed: int = 0) -> dict[str, tuple[AuditSet, np.ndarray]]:
    """A small CNN trained on each planted ODIR dataset; scored on its test split."""
    scenarios = {}
    for name, (dataset, truth) in odir_planted_datasets(seed).items():
        # left-right flips would erase laterality, the task of two scenarios
        augment = ("shift",) if dataset.class_names == ("left", "right") else "default"
        audit = _trained_audit(dataset, name, epochs=10, seed=seed, augment=augment)
        scenarios[name] = _with_truth(audit, dict(zip(dataset.sample_ids, truth, strict=True)))
    return scenarios


# ---------------------------------------------------------------------- discovery
#: Methods compared: modalities, fusion, slicer, and for the mixture whether every
#: modality is also fitted alone (per-modality views) and its initialisation; for the
#: baselines the number of slices (``None``: as many as the default method's candidates,
#: so that best-match metrics compare equal slice budgets).
METHODS = {
    "image only / mixture": dict(modalities=("image",)),
    "text only / mixture": dict(modalities=("text",)),
    "metadata only / mixture": dict(modalities=("metadata",)),
    "multimodal concat / mixture": dict(fusion="concat"),
    "multimodal weighted, joint only, k-means init / mixture (session-2 default)": dict(
        per_modality=False, init="kmeans"
    ),
    "multimodal weighted, joint only / mixture": dict(per_modality=False),
    "multimodal weighted + per-modality views / mixture (default)": dict(),
    "multimodal weighted / error k-means, 10 slices": dict(slicer="error_clusters", n_slices=10),
    "multimodal weighted / error k-means, default's slice count": dict(slicer="error_clusters"),
    "multimodal weighted / spotlight, 10 slices": dict(slicer="spotlight", n_slices=10),
    "multimodal weighted / spotlight, default's slice count": dict(slicer="spotlight"),
}
DEFAULT_METHOD = "multimodal weighted + per-modality views / mixture (default)"
ALL = ("image", "text", "metadata")


def _mixture(rep, n_fit: int, init: str, per_modality: bool, n_seeds: int, seed: int):
    """The mixture as discover_slices builds it (its defaults), with a chosen start."""
    return discovery_slicer(
        rep, "error_mixture", {"init_params": init}, n_fit=n_fit, per_modality=per_modality,
        n_seeds=n_seeds, random_state=seed,
    )  # fmt: skip


def evaluate(
    audit: AuditSet, truth: np.ndarray, method: str, seed: int = 0, n_seeds: int = 5,
    default_slices: int | None = None,
) -> dict:  # fmt: skip
    """One method on one scenario: fitted on a stratified half, scored on the other."""
    spec = {"modalities": ALL, "fusion": "weighted", "slicer": "error_mixture",
            "per_modality": True, "init": MIXTURE_INIT, "n_slices": None, **METHODS[method]}  # fmt: skip
    rep = build_representation(audit, spec["modalities"], spec["fusion"], random_state=0)
    errors = ~audit.correct
    fit, held = train_test_split(
        np.arange(audit.n_samples), test_size=0.5, stratify=errors, random_state=seed
    )
    X, y, proba = rep.matrix, audit.label, audit.probabilities
    mixture = spec["slicer"] == "error_mixture"
    if mixture:
        model = _mixture(rep, len(fit), spec["init"], spec["per_modality"], n_seeds, seed)
        start = time.perf_counter()
        model.fit(X[fit], y[fit], proba[fit], errors[fit])
        seconds = (time.perf_counter() - start) / n_seeds
    else:
        model = make_slicer(
            spec["slicer"], n_slices=spec["n_slices"] or default_slices, random_state=seed
        )
        start = time.perf_counter()
        model.fit(X[fit], y[fit], proba[fit])
        seconds = time.perf_counter() - start
    # as discover_slices: scores from the representation and the label, not the prediction
    result = score_discovery(truth[held], slice_scores(model, X[held], y[held]))
    result["fit_s"] = seconds
    result["n_slices"] = model.n_slices_
    best = result["best_slice"]
    member = model.predict_membership(X[held], y[held])[:, best]
    result["jaccard_truth"] = float(
        (member & truth[held]).sum() / max((member | truth[held]).sum(), 1)
    )
    if mixture:
        result["stability"] = float(model.stability_.seed_stability[best])
        result["view"] = model.slice_view_[best]
        if method == DEFAULT_METHOD:  # the consensus itself, reproduced with 5 other seeds
            other = _mixture(rep, len(fit), spec["init"], True, n_seeds, seed + n_seeds)
            other.fit(X[fit], y[fit], proba[fit], errors[fit])
            members = model.predict_membership(X[fit], y[fit])
            result["reproducibility"] = float(
                match_slices(members, other.predict_membership(X[fit], y[fit]))[best]
            )
    return result


def run_discovery(quick: bool, simulated: bool, only: str = "all", splits: int = 3) -> pd.DataFrame:
    print("building scenarios (trained networks, cached in silentscope-out/) ...", flush=True)
    scenarios = {}
    if only in ("all", "odir"):
        scenarios.update(trained_odir_scenarios())
    if only in ("all", "synthetic"):
        scenarios.update(trained_synthetic_scenarios(n_samples=2500 if quick else 5000))
    if simulated:
        scenarios.update({f"sim:{k}": v for k, v in odir_scenarios().items()})
        synthetic = synthetic_scenarios(n_samples=2500 if quick else 5000)
        scenarios.update({f"sim:{k}": v for k, v in synthetic.items()})
    rows = []
    for name, (audit, truth) in scenarios.items():
        errors = ~audit.correct
        print(
            f"  {name}: {audit.n_samples} samples, slice {int(truth.sum())}, error rate "
            f"{errors.mean():.2f} overall, {errors[truth].mean():.2f} in the slice",
            flush=True,
        )
        for split in range(splits):  # each split: its own halves and its own seeds
            default = evaluate(audit, truth, DEFAULT_METHOD, seed=split)
            for method in METHODS:
                result = default if method == DEFAULT_METHOD else evaluate(
                    audit, truth, method, seed=split, default_slices=default["n_slices"]
                )  # fmt: skip
                rows.append({"scenario": name, "split": split, "method": method, **result})
    return pd.DataFrame(rows)


def print_discovery(results: pd.DataFrame) -> None:
    for group, frame in (
        ("trained networks", results[~results["scenario"].str.startswith("sim:")]),
        ("simulated predictions (extra)", results[results["scenario"].str.startswith("sim:")]),
    ):
        if frame.empty:
            continue
        splits = frame["split"].nunique()
        metrics = ["precision_at_10", "precision_at_25", "average_precision", "jaccard_truth"]
        per_split = frame.groupby(["method", "split"], sort=False)[metrics].mean()
        summary = frame.groupby("method", sort=False)[[*metrics, "n_slices", "fit_s"]].mean()
        summary.insert(1, "p@10 range over splits", [
            f"{per_split.loc[m, 'precision_at_10'].min():.2f}-{per_split.loc[m, 'precision_at_10'].max():.2f}"
            for m in summary.index
        ])  # fmt: skip
        print(
            f"\nSlice discovery, {group}: mean over {frame['scenario'].nunique()} scenarios x "
            f"{splits} splits (fit/score halves and seeds differ per split)"
        )
        print(markdown(summary))
        per = frame.pivot_table(index="method", columns="scenario", values="precision_at_10")
        print(f"\nprecision@10 per scenario (mean over {splits} splits), {group}")
        print(markdown(per.loc[[m for m in METHODS if m in per.index]], digits=2))
        stable = frame[frame["method"].str.contains("/ mixture")]
        table = stable.groupby(["method", "scenario"], sort=False).agg(
            stability=("stability", "mean"), stability_min=("stability", "min"),
            reproducibility=("reproducibility", "mean"), jaccard_truth=("jaccard_truth", "mean"),
            view=("view", lambda v: ", ".join(sorted(set(v)))),
        )  # fmt: skip
        print(
            f"\nStability of the best-matching slice, {group}, mean (and min) over {splits} "
            "splits (stability: mean Jaccard of the consensus slice to each of the 5 seeds' "
            "fits; reproducibility: matched Jaccard of the consensus to the consensus of 5 "
            "other seeds; view: which view's slice matched best)"
        )
        print(markdown(table))
        met = (table["stability"] >= 0.7).groupby(level="method", sort=False).agg(["sum", "size"])
        print("\nscenarios with mean stability >= 0.7: " + "; ".join(
            f"{m}: {r['sum']} of {r['size']}" for m, r in met.iterrows()
        ))  # fmt: skip


def markdown(frame: pd.DataFrame, index: bool = True, digits: int = 3) -> str:
    """A DataFrame as a Markdown table (no tabulate dependency)."""
    frame = frame.reset_index() if index else frame
    cells = [
        [f"{v:.{digits}f}" if isinstance(v, float) else str(v) for v in row]
        for row in frame.to_numpy()
    ]
    lines = ["| " + " | ".join(map(str, frame.columns)) + " |", "|" + "---|" * frame.shape[1]]
    return "\n".join(lines + ["| " + " | ".join(row) + " |" for row in cells])


# ---------------------------------------------------------------------- speed
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
    reports = pd.read_csv(DATA / "iu_xray" / "indiana_reports.csv")
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
    report, timing = _timed(lambda: discover_slices(audit, n_seeds=5))
    stages = ", ".join(f"{k} {v:.1f}s" for k, v in report.timings.items())
    print(f"\nfull analysis stages: {stages}; {report.n_slices} slices confirmed", flush=True)
    return {"step": f"discover_slices, {n:,} x 1,000 + text + metadata, 5 seeds", **timing}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer samples, faster")
    parser.add_argument("--part", choices=("all", "discovery", "speed"), default="all")
    parser.add_argument(
        "--only", choices=("all", "odir", "synthetic"), default="all",
        help="trained scenarios of one dataset only",
    )  # fmt: skip
    parser.add_argument(
        "--simulated", action="store_true",
        help="also run the simulated-prediction scenarios (extra, clearly labelled sim:)",
    )  # fmt: skip
    parser.add_argument(
        "--out", type=Path, default=None, help="CSV file for the per-scenario results"
    )
    parser.add_argument(
        "--splits", type=int, default=3,
        help="fit/score splits per scenario (each with its own seeds); results are averaged",
    )  # fmt: skip
    parser.add_argument(
        "--n-speed", type=int, default=None, help="samples for the speed part (default 100,000)"
    )
    args = parser.parse_args(argv)
    if not (DATA / "odir" / "metadata.csv").is_file():
        print(f"real datasets not found at {DATA}; nothing to benchmark", file=sys.stderr)
        return 1
    if args.part in ("all", "discovery"):
        results = run_discovery(args.quick, args.simulated, args.only, args.splits)
        if args.out:
            results.to_csv(args.out, index=False)
        print_discovery(results)
    if args.part in ("all", "speed"):
        n = args.n_speed or (20_000 if args.quick else 100_000)
        print(
            f"\nSpeed on {n:,} samples (2-core machine; Domino v0.1.5 reference: ~4 s for the same fit)"
        )
        load = os.getloadavg()
        rows = run_speed(n)
        rows = pd.concat([rows, pd.DataFrame([_full_analysis(n)])], ignore_index=True)
        print(markdown(rows, index=False, digits=2))
        print(
            f"load average (1, 5, 15 min): before {load[0]:.1f} {load[1]:.1f} {load[2]:.1f}, "
            "after {:.1f} {:.1f} {:.1f}; {} cores".format(*os.getloadavg(), os.cpu_count())
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""Study specifications for tests: over simulated audit stores, or a tiny training study."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from silentscope.audit import AuditSet
from silentscope.audit.store import save_audit


def simulated_store(path: Path, seed: int, n: int = 400) -> Path:
    """An audit store whose MSR carries signal, with iid, corruption and acquisition test sets."""
    rng = np.random.default_rng(seed)
    test_set = rng.choice(
        ["val", "iid", "cor/gaussian_noise/1", "cor/gaussian_noise/5", "acq/site_b"], n
    )
    label = rng.integers(0, 3, n)
    shift = np.select(
        [test_set == "cor/gaussian_noise/5", test_set == "acq/site_b"], [1.5, 1.0], 0.0
    )
    logits = rng.normal(size=(n, 3)) * (1 + shift[:, None])
    logits[np.arange(n), label] += 2.0 - shift
    audit = AuditSet(
        sample_id=[f"s{i}" for i in range(n)],
        test_set=test_set,
        label=label,
        logits=logits,
        class_names=["a", "b", "c"],
    )
    return save_audit(audit, path)


def store_study(tmp_path: Path, n_stores: int = 3, bootstrap: int = 0, **executor) -> dict:
    stores = [simulated_store(tmp_path / f"store{i}", seed=i) for i in range(n_stores)]
    return {
        "name": "stores",
        "datasets": [
            {"name": "store", "label": f"model{i}", "store": str(s)} for i, s in enumerate(stores)
        ],
        "csfs": ["MSR", "PE", "MLS"],
        "evaluation": {"bootstrap": bootstrap},
        "executor": {"kind": "local", "workers": 1, **executor},
    }


def tiny_study(**changes) -> dict:
    raw = {
        "name": "tiny",
        "datasets": [
            {
                "name": "synthetic",
                "options": {"seed": 0, "n_samples": 240, "size": 16},
                "corruptions": ["gaussian_noise"],
                "severities": [3],
            }
        ],
        "objectives": ["ce"],
        "seeds": [0, 1],
        "ensembles": ["ce"],
        "csfs": ["MSR", "MCD-MI"],
        "train": {"epochs": 1, "mc_samples": 3, "options": {"width": 4}},
        "evaluation": {"bootstrap": 0},
        "executor": {"kind": "local", "workers": 1},
    }
    raw.update(changes)
    return raw


def seeded_run(
    study: Path,
    seed: int,
    n: int = 600,
    objective: str = "ce",
    degenerate: bool = False,
    csfs: tuple[str, ...] = ("MSR", "PE", "ext:copy", "ext:oracle"),
) -> None:
    """A finished run folder, as the runner writes it, from a small store.

    Besides the logits' CSFs it carries ``ext:copy`` (MSR itself) and ``ext:oracle`` (knows
    which predictions fail, up to noise): one ties with MSR, one beats it clearly. A
    ``degenerate`` run calls every image 'no'. Its record holds the health verdict and the
    CSFs that could not be computed, as the runner's.
    """
    rng = np.random.default_rng(seed)
    test_set = rng.choice(["val", "iid", "cor/gaussian_noise/3"], n)
    label = rng.integers(0, 2, n)
    logits = rng.normal(size=(n, 2))
    logits[np.arange(n), label] += 0.8
    if degenerate:
        logits[:, 0] += 10.0
    audit = AuditSet(
        sample_id=[f"s{i}" for i in range(n)],
        test_set=test_set,
        label=label,
        logits=logits,
        class_names=["no", "yes"],
    )
    msr = audit.probabilities.max(axis=1)
    audit.confidences["copy"] = msr.copy()
    audit.confidences["oracle"] = audit.correct + rng.normal(0, 0.3, n)
    folder = study / "runs" / f"toy__{objective}__seed{seed}"
    save_audit(audit, folder / "audit")
    import warnings

    from silentscope.audit.health import DegenerateModelWarning
    from silentscope.evaluation import evaluate
    from silentscope.evaluation.result import health_columns

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DegenerateModelWarning)
        result = evaluate(audit, csfs=list(csfs), metrics=["aurc"], n_bootstrap=0,
                          random_state=seed)  # fmt: skip
    table = result.table.assign(**health_columns(result))
    table.insert(0, "seed", seed)
    table.insert(0, "objective", objective)
    table.insert(0, "dataset", "toy")
    table.to_parquet(folder / "evaluation.parquet", index=False)
    conventions = {
        key: result.settings[key]
        for key in ("mc_correctness", "ood_convention", "resampling")
        if key in result.settings
    }
    details = {"store": "audit", "health": {"toy": result.health.to_dict()},
               "unavailable_csfs": dict(result.unavailable), "conventions": {"toy": conventions}}  # fmt: skip
    record = {"run_id": folder.name, "status": "done", "dataset": "toy", "objective": objective,
              "seed": seed, "details": details}  # fmt: skip
    (folder / "run.json").write_text(json.dumps(record))


def partly_degenerate_study(study: Path) -> Path:
    """Three seeds per objective: ce healthy (MSR, PE); dg healthy in seeds 0-1 and collapsed
    in seed 2, with ``ext:oracle`` (whose healthy seeds beat every ce cell); confidnet
    collapsed in every seed."""
    for seed in (0, 1, 2):
        seeded_run(study, seed, csfs=("MSR", "PE"))
        seeded_run(study, seed, objective="dg", degenerate=seed == 2,
                   csfs=("MSR", "PE", "ext:oracle"))  # fmt: skip
        seeded_run(study, seed, objective="confidnet", degenerate=True, csfs=("MSR", "PE"))
    return study


def healthy_seed_cell(long, csf: str, objective: str, test_set: str, scale: float = 1000.0):
    """Mean and std (ddof 1) of a CSF's value over the healthy seeds of a study's long table,
    from the raw evaluation rows; and how many seeds there are in all."""
    rows = long[
        (long["metric"] == "aurc")
        & (long["csf"] == csf)
        & (long["objective"] == objective)
        & (long["test_set"] == test_set)
    ]
    healthy = rows.loc[~rows["degenerate"].astype(bool), "value"].to_numpy() * scale
    return healthy.mean(), healthy.std(ddof=1), len(healthy), len(rows)

"""What a run does: train -> infer on every test set -> evaluate, or evaluate a given store."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from silentscope.audit.store import load_audit, save_audit
from silentscope.study.spec import RunSpec

Progress = Callable[..., None]
EVALUATION_FILE = "evaluation.parquet"
STORE = "audit"


def run_pipeline(run: RunSpec, folder: Path, progress: Progress) -> dict[str, Any]:
    """Execute ``run`` writing its outputs into ``folder``; returns details for the run record.

    A multi-label run has one audit store per finding (``audit/<finding>/``); each is
    evaluated as its own dataset, ``<dataset>/<finding>``, in the study's tables.
    """
    import pandas as pd

    if run.dataset.store is not None:
        audits = {run.dataset.key: load_audit(run.dataset.store)}
        details: dict[str, Any] = {"store": str(Path(run.dataset.store).resolve())}
    else:
        audits, details = _train_and_audit(run, folder, progress)
    progress("evaluating")
    started = time.perf_counter()
    tables, unavailable = [], {}
    health, conventions = {}, {}
    for dataset, audit in audits.items():
        table, missing, health[dataset], conventions[dataset] = _evaluate(run, audit, dataset)
        tables.append(table)
        unavailable.update(missing)
    table = pd.concat(tables, ignore_index=True)
    table.to_parquet(folder / EVALUATION_FILE, index=False)
    details.update({"unavailable_csfs": unavailable, "n_rows": len(table), "health": health})
    # how MC-dropout CSFs and ood/ sets were judged, with the definitions (per dataset)
    details["conventions"] = conventions
    details["evaluate_seconds"] = round(time.perf_counter() - started, 1)
    return details


def _train_and_audit(run: RunSpec, folder: Path, progress: Progress):
    """Train and audit; the AuditSets by the dataset name their evaluation rows carry."""
    from silentscope.models.multilabel import save_finding_audits
    from silentscope.study.segmentation_run import segmentation_train_and_audit
    from silentscope.study.training_run import ensemble_and_audit, train_and_audit

    if run.study.task == "segmentation":
        build = segmentation_train_and_audit
    else:
        build = ensemble_and_audit if run.members else train_and_audit
    audit, details = build(run, folder, progress)
    artifacts = details.pop("artifacts", {})  # e.g. a segmentation's volume slices
    if not isinstance(audit, dict):
        save_audit(audit, folder / STORE)
        if artifacts:
            from silentscope.audit.artifacts import write_artifacts

            write_artifacts(folder / STORE, artifacts)
        details["store"] = STORE
        return {run.dataset.key: audit}, details
    stores = save_finding_audits(audit, folder / STORE)
    details["findings"] = {f: str(p.relative_to(folder)) for f, p in stores.items()}
    details["store"] = next(iter(details["findings"].values()))  # shown in the report
    return {f"{run.dataset.key}/{finding}": a for finding, a in audit.items()}, details


def _evaluate(run: RunSpec, audit, dataset: str) -> tuple[Any, dict, dict, dict]:
    """The run's rows (labelled with the classifier's health), unavailable CSFs, the health,
    and the correctness conventions used (``evaluate``'s settings)."""
    import warnings

    from silentscope.audit.health import DegenerateModelWarning
    from silentscope.evaluation import evaluate
    from silentscope.evaluation.result import health_columns

    settings = run.study.evaluation
    with warnings.catch_warnings():  # recorded in run.json and every row, and told by the runner
        warnings.simplefilter("ignore", DegenerateModelWarning)
        result = evaluate(
            audit,
            csfs=None if run.study.csfs == "all" else list(run.study.csfs),
            metrics=settings.metrics,
            n_bootstrap=settings.bootstrap,
            confidence_level=settings.confidence_level,
            random_state=run.seed,
            mc_correctness=settings.mc_correctness,
            ood_convention=settings.ood_convention,
        )
    table = result.table.assign(**health_columns(result))
    table.insert(0, "seed", run.seed)
    table.insert(0, "objective", run.objective)
    table.insert(0, "dataset", dataset)
    conventions = {
        key: result.settings[key]
        for key in ("mc_correctness", "ood_convention", "resampling")
        if key in result.settings
    }
    return table, dict(result.unavailable), result.health.to_dict(), conventions

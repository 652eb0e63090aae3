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
    """Execute ``run`` writing its outputs into ``folder``; returns details for the run record."""
    if run.dataset.store is not None:
        audit = load_audit(run.dataset.store)
        details: dict[str, Any] = {"store": str(Path(run.dataset.store).resolve())}
    else:
        audit, details = _train_and_audit(run, folder, progress)
        details["store"] = STORE
    progress("evaluating")
    started = time.perf_counter()
    details.update(_evaluate(run, audit, folder))
    details["evaluate_seconds"] = round(time.perf_counter() - started, 1)
    return details


def _train_and_audit(run: RunSpec, folder: Path, progress: Progress):
    from silentscope.study.training_run import ensemble_and_audit, train_and_audit

    build = ensemble_and_audit if run.members else train_and_audit
    audit, details = build(run, folder, progress)
    save_audit(audit, folder / STORE)
    return audit, details


def _evaluate(run: RunSpec, audit, folder: Path) -> dict[str, Any]:
    from silentscope.evaluation import evaluate

    settings = run.study.evaluation
    result = evaluate(
        audit,
        csfs=None if run.study.csfs == "all" else list(run.study.csfs),
        metrics=settings.metrics,
        n_bootstrap=settings.bootstrap,
        confidence_level=settings.confidence_level,
        random_state=run.seed,
    )
    table = result.table.copy()
    table.insert(0, "seed", run.seed)
    table.insert(0, "objective", run.objective)
    table.insert(0, "dataset", run.dataset.key)
    table.to_parquet(folder / EVALUATION_FILE, index=False)
    return {"unavailable_csfs": dict(result.unavailable), "n_rows": len(table)}

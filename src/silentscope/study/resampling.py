"""Joint resamples of a study's table: every CSF's value in every column, over test samples and seeds.

The b-th resample of a study draws, for every test set, the same test samples with
replacement for every run and CSF (the draw is seeded from the dataset and test-set
names, so every seed, objective and CSF is judged on the same images), and draws the
seeds of each objective with replacement. A column value (dataset, shift kind) is then
computed exactly as in the summary table: the metric per test set, the mean over the
kind's test sets within a run, the mean over the drawn seeds. Differences and ranks
taken within one resample are paired: a CSF and MSR differ in that resample only by
their confidences, never by the draw.

The confidences are recomputed from each run's audit store (the CSFs are fitted again,
as ``evaluate`` did); the full-data values are checked against the evaluation rows and
the largest difference is recorded (:attr:`Resamples.check`).
"""

from __future__ import annotations

import json
import zlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from silentscope.audit.store import load_audit
from silentscope.audit.test_sets import parse_test_set
from silentscope.evaluation.correctness import judged_rows
from silentscope.metrics import BOOTSTRAP_METRICS, bootstrap_ci
from silentscope.study.pipelines import EVALUATION_FILE
from silentscope.study.results import csf_label, per_test_set_rows, summary_table
from silentscope.study.runs import RUN_RECORD, RUNS


@dataclass(frozen=True)
class Resamples:
    """Every CSF's value in every column of one metric's table, on every joint resample.

    Attributes
    ----------
    metric : str
    labels : list of str
        Table rows (CSF labels), in table order.
    columns : list of (dataset, kind)
    point : ndarray of shape (n_labels, n_columns)
        The table's values (mean over seeds), NaN where a CSF has no value.
    values : ndarray of shape (n_labels, n_columns, n_resamples)
    degenerate : ndarray of shape (n_labels, n_columns), bool
        Cells with a degenerate classifier among their seeds.
    over : str
        What was resampled, in words (``"test samples and seeds"``, ...).
    notes : list of str
        Caveats: runs without a store (no sample resampling), objectives with one run.
    check : float
        Largest difference between a recomputed full-data value and the evaluation row's.
    n_degenerate, n_seeds : ndarray of shape (n_labels, n_columns), optional
        Degenerate seeds and all seeds of each cell, for saying why a cell is not ranked.
    """

    metric: str
    labels: list[str]
    columns: list[tuple[str, str]]
    point: np.ndarray
    values: np.ndarray
    degenerate: np.ndarray
    over: str
    notes: list[str] = field(default_factory=list)
    check: float = 0.0
    n_degenerate: np.ndarray | None = None
    n_seeds: np.ndarray | None = None

    @property
    def n_resamples(self) -> int:
        return int(self.values.shape[2])


def run_folders(study_dirs: Sequence[str | Path]) -> list[Path]:
    """Finished run folders of the studies (or the run folders themselves)."""
    folders = []
    for study_dir in map(Path, study_dirs):
        if (study_dir / EVALUATION_FILE).is_file():
            folders.append(study_dir)
        else:
            folders += sorted(p for p in (study_dir / RUNS).glob("*") if (p / RUN_RECORD).is_file())
    return folders


def _stores(folder: Path) -> dict[str, Path]:
    """dataset label of the rows -> audit store, from a run record."""
    record = json.loads((folder / RUN_RECORD).read_text())
    details = record.get("details", {})
    if details.get("findings"):  # a multi-label run: one store per finding
        return {f"{record['dataset']}/{f}": folder / p for f, p in details["findings"].items()}
    store = Path(details.get("store", "audit"))
    return {record["dataset"]: store if store.is_absolute() else folder / store}


def _draws(dataset: str, test_set: str, n: int, n_resamples: int, random_state: int) -> np.ndarray:
    """The sample draws of one test set: the same for every run of the dataset."""
    key = zlib.crc32(f"{dataset}\0{test_set}\0{n}".encode())
    rng = np.random.default_rng([random_state, key])
    return rng.integers(0, n, size=(n_resamples, n))


def _ood_convention(rows: pd.DataFrame) -> str:
    notes = rows.get("note", pd.Series(dtype=object)).dropna().astype(str)
    found = notes.str.extract(r"ood_convention='(\w+)'")[0].dropna()
    return str(found.iloc[0]) if len(found) else "fdshifts"


def _run_values(
    folder: Path,
    long: pd.DataFrame,
    metrics: Sequence[str],
    n_resamples: int,
    random_state: int,
) -> tuple[dict, float, list[str]]:
    """(metric, dataset, objective, seed, csf, test_set) -> (estimate, resample values).

    ``long`` holds the single test sets' rows (:func:`per_test_set_rows`) of the metrics.
    """
    from silentscope.confidence import compute_confidences

    record = json.loads((folder / RUN_RECORD).read_text())
    objective, seed = record["objective"], int(record["seed"])
    out, worst, notes = {}, 0.0, []
    for dataset, store in _stores(folder).items():
        rows = long[
            (long["dataset"] == dataset)
            & (long["objective"] == objective)
            & (long["seed"] == seed)
            & long["metric"].isin(metrics)
        ]
        if rows.empty:
            continue
        try:
            audit = load_audit(store)
        except (OSError, ValueError) as error:
            notes.append(
                f"{folder.name}: its audit store could not be read ({error}); its values are "
                "not resampled over test samples"
            )
            continue
        confidences, _ = compute_confidences(audit, sorted(set(rows["csf"])))
        convention = _ood_convention(rows)
        for test_set, at_set in rows.groupby("test_set", sort=False):
            kind = parse_test_set(test_set).kind
            judged, _ = judged_rows(
                audit, np.flatnonzero(audit.test_set == test_set), kind, audit.correct, convention
            )
            draws = _draws(dataset, test_set, len(judged), n_resamples, random_state)
            correct = audit.correct[judged]
            # a segmentation is judged on its continuous risk (1 - Dice), as evaluate judges it;
            # its `correct` (risk == 0) would tie every CSF
            risk = None if audit.risk is None else audit.risk[judged]
            for csf, at_csf in at_set.groupby("csf", sort=False):
                if csf not in confidences:
                    continue
                wanted = list(dict.fromkeys(at_csf["metric"]))
                try:
                    found = bootstrap_ci(
                        confidences[csf][judged],
                        correct if risk is None else None,
                        wanted,
                        loss=risk,
                        resample_indices=draws,
                        n_jobs=1,
                    )
                except ValueError:  # undefined on this test set (e.g. no failure): NaN
                    continue
                for metric, result in found.items():
                    recorded = float(at_csf.loc[at_csf["metric"] == metric, "value"].iloc[0])
                    if np.isfinite(recorded):
                        worst = max(worst, abs(recorded - result.estimate))
                    key = (metric, dataset, objective, seed, csf, test_set)
                    out[key] = (result.estimate, result.samples)
    return out, worst, notes


def study_resamples(
    study_dirs: Sequence[str | Path],
    long: pd.DataFrame,
    metrics: Sequence[str] = ("aurc", "augrc"),
    n_resamples: int = 1000,
    random_state: int = 0,
) -> dict[str, Resamples]:
    """Joint resamples of each metric's summary table (see the module docstring).

    Parameters
    ----------
    study_dirs : sequence of path
        The study folders (or run folders) whose runs made ``long``.
    long : DataFrame
        Their long results (:func:`~silentscope.study.results.combined_results`).
    metrics : sequence of str
        Metrics to resample; those without a vectorised bootstrap are skipped.
    n_resamples : int, default 1000
    random_state : int, default 0

    Returns
    -------
    dict of str to Resamples
    """
    metrics = [m for m in metrics if m in BOOTSTRAP_METRICS and m in set(long["metric"])]
    per_set, worst, notes = {}, 0.0, []
    sets = per_test_set_rows(long[long["metric"].isin(metrics)])  # once, not per run
    for folder in run_folders(study_dirs):
        found, diff, said = _run_values(folder, sets, metrics, n_resamples, random_state)
        per_set.update(found)
        worst, notes = max(worst, diff), notes + said
    return {m: _combine(long, m, per_set, n_resamples, random_state, notes, worst) for m in metrics}


def _combine(long, metric, per_set, n_resamples, random_state, notes, worst) -> Resamples:
    # every seed, as the resamples draw them; ranks leave out cells with a degenerate seed
    table = summary_table(long, metric, include_degenerate=True)
    labels = list(table.index)
    means = table.xs("mean", axis=1, level=2)
    columns = [tuple(c) for c in means.columns]
    counts = table.xs("n_degenerate", axis=1, level=2).reindex_like(means).fillna(0).to_numpy()
    degenerate = counts > 0
    rows = per_test_set_rows(long[long["metric"] == metric])
    rows = rows.assign(
        label=[csf_label(c, o) for c, o in zip(rows["csf"], rows["objective"], strict=True)],
        kind=rows["test_set"].map(lambda name: parse_test_set(name).kind),
    )
    values = np.full((len(labels), len(columns), n_resamples), np.nan)
    rng = np.random.default_rng([random_state, zlib.crc32(metric.encode())])
    one_run, no_samples = [], set()
    for (dataset, objective), runs in rows.groupby(["dataset", "objective"], sort=False):
        seeds = sorted(set(runs["seed"]))
        if len(seeds) == 1 and len(set(rows["seed"])) > 1:
            one_run.append(f"{dataset} / {objective}")
        # the seeds of this objective drawn with replacement, the same for all its CSFs
        drawn = rng.integers(0, len(seeds), size=(n_resamples, len(seeds)))
        for (label, kind), cell in runs.groupby(["label", "kind"], sort=False):
            per_seed = np.full((len(seeds), n_resamples), np.nan)
            for i, seed in enumerate(seeds):
                sets = cell[cell["seed"] == seed]
                samples = []
                for r in sets.itertuples(index=False):
                    key = (metric, dataset, objective, seed, r.csf, r.test_set)
                    if key in per_set:
                        samples.append(per_set[key][1])
                    else:  # no store: the recorded value in every resample
                        no_samples.add(f"{dataset} / {objective} / seed {seed}")
                        samples.append(np.full(n_resamples, r.value))
                if samples:
                    per_seed[i] = np.mean(samples, axis=0)
            c = columns.index((dataset, kind))
            values[labels.index(label), c] = per_seed[drawn.T, np.arange(n_resamples)].mean(0)
    n_seeds = int(table.xs("n_seeds", axis=1, level=2).max().max())
    over = "test samples and seeds" if n_seeds > 1 else "test samples only (one seed)"
    if no_samples and len(no_samples) == rows.groupby(["dataset", "objective", "seed"]).ngroups:
        over = "seeds only (no audit store could be read)" if n_seeds > 1 else "nothing"
    said = list(notes)
    if no_samples:
        said.append(
            "not resampled over test samples (no readable audit store): "
            + ", ".join(sorted(no_samples))
        )
    if one_run:
        said.append("one run only, so no spread over seeds in its resamples: " + ", ".join(one_run))
    if n_seeds <= 1:
        said.append(
            "one seed: the intervals hold test-sample noise only, not seed-to-seed variation"
        )
    return Resamples(
        metric=metric,
        labels=labels,
        columns=columns,
        point=means.reindex(index=labels).to_numpy(dtype=float),
        values=values,
        degenerate=degenerate,
        over=over,
        notes=said,
        check=worst,
        n_degenerate=counts.astype(int),
        n_seeds=table.xs("n_seeds", axis=1, level=2).reindex_like(means).fillna(0).to_numpy(),
    )

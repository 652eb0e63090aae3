"""Study results: the long table of every run, and the paper-style summary table.

The summary follows Fig. 1 of Bungert et al. (MICCAI 2023): rows are CSFs, columns are
dataset x shift kind (iid, cor, acq, man, sub), cells are a metric averaged over seeds. The
``cor`` cell is the mean over the corruption test sets (every type and severity, each
weighing the same), as in the paper, computed by :func:`silentscope.evaluation.kind_means`
like every per-kind value silentscope prints; the per-corruption, per-severity breakdown
and the pooled groups stay in the long table.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from silentscope.audit.shift_change import NEGLIGIBLE_CHANGE, is_negligible_shift
from silentscope.evaluation.correctness import OOD_DEFINITIONS
from silentscope.evaluation.kinds import is_test_set, kind_caption, kind_means
from silentscope.study.pipelines import EVALUATION_FILE
from silentscope.study.runs import FAILED, RUN_RECORD, RUNS

KIND_ORDER = ("iid", "cor", "acq", "man", "sub", "prev", "ood", "shift")
#: Appended to every value of a degenerate classifier in printed and written tables.
DEGENERATE_MARK = "†"


def collect_results(study_dir: str | Path) -> pd.DataFrame:
    """Concatenate the evaluation tables of every finished run of a study (or one run folder)."""
    study_dir = Path(study_dir)
    if (study_dir / EVALUATION_FILE).is_file():
        folders = [study_dir]
    else:
        folders = sorted(p for p in (study_dir / RUNS).glob("*") if (p / RUN_RECORD).is_file())
    if not folders:
        raise FileNotFoundError(
            f"{study_dir} holds no finished run; run `silentscope study run` first"
        )
    return pd.concat([pd.read_parquet(p / EVALUATION_FILE) for p in folders], ignore_index=True)


def combined_results(study_dirs: Sequence[str | Path]) -> pd.DataFrame:
    """The long results of several studies in one table; a dataset may appear in only one."""
    tables = [collect_results(d) for d in study_dirs]
    owners: dict[str, Path] = {}
    for study_dir, table in zip(study_dirs, tables, strict=True):
        for dataset in table["dataset"].unique():
            if dataset in owners:
                raise ValueError(
                    f"dataset {dataset!r} is in both {owners[dataset]} and {study_dir}; combine "
                    "studies of different datasets (or give the datasets distinct labels)"
                )
            owners[dataset] = Path(study_dir)
    return pd.concat(tables, ignore_index=True)


def degenerate_runs(long: pd.DataFrame) -> dict[tuple[str, str, int], str]:
    """(dataset, objective, seed) -> reason, for every run whose classifier is degenerate.

    Read from the ``degenerate`` and ``health`` columns each run's rows carry (see
    :func:`~silentscope.evaluation.result.health_columns`); results written before those
    columns existed have none.
    """
    if "degenerate" not in long:
        return {}
    rows = long[long["degenerate"].astype(bool)].drop_duplicates(["dataset", "objective", "seed"])
    return {
        (str(r.dataset), str(r.objective), int(r.seed)): str(r.health)
        for r in rows.itertuples(index=False)
    }


def degenerate_lines(long: pd.DataFrame) -> list[str]:
    """One line per degenerate run: which run, and why (its health verdict)."""
    return [
        f"{DEGENERATE_MARK} degenerate classifier, {dataset} / {objective} / seed {seed}: {reason}"
        for (dataset, objective, seed), reason in degenerate_runs(long).items()
    ]


def degenerate_note(long: pd.DataFrame, include_degenerate: bool = False) -> str:
    """The footnote of the :data:`DEGENERATE_MARK`: one line per degenerate run, saying
    which run was left out of its cells and why, then what the marked cells hold; empty
    when no run is degenerate.

    Examples
    --------
    >>> long = pd.DataFrame({"dataset": "d", "objective": "dg", "seed": [0, 1],
    ...     "degenerate": [False, True], "health": ["", "predicts only 'a'"]})
    >>> print(degenerate_note(long).splitlines()[0])
    † degenerate classifier, d / dg / seed 1: predicts only 'a'
    """
    lines = degenerate_lines(long)
    if not lines:
        return ""
    if include_degenerate:
        lines.append(
            f"{DEGENERATE_MARK} cells: the mean over every seed, degenerate ones included "
            "(include_degenerate), competing for best marks and ranks."
        )
    else:
        lines.append(
            f"{DEGENERATE_MARK} cells: a degenerate run is left out of every mean. A cell "
            "marked (k/n) is the mean ± std over its k healthy of n seeds: another seed set "
            "than the other cells', so it takes no best mark, colour or rank. A cell whose "
            "seeds are all degenerate shows no number (its values are in evaluation_long.csv)."
        )
    return "\n".join(lines)


def failed_runs(study_dir: str | Path) -> dict[str, str]:
    folder = Path(study_dir) / FAILED
    if not folder.is_dir():
        return {}
    return {p.stem: json.loads(p.read_text())["error"] for p in sorted(folder.glob("*.json"))}


def csf_label(csf: str, objective: str) -> str:
    """Row label of a CSF: qualified by its training objective unless that is plain CE.

    In a deep-ensemble run the MC samples are the members' logits, so ``MCD-<x>`` is the
    ensemble's ``DE-<x>`` (FD-Shifts' naming).

    Examples
    --------
    >>> csf_label("MSR", "ce"), csf_label("MCD-MI", "devries"), csf_label("MCD-MI", "de")
    ('MSR', 'MCD-MI (devries)', 'DE-MI')
    """
    if (objective == "de" or objective.startswith("de-")) and csf.startswith("MCD-"):
        name = "DE-" + csf.removeprefix("MCD-")
        return name if objective == "de" else f"{name} ({objective})"
    return csf if objective in ("ce", "store") else f"{csf} ({objective})"


def per_test_set_rows(long: pd.DataFrame) -> pd.DataFrame:
    """Rows of individual test sets (pooled rows such as ``cor (pooled)`` are dropped).

    Corrupted sets whose images did not change (:func:`unchanged_test_sets`) are dropped
    too: they are the iid set again and must not be reported as a shift.
    """
    valid = long["test_set"].map(is_test_set)
    if "shift_change" in long:
        valid &= ~long["shift_change"].map(is_negligible_shift)
    return long[valid].copy()


def unchanged_test_sets(long: pd.DataFrame) -> dict[str, float]:
    """Test sets left out of the tables because their measured change is negligible.

    Returns the test-set name and its change (grey levels), for the note that says why.
    """
    if "shift_change" not in long:
        return {}
    rows = long[long["shift_change"].map(is_negligible_shift)]
    return rows.groupby("test_set")["shift_change"].mean().to_dict()


def kinds_caption(long: pd.DataFrame) -> str:
    """What the averaged kind columns hold, e.g. ``cor = mean over 10 corruption test sets (...)``."""
    sets = per_test_set_rows(long).drop_duplicates(["dataset", "test_set"])
    counts = kind_means(sets.assign(one=1.0), by=["dataset"], value="one")
    return "; ".join(filter(None, [kind_caption(counts, "dataset"), ood_caption(long)]))


def ood_caption(long: pd.DataFrame) -> str:
    """How the ood/ test sets were judged (read from the rows' notes), empty when there are none.

    Examples
    --------
    >>> long = pd.DataFrame({"test_set_kind": ["ood"], "note": [
    ...     "judged on 9 correctly classified iid samples + 3 ood samples (each a failure; ood_convention='fdshifts')"]})
    >>> ood_caption(long)[:60]
    'ood: an ood/ test set is evaluated on the correctly classifi'
    """
    if "test_set_kind" not in long or "note" not in long:
        return ""
    notes = long.loc[long["test_set_kind"] == "ood", "note"].dropna().astype(str)
    found = sorted(set(notes.str.extract(r"ood_convention='(\w+)'")[0].dropna()))
    return "; ".join(f"ood: {OOD_DEFINITIONS[name]}" for name in found if name in OOD_DEFINITIONS)


def seeds_phrase(table: pd.DataFrame) -> str:
    """What a cell of :func:`summary_table` holds: a mean ± std only where there are seeds to vary.

    Examples
    --------
    >>> columns = pd.MultiIndex.from_tuples([("d", "iid", "n_seeds")])
    >>> seeds_phrase(pd.DataFrame([[1], [1]], columns=columns))
    'one seed per cell: no spread over seeds'
    >>> seeds_phrase(pd.DataFrame([[3], [2]], columns=columns))
    'mean ± std over 2-3 seeds'
    """
    counts = table.xs("n_seeds", axis=1, level=2).to_numpy().ravel()
    counts = counts[counts > 0].astype(int)
    low, high = (int(counts.min()), int(counts.max())) if len(counts) else (1, 1)
    if high <= 1:
        return "one seed per cell: no spread over seeds"
    return f"mean ± std over {low if low == high else f'{low}-{high}'} seeds"


def summary_table(
    long: pd.DataFrame, metric: str = "aurc", include_degenerate: bool = False
) -> pd.DataFrame:
    """CSF x (dataset, shift kind) table of ``metric``: mean and std over seeds, and seed counts.

    A degenerate seed's value is never averaged with a healthy seed's unless
    ``include_degenerate``: its confidences rank noise around one class.

    Parameters
    ----------
    long : DataFrame
        Long results (:func:`collect_results`).
    metric : str, default "aurc"
    include_degenerate : bool, default False
        Average every seed of a cell, degenerate ones included. By default a cell with a
        degenerate seed and at least one healthy seed is the mean ± std over its healthy
        seeds only (a *partial* cell, which :func:`format_summary` marks ``(k/n)``), and a
        cell whose seeds are all degenerate is their own mean (no printed table shows it).

    Returns
    -------
    DataFrame
        Indexed by CSF label, with MultiIndex columns (dataset, kind, statistic) where
        statistic is ``mean``, ``std``, ``n_seeds`` (every seed of the cell),
        ``n_degenerate`` (those whose classifier is degenerate) and ``n_averaged`` (the
        seeds in ``mean`` and ``std``). :func:`best_per_column` and :func:`mean_ranks`
        leave out every cell with a degenerate seed, partial ones included, unless
        ``include_degenerate``: a mean over another set of seeds is not comparable.

    Examples
    --------
    >>> long = pd.DataFrame({"dataset": "d", "test_set": "iid", "metric": "aurc",
    ...     "csf": "MSR", "objective": "ce", "seed": [0, 1, 2],
    ...     "value": [0.1, 0.2, 0.9], "degenerate": [False, False, True]})
    >>> cell = summary_table(long).loc["MSR", ("d", "iid")]
    >>> cell[["mean", "n_averaged", "n_seeds", "n_degenerate"]].round(3).tolist()
    [0.15, 2.0, 3.0, 1.0]
    >>> round(float(summary_table(long, include_degenerate=True).loc["MSR", ("d", "iid", "mean")]), 3)
    0.4
    """
    rows = per_test_set_rows(long[long["metric"] == metric])
    if rows.empty:
        raise ValueError(
            f"no rows for metric {metric!r}; available: {sorted(long['metric'].unique())}"
        )
    rows["csf_label"] = [
        csf_label(c, o) for c, o in zip(rows["csf"], rows["objective"], strict=True)
    ]
    rows["degenerate"] = rows["degenerate"].astype(bool) if "degenerate" in rows else False
    # mean over test sets of a kind within each run (cor: over types and severities) ...
    per_run = kind_means(rows, by=["dataset", "csf_label", "objective", "seed", "degenerate"])
    cell = ["dataset", "kind", "csf_label"]
    bad = per_run.groupby(cell)["degenerate"].transform("sum")
    seeds = per_run.groupby(cell)["degenerate"].transform("count")
    # ... then over seeds: a degenerate seed only with others like it, unless asked
    averaged = per_run["value"].where(include_degenerate | ~per_run["degenerate"] | (bad == seeds))
    stats = (
        per_run.assign(averaged=averaged)
        .groupby(cell)
        .agg(
            mean=("averaged", "mean"),
            std=("averaged", "std"),
            n_seeds=("value", "count"),
            n_degenerate=("degenerate", "sum"),
            n_averaged=("averaged", "count"),
        )
    )
    table = stats.unstack(["dataset", "kind"])
    table.columns = table.columns.reorder_levels([1, 2, 0])
    kinds = [k for k in KIND_ORDER if k in set(per_run["kind"])]
    datasets = list(dict.fromkeys(rows["dataset"]))  # the order the studies were given
    ordered = [
        (d, k, s)
        for d in datasets
        for k in kinds
        for s in _STATISTICS
        if (d, k, s) in table.columns
    ]
    table = table[ordered]
    return table.loc[_row_order(rows, table.index)]


#: The statistics of each cell of :func:`summary_table`, in column order.
_STATISTICS = ("mean", "std", "n_seeds", "n_degenerate", "n_averaged")


#: Objectives in the order of the paper's tables; others follow alphabetically, ensembles last.
_OBJECTIVE_ORDER = ("store", "ce", "dg", "confidnet", "devries")


def objective_order(objectives) -> list[str]:
    """Distinct objectives in table order.

    Examples
    --------
    >>> objective_order(["devries", "ce", "de", "dg", "ce", "confidnet"])
    ['ce', 'dg', 'confidnet', 'devries', 'de']
    """

    def key(objective: str):
        if objective in _OBJECTIVE_ORDER:
            return (0, _OBJECTIVE_ORDER.index(objective), "")
        ensemble = objective == "de" or objective.startswith("de-")
        return (2 if ensemble else 1, 0, objective)

    return sorted(dict.fromkeys(objectives), key=key)


def _row_order(rows: pd.DataFrame, labels) -> list[str]:
    """Rows grouped by objective (study order), the objective's own score first, then the
    CSFs in registry order (MSR, MLS, PE, ..., MCD-*, feature-based), as in the paper's table."""
    from silentscope.confidence.registry import registered_csfs

    registry = {name: i for i, name in enumerate(registered_csfs())}
    objectives = {o: i for i, o in enumerate(objective_order(rows["objective"]))}
    first = rows.drop_duplicates("csf_label").set_index("csf_label")

    def key(label: str):
        csf, objective = first.loc[label, "csf"], first.loc[label, "objective"]
        return (objectives[objective], not csf.startswith("ext:"), registry.get(csf, 99), csf)

    return sorted(labels, key=key)


def _comparable(table: pd.DataFrame, include_degenerate: bool) -> pd.DataFrame:
    """The ``mean`` values by (dataset, kind); NaN where a degenerate seed is in the cell
    (whether or not its mean left it out), unless ``include_degenerate``."""
    means = table.xs("mean", axis=1, level=2)
    if include_degenerate or "n_degenerate" not in table.columns.get_level_values(2):
        return means
    degenerate = table.xs("n_degenerate", axis=1, level=2).reindex_like(means).fillna(0) > 0
    return means.mask(degenerate)


def best_per_column(
    table: pd.DataFrame, higher_is_better: bool, include_degenerate: bool = False
) -> dict[tuple[str, str], str]:
    """The best CSF per (dataset, kind) column of a summary table.

    Cells with a degenerate seed compete only with ``include_degenerate=True`` (give the
    table :func:`summary_table` built with the same flag): a degenerate network's
    confidences rank noise around one class, and a low AURC there is no achievement. A
    partial cell (the mean over its healthy seeds) does not compete either: it averages
    another set of seeds than the full cells of its column.
    """
    means = _comparable(table, include_degenerate)
    best = {}
    for dataset, kind in means.columns:
        column = means[(dataset, kind)].dropna()
        if column.empty:
            continue
        best[(dataset, kind)] = column.idxmax() if higher_is_better else column.idxmin()
    return best


def mean_ranks(
    table: pd.DataFrame, higher_is_better: bool, include_degenerate: bool = False
) -> pd.Series:
    """Mean rank of each CSF over the (dataset, kind) columns, best first.

    Cells with a degenerate seed (partial ones included, see :func:`best_per_column`) are
    left out unless ``include_degenerate``; a CSF with no other cell is not ranked.

    Examples
    --------
    >>> columns = pd.MultiIndex.from_tuples([("d", "iid", s) for s in
    ...     ("mean", "std", "n_seeds", "n_degenerate")])
    >>> table = pd.DataFrame([[0.1, 0, 1, 0], [0.05, 0, 1, 1], [0.2, 0, 1, 0]],
    ...                      index=["MSR", "ext:confidnet (confidnet)", "PE"], columns=columns)
    >>> mean_ranks(table, higher_is_better=False).to_dict()
    {'MSR': 1.0, 'PE': 2.0}
    >>> list(mean_ranks(table, False, include_degenerate=True).index)
    ['ext:confidnet (confidnet)', 'MSR', 'PE']
    """
    means = _comparable(table, include_degenerate)
    ranks = means.rank(ascending=not higher_is_better, axis=0).mean(axis=1)
    return ranks.dropna().sort_values()


def degenerate_cell(n_degenerate: int, n_seeds: int) -> str:
    """The text of a cell whose ``n_seeds`` seeds are all degenerate: no number.

    Its mean is a collapsed network's noise and takes no rank or mark, so the cell says
    what it is (the values stay in the long table). A cell with healthy seeds left shows
    their mean instead, marked by :func:`partial_mark`.

    Examples
    --------
    >>> degenerate_cell(1, 1), degenerate_cell(3, 3)
    ('degenerate†', 'degenerate†')
    """
    if n_degenerate < n_seeds:
        raise ValueError(
            f"{n_seeds - n_degenerate} of the cell's {n_seeds} seeds are healthy; show their "
            "mean marked with partial_mark instead of degenerate_cell"
        )
    return f"degenerate{DEGENERATE_MARK}"


def partial_mark(n_averaged: int, n_seeds: int) -> str:
    """The mark of a cell averaged over the healthy ``n_averaged`` of its ``n_seeds`` seeds.

    Examples
    --------
    >>> "412.3 ± 5.1" + partial_mark(2, 3)
    '412.3 ± 5.1 (2/3)†'
    """
    return f" ({n_averaged}/{n_seeds}){DEGENERATE_MARK}"


def format_summary(
    table: pd.DataFrame, scale: float = 1.0, decimals: int = 1, include_degenerate: bool = False
) -> pd.DataFrame:
    """Strings ``mean ± std`` per cell of :func:`summary_table` (std only with two or more seeds).

    Every cell with a degenerate seed ends in :data:`DEGENERATE_MARK`. A partial cell (some
    seeds degenerate, left out of its mean) shows the healthy seeds' mean ± std and
    :func:`partial_mark`, e.g. ``412.3 ± 5.1 (2/3)†``; a cell whose seeds are all degenerate
    shows no number (:func:`degenerate_cell`) unless ``include_degenerate``. Give
    ``include_degenerate`` as to :func:`summary_table`: a table that averaged degenerate
    seeds with healthy ones is refused without it.
    """
    out = {}
    for dataset, kind, stat in table.columns:
        if stat != "mean":
            continue
        mean = table[(dataset, kind, "mean")] * scale
        std = table[(dataset, kind, "std")] * scale
        seeds = table[(dataset, kind, "n_seeds")]
        zero = pd.Series(0, index=table.index)
        flagged = table.get((dataset, kind, "n_degenerate"), zero).fillna(0)
        averaged = table.get((dataset, kind, "n_averaged"), seeds)
        cells = []
        for m, s, n, bad, k in zip(mean, std, seeds, flagged, averaged, strict=True):
            mark = DEGENERATE_MARK if bad > 0 else ""
            if 0 < bad < n and k == n and not include_degenerate:
                raise ValueError(
                    f"cell {dataset} {kind} averages degenerate seeds with healthy ones; "
                    "format a summary_table(..., include_degenerate=True) with "
                    "include_degenerate=True, or build the table without it"
                )
            if bad >= n > 0 and not include_degenerate:
                cells.append(degenerate_cell(int(bad), int(n)))
                continue
            if k < n:
                mark = partial_mark(int(k), int(n))
            if np.isnan(m):
                cells.append("")
            elif k >= 2 and not np.isnan(s):
                cells.append(f"{m:.{decimals}f} ± {s:.{decimals}f}{mark}")
            else:
                cells.append(f"{m:.{decimals}f}{mark}")
        out[f"{dataset} {kind}"] = cells
    return pd.DataFrame(out, index=table.index)


def to_markdown(
    table: pd.DataFrame,
    best: dict[tuple[str, str], str],
    scale: float,
    tied: dict[tuple[str, str], set[str]] | None = None,
    include_degenerate: bool = False,
) -> str:
    """A GitHub-flavoured Markdown table with the best CSF per column in bold and those
    statistically tied with it (``tied``, see :meth:`Ranking.tied`) in italics."""
    formatted = format_summary(table, scale, include_degenerate=include_degenerate)
    rows = {}
    for csf in formatted.index:
        cells = []
        for column in formatted.columns:
            dataset, kind = column.rsplit(" ", 1)
            value = formatted.loc[csf, column]
            if value and best.get((dataset, kind)) == csf:
                value = f"**{value}**"
            elif value and csf in (tied or {}).get((dataset, kind), set()):
                value = f"*{value}*"
            cells.append(value)
        rows[csf] = cells
    return _markdown("CSF", list(formatted.columns), rows)


def _markdown(corner: str, columns: list[str], rows: dict[str, list[str]]) -> str:
    """A GitHub-flavoured Markdown table: a label column, then right-aligned cells."""
    lines = [f"| {corner} | " + " | ".join(columns) + " |", "|---|" + "---:|" * len(columns)]
    lines += [f"| {label} | " + " | ".join(cells) + " |" for label, cells in rows.items()]
    return "\n".join(lines) + "\n"


def accuracy_table(long: pd.DataFrame, column: str = "accuracy") -> pd.DataFrame:
    """Classifier accuracy per objective x (dataset, shift kind), mean over test sets and seeds.

    As in the summary tables, ``cor`` is the mean over the corruption test sets
    (:func:`~silentscope.evaluation.kind_means`). ``column="balanced_accuracy"`` gives the
    balanced accuracy instead (mean per-class recall).
    """
    if column not in long:
        raise ValueError(f"the results have no {column!r} column; re-run the evaluation")
    per_run = kind_means(long, by=["dataset", "objective", "seed"], value=column)
    table = (
        per_run.groupby(["objective", "dataset", "kind"])[column]
        .mean()
        .unstack(["dataset", "kind"])
    )
    kinds = [k for k in KIND_ORDER if k in set(per_run["kind"])]
    datasets = list(dict.fromkeys(per_run["dataset"]))
    ordered = [(d, k) for d in datasets for k in kinds if (d, k) in table.columns]
    return table.loc[objective_order(per_run["objective"]), ordered]


def accuracy_markdown(long: pd.DataFrame) -> str:
    """The accuracy table as Markdown: balanced accuracy beside accuracy when classes are
    imbalanced, degenerate classifiers marked and explained below the table."""
    accuracy = accuracy_table(long)
    imbalanced = "imbalanced" in long and bool(long["imbalanced"].astype(bool).any())
    balanced = accuracy_table(long, "balanced_accuracy") if imbalanced else None
    flagged = {(d, o) for d, o, _ in degenerate_runs(long)}
    columns, rows = [], {}
    for dataset, kind in accuracy.columns:
        columns.append(f"{dataset} {kind}")
        if balanced is not None:
            columns.append(f"{dataset} {kind} (balanced)")
    for objective in accuracy.index:
        cells = []
        for dataset, kind in accuracy.columns:
            mark = DEGENERATE_MARK if (dataset, objective) in flagged else ""
            cells.append(f"{accuracy.loc[objective, (dataset, kind)]:.3f}{mark}")
            if balanced is not None:
                cells.append(f"{balanced.loc[objective, (dataset, kind)]:.3f}{mark}")
        rows[objective] = cells
    note = degenerate_lines(long)
    if note:  # the accuracy of a collapsed network is the evidence: it stays in the mean
        note.append(f"{DEGENERATE_MARK}: mean over every seed, the degenerate ones included.")
    return _markdown("objective", columns, rows) + ("\n" + "\n".join(note) + "\n" if note else "")


def write_results(
    study_dir: str | Path | Sequence[str | Path],
    metrics: tuple[str, ...] = ("aurc", "augrc"),
    out: str | Path | None = None,
    include_degenerate: bool = False,
    n_resamples: int = 1000,
    random_state: int = 0,
) -> dict[str, Path]:
    """Write the long table, per-metric summary tables (CSV, Parquet, LaTeX, Markdown), the
    rank uncertainty of every table (``ranking.json``, ``ranking_<metric>.csv``,
    ``pairwise_<metric>.csv``; :mod:`silentscope.study.ranking`) and the caveats of every
    run, every seed included (``caveats.md``; :mod:`silentscope.study.caveats`).

    Parameters
    ----------
    study_dir : path or sequence of paths
        One study folder, or several whose results are combined into one table (e.g. one
        study per dataset); their dataset labels must differ.
    metrics : tuple of str
        Metrics of the summary tables.
    out : path, optional
        Output folder; default ``<study_dir>/results`` (required for several studies).
    include_degenerate : bool, default False
        Average degenerate seeds into their cells and let those cells compete for the best
        (bold) mark, colours and ranks. By default a degenerate seed is left out of every
        mean: a cell with healthy seeds left shows their mean ± std marked ``(k/n)``
        (:func:`format_summary`) and takes no mark, colour or rank, and a cell with none
        shows no number. Either way the cells are marked with :data:`DEGENERATE_MARK`,
        explained below the tables (:func:`degenerate_note`); the long table has every
        value and the ``degenerate`` and ``health`` columns.
    n_resamples : int, default 1000
        Joint resamples (test samples and seeds) of the rank uncertainty; 0 writes no
        ranking, and the LaTeX table then marks only the best cell, not the tied ones.
    random_state : int, default 0
        Seed of those resamples.
    """
    from silentscope.metrics.registry import get_metric

    dirs = [Path(study_dir)] if isinstance(study_dir, str | Path) else [Path(d) for d in study_dir]
    if out is None and len(dirs) != 1:
        raise ValueError("results of several studies need an output folder (out=...)")
    long = combined_results(dirs)
    out = dirs[0] / "results" if out is None else Path(out)
    out.mkdir(parents=True, exist_ok=True)
    written = {
        "long_csv": out / "evaluation_long.csv",
        "long_parquet": out / "evaluation_long.parquet",
    }
    long.to_csv(written["long_csv"], index=False)
    long.to_parquet(written["long_parquet"], index=False)
    from silentscope.study.paper_table import paper_caption, paper_cells, paper_latex
    from silentscope.study.ranking import study_rankings

    kinds = kinds_caption(long)
    footnote = f"\n{kinds}.\n" if kinds else ""
    rankings = study_rankings(dirs, long, metrics, include_degenerate, n_resamples, random_state)
    if rankings:
        from silentscope.study.ranking import write_ranking

        written.update(write_ranking(rankings, out))
    for metric in metrics:
        if metric not in set(long["metric"]):
            continue
        spec = get_metric(metric)
        table = summary_table(long, metric, include_degenerate)
        flat = table.copy()
        flat.columns = [" ".join(map(str, c)) for c in flat.columns]
        flat.to_csv(out / f"summary_{metric}.csv")
        flat.to_parquet(out / f"summary_{metric}.parquet")
        scale = getattr(spec, "table_scale", 1.0)
        best = best_per_column(table, spec.higher_is_better, include_degenerate)
        note = degenerate_note(long, include_degenerate)
        ranking = rankings.get(metric)
        tied = ranking.tied() if ranking is not None else {}
        caption = paper_caption(long, table, metric, ranking, include_degenerate)
        written[f"latex_{metric}"] = out / f"summary_{metric}.tex"
        written[f"latex_{metric}"].write_text(
            paper_latex(
                paper_cells(table, spec.higher_is_better, tied, scale, include_degenerate), caption
            )
        )
        unit = f" x{scale:g}" if scale != 1 else ""
        direction = "higher" if spec.higher_is_better else "lower"
        markdown = (
            f"**{getattr(spec, 'display_name', metric)}{unit}** ({direction} is better), "
            f"{seeds_phrase(table)}.\n\n"
        )
        markdown += to_markdown(table, best, scale, tied, include_degenerate)
        markdown += f"\n{note}\n" if note else ""
        if ranking is not None:
            markdown += f"\nBest per column in bold; in italics: {ranking.caption()}.\n"
        markdown += footnote
        if ranking is not None:  # rank intervals and the paired comparison with MSR
            from silentscope.study.ranking import ranking_markdown

            markdown += ranking_markdown(ranking, list(table.index), scale)
        (out / f"summary_{metric}.md").write_text(markdown)
        written[f"summary_{metric}"] = out / f"summary_{metric}.csv"
    from silentscope.study.caveats import caveats_markdown, run_caveats

    # every seed's caveats: the tables average over seeds and show none of them
    written["caveats"] = out / "caveats.md"
    written["caveats"].write_text(caveats_markdown(run_caveats(dirs)))
    unchanged = unchanged_test_sets(long)
    if unchanged:  # say why a requested set is missing from every table
        lines = [
            f"- {name}: its images changed by {change:.2f} grey levels on average (under "
            f"{NEGLIGIBLE_CHANGE}), so it is the iid set again, not a shift"
            for name, change in unchanged.items()
        ]
        written["left_out"] = out / "left_out.md"
        written["left_out"].write_text(
            "Test sets left out of the tables\n\n" + "\n".join(lines) + "\n"
        )
    from silentscope.study.segmentation_results import (
        is_segmentation_study,
        write_segmentation_results,
    )

    segmentation = [d for d in dirs if is_segmentation_study(d)]
    if segmentation:  # Dice and CSF tables with CIs over volumes, in place of accuracy
        written.update(write_segmentation_results(segmentation, out))
        if len(segmentation) == len(dirs):
            return written
    accuracy = accuracy_table(long)
    flat = accuracy.copy()
    flat.columns = [" ".join(map(str, c)) for c in flat.columns]
    flat.to_csv(out / "accuracy.csv")
    (out / "accuracy.md").write_text(accuracy_markdown(long) + footnote)
    written["accuracy"] = out / "accuracy.csv"
    return written

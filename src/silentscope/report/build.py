"""The self-contained HTML report of a study, a run or an audit store.

Everything is inlined (CSS, SVG figures, PNG thumbnails): the file opens without a network.
"""

from __future__ import annotations

import datetime as _dt
import html
import inspect
import json
from collections.abc import Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import numpy as np
import pandas as pd
from jinja2 import Template

from silentscope import __version__
from silentscope.audit.auditset import AuditSet
from silentscope.audit.store import MANIFEST, list_artifacts, load_audit, read_artifact
from silentscope.audit.test_sets import label_name
from silentscope.data.refs import read_image_ref, shareable
from silentscope.evaluation.segmentation_tables import is_segmentation
from silentscope.report import figures
from silentscope.report.segmentation import (
    segmentation_run_section,
    segmentation_sections,
    study_volumes,
    volumes_of_runs,
)
from silentscope.report.thumbnails import thumbnail_data_uri
from silentscope.shifts.apply import replay_shift
from silentscope.study.pipelines import EVALUATION_FILE, STORE
from silentscope.study.results import (
    DEGENERATE_MARK,
    collect_results,
    csf_label,
    degenerate_runs,
    failed_runs,
    mean_ranks,
    summary_table,
)
from silentscope.study.runs import RUN_RECORD, RUNS

#: CSFs drawn in curves and galleries when present (the rest stay in the tables).
FEATURED_CSFS = (
    "MSR",
    "PE",
    "MLS",
    "energy",
    "TS-MSR",
    "MCD-MSR",
    "MCD-PE",
    "ext:confidnet",
    "ext:dg",
    "ext:devries",
)


@dataclass
class _Section:
    id: str
    title: str
    html: str
    note: str = ""


@dataclass
class _Run:
    run_id: str
    folder: Path | None
    audit: AuditSet
    evaluation: pd.DataFrame | None
    store: Path | None = None
    image_root: Path | None = None

    @property
    def image_base(self) -> Path | None:
        """Folder that relative image references start from."""
        return self.folder if self.folder is not None else self.image_root


def build_report(
    source: str | Path | Sequence[str | Path],
    out: str | Path,
    *,
    command: str = "",
    max_runs: int = 4,
    include_degenerate: bool = False,
    image_root: str | Path | None = None,
) -> Path:
    """Write the HTML report for a study folder, a run folder or an audit store.

    Parameters
    ----------
    source : path or sequence of paths
        A study folder (``runs/`` inside), a run folder (``run.json`` inside) or an audit
        store; several are shown together (their results in one table, e.g. one study per
        dataset).
    out : path
        The HTML file to write.
    command : str
        The command that produced the report, printed at its foot.
    max_runs : int
        Runs shown in detail (curves, galleries); all runs are in the tables.
    include_degenerate : bool, default False
        Let degenerate classifiers compete for the best marks and the mean ranks. Their
        values are always shown, struck through and marked, with the reason in a
        "Degenerate classifiers" section at the top and in their run's section.
    image_root : path, optional
        The only folder images are read from (a store's references to anything outside it,
        absolute or ``../``, are shown as unreadable); default: the folder holding each source.
    """
    sources = [Path(source)] if isinstance(source, str | Path) else [Path(s) for s in source]
    if not sources:
        raise ValueError("give at least one study folder, run folder or audit store")
    runs, longs, failures = [], [], {}
    for one in sources:
        shown, long, failed = _load_source(one, max_runs)
        for run in shown:
            run.image_root = Path(image_root) if image_root is not None else one.resolve().parent
        runs += shown
        failures.update(failed)
        if long is not None:
            longs.append(long)
    long = pd.concat(longs, ignore_index=True) if longs else None
    source = sources[0] if len(sources) == 1 else Path(" + ".join(s.name for s in sources))
    sections: list[_Section] = []
    segmented = [run for run in runs if is_segmentation(run.audit)]
    if long is not None:
        sections += _degenerate_section(long)
        sections += _caveats_section(sources, {run.run_id for run in runs})
        rankings = _rankings(sources, long, include_degenerate)
        sections += _results_sections(long, include_degenerate, rankings)
        # a segmentation's accuracy column is its Dice, shown (with CIs) in its own section
        if len(segmented) < len(runs):
            sections += _accuracy_section(long)
        curves = severity_rows(long, include_degenerate)
        severity = _severity_figures(curves, "aurc") if len(segmented) < len(runs) else []
        if severity:
            left_out = "" if include_degenerate else _left_out_runs(long)
            sections.append(
                _Section(
                    "severity",
                    "Failure detection vs corruption severity",
                    f'<div class="figs">{"".join(severity)}</div>',
                    "Featured CSFs of each objective (its own confidence score, MSR, MCD-MI or "
                    "DE-MI, and the feature-based ViM and kNN), mean over seeds; every CSF is in "
                    f"the tables.{left_out}",
                )
            )
    if segmented:  # Dice per test set and severity, CSFs on the continuous risk
        volumes = study_volumes(sources)
        volumes = volumes if volumes is not None else volumes_of_runs(segmented)
        sections += [_Section(*section) for section in segmentation_sections(volumes)]
    for run in runs:
        if is_segmentation(run.audit):
            sections.append(_Section(*segmentation_run_section(run)))
        else:
            sections += _run_sections(run)
    if failures:
        rows = "".join(
            f"<tr><td>{html.escape(k)}</td><td class='warn'>{html.escape(v)}</td></tr>"
            for k, v in failures.items()
        )
        sections.append(
            _Section(
                "failed", "Failed runs", f"<table><tr><th>run</th><th>error</th></tr>{rows}</table>"
            )
        )
    template = Template(resources.files("silentscope.report").joinpath("template.html").read_text())
    page = template.render(
        title=shareable(source.name),
        subtitle=f"{len(runs)} run(s) shown in detail; source {shareable(str(source))}",
        sections=sections,
        version=__version__,
        created=_dt.datetime.now(_dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        command=shareable(command or f"silentscope report {source}"),
    )
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(page)
    return out


def _load_source(source: Path, max_runs: int):
    if (source / MANIFEST).is_file():  # a bare audit store: evaluate it here
        from silentscope.evaluation import evaluate
        from silentscope.evaluation.result import health_columns

        audit = load_audit(source)
        result = evaluate(audit, n_bootstrap=200, random_state=0)
        long = result.table.assign(
            dataset=source.name, objective="store", seed=0, **health_columns(result)
        )
        return [_Run(source.name, None, audit, long, source)], long, {}
    if (source / RUN_RECORD).is_file():
        folders = [source]
    elif (source / RUNS).is_dir():
        folders = sorted(p for p in (source / RUNS).iterdir() if (p / RUN_RECORD).is_file())
    else:
        raise FileNotFoundError(f"{source} is not a study folder, a run folder or an audit store")
    long = collect_results(source) if folders else None
    shown, seen = [], set()
    for folder in folders:  # one seed per dataset x objective, in detail
        record = json.loads((folder / RUN_RECORD).read_text())
        key = (record.get("dataset"), record.get("objective"))
        if key in seen or len(shown) >= max_runs:
            continue
        seen.add(key)
        store = record.get("details", {}).get("store", STORE)
        store_path = Path(store) if Path(store).is_absolute() else folder / store
        evaluation = (
            pd.read_parquet(folder / EVALUATION_FILE)
            if (folder / EVALUATION_FILE).is_file()
            else None
        )
        shown.append(_Run(folder.name, folder, load_audit(store_path), evaluation, store_path))
    return shown, long, failed_runs(source) if (source / RUNS).is_dir() else {}


def _scale(metric: str) -> float:
    from silentscope.metrics.registry import get_metric

    return float(getattr(get_metric(metric), "table_scale", 1.0))


def _degenerate_section(long: pd.DataFrame) -> list[_Section]:
    runs = degenerate_runs(long)
    if not runs:
        return []
    rows = "".join(
        f"<tr><td>{html.escape(d)}</td><td>{html.escape(o)}</td><td>{s}</td>"
        f"<td class='warn'>{html.escape(reason)}</td></tr>"
        for (d, o, s), reason in runs.items()
    )
    return [
        _Section(
            "degenerate",
            "Degenerate classifiers",
            "<p class='degenerate'>These classifiers predict one class (or are no better than "
            "the majority class) on their validation split: their CSF values rank noise around "
            "one class. A cell of the results tables with one of them among its seeds shows "
            f"'degenerate' instead of a number, marked {DEGENERATE_MARK}, and is left out of the "
            "best marks and the ranks; their accuracy is struck through.</p>"
            "<table><tr><th>dataset</th><th>objective</th><th>seed</th><th>why</th></tr>"
            f"{rows}</table>",
        )
    ]


def _caveats_section(sources: list[Path], shown: set[str]) -> list[_Section]:
    """What was recorded with every run, every seed included: the tables average over seeds
    and only some runs have a section of their own, so no caveat may live only there."""
    from silentscope.study.caveats import common_caveats, run_caveats

    folders = [s for s in sources if (s / RUNS).is_dir() or (s / RUN_RECORD).is_file()]
    if not folders:  # a bare audit store: its one run's section says everything
        return []
    caveats = run_caveats(folders)
    caveats = caveats[caveats["status"] != "failed"]  # failed runs have their own section
    if caveats.empty:
        return []
    # said once above the table when every run of the page carries it (e.g. imbalanced classes)
    common_list = common_caveats(caveats)
    common = set(common_list)
    rows = []
    for r in caveats.itertuples(index=False):
        items = "".join(f"<li>{html.escape(c)}</li>" for c in r.caveats if c not in common)
        seed = "" if r.seed is None or pd.isna(r.seed) else int(r.seed)
        css = ' class="degenerate"' if r.degenerate else ""
        none = "none besides those above" if common else "none recorded"
        rows.append(
            f"<tr{css}><td>{html.escape(r.run_id)}</td>"
            f"<td>{seed}</td><td>{'yes' if r.run_id in shown else 'no'}</td>"
            f"<td>{f'<ul>{items}</ul>' if items else none}</td></tr>"
        )
    n_said = int(caveats["caveats"].map(bool).sum())
    every = (
        "<p class='note'>Recorded with every run:</p><ul class='caveats'>"
        + "".join(f"<li>{html.escape(c)}</li>" for c in common_list)
        + "</ul>"
        if common_list
        else ""
    )
    return [
        _Section(
            "caveats",
            "Caveats of every run",
            f"{every}<table class='caveats'><tr><th>run</th><th>seed</th><th>shown in detail</th>"
            f"<th>caveats recorded with the run</th></tr>{''.join(rows)}</table>",
            f"{n_said} of {len(caveats)} runs carry caveats. The tables average over seeds and "
            f"{len(shown)} run(s) are shown in detail below; these are every run's, read from "
            "its run record and audit store.",
        )
    ]


def _accuracy_section(long: pd.DataFrame) -> list[_Section]:
    """Accuracy per objective and shift kind; balanced accuracy beside it when imbalanced."""
    from silentscope.study.results import accuracy_table

    if "accuracy" not in long:
        return []
    accuracy = accuracy_table(long)
    imbalanced = "imbalanced" in long and bool(long["imbalanced"].astype(bool).any())
    # always beside accuracy where known: a reader must not have to trust that classes are balanced
    balanced = accuracy_table(long, "balanced_accuracy") if "balanced_accuracy" in long else None
    flagged = {(d, o) for d, o, _ in degenerate_runs(long)}
    header = "".join(
        f"<th>{html.escape(f'{d} {k}')}</th>"
        + (f"<th>{html.escape(f'{d} {k} (balanced)')}</th>" if balanced is not None else "")
        for d, k in accuracy.columns
    )
    body = []
    for objective in accuracy.index:
        cells = []
        for d, k in accuracy.columns:
            bad = (d, objective) in flagged
            css = ' class="degenerate"' if bad else ""
            mark = DEGENERATE_MARK if bad else ""
            values = [accuracy.loc[objective, (d, k)]]
            if balanced is not None:
                values.append(balanced.loc[objective, (d, k)])
            cells += [f"<td{css}>{v:.3f}{mark}</td>" for v in values]
        body.append(f"<tr><td>{html.escape(objective)}</td>{''.join(cells)}</tr>")
    note = "Mean over test sets of each kind and over seeds ('cor': every corruption type and severity)."
    if balanced is not None:
        note += " Balanced accuracy (mean per-class recall) beside accuracy"
        note += "; classes are imbalanced here, so it is the one to read." if imbalanced else "."
    return [
        _Section(
            "accuracy",
            "Classifier accuracy",
            f"<table><tr><th>objective</th>{header}</tr>{''.join(body)}</table>",
            note,
        )
    ]


def _rankings(sources: list[Path], long: pd.DataFrame, include_degenerate: bool) -> dict:
    """metric -> Ranking: read from ``results/ranking.json`` when `silentscope study results`
    wrote it after the last run finished with the same degenerate rule, else resampled here."""
    from silentscope.study.ranking import read_ranking, study_rankings

    metrics = [m for m in ("aurc", "augrc") if m in set(long["metric"])]
    if len(sources) == 1:
        path = sources[0] / "results" / "ranking.json"
        records = list((sources[0] / RUNS).glob(f"*/{RUN_RECORD}"))
        fresh = path.is_file() and all(r.stat().st_mtime <= path.stat().st_mtime for r in records)
        if fresh:
            payload = json.loads(path.read_text())
            if all(
                m in payload and payload[m].get("include_degenerate") == include_degenerate
                for m in metrics
            ):
                return {m: read_ranking(path, m) for m in metrics}
    if not any((s / RUNS).is_dir() or (s / RUN_RECORD).is_file() for s in sources):
        return {}  # a bare audit store: no run folders to resample
    return study_rankings(sources, long, metrics, include_degenerate, 200, 0)


def _results_sections(
    long: pd.DataFrame, include_degenerate: bool = False, rankings: dict | None = None
) -> list[_Section]:
    """Per metric: the paper's table (coloured per column by rank, best and tied marked),
    the rank plot with bootstrap intervals and the paired comparison with MSR."""
    from silentscope.metrics.registry import get_metric
    from silentscope.study.paper_table import paper_caption, paper_cells, paper_html

    sections = []
    for metric in ("aurc", "augrc"):
        if metric not in set(long["metric"]):
            continue
        spec = get_metric(metric)
        scale = _scale(metric)
        table = summary_table(long, metric, include_degenerate)
        ranking = (rankings or {}).get(metric)
        tied = ranking.tied() if ranking is not None else {}
        cells = paper_cells(table, spec.higher_is_better, tied, scale, include_degenerate)
        note = (
            f"{paper_caption(long, table, metric, ranking, include_degenerate)} Per-test-set "
            "values with "
            "bootstrap CIs, and the pooled groups, are in results/evaluation_long.csv."
        )
        parts = [paper_html(cells)]
        if ranking is not None:
            parts.append(_rank_html(ranking, metric, table))
        else:
            parts.append(
                "<p class='note'>No rank intervals: they resample a study's runs (a study or "
                "run folder), and this report shows a bare audit store.</p>"
            )
            parts.append(_ranking_html(table, spec.higher_is_better, include_degenerate))
        sections.append(
            _Section(f"results-{metric}", f"Results: {metric.upper()}", "".join(parts), note)
        )
    return sections


def _rank_text(rank: float) -> str:
    """A rank or rank percentile to one decimal, without a trailing .0 (3, 4.5, 23.5)."""
    return f"{rank:.1f}".removesuffix(".0")


def _rank_html(ranking, metric: str, table: pd.DataFrame) -> str:
    """The rank plot, what it resampled, and the paired comparison with MSR."""
    from silentscope.study.ranking import OVERALL

    figure = figures.rank_figure(
        ranking.ranks, f"{metric.upper()}: rank of each CSF (dot: median, bar: 95% interval)"
    )
    notes = list(ranking.notes)
    ranked = set(ranking.ranks["csf"]) if len(ranking.ranks) else set()
    unranked = [c for c in table.index if c not in ranked]
    if unranked:
        notes.append(
            f"not ranked (degenerate classifier {DEGENERATE_MARK}, or no value): "
            + ", ".join(unranked)
        )
    said = "".join(f"<li>{html.escape(n)}</li>" for n in notes)
    parts = [
        f"<h3>Rank uncertainty ({metric.upper()})</h3>",
        f"<p class='note'>Ranks on {ranking.n_resamples} joint bootstrap resamples of "
        f"{html.escape(ranking.over)}; a dot's size grows with the share of resamples in which "
        "the CSF is best. 'all columns' ranks each CSF's mean rank over the columns.</p>",
        f"<div class='figs rank-plot'>{figure or ''}</div>",
        f"<ul class='note'>{said}</ul>" if said else "",
    ]
    ranks = ranking.ranks
    # nothing ranked (e.g. every network degenerate): no table, the notes say why
    overall = ranks[ranks["dataset"] == OVERALL[0]].sort_values("rank") if len(ranks) else ranks
    if len(overall):
        rows = "".join(
            f"<tr><td>{html.escape(r.csf)}</td><td>{r.value:.2f}</td><td>{r.rank_median:g}</td>"
            f"<td>{_rank_text(r.rank_low)}-{_rank_text(r.rank_high)}</td><td>{r.p_best:.0%}</td></tr>"
            for r in overall.itertuples(index=False)
        )
        parts.append(
            "<h3>Mean rank of each CSF across columns, with its bootstrap interval</h3>"
            "<table class='ranking'><tr><th>CSF</th><th>mean rank</th><th>rank (median)</th>"
            f"<th>95% interval</th><th>best in</th></tr>{rows}</table>"
        )
    if len(ranking.pairwise):
        pairs = ranking.pairwise
        counts = pairs["verdict"].value_counts()
        rows = "".join(
            f"<tr><td>{html.escape(r.csf)}</td><td>{html.escape(f'{r.dataset} {r.kind}')}</td>"
            f"<td>{r.difference * _scale(metric):+.1f}</td>"
            f"<td>{r.ci_low * _scale(metric):+.1f} to {r.ci_high * _scale(metric):+.1f}</td>"
            f"<td>{html.escape(r.verdict)}</td></tr>"
            for r in pairs[pairs["verdict"] != "no clear difference"]
            .sort_values("verdict")  # "better" before "worse"
            .itertuples(index=False)
        )
        parts.append(
            f"<h3>Is a CSF better than {html.escape(str(ranking.reference))}?</h3>"
            f"<p class='note'>Paired bootstrap {ranking.confidence_level:.0%} intervals of "
            f"the difference (CSF - {html.escape(str(ranking.reference))}, x{_scale(metric):g}) "
            f"on the same resamples: {counts.get('better', 0)} better, "
            f"{counts.get('worse', 0)} worse, {counts.get('no clear difference', 0)} with no "
            "clear difference (interval holds 0) over all CSF x column pairs; the clear ones "
            "are listed (all in results/pairwise_*.csv).</p>"
            + (
                "<table class='pairwise'><tr><th>CSF</th><th>column</th><th>difference</th>"
                f"<th>95% interval</th><th>verdict</th></tr>{rows}</table>"
                if rows
                else ""
            )
        )
    return "".join(parts)


#: CSFs drawn in the severity plots, besides each objective's own score (``ext:*``).
SEVERITY_CSFS = ("MSR", "MCD-MI", "ViM", "kNN")


def severity_rows(long: pd.DataFrame, include_degenerate: bool = False) -> pd.DataFrame:
    """The rows the severity curves average: a degenerate run's are left out (unless
    ``include_degenerate``), as in the tables, so no curve mixes its noise into a mean."""
    if include_degenerate or "degenerate" not in long:
        return long
    return long[~long["degenerate"].astype(bool)]


def _left_out_runs(long: pd.DataFrame) -> str:
    runs = degenerate_runs(long)
    if not runs:
        return ""
    names = ", ".join(f"{d} / {o} / seed {s}" for d, o, s in runs)
    return f" Degenerate classifiers ({DEGENERATE_MARK}) are left out of these curves: {names}."


def _severity_figures(long: pd.DataFrame, metric: str) -> list[str]:
    """One severity plot per dataset, lines = featured CSFs per objective."""
    if "dataset" not in long or "objective" not in long:
        long = long.assign(dataset="", objective="store")
    scale = _scale(metric)
    featured = long[long["csf"].isin(SEVERITY_CSFS) | long["csf"].str.startswith("ext:")]
    featured = featured.assign(
        label=[csf_label(c, o) for c, o in zip(featured["csf"], featured["objective"], strict=True)]
    )
    out = []
    for dataset, rows in featured.groupby("dataset", sort=False):
        figure = figures.severity_figure(
            rows, metric, scale, f"{metric.upper()} x{scale:g}", title=str(dataset)
        )
        if figure:
            out.append(figure)
    return out


def _ranking_html(table: pd.DataFrame, higher_is_better: bool, include_degenerate: bool) -> str:
    ranks = mean_ranks(table, higher_is_better, include_degenerate)
    rows = "".join(
        f"<tr><td>{html.escape(csf)}</td><td>{rank:.2f}</td></tr>" for csf, rank in ranks.items()
    )
    left_out = [csf for csf in table.index if csf not in ranks.index]
    note = (
        f"<p class='note'>Not ranked (degenerate classifier {DEGENERATE_MARK}): "
        f"{html.escape(', '.join(left_out))}.</p>"
        if left_out
        else ""
    )
    return f"<h3>Mean rank of each CSF across columns</h3><table><tr><th>CSF</th><th>mean rank</th></tr>{rows}</table>{note}"


def _run_sections(run: _Run) -> list[_Section]:
    from silentscope.audit.health import model_health
    from silentscope.confidence import compute_confidences

    audit = run.audit
    health = model_health(audit)
    confidences, _ = compute_confidences(audit)
    featured = {name: confidences[name] for name in FEATURED_CSFS if name in confidences}
    if not featured:
        featured = dict(list(confidences.items())[:4])
    parts = [
        f'<div class="figs">{figures.accuracy_figure(audit.summary())}{_reliability(audit)}</div>'
    ]
    if health.degenerate:
        parts.insert(
            0,
            f"<p class='degenerate'>{DEGENERATE_MARK} Degenerate classifier: "
            f"{html.escape(health.reason)}. The curves below rank noise around one class.</p>",
        )
    for test_set in _shown_test_sets(audit):
        mask = audit.test_set == test_set
        curves = {
            name: _curve(values[mask], audit.correct[mask]) for name, values in featured.items()
        }
        parts.append(
            f"<h3>{html.escape(test_set)}</h3><div class='figs'>{figures.risk_coverage_figure(curves, test_set)}</div>"
        )
        parts.append(
            _gallery(
                audit,
                mask,
                confidences.get("MSR", next(iter(featured.values()))),
                run.image_base,
                run.image_root,
            )
        )
    if run.store is not None and "slices" in list_artifacts(run.store):  # silentscope slices
        from silentscope.slices.result import read_slice_settings, slices_html

        table = read_artifact(run.store, "slices")
        # the sentence discovery saved for an empty table (what it could have confirmed)
        empty_note = (
            (read_slice_settings(run.store) or {}).get("empty_note") if table.empty else None
        )
        parts.append("<h3>Slices: where the classifier fails systematically</h3>")
        parts.append(
            slices_html(
                table,
                lambda ref: thumbnail_data_uri(
                    read_image_ref(ref, run.image_base, root=run.image_root)
                ),
                empty_note,
            )
        )
    parts.append(_subgroups_html(run))
    return [
        _Section(
            f"run-{run.run_id}",
            f"Run {run.run_id}"
            + (f" (degenerate classifier {DEGENERATE_MARK})" if health.degenerate else ""),
            "".join(parts),
            "Curves for the featured CSFs; images are the most confident failures (by MSR).",
        )
    ]


def _subgroups_html(run: _Run, top: int = 12) -> str:
    """The subgroup analysis saved in the store (`silentscope subgroups`): the groups with the
    strongest evidence, their error rate against the rest with intervals, and a forest plot;
    or, where the store has metadata but no analysis, how to add one."""
    from silentscope.subgroups import forest_plot

    if run.store is None or "subgroups" not in list_artifacts(run.store):
        if run.audit.metadata is None or not len(run.audit.metadata.columns):
            return ""
        return (
            "<h3>Subgroups</h3><p class='note'>No subgroup analysis is saved in this store: "
            "<code>silentscope subgroups STORE -a &lt;attribute&gt;</code> adds one (error rate "
            "per group with intervals, tests and odds ratios), shown here.</p>"
        )
    groups = read_artifact(run.store, "subgroups")
    if groups.empty:
        return "<h3>Subgroups</h3><p class='note'>The subgroup analysis tested no group.</p>"
    ranked = groups.sort_values(["q_value", "p_value"], na_position="last").head(top)

    def cell(value, digits="{:.0%}"):
        return "" if value is None or pd.isna(value) else digits.format(value)

    rows = "".join(
        f"<tr><td>{html.escape(str(r['attribute']))} = {html.escape(str(r['group']))}</td>"
        f"<td>{html.escape(str(r.get('test_set', '')))}</td><td>{int(r['n'])}</td>"
        f"<td>{cell(r['error_rate'])} ({cell(r['error_rate_low'])} to {cell(r['error_rate_high'])})</td>"
        f"<td>{cell(r['rest_error_rate'])}</td>"
        f"<td>{cell(r['odds_ratio'], '{:.2f}')} ({cell(r['or_low'], '{:.2f}')} to {cell(r['or_high'], '{:.2f}')})</td>"
        f"<td>{cell(r['q_value'], '{:.2g}')}</td>"
        f"<td{' class=warn' if bool(r.get('significant')) else ''}>{'yes' if bool(r.get('significant')) else 'no'}</td></tr>"
        for r in ranked.to_dict("records")
    )
    tested = ranked[ranked["odds_ratio"].notna()]
    plot = ""
    if len(tested):
        svg = forest_plot(tested, format="svg").decode()
        plot = f"<div class='figs'>{svg[svg.index('<svg') :]}</div>"
    significant = int(groups["significant"].fillna(False).astype(bool).sum())
    return (
        "<h3>Subgroups: which patients does the classifier fail?</h3>"
        f"<p class='note'>{len(groups)} groups tested, {significant} with an error rate "
        f"different from the rest after FDR control; the {len(ranked)} with the strongest "
        "evidence are listed (all in the store's subgroups artifact).</p>"
        "<table class='subgroups'><tr><th>group</th><th>test set</th><th>n</th>"
        "<th>error rate (95% CI)</th><th>rest</th><th>odds ratio (95% CI)</th><th>q</th>"
        f"<th>significant</th></tr>{rows}</table>{plot}"
    )


def _shown_test_sets(audit: AuditSet) -> list[str]:
    names = [n for n in audit.evaluation_sets() if not n.startswith("cor/")]
    worst = [n for n in audit.evaluation_sets() if n.startswith("cor/") and n.endswith("/5")]
    return names + worst[:3]


def _curve(confidence: np.ndarray, correct: np.ndarray):
    from silentscope.metrics.risk_coverage import RiskCoverageCurve

    curve = RiskCoverageCurve(confidence, correct)
    return curve.coverages, curve.selective_risks, curve.generalized_risks


def _reliability(audit: AuditSet) -> str:
    # The diagram's bins and its ECE are those of metrics.ece with its default bins, the
    # definition behind the "Top-label ECE" that `silentscope evaluate` prints: a report
    # must not show a second ECE for the same test set (10 bins gave 0.145 where
    # evaluate said 17%).
    from silentscope.metrics.calibration import ece

    n_bins = inspect.signature(ece).parameters["n_bins"].default
    panels = {}
    for test_set in ["iid", *[n for n in audit.evaluation_sets() if n != "iid"][:2]]:
        if test_set not in audit.test_sets:
            continue
        mask = audit.test_set == test_set
        confidence = audit.probabilities[mask].max(axis=1)
        correct = audit.correct[mask]
        bins = np.minimum((confidence * n_bins).astype(int), n_bins - 1)
        counts = np.bincount(bins, minlength=n_bins)
        with np.errstate(invalid="ignore"):
            accuracy = np.bincount(bins, weights=correct, minlength=n_bins) / counts
        value = ece(confidence, correct, n_bins=n_bins)
        centres = (np.arange(n_bins) + 0.5) / n_bins
        panels[test_set] = (centres, np.nan_to_num(accuracy), counts, value)
    return figures.reliability_figure(panels) if panels else ""


def _gallery(
    audit: AuditSet,
    mask: np.ndarray,
    confidence: np.ndarray,
    base: Path | None,
    root: Path | None,
    n: int = 8,
) -> str:
    if audit.image_ref is None:
        return "<p class='note'>No image references in this audit store: no gallery.</p>"
    rows = np.flatnonzero(mask & ~audit.correct)
    if len(rows) == 0:
        return "<p class='note'>No failures in this test set.</p>"
    rows = rows[np.argsort(-confidence[rows], kind="stable")][:n]
    cards, unreadable = [], []
    for row in rows:
        try:
            image = read_image_ref(audit.image_ref[row], base, root=root)
            image = replay_shift(
                image, None if audit.shift_params is None else audit.shift_params[row]
            )
            picture = f"<img src='{thumbnail_data_uri(image)}' alt='{html.escape(shareable(audit.sample_id[row]))}'>"
        except (OSError, KeyError, ValueError) as error:
            # said once under the gallery: the same reason (often "outside the image root")
            # repeated on every card buries it
            unreadable.append(str(error))
            picture = (
                f"<div class='warn'>no image ({html.escape(shareable(audit.sample_id[row]))})</div>"
            )
        label = label_name(audit.class_names, audit.label[row])  # -1: a new-class sample
        predicted = audit.class_names[audit.predictions[row]]
        cards.append(
            f"<div class='card'>{picture}"
            f"<br>true <b>{html.escape(label)}</b><br>pred <b>{html.escape(predicted)}</b>"
            f"<br>conf {confidence[row]:.3f}</div>"
        )
    note = (
        f"<p class='note warn'>{len(unreadable)} of {len(rows)} images not shown: "
        f"{html.escape(shareable(unreadable[0]))}</p>"
        if unreadable
        else ""
    )
    return f"<div class='gallery'>{''.join(cards)}</div>{note}"

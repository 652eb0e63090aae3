"""The segmentation part of the report: Dice per test set and severity, CSF rankings on the
continuous risk, risk-coverage curves and the worst volumes with slices through them.

Sections are returned as ``(id, title, html, note)`` tuples; :mod:`silentscope.report.build`
places them. Tables come from :mod:`silentscope.study.segmentation_results` (the same
numbers as ``results/segmentation_*.csv``), so the report never computes a second Dice.
"""

from __future__ import annotations

import html
from pathlib import Path

import numpy as np
import pandas as pd

from silentscope.audit.store import list_artifacts, read_artifact
from silentscope.audit.volume_slices import SLICES_ARTIFACT
from silentscope.evaluation.segmentation_tables import risk_name, volume_dice
from silentscope.report import figures
from silentscope.report.volumes import stack_panel_html
from silentscope.study.results import DEGENERATE_MARK
from silentscope.study.segmentation_results import (
    audit_volume_rows,
    best_csfs,
    csf_table,
    dice_table,
)

Section = tuple[str, str, str, str]
#: Resamples of the report's intervals (the results files use 1000).
REPORT_BOOTSTRAP = 200


def segmentation_sections(volumes: pd.DataFrame) -> list[Section]:
    """Dice per test set and severity per variant, and the CSF table, from per-volume rows."""
    sections: list[Section] = []
    dice = dice_table(volumes, REPORT_BOOTSTRAP)
    if len(dice):
        sections.append(
            (
                "seg-dice",
                "Segmentation: Dice per test set and severity",
                f"<div class='figs'>{_dice_figures(dice)}</div>{_dice_html(dice)}",
                "Mean foreground Dice per training variant (columns), with 95% CIs over volumes "
                "(mean over seeds: each resample draws volumes once for every seed). Severity 0 "
                "in the plots is the iid test set. Every volume derives from the one MNI152 "
                "template anatomy where the dataset is mni152:tissue.",
            )
        )
    csfs = csf_table(volumes, "aurc", n_bootstrap=REPORT_BOOTSTRAP)
    if len(csfs):
        sections.append(
            (
                "seg-csfs",
                "Segmentation: which confidence finds the failed volumes",
                _csf_html(csfs),
                f"AURC x1000 on the continuous per-volume risk ({volumes['risk_name'].iloc[0]}), "
                "lower is better, best per column in bold; 95% CIs over volumes. 'cor (pooled)' "
                "holds every corrupted volume, 'cor (severity 5, pooled)' the strongest shifts.",
            )
        )
    return sections


def segmentation_run_section(run) -> Section:
    """One run in detail: risk-coverage curves and the worst volumes with their slices."""
    audit = run.audit
    risk = np.asarray(audit.risk, float)
    parts = [_caveats_html(audit)]
    names = list(audit.confidences)[:8]
    for title, mask in _shown_groups(audit):
        curves = {
            name: _curve(np.asarray(audit.confidences[name])[mask], risk[mask]) for name in names
        }
        parts.append(
            f"<h3>{html.escape(title)}</h3><div class='figs'>"
            f"{figures.risk_coverage_figure(curves, title)}</div>"
        )
    parts.append(_worst_volumes(run))
    note = (
        f"Risk per volume: {risk_name(audit)} ({'1 - mean foreground Dice' if risk_name(audit) == 'dice' else 'see the run record'}); "
        "selective risk is the mean risk of the volumes kept. The worst volumes are those of "
        "highest risk over every test set but val."
    )
    return (f"run-{run.run_id}", f"Run {run.run_id} (segmentation)", "".join(parts), note)


def volumes_of_runs(runs) -> pd.DataFrame:
    """Per-volume rows of the runs shown (for a bare store, where no study tables exist)."""
    frames = [
        audit_volume_rows(run.audit, dataset=run.run_id, objective="store", seed=0) for run in runs
    ]
    return pd.concat(frames, ignore_index=True)


# ------------------------------------------------------------------ pieces
def _caveats_html(audit) -> str:
    """The run's recorded caveats (e.g. a class never predicted, whose Dice is then 0), above
    its numbers: they live in the audit's provenance, so a warning at training time is not
    the only place a reader meets them."""
    caveats = [str(c) for c in audit.provenance.get("caveats") or []]
    if not caveats:
        return ""
    items = "".join(f"<li>{html.escape(c)}</li>" for c in caveats)
    return f"<div class='caveats'><strong>Caveats recorded with this run</strong><ul>{items}</ul></div>"


def _shown_groups(audit) -> list[tuple[str, np.ndarray]]:
    groups = []
    if "iid" in audit.test_sets:
        groups.append(("iid", audit.test_set == "iid"))
    corrupted = np.char.startswith(audit.test_set.astype(str), "cor/")
    if corrupted.any():
        groups.append(("cor (pooled)", corrupted))
    return groups


def _curve(confidence: np.ndarray, risk: np.ndarray):
    from silentscope.metrics.risk_coverage import RiskCoverageCurve

    curve = RiskCoverageCurve(confidence, loss=risk)
    return curve.coverages, curve.selective_risks, curve.generalized_risks


def _worst_volumes(run, n: int = 6) -> str:
    audit = run.audit
    if run.store is None or SLICES_ARTIFACT not in list_artifacts(run.store):
        return (
            "<p class='note'>No slices in this audit store (artifact "
            f"'{SLICES_ARTIFACT}'): the worst volumes are listed without pictures.</p>"
            + _worst_table(audit, n)
        )
    stack = read_artifact(run.store, SLICES_ARTIFACT)
    if len(stack) != audit.n_samples:
        return (
            f"<p class='note warn'>The store's slices hold {len(stack)} volumes for "
            f"{audit.n_samples} rows: not shown.</p>" + _worst_table(audit, n)
        )
    rows = _worst_rows(audit, n)
    dice = volume_dice(audit)
    panels = []
    for row in rows:
        quality = (
            f"Dice {dice[row]:.3f}" if dice is not None else f"risk {float(audit.risk[row]):.3f}"
        )
        caption = f"{audit.sample_id[row]} ({audit.test_set[row]}): {quality}"
        panels.append(stack_panel_html(stack[row], caption))
    return "<h3>Worst volumes</h3><div class='gallery'>" + "".join(panels) + "</div>"


def _worst_rows(audit, n: int) -> np.ndarray:
    rows = np.flatnonzero(audit.test_set != "val")
    return rows[np.argsort(-np.asarray(audit.risk, float)[rows], kind="stable")][:n]


def _worst_table(audit, n: int) -> str:
    body = "".join(
        f"<tr><td>{html.escape(str(audit.sample_id[r]))}</td><td>{html.escape(str(audit.test_set[r]))}</td>"
        f"<td>{float(audit.risk[r]):.3f}</td></tr>"
        for r in _worst_rows(audit, n)
    )
    return f"<table><tr><th>volume</th><th>test set</th><th>risk</th></tr>{body}</table>"


def _td(row, scale: float = 1.0, digits: int = 3, best: bool = False) -> str:
    """A table cell ``value [low, high]``; a degenerate network's struck through and marked."""
    if row is None or pd.isna(row.value):
        return "<td>-</td>"
    text = f"{row.value * scale:.{digits}f}"
    if not pd.isna(row.ci_low):
        text += f" [{row.ci_low * scale:.{digits}f}, {row.ci_high * scale:.{digits}f}]"
    classes = (["best"] if best else []) + (["degenerate"] if row.degenerate else [])
    css = f" class='{' '.join(classes)}'" if classes else ""
    return f"<td{css}>{text}{DEGENERATE_MARK if row.degenerate else ''}</td>"


def _dice_html(dice: pd.DataFrame) -> str:
    parts = []
    for dataset, rows in dice.groupby("dataset", sort=False):
        variants = list(dict.fromkeys(rows["objective"]))
        header = "".join(f"<th>{html.escape(v)}</th>" for v in variants)
        body = []
        for test_set, cells in rows.groupby("test_set", sort=False):
            by = {r.objective: r for r in cells.itertuples()}
            healthy = cells[~cells["degenerate"]]
            best = healthy["value"].max() if len(by) > 1 and len(healthy) else None
            tds = [
                _td(by.get(v), best=v in by and not by[v].degenerate and by[v].value == best)
                for v in variants
            ]
            body.append(f"<tr><td>{html.escape(test_set)}</td>{''.join(tds)}</tr>")
        parts.append(
            f"<h3>{html.escape(str(dataset))}</h3><table class='seg-dice'><tr><th>test set</th>"
            f"{header}</tr>{''.join(body)}</table>"
        )
    return "".join(parts)


def _dice_figures(dice: pd.DataFrame) -> str:
    return "".join(
        figures.dice_severity_figure(rows, title=str(dataset))
        for dataset, rows in dice.groupby("dataset", sort=False)
    )


def _csf_html(csfs: pd.DataFrame) -> str:
    parts = []
    for dataset, rows in csfs.groupby("dataset", sort=False):
        columns = list(dict.fromkeys(zip(rows["objective"], rows["group"], strict=True)))
        header = "".join(f"<th>{html.escape(f'{o} {g}')}</th>" for o, g in columns)
        best = best_csfs(rows)
        body = []
        for csf, cells in rows.groupby("csf", sort=False):
            by = {(r.objective, r.group): r for r in cells.itertuples()}
            tds = [_td(by.get(key), 1000, 1, best.get(key) == csf) for key in columns]
            body.append(f"<tr><td>{html.escape(csf)}</td>{''.join(tds)}</tr>")
        parts.append(
            f"<h3>{html.escape(str(dataset))}</h3><table class='seg-csfs'><tr><th>CSF</th>"
            f"{header}</tr>{''.join(body)}</table>"
        )
    return "".join(parts)


def study_volumes(sources: list[Path]) -> pd.DataFrame | None:
    """Per-volume rows of the segmentation studies among ``sources`` (None if there are none)."""
    from silentscope.study.segmentation_results import is_segmentation_study, volume_rows

    studies = [s for s in sources if is_segmentation_study(s)]
    return volume_rows(studies) if studies else None

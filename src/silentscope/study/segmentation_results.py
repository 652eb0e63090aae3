"""Tables of a segmentation study: Dice per test set and CSF rankings, with CIs over volumes.

A segmentation study's question is per volume (does texture-filter training keep Dice under
unseen noise; which aggregated confidence finds the failed volumes), so its tables are made
from the runs' audit stores, one row per volume, rather than from the per-run evaluation
rows: with several seeds, each bootstrap resample draws *volumes* once and every seed's
model is judged on the same drawn volumes; the value is the mean over seeds and the
interval the percentile interval of that mean (a cluster bootstrap over volumes).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from silentscope.audit.health import model_health
from silentscope.audit.test_sets import parse_test_set
from silentscope.evaluation.segmentation_tables import risk_name, volume_dice
from silentscope.study.pipelines import STORE
from silentscope.study.results import DEGENERATE_MARK
from silentscope.study.runs import RUN_RECORD, RUNS

#: Groups of the CSF table: in distribution, every corrupted volume, the worst severity.
CSF_GROUPS = ("iid", "cor (pooled)", "cor (severity 5, pooled)")


def is_segmentation_study(study_dir: str | Path) -> bool:
    """Whether a study folder's specification says ``task: segmentation``."""
    spec = Path(study_dir) / "study.json"
    return spec.is_file() and json.loads(spec.read_text()).get("task") == "segmentation"


def volume_rows(study_dirs: Sequence[str | Path]) -> pd.DataFrame:
    """One row per volume of every finished segmentation run: risk, Dice and confidences.

    Columns: dataset, objective, seed, test_set, sample_id, risk, dice (NaN unless the risk
    is 1 - Dice), and one ``conf:<name>`` column per stored confidence.
    """
    from silentscope.audit.store import load_audit

    frames = []
    for study in map(Path, study_dirs):
        runs = sorted(p for p in (study / RUNS).glob("*") if (p / RUN_RECORD).is_file())
        for folder in runs:
            record = json.loads((folder / RUN_RECORD).read_text())
            if record.get("details", {}).get("task") != "segmentation":
                continue
            audit = load_audit(folder / record["details"].get("store", STORE))
            frames.append(
                audit_volume_rows(
                    audit, record["dataset"], record["objective"], int(record["seed"])
                )
            )
    if not frames:
        raise ValueError(
            f"no finished segmentation run in {', '.join(map(str, study_dirs))}; run the study first"
        )
    return pd.concat(frames, ignore_index=True)


def audit_volume_rows(audit, dataset: str, objective: str, seed: int) -> pd.DataFrame:
    """One row per volume of a segmentation AuditSet (val left out); see :func:`volume_rows`."""
    dice = volume_dice(audit)
    frame = pd.DataFrame(
        {
            "dataset": dataset,
            "objective": objective,
            "seed": seed,
            "test_set": audit.test_set,
            "sample_id": audit.sample_id,
            "risk": np.asarray(audit.risk, float),
            "dice": np.nan if dice is None else dice,
            "risk_name": risk_name(audit),
            # the network's voxel-level verdict: its numbers are marked, never ranked best
            "degenerate": bool(model_health(audit).degenerate),
        }
    )
    for name, values in audit.confidences.items():
        frame[f"conf:{name}"] = np.asarray(values, float)
    return frame[frame["test_set"] != "val"].reset_index(drop=True)


def _group_rows(rows: pd.DataFrame, group: str) -> pd.DataFrame:
    if group == "cor (pooled)":
        return rows[rows["test_set"].str.startswith("cor/")]
    if group.startswith("cor (severity "):
        severity = group.removeprefix("cor (severity ").split(",")[0]
        return rows[
            rows["test_set"].str.startswith("cor/") & rows["test_set"].str.endswith(f"/{severity}")
        ]
    return rows[rows["test_set"] == group]


def _draws(ids: np.ndarray, n_bootstrap: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return rng.integers(0, len(ids), size=(n_bootstrap, len(ids)))


def _interval(samples: np.ndarray, level: float) -> tuple[float, float]:
    samples = samples[~np.isnan(samples)]
    if not samples.size:
        return np.nan, np.nan
    low, high = np.quantile(samples, [(1 - level) / 2, (1 + level) / 2])
    return float(low), float(high)


class _Rows:
    """Columns of some rows of a table, as numpy arrays, taken only when asked for."""

    def __init__(self, arrays: dict[str, np.ndarray], index):
        self._arrays, self._index = arrays, index

    def __getitem__(self, column: str) -> np.ndarray:
        return self._arrays[column][self._index]


def seed_mean_ci(
    rows: pd.DataFrame, statistic, n_bootstrap: int = 1000, level: float = 0.95, seed: int = 0
) -> dict:
    """Mean over seeds of ``statistic(seed_rows)``, with a cluster bootstrap CI over volumes.

    Each resample draws volume ids (``sample_id``) with replacement once; every seed is
    evaluated on its rows of those volumes; the resample's value is the mean over seeds.
    ``statistic`` receives the rows as a mapping of column name to numpy array.

    Examples
    --------
    >>> rows = pd.DataFrame({"seed": [0, 0, 1, 1], "sample_id": ["a", "b", "a", "b"],
    ...                      "dice": [0.9, 0.7, 0.8, 0.6]})
    >>> out = seed_mean_ci(rows, lambda r: r["dice"].mean(), n_bootstrap=200)
    >>> round(out["value"], 3), out["n_seeds"], out["n_volumes"]
    (0.75, 2, 2)
    >>> bool(0.6 <= out["ci_low"] <= out["value"] <= out["ci_high"] <= 0.9)
    True
    """
    ids = np.array(sorted(set(rows["sample_id"])))
    seeds = sorted(set(rows["seed"]))
    draws = _draws(ids, n_bootstrap, seed) if n_bootstrap else np.empty((0, len(ids)), int)
    estimates, samples = [], []
    for value in seeds:
        own = rows[rows["seed"] == value]
        arrays = {column: own[column].to_numpy() for column in own.columns}
        estimates.append(float(statistic(_Rows(arrays, slice(None)))))
        if not n_bootstrap:
            continue
        position = {sid: i for i, sid in enumerate(arrays["sample_id"])}
        present = np.array([sid in position for sid in ids])
        index = np.array([position.get(sid, -1) for sid in ids])
        per = np.full(n_bootstrap, np.nan)
        for b, draw in enumerate(draws):
            chosen = index[draw[present[draw]]]
            if len(chosen):
                try:
                    per[b] = statistic(_Rows(arrays, chosen))
                except ValueError:
                    continue  # undefined on this resample (e.g. one volume only)
        samples.append(per)
    low, high = _interval(np.mean(samples, axis=0), level) if samples else (np.nan, np.nan)
    return {
        "value": float(np.mean(estimates)),
        "ci_low": low,
        "ci_high": high,
        "n_seeds": len(seeds),
        "n_volumes": len(ids),
    }


def dice_table(
    volumes: pd.DataFrame, n_bootstrap: int = 1000, level: float = 0.95, seed: int = 0
) -> pd.DataFrame:
    """Mean Dice per dataset, training variant and test set (iid and every corruption/severity).

    Columns: dataset, objective, test_set, corruption, severity, value, ci_low, ci_high,
    n_seeds, n_volumes.
    """
    records = []
    for (dataset, objective, test_set), rows in volumes.groupby(
        ["dataset", "objective", "test_set"], sort=False
    ):
        if rows["dice"].isna().all():
            continue
        parsed = parse_test_set(test_set)
        stats = seed_mean_ci(rows, lambda r: r["dice"].mean(), n_bootstrap, level, seed)
        records.append(
            {
                "dataset": dataset,
                "objective": objective,
                "degenerate": bool(rows["degenerate"].any()),
                "test_set": test_set,
                "corruption": parsed.value if parsed.kind == "cor" else "",
                "severity": parsed.severity or 0,
                **stats,
            }
        )
    return pd.DataFrame(records)


def csf_table(
    volumes: pd.DataFrame,
    metric: str = "aurc",
    groups: Sequence[str] = CSF_GROUPS,
    n_bootstrap: int = 1000,
    level: float = 0.95,
    seed: int = 0,
) -> pd.DataFrame:
    """A risk-coverage metric of every confidence per dataset, variant and group, with CIs.

    Columns: dataset, objective, group, csf, metric, value, ci_low, ci_high, n_seeds,
    n_volumes (on the 0-1 scale).
    """
    from silentscope.metrics.registry import get_metric

    function = get_metric(metric).function
    confidences = [c for c in volumes.columns if c.startswith("conf:")]
    records = []
    for (dataset, objective), rows in volumes.groupby(["dataset", "objective"], sort=False):
        for group in groups:
            chosen = _group_rows(rows, group)
            if chosen.empty:
                continue
            for column in confidences:
                if chosen[column].isna().any():
                    continue

                def statistic(r, column=column):
                    return function(r[column], loss=r["risk"])

                stats = seed_mean_ci(chosen, statistic, n_bootstrap, level, seed)
                records.append(
                    {
                        "dataset": dataset,
                        "objective": objective,
                        "group": group,
                        "csf": column.removeprefix("conf:"),
                        "degenerate": bool(chosen["degenerate"].any()),
                        "metric": metric,
                        "risk_name": chosen["risk_name"].iloc[0],
                        **stats,
                    }
                )
    return pd.DataFrame(records)


def best_csfs(table: pd.DataFrame) -> dict[tuple[str, str], str]:
    """The lowest-valued CSF per (variant, group) of :func:`csf_table`; degenerate networks
    (their confidences rank noise around one class) and undefined values never win.

    Examples
    --------
    >>> table = pd.DataFrame({"objective": ["b", "b", "t", "t"], "group": ["iid"] * 4,
    ...     "csf": ["x", "y", "x", "y"], "value": [0.2, 0.1, 0.3, 0.4],
    ...     "degenerate": [False, False, True, True]})
    >>> best_csfs(table)
    {('b', 'iid'): 'y'}
    """
    best = {}
    for key, cells in table.groupby(["objective", "group"], sort=False):
        cells = cells[~cells["degenerate"].astype(bool) & cells["value"].notna()]
        if len(cells):
            best[key] = cells.loc[cells["value"].idxmin(), "csf"]
    return best


def _cell(row, scale: float = 1.0, digits: int = 3) -> str:
    if pd.isna(row["value"]):
        return "-"
    value = row["value"] * scale
    mark = DEGENERATE_MARK if row.get("degenerate", False) else ""
    if pd.isna(row["ci_low"]):
        return f"{value:.{digits}f}{mark}"
    low, high = row["ci_low"] * scale, row["ci_high"] * scale
    return f"{value:.{digits}f} [{low:.{digits}f}, {high:.{digits}f}]{mark}"


def dice_markdown(table: pd.DataFrame) -> str:
    """Dice per test set (rows) and training variant (columns), ``mean [CI]``."""
    if table.empty:
        return "No Dice (the runs' risk is not 1 - Dice).\n"
    parts = []
    for dataset, rows in table.groupby("dataset", sort=False):
        variants = list(dict.fromkeys(rows["objective"]))
        lines = [
            f"Dice on {dataset}, mean over {_seeds(rows)} with 95% CI over volumes",
            "",
            "| test set | " + " | ".join(variants) + " |",
            "|---|" + "---|" * len(variants),
        ]
        for test_set, cells in rows.groupby("test_set", sort=False):
            by = {r["objective"]: _cell(r) for _, r in cells.iterrows()}
            lines.append(f"| {test_set} | " + " | ".join(by.get(v, "-") for v in variants) + " |")
        parts.append("\n".join(lines))
    return "\n\n".join(parts) + "\n"


def csf_markdown(table: pd.DataFrame) -> str:
    """AURC (x1000) per confidence (rows) and variant x group (columns), best per column marked."""
    if table.empty:
        return "No confidences to rank.\n"
    from silentscope.metrics.registry import get_metric

    metric = table["metric"].iloc[0]
    spec = get_metric(metric)
    parts = []
    for dataset, rows in table.groupby("dataset", sort=False):
        columns = list(dict.fromkeys(zip(rows["objective"], rows["group"], strict=True)))
        lines = [
            f"{spec.display_name} x{spec.table_scale:g} on {dataset} (continuous risk "
            f"{rows['risk_name'].iloc[0]}; lower is better), mean over {_seeds(rows)} with 95% CI over "
            "volumes; best per column in bold",
            "",
            "| CSF | " + " | ".join(f"{o} {g}" for o, g in columns) + " |",
            "|---|" + "---|" * len(columns),
        ]
        best = best_csfs(rows)
        for csf, cells in rows.groupby("csf", sort=False):
            by = {(r["objective"], r["group"]): r for _, r in cells.iterrows()}
            texts = []
            for key in columns:
                text = _cell(by[key], spec.table_scale, 1) if key in by else "-"
                texts.append(f"**{text}**" if best.get(key) == csf else text)
            lines.append(f"| {csf} | " + " | ".join(texts) + " |")
        parts.append("\n".join(lines))
    return "\n\n".join(parts) + "\n"


def _seeds(rows: pd.DataFrame) -> str:
    n = int(rows["n_seeds"].max())
    return f"{n} seed" + ("s" if n != 1 else "")


def write_segmentation_results(
    study_dirs: Sequence[str | Path], out: str | Path, n_bootstrap: int = 1000
) -> dict[str, Path]:
    """Write the Dice and CSF tables of segmentation studies (CSV and Markdown) into ``out``."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    volumes = volume_rows(study_dirs)
    dice = dice_table(volumes, n_bootstrap)
    csfs = csf_table(volumes, "aurc", n_bootstrap=n_bootstrap)
    written = {
        "segmentation_dice": out / "segmentation_dice.csv",
        "segmentation_aurc": out / "segmentation_aurc.csv",
    }
    dice.to_csv(written["segmentation_dice"], index=False)
    csfs.to_csv(written["segmentation_aurc"], index=False)
    (out / "segmentation_dice.md").write_text(dice_markdown(dice))
    (out / "segmentation_aurc.md").write_text(csf_markdown(csfs))
    return written

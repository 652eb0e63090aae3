"""What a reader must know about every run of a study, every seed included.

The tables average over seeds and the report shows one seed per objective in detail, so a
caveat recorded with another seed's run (a degenerate classifier, imbalanced classes, a
CSF that could not be computed, a corruption left out, a caveat of the data) would be on
no page. :func:`run_caveats` reads them from each run record (and its audit store's
manifest) into one table; ``silentscope study results`` writes it as ``caveats.md`` and
the report shows it as a section.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from silentscope.study.results import failed_runs
from silentscope.study.runs import RUN_RECORD, RUNS

#: Said of a run evaluated before run records held ``details.conventions`` (the resampling
#: record): its stored intervals may come from a per-CSF bootstrap; nothing the tables show
#: uses them (values are the same; rank intervals and comparisons are recomputed).
OLD_EVALUATION = (
    "evaluated by an older silentscope (no resampling method recorded): its per-test-set CIs "
    "in evaluation_long.csv may be per-CSF, not paired; no value, rank interval or comparison "
    "in these tables uses them"
)
#: Columns of :func:`run_caveats`.
CAVEAT_COLUMNS = ("run_id", "dataset", "objective", "seed", "status", "degenerate", "caveats")


def record_caveats(record: dict[str, Any], folder: Path | None = None) -> tuple[bool, list[str]]:
    """Whether a run record says its classifier is degenerate, and its caveats as sentences.

    Examples
    --------
    >>> record = {"details": {"health": {"toy": {"degenerate": True, "assessed": True,
    ...     "reason": "predicts only 'a' for all 9 val samples"}}, "conventions": {},
    ...     "unavailable_csfs": {"MCD-MI": "MCD-MI needs mc_logits"}}}
    >>> record_caveats(record)
    (True, ["degenerate classifier (toy): predicts only 'a' for all 9 val samples", 'MCD-MI not computed: MCD-MI needs mc_logits'])
    """
    details = record.get("details") or {}
    degenerate, said = False, []
    for dataset, health in (details.get("health") or {}).items():
        if health.get("degenerate"):
            degenerate = True
            said.append(f"degenerate classifier ({dataset}): {health.get('reason', '')}")
        elif health.get("assessed") is False:
            said.append(f"health not assessed ({dataset}): {health.get('reason', '')}")
        if health.get("imbalanced"):
            said.append(
                f"imbalanced classes ({dataset}, {health.get('split', 'val')} split): largest "
                f"class {health.get('majority_rate', float('nan')):.0%}, smallest "
                f"{health.get('minority_rate', float('nan')):.0%}; read balanced accuracy"
            )
    if "health" in details and "conventions" not in details:
        said.append(OLD_EVALUATION)
    for csf, reason in (details.get("unavailable_csfs") or {}).items():
        said.append(f"{csf} not computed: {reason}")
    check = details.get("corruption_check") or {}
    for name, why in (check.get("dropped") or {}).items():
        said.append(f"corruption {name} left out: {why}")
    said += [str(note) for note in check.get("notes") or []]
    if folder is not None:
        said += [c for c in _store_caveats(folder, details) if c not in said]
    return degenerate, said


def _store_caveats(folder: Path, details: dict[str, Any]) -> list[str]:
    """Caveats recorded in the run's audit store(s) (e.g. 'one template anatomy')."""
    stores = list((details.get("findings") or {}).values()) or [details.get("store", "audit")]
    said = []
    for store in stores:
        path = Path(store) if Path(store).is_absolute() else folder / store
        try:
            manifest = json.loads((path / "manifest.json").read_text())
        except (OSError, ValueError):
            continue
        said += [str(c) for c in (manifest.get("provenance") or {}).get("caveats") or []]
    return said


def run_caveats(study_dirs: str | Path | Sequence[str | Path]) -> pd.DataFrame:
    """One row per run of the studies, every seed and failed runs included, with its caveats.

    Parameters
    ----------
    study_dirs : path or sequence of paths
        Study folders (``runs/`` inside) or run folders (``run.json`` inside).

    Returns
    -------
    DataFrame
        Columns :data:`CAVEAT_COLUMNS`: ``status`` is the record's (``done``) or
        ``failed``; ``caveats`` a list of sentences, empty when nothing was recorded.
    """
    dirs = [Path(study_dirs)] if isinstance(study_dirs, str | Path) else map(Path, study_dirs)
    rows = []
    for study_dir in dirs:
        if (study_dir / RUN_RECORD).is_file():
            folders = [study_dir]
        else:
            folders = sorted(p.parent for p in (study_dir / RUNS).glob(f"*/{RUN_RECORD}"))
        for folder in folders:
            record = json.loads((folder / RUN_RECORD).read_text())
            degenerate, said = record_caveats(record, folder)
            rows.append(
                {
                    "run_id": record.get("run_id", folder.name),
                    "dataset": record.get("dataset", ""),
                    "objective": record.get("objective", ""),
                    "seed": record.get("seed"),
                    "status": record.get("status", "done"),
                    "degenerate": degenerate,
                    "caveats": said,
                }
            )
        for run_id, error in failed_runs(study_dir).items():
            rows.append(
                {
                    "run_id": run_id,
                    "dataset": "",
                    "objective": "",
                    "seed": None,
                    "status": "failed",
                    "degenerate": False,
                    "caveats": [f"failed: {error}"],
                }
            )
    return pd.DataFrame(rows, columns=list(CAVEAT_COLUMNS))


def common_caveats(caveats: pd.DataFrame) -> list[str]:
    """The caveats every run carries (said once, not once per run), in their order.

    Examples
    --------
    >>> common_caveats(pd.DataFrame({"caveats": [["a", "b"], ["b", "c"]]}))
    ['b']
    """
    if len(caveats) < 2:
        return []
    shared = set.intersection(*(set(c) for c in caveats["caveats"]))
    return [c for c in caveats["caveats"].iloc[0] if c in shared]


def caveats_markdown(caveats: pd.DataFrame) -> str:
    """The caveats of every run as a Markdown list: those of every run once, then each run's
    own; runs with none besides are named in one line."""
    lines = ["# Caveats of every run", ""]
    common = common_caveats(caveats)
    if common:
        lines.append(f"Recorded with every run ({len(caveats)}):")
        lines += [f"- {c}" for c in common] + ["", "Besides those:"]
    quiet = []
    for r in caveats.itertuples(index=False):
        own = [c for c in r.caveats if c not in common]
        if not own:
            quiet.append(r.run_id)
            continue
        mark = (
            " (degenerate classifier: left out of the means of its cells, which show the "
            "other seeds' mean marked (k/n)†, or no number when no seed is left)"
            if r.degenerate
            else ""
        )
        lines.append(f"- **{r.run_id}**{mark}")
        lines += [f"  - {c}" for c in own]
    if quiet:
        lines.append(f"- no {'other ' if common else ''}caveat recorded: {', '.join(quiet)}")
    return "\n".join(lines) + "\n"

"""A degenerate classifier in a study: recorded, told, marked, and kept out of best and ranks."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from rich.console import Console

from silentscope.audit import AuditSet
from silentscope.audit.store import save_audit
from silentscope.report.build import build_report
from silentscope.study.results import (
    DEGENERATE_MARK,
    best_per_column,
    collect_results,
    mean_ranks,
    summary_table,
    write_results,
)
from silentscope.study.runner import run_study
from silentscope.study.spec import parse_study


def imbalanced_store(path: Path, degenerate: bool, seed: int, n: int = 400) -> Path:
    """27% minority; a degenerate one calls every image 'normal', with a confidence that
    sorts its errors perfectly, so its AURC beats any honest classifier's."""
    rng = np.random.default_rng(seed)
    test_set = rng.choice(["val", "iid", "cor/gaussian_noise/1", "cor/gaussian_noise/5"], n)
    label = (rng.random(n) < 0.27).astype(int)
    logits = rng.normal(size=(n, 2))
    if degenerate:
        logits = np.stack([np.where(label == 0, 4.0, 1.0) + rng.random(n) * 0.1, np.zeros(n)], 1)
    else:
        logits[np.arange(n), label] += 1.5
    audit = AuditSet(
        sample_id=[f"s{i}" for i in range(n)],
        test_set=test_set,
        label=label,
        logits=logits,
        class_names=["normal", "pneumonia"],
    )
    return save_audit(audit, path)


def study(tmp_path: Path) -> Path:
    stores = {
        "healthy": imbalanced_store(tmp_path / "healthy", False, seed=0),
        "collapsed": imbalanced_store(tmp_path / "collapsed", True, seed=1),
    }
    raw = {
        "name": "guard",
        "datasets": [{"name": "store", "label": k, "store": str(s)} for k, s in stores.items()],
        "csfs": ["MSR", "PE"],
        "evaluation": {"bootstrap": 0},
        "executor": {"kind": "local", "workers": 1},
    }
    console = Console(record=True, width=200)
    outcome = run_study(parse_study(raw), tmp_path / "study", live=False, console=console)
    study.printed = console.export_text()
    study.outcome = outcome
    return tmp_path / "study"


def test_the_run_record_and_the_runner_say_which_classifier_is_degenerate(tmp_path):
    folder = study(tmp_path)
    collapsed = json.loads((folder / "runs" / "collapsed__store__seed0" / "run.json").read_text())
    healthy = json.loads((folder / "runs" / "healthy__store__seed0" / "run.json").read_text())
    verdict = collapsed["details"]["health"]["collapsed"]
    assert verdict["degenerate"] and verdict["split"] == "val"
    assert "predicts only 'normal'" in verdict["reason"]
    assert not healthy["details"]["health"]["healthy"]["degenerate"]
    warned = {o.run_id: o.warning for o in study.outcome.outcomes}
    assert warned["healthy__store__seed0"] is None
    assert "predicts only 'normal'" in warned["collapsed__store__seed0"]
    assert "warning: degenerate classifier (collapsed): predicts only 'normal'" in study.printed


def test_tables_mark_it_and_leave_it_out_of_best_and_ranks_unless_asked(tmp_path):
    folder = study(tmp_path)
    long = collect_results(folder)
    assert set(long.loc[long["degenerate"], "dataset"]) == {"collapsed"}
    # both datasets in one column: pool them under one name to make them compete
    pooled = long.assign(dataset="all")
    table = summary_table(pooled, "aurc")
    assert table.loc["MSR", ("all", "iid", "n_degenerate")] == 1
    per_run = summary_table(long, "aurc")
    collapsed = per_run[("collapsed", "iid", "mean")]
    healthy = per_run[("healthy", "iid", "mean")]
    assert collapsed.min() < healthy.min()  # the collapsed one "wins" on raw numbers
    assert best_per_column(per_run, False) == {
        ("healthy", "iid"): healthy.idxmin(),
        ("healthy", "cor"): per_run[("healthy", "cor", "mean")].idxmin(),
    }
    assert ("collapsed", "iid") in best_per_column(per_run, False, include_degenerate=True)
    ranks = mean_ranks(per_run, higher_is_better=False)
    assert set(ranks.index) == {"MSR", "PE"}  # ranked on the healthy columns only
    written = write_results(folder)
    markdown = (folder / "results" / "summary_aurc.md").read_text()
    collapsed_cells = [line for line in markdown.splitlines() if line.startswith("| MSR")][0]
    assert collapsed_cells.count(DEGENERATE_MARK) == 2  # collapsed iid and cor
    assert f"{DEGENERATE_MARK} degenerate classifier, collapsed / store / seed 0" in markdown
    assert "**" not in collapsed_cells.split("|")[2]  # no bold on a degenerate cell
    accuracy = (folder / "results" / "accuracy.md").read_text().splitlines()
    assert "collapsed iid (balanced)" in accuracy[0]  # 27% minority: balanced beside plain
    assert written["accuracy"].is_file()


def test_the_report_labels_the_section_and_strikes_the_numbers(tmp_path):
    folder = study(tmp_path)
    page = build_report(folder, tmp_path / "report.html").read_text()
    assert "<h2" in page and "Degenerate classifiers" in page
    assert "predicts only &#x27;normal&#x27; for all" in page  # the reason, escaped
    assert 'class="degenerate"' in page and 'class="best degenerate"' not in page
    assert "(degenerate classifier †)" in page  # the run's own section title
    assert "Not ranked" not in page  # MSR and PE still rank on the healthy columns
    marked = build_report(folder, tmp_path / "all.html", include_degenerate=True).read_text()
    assert 'class="best degenerate"' in marked


def test_the_ranking_leaves_it_out_unless_asked(tmp_path):
    import pandas as pd

    folder = study(tmp_path)
    written = write_results(folder, metrics=("aurc",), n_resamples=50)
    ranks = pd.read_csv(written["ranking_aurc"])
    collapsed = ranks[ranks["dataset"] == "collapsed"]  # rows that say why they have no rank
    assert collapsed["rank"].isna().all() and len(collapsed) == 4  # MSR, PE x iid, cor
    assert (collapsed["not_ranked"] == "degenerate classifier").all()
    assert ranks.loc[ranks["dataset"] == "healthy", "not_ranked"].isna().all()
    pairs = pd.read_csv(written["pairwise_aurc"])
    assert "collapsed" not in set(pairs["dataset"])
    asked = write_results(folder, metrics=("aurc",), n_resamples=50, include_degenerate=True)
    ranks = pd.read_csv(asked["ranking_aurc"])
    assert {"MSR", "PE"} == set(ranks.loc[ranks["dataset"] == "collapsed", "csf"])
    assert "not_ranked" not in ranks  # every cell ranked, as asked
    assert json.loads(asked["ranking"].read_text())["aurc"]["include_degenerate"] is True

"""Markdown and accuracy tables written by `silentscope study results`."""

from __future__ import annotations

import numpy as np
import pytest

from silentscope.audit.store import load_audit
from silentscope.study.results import write_results
from silentscope.study.runner import run_study
from silentscope.study.spec import parse_study
from tests.support.studies import store_study


def test_markdown_and_accuracy_tables(tmp_path):
    run_study(parse_study(store_study(tmp_path, n_stores=2)), tmp_path / "study", live=False)
    written = write_results(tmp_path / "study")
    text = (tmp_path / "study" / "results" / "summary_aurc.md").read_text()
    # what a cell holds, the table, what bold and italics mean, the footnote, then the ranks
    title, table, marks, footnote, *ranking = text.split("\n\n")
    assert title == "**AURC x1000** (lower is better), one seed per cell: no spread over seeds."
    markdown = table.splitlines()
    assert markdown[0].startswith("| CSF | model0 iid | model0 cor | model0 acq | model1 iid")
    assert len(markdown) == 2 + 3  # header, rule, MSR / PE / MLS
    assert marks.startswith("Best per column in bold; in italics: tied with the best")
    assert footnote.startswith("cor = mean over") and "Bungert" in footnote
    assert ranking[0].startswith("Rank of each CSF on 1000 joint bootstrap resamples")
    # One bold (best) cell per column.
    n_columns = markdown[0].count("|") - 2
    assert sum(line.count("**") // 2 for line in markdown[2:5]) == n_columns

    accuracy = (tmp_path / "study" / "results" / "accuracy.md").read_text().splitlines()
    assert accuracy[0].startswith("| objective | model0 iid")
    audit = load_audit(tmp_path / "store0")
    iid = audit.correct[audit.test_set == "iid"].mean()
    cor = np.mean(
        [audit.correct[audit.test_set == n].mean() for n in audit.test_sets if n.startswith("cor/")]
    )
    assert accuracy[-1].startswith("cor = mean over")
    cells = accuracy[2].split("|")
    assert float(cells[2]) == round(iid, 3)
    assert float(cells[3]) == round(cor, 3)  # mean over corruption test sets, not pooled
    assert written["accuracy"].is_file()


def test_results_of_several_studies_in_one_table(tmp_path):
    dirs = []
    for name in ("a", "b"):
        raw = store_study(tmp_path / name, n_stores=1)
        raw["datasets"][0]["label"] = f"data_{name}"
        run_study(parse_study(raw), tmp_path / name / "study", live=False)
        dirs.append(tmp_path / name / "study")
    write_results(dirs[::-1], out=tmp_path / "combined")
    header = (tmp_path / "combined" / "summary_aurc.md").read_text().splitlines()[2]
    assert "data_a iid" in header and "data_b acq" in header
    assert header.index("data_b iid") < header.index("data_a iid")  # the order given
    with pytest.raises(ValueError, match="is in both"):
        write_results([dirs[0], dirs[0]], out=tmp_path / "twice")
    with pytest.raises(ValueError, match="need an output folder"):
        write_results(dirs)


def test_an_unchanged_corrupted_set_is_left_out_of_the_tables_with_the_reason(tmp_path):
    import dataclasses
    import json

    from silentscope.audit.store import save_audit
    from tests.support.studies import simulated_store

    audit = load_audit(simulated_store(tmp_path / "raw", seed=0))
    change = {"cor/gaussian_noise/1": 0.0, "cor/gaussian_noise/5": 20.0}
    params = [
        json.dumps({"corruption": "gaussian_noise", "change": change[t]}) if t in change else "{}"
        for t in audit.test_set
    ]
    save_audit(dataclasses.replace(audit, shift_params=np.asarray(params, object)), tmp_path / "s")
    study = {"name": "s", "datasets": [{"name": "store", "label": "m", "store": str(tmp_path / "s")}],
             "csfs": ["MSR"], "evaluation": {"bootstrap": 0}}  # fmt: skip
    run_study(parse_study(study), tmp_path / "study", live=False)
    written = write_results(tmp_path / "study")
    reason = written["left_out"].read_text()
    assert "cor/gaussian_noise/1: its images changed by 0.00 grey levels" in reason
    accuracy = (tmp_path / "study" / "results" / "accuracy.md").read_text().splitlines()
    cells = accuracy[2].split("|")
    severe = audit.correct[audit.test_set == "cor/gaussian_noise/5"].mean()
    assert float(cells[3]) == round(severe, 3)  # "cor" is the changed set alone

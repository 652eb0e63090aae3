"""`silentscope study results` writes every run's caveats, and shows no number for a
degenerate seed's cells."""

from __future__ import annotations

from silentscope.study.caveats import run_caveats
from silentscope.study.results import write_results
from tests.report.test_caveats_report import three_seed_study


def test_every_run_and_its_caveats_are_written(tmp_path):
    study = three_seed_study(tmp_path / "study")
    caveats = run_caveats(study).set_index("run_id")
    assert len(caveats) == 6 and caveats["degenerate"].sum() == 1
    assert caveats.loc["toy__dg__seed2", "degenerate"]
    assert caveats.loc["toy__ce__seed2", "caveats"] == []
    written = write_results(study, metrics=("aurc",), n_resamples=0)
    text = written["caveats"].read_text()
    seed2 = text[text.index("**toy__dg__seed2**") :].split("\n- ")[0]
    assert "its cells show no number" in seed2 and "predicts only 'no'" in seed2
    seed1 = text[text.index("**toy__dg__seed1**") :].split("\n- ")[0]
    assert "MCD-MI not computed" in seed1 and "degenerate" not in seed1
    assert "no caveat recorded: toy__ce__seed0, toy__ce__seed1, toy__ce__seed2" in text


def test_the_markdown_table_shows_a_degenerate_seed_as_such(tmp_path):
    study = three_seed_study(tmp_path / "study")
    write_results(study, metrics=("aurc",), n_resamples=0)
    markdown = (study / "results" / "summary_aurc.md").read_text().splitlines()
    dg = next(line for line in markdown if line.startswith("| MSR (dg) |"))
    assert dg.count("degenerate, 1 of 3 seeds†") == 2 and "±" not in dg  # iid and cor
    ce = next(line for line in markdown if line.startswith("| MSR |"))
    assert ce.count("±") == 2 and "degenerate" not in ce
    write_results(study, metrics=("aurc",), n_resamples=0, include_degenerate=True)
    markdown = (study / "results" / "summary_aurc.md").read_text().splitlines()
    dg = next(line for line in markdown if line.startswith("| MSR (dg) |"))
    assert dg.count("±") == 2 and "degenerate," not in dg

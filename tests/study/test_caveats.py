"""`silentscope study results` writes every run's caveats, and leaves a degenerate seed out
of its cells' means."""

from __future__ import annotations

from silentscope.study.caveats import run_caveats
from silentscope.study.results import write_results
from tests.report.test_caveats_report import three_seed_study
from tests.support.studies import seeded_run


def test_every_run_and_its_caveats_are_written(tmp_path):
    study = three_seed_study(tmp_path / "study")
    caveats = run_caveats(study).set_index("run_id")
    assert len(caveats) == 6 and caveats["degenerate"].sum() == 1
    assert caveats.loc["toy__dg__seed2", "degenerate"]
    assert caveats.loc["toy__ce__seed2", "caveats"] == []
    written = write_results(study, metrics=("aurc",), n_resamples=0)
    text = written["caveats"].read_text()
    seed2 = text[text.index("**toy__dg__seed2**") :].split("\n- ")[0]
    assert "left out of the means of its cells" in seed2 and "predicts only 'no'" in seed2
    seed1 = text[text.index("**toy__dg__seed1**") :].split("\n- ")[0]
    assert "MCD-MI not computed" in seed1 and "degenerate" not in seed1
    assert "no caveat recorded: toy__ce__seed0, toy__ce__seed1, toy__ce__seed2" in text


def test_the_markdown_table_shows_a_degenerate_seed_as_such(tmp_path):
    study = three_seed_study(tmp_path / "study")
    write_results(study, metrics=("aurc",), n_resamples=0)
    markdown = (study / "results" / "summary_aurc.md").read_text().splitlines()
    dg = next(line for line in markdown if line.startswith("| MSR (dg) |"))
    assert dg.count(" (2/3)†") == 2 and dg.count("±") == 2  # iid and cor: the healthy seeds
    ce = next(line for line in markdown if line.startswith("| MSR |"))
    assert ce.count("±") == 2 and "degenerate" not in ce
    write_results(study, metrics=("aurc",), n_resamples=0, include_degenerate=True)
    markdown = (study / "results" / "summary_aurc.md").read_text().splitlines()
    dg = next(line for line in markdown if line.startswith("| MSR (dg) |"))
    assert dg.count("±") == 2 and "(2/3)" not in dg  # all three seeds in the mean


def test_a_run_evaluated_by_older_code_says_its_stored_intervals_may_not_be_paired(tmp_path):
    import json

    from silentscope.study.caveats import OLD_EVALUATION, caveats_markdown

    study = tmp_path / "study"
    for seed in (0, 1):
        seeded_run(study, seed, objective="dg", csfs=("MSR", "MCD-MI"))
    record = study / "runs" / "toy__dg__seed0" / "run.json"
    old = json.loads(record.read_text())
    del old["details"]["conventions"]  # as run records written before it existed
    record.write_text(json.dumps(old))
    caveats = run_caveats(study).set_index("run_id")["caveats"]
    assert OLD_EVALUATION in caveats["toy__dg__seed0"]
    assert OLD_EVALUATION not in caveats["toy__dg__seed1"]
    text = caveats_markdown(run_caveats(study))
    assert text.count("MCD-MI not computed") == 1  # every run's caveat, said once
    assert text.index("Recorded with every run (2)") < text.index("MCD-MI not computed")
    assert "- **toy__dg__seed0**\n  - evaluated by an older silentscope" in text
    assert "no other caveat recorded: toy__dg__seed1" in text


def test_the_terminal_says_how_many_runs_carry_caveats_and_where(tmp_path):
    from typer.testing import CliRunner

    from silentscope.cli import app

    study = three_seed_study(tmp_path / "study")
    result = CliRunner().invoke(app, ["study", "results", str(study), "--resamples", "0"])
    assert result.exit_code == 0, result.output
    assert "caveats: 3 of 6 runs carry caveats, every seed's in" in result.stdout
    assert "caveats.md" in result.stdout

"""Rank uncertainty and paired comparisons written by `silentscope study results`."""

from __future__ import annotations

import json
import re

import pandas as pd

from silentscope.study.results import write_results
from silentscope.study.runner import run_study
from silentscope.study.spec import parse_study
from tests.support.studies import seeded_run, store_study


def test_one_seed_study_ranks_over_test_samples_only_and_says_so(tmp_path):
    run_study(parse_study(store_study(tmp_path, n_stores=2)), tmp_path / "study", live=False)
    written = write_results(tmp_path / "study", n_resamples=200)
    payload = json.loads(written["ranking"].read_text())["aurc"]
    assert payload["resampled_over"] == "test samples only (one seed)"
    assert any("one seed" in note for note in payload["notes"])
    assert payload["largest_difference_from_evaluation_rows"] < 1e-12
    ranks = pd.read_csv(written["ranking_aurc"])
    columns = ranks[ranks["dataset"] != "all"].groupby(["dataset", "kind"])
    assert columns.ngroups == 6 and (columns.size() == 3).all()  # MSR, PE, MLS per column
    assert (ranks["rank_low"] <= ranks["rank_median"]).all()
    assert (ranks["rank_median"] <= ranks["rank_high"]).all()
    # somebody is best in every resample of a column (ties can make it more than one)
    assert (columns["p_best"].sum() >= 1 - 1e-9).all()
    assert set(ranks.loc[ranks["dataset"] == "all", "csf"]) == {"MSR", "PE", "MLS"}
    # the table's values are the summary's
    summary = pd.read_csv(tmp_path / "study" / "results" / "summary_aurc.csv", index_col=0)
    msr_iid = ranks.query("csf == 'MSR' and dataset == 'model0' and kind == 'iid'")["value"]
    assert float(msr_iid.iloc[0]) == summary.loc["MSR", "model0 iid mean"]


def test_two_seed_study_pairs_csfs_with_msr_over_samples_and_seeds(tmp_path):
    study = tmp_path / "study"
    for seed in (0, 1):
        seeded_run(study, seed)
    written = write_results(study, metrics=("aurc",), n_resamples=300)
    payload = json.loads(written["ranking"].read_text())["aurc"]
    assert payload["resampled_over"] == "test samples and seeds"
    assert not any("one seed" in note for note in payload["notes"])
    pairs = pd.read_csv(written["pairwise_aurc"]).set_index(["kind", "csf"])
    for kind in ("iid", "cor"):
        copy = pairs.loc[(kind, "ext:copy")]
        assert copy["ci_low"] <= 0 <= copy["ci_high"]
        assert copy["verdict"] == "no clear difference"
        oracle = pairs.loc[(kind, "ext:oracle")]
        assert oracle["ci_high"] < 0 and oracle["verdict"] == "better"  # lower AURC is better
    ranks = pd.read_csv(written["ranking_aurc"])
    best = ranks[ranks["best"]].set_index("kind")["csf"]
    assert best["iid"] == best["cor"] == "ext:oracle"
    assert ranks.query("csf == 'ext:oracle' and kind == 'iid'")["p_best"].iloc[0] > 0.95
    # the LaTeX table: one row per CSF, balanced braces, the oracle bold, colours
    latex = written["latex_aurc"].read_text()
    rows = [line for line in latex.splitlines() if line.endswith("\\\\") and "&" in line]
    assert len(rows) == 1 + 4  # header + MSR, PE, ext:copy, ext:oracle
    assert latex.count("{") == latex.count("}")
    assert re.search(r"ext:oracle & \\cellcolor\[rgb\]\{[^}]+\}\\textbf", latex)
    assert "mean $\\pm$ std over 2 seeds" in latex
    assert "one seed" not in latex


def test_one_seed_latex_does_not_claim_a_spread_over_seeds(tmp_path):
    run_study(parse_study(store_study(tmp_path, n_stores=1)), tmp_path / "study", live=False)
    latex = write_results(tmp_path / "study", n_resamples=50)["latex_aurc"].read_text()
    assert "std over seeds" not in latex and "one seed per cell" in latex
    assert "\\pm" not in latex.split("\\midrule")[1]  # no cell shows a spread


def test_the_markdown_holds_mean_and_std_rank_intervals_and_the_comparison_with_msr(tmp_path):
    from typer.testing import CliRunner

    from silentscope.cli import app

    study = tmp_path / "study"
    for seed in (0, 1, 2):
        seeded_run(study, seed)
    result = CliRunner().invoke(
        app, ["study", "results", str(study), "--resamples", "300", "--markdown"]
    )
    assert result.exit_code == 0, result.output
    markdown = result.stdout  # the Markdown only: the terminal tables are not printed
    assert "┃" not in markdown and "ranks over" not in markdown
    assert markdown == "".join(
        f"\n<!-- {name} -->\n{(study / 'results' / name).read_text()}"
        for name in ("accuracy.md", "summary_aurc.md", "caveats.md")
    )
    summary = (study / "results" / "summary_aurc.md").read_text()
    assert "mean ± std over 3 seeds" in summary
    tables = [t for t in summary.split("\n\n") if t.startswith("| CSF |")]
    assert len(tables) == 3  # mean ± std, rank intervals, difference from MSR
    means, ranks, pairs = (
        {line.split(" | ")[0][2:]: line for line in t.splitlines()} for t in tables
    )
    assert re.search(r"\| \*\*\d+\.\d ± \d+\.\d\*\* \|", means["ext:oracle"])  # best, bold
    ranking = pd.read_csv(study / "results" / "ranking_aurc.csv")
    oracle = ranking.query("csf == 'ext:oracle' and kind == 'iid'").iloc[0]
    cell = (
        f"{oracle.rank_median:g} [{oracle.rank_low:g}-{oracle.rank_high:g}] · {oracle.p_best:.0%}"
    )
    assert f"| {cell} |" in ranks["ext:oracle"] and "all columns" in tables[1]
    assert pairs["ext:oracle"].count(" better") == 2  # iid and cor
    assert pairs["ext:copy"].count("no clear difference") == 2
    assert "MSR" not in pairs  # the reference is not compared with itself

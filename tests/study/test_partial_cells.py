"""A cell with some of its seeds degenerate: the healthy seeds' mean ± std, marked (k/n)†,
with no best mark and no rank; a cell with every seed degenerate shows no number."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from silentscope.study.paper_table import paper_cells
from silentscope.study.results import best_per_column, collect_results, summary_table, write_results
from tests.support.studies import healthy_seed_cell, partly_degenerate_study

SETS = {"iid": "iid", "cor": "cor/gaussian_noise/3"}


@pytest.fixture
def study(tmp_path):
    return partly_degenerate_study(tmp_path / "study")


def _row(markdown: str, label: str) -> list[str]:
    line = next(line for line in markdown.splitlines() if line.startswith(f"| {label} |"))
    return [cell.strip() for cell in line.split("|")[2:-1]]


def test_a_partial_cell_is_the_mean_and_std_of_its_healthy_seeds_marked_k_of_n(study):
    from typer.testing import CliRunner

    from silentscope.cli import app

    long = collect_results(study)
    written = write_results(study, metrics=("aurc",), n_resamples=0)
    markdown = written["summary_aurc"].with_suffix(".md").read_text()
    flat = pd.read_parquet(written["summary_aurc"].with_suffix(".parquet"))
    cells = _row(markdown, "ext:oracle (dg)")
    for cell, (kind, test_set) in zip(cells, SETS.items(), strict=True):
        mean, std, k, n = healthy_seed_cell(long, "ext:oracle", "dg", test_set)
        assert (k, n) == (2, 3)
        assert cell == f"{mean:.1f} ± {std:.1f} (2/3)†"
        stats = flat.loc["ext:oracle (dg)"]
        assert stats[f"toy {kind} mean"] * 1000 == pytest.approx(mean)
        assert stats[f"toy {kind} std"] * 1000 == pytest.approx(std)
        assert stats[
            [f"toy {kind} n_{s}" for s in ("averaged", "seeds", "degenerate")]
        ].tolist() == [2, 3, 1]
    # the footnote under the table: which run was left out, why, and what (k/n) means
    assert "† degenerate classifier, toy / dg / seed 2: predicts only 'no'" in markdown
    assert "marked (k/n) is the mean ± std over its k healthy of n seeds" in markdown
    mean, std, _, _ = healthy_seed_cell(long, "ext:oracle", "dg", "iid")
    latex = written["latex_aurc"].read_text()
    assert f"\\textcolor{{gray}}{{{mean:.1f} $\\pm$ {std:.1f} (2/3)}}$^\\dagger$" in latex
    printed = CliRunner().invoke(
        app, ["study", "results", str(study), "--resamples", "0", "--markdown"]
    )
    assert printed.exit_code == 0, printed.output
    assert f"| ext:oracle (dg) | {mean:.1f} ± {std:.1f} (2/3)† |" in printed.stdout


def test_a_partial_cell_takes_no_best_mark_and_no_rank_though_its_number_is_lowest(study):
    long = collect_results(study)
    table = summary_table(long, "aurc")
    means = table.xs("mean", axis=1, level=2)
    assert (means.idxmin() == "ext:oracle (dg)").all()  # it would win every column
    assert "ext:oracle (dg)" not in best_per_column(table, False).values()
    cells = paper_cells(table, False, {}, 1000)
    for cell in cells.loc["ext:oracle (dg)"]:
        assert cell["text"].endswith("(2/3)†") and cell["degenerate"]
        assert not cell["best"] and np.isnan(cell["rank"]) and cell["colour"] is None
    written = write_results(study, metrics=("aurc",), n_resamples=20)
    assert "**" not in "".join(
        _row(written["summary_aurc"].with_suffix(".md").read_text(), "ext:oracle (dg)")
    )
    ranks = pd.read_csv(written["ranking_aurc"])
    left_out = ranks[ranks["csf"] == "ext:oracle (dg)"]
    assert set(left_out["kind"]) == {"iid", "cor"} and left_out["rank"].isna().all()
    assert left_out["not_ranked"].str.startswith("degenerate classifier in 1 of 3 seeds").all()
    saved = json.loads(written["ranking"].read_text())["aurc"]["not_ranked"]
    assert {(r["csf"], r["kind"]) for r in saved} >= {("ext:oracle (dg)", "iid")}
    markdown = written["summary_aurc"].with_suffix(".md").read_text()
    said = [line for line in markdown.splitlines() if line.startswith("- degenerate classifier")]
    assert any(
        line.startswith("- degenerate classifier in 1 of 3 seeds: its mean over the 2 healthy")
        and "ext:oracle (dg)" in line
        and line.endswith(" in toy iid, toy cor")
        for line in said
    )
    compared = markdown[markdown.index("Each CSF minus MSR") :]
    assert _row(compared, "ext:oracle (dg)") == ["not compared†", "not compared†"]


def test_a_cell_with_every_seed_degenerate_still_shows_no_number(study):
    written = write_results(study, metrics=("aurc",), n_resamples=20)
    markdown = written["summary_aurc"].with_suffix(".md").read_text()
    assert _row(markdown, "MSR (confidnet)") == ["degenerate†", "degenerate†"]
    assert _row(markdown, "MSR (dg)")[0].endswith(" (2/3)†")  # beside it, a partial cell
    flat = pd.read_csv(written["summary_aurc"], index_col=0)
    assert flat.loc["MSR (confidnet)", "toy iid n_degenerate"] == 3
    assert flat.loc["MSR (confidnet)", "toy iid n_averaged"] == 3  # its own seeds, no other
    ranks = pd.read_csv(written["ranking_aurc"]).set_index(["csf", "kind"])
    assert (
        ranks.loc[("MSR (confidnet)", "iid"), "not_ranked"]
        == "degenerate classifier in all 3 seeds"
    )
    asked = summary_table(collect_results(study), "aurc", include_degenerate=True)
    assert (asked.xs("n_averaged", axis=1, level=2) == 3).all().all()  # every seed, as asked

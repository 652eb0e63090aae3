"""The report's result tables: scaled cells, the best CSF per column, the mean-rank table."""

from __future__ import annotations

import re

import pandas as pd
import pytest

from silentscope.report.build import _results_sections

#: aurc per (csf, test set) for seeds 0 and 1: A is best on iid, B under corruption, C never.
VALUES = {
    ("A", "iid"): (0.010, 0.012),
    ("B", "iid"): (0.020, 0.022),
    ("C", "iid"): (0.030, 0.034),
    ("A", "cor/gaussian_noise/3"): (0.060, 0.064),
    ("B", "cor/gaussian_noise/3"): (0.040, 0.040),
    ("C", "cor/gaussian_noise/3"): (0.090, 0.080),
}


def _long(metrics=("aurc",)) -> pd.DataFrame:
    rows = [
        {
            "dataset": "toy",
            "objective": "ce",
            "seed": seed,
            "csf": csf,
            "test_set": test_set,
            "metric": metric,
            "value": values[seed],
        }
        for metric in metrics
        for (csf, test_set), values in VALUES.items()
        for seed in (0, 1)
    ]
    return pd.DataFrame(rows)


def _cells(section_html: str, csf: str) -> list[str]:
    """(class attribute, text) of each cell of a CSF's row (colour and rank left out)."""
    row = re.search(rf"<tr><td>{csf}</td>(.*?)</tr>", section_html).group(1)
    cells = re.findall(r"<td([^>]*)>([^<]*)</td>", row)
    return [(" ".join(re.findall(r' class="[^"]*"', attrs)), text) for attrs, text in cells]


def test_cells_are_coloured_by_their_rank_within_the_column():
    (section,) = _results_sections(_long())
    row = re.search(r"<tr><td>C</td>(.*?)</tr>", section.html).group(1)
    ranks = re.findall(r'data-rank="([\d.]+)"', row)
    colours = re.findall(r'style="background:(rgb\([\d,]+\))"', row)
    assert ranks == ["3", "3"] and len(set(colours)) == 1  # C is last in both columns
    best = re.search(r"<tr><td>A</td><td[^>]*style=\"background:(rgb\([\d,]+\))", section.html)
    assert best.group(1) != colours[0]


def test_one_section_per_metric_present():
    assert [s.id for s in _results_sections(_long())] == ["results-aurc"]
    both = _results_sections(_long(("aurc", "augrc")))
    assert [s.id for s in both] == ["results-aurc", "results-augrc"]
    assert [s.title for s in both] == ["Results: AURC", "Results: AUGRC"]


def test_cells_are_scaled_means_with_the_spread_over_seeds():
    (section,) = _results_sections(_long())
    # A on iid: mean 0.011, std 0.0014 over two seeds, x1000 as the note says
    assert [text for _, text in _cells(section.html, "A")] == ["11.0 ± 1.4", "62.0 ± 2.8"]
    assert "AURC x1000 (lower is better)" in section.note


def test_the_best_csf_of_each_column_is_marked():
    (section,) = _results_sections(_long())
    marks = {csf: [css for css, _ in _cells(section.html, csf)] for csf in "ABC"}
    assert marks["A"] == [' class="best"', ""]  # lowest AURC on iid
    assert marks["B"] == ["", ' class="best"']  # lowest under corruption
    assert marks["C"] == ["", ""]


def test_the_ranking_orders_csfs_by_mean_rank_over_columns():
    (section,) = _results_sections(_long())
    ranking = section.html[section.html.index("Mean rank of each CSF") :]
    rows = re.findall(r"<tr><td>(\w)</td><td>([\d.]+)</td></tr>", ranking)
    assert rows[-1] == ("C", "3.00")
    assert sorted(rows[:2]) == [("A", "1.50"), ("B", "1.50")]


def test_a_metric_without_rows_gives_no_section():
    assert _results_sections(_long(("augrc",)))[0].id == "results-augrc"
    with pytest.raises(ValueError, match="no rows for metric"):
        # only pooled rows (not test sets): nothing to tabulate, said loudly
        _results_sections(_long().assign(test_set="cor (all)"))

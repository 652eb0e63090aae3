"""Every seed's caveats on the page, and a degenerate seed left out of its cells, shown grey."""

from __future__ import annotations

import re
from html.parser import HTMLParser

from silentscope.report.build import build_report
from silentscope.study.results import collect_results
from tests.report.test_ranking_report import _parse
from tests.support.studies import healthy_seed_cell, partly_degenerate_study, seeded_run


def three_seed_study(study):
    """ce healthy in seeds 0-2; dg healthy in seeds 0-1 and collapsed in seed 2, and MCD-MI
    unavailable in every dg run (its store has no MC logits)."""
    for seed in (0, 1, 2):
        seeded_run(study, seed)
        seeded_run(study, seed, objective="dg", degenerate=seed == 2,
                   csfs=("MSR", "PE", "ext:copy", "ext:oracle", "MCD-MI"))  # fmt: skip
    return study


class _Caveats(HTMLParser):
    """Rows of the caveats table: (tr attributes, cell texts)."""

    def __init__(self):
        super().__init__()
        self.rows, self._in, self._row, self._cell = [], False, None, None

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "table" and attrs.get("class") == "caveats":
            self._in = True
        elif tag == "tr" and self._in:
            self._row = [attrs, []]
            self.rows.append(self._row)
        elif tag == "td" and self._row is not None:
            self._row[1].append("")
            self._cell = True

    def handle_endtag(self, tag):
        if tag == "table":
            self._in, self._row = False, None
        elif tag == "td":
            self._cell = None

    def handle_data(self, data):
        if self._cell and self._row is not None:
            self._row[1][-1] += data


def test_the_caveats_of_every_seed_are_on_the_page(tmp_path):
    study = three_seed_study(tmp_path / "study")
    page = build_report(study, tmp_path / "report.html").read_text()
    parser = _Caveats()
    parser.feed(page)
    rows = {cells[0]: (attrs, cells) for attrs, cells in parser.rows if cells}
    assert set(rows) == {f"toy__{o}__seed{s}" for o in ("ce", "dg") for s in (0, 1, 2)}
    # one seed per objective is shown in detail; the caveats of the others are still here
    shown = {run for run, (_, cells) in rows.items() if cells[2] == "yes"}
    assert shown == {"toy__ce__seed0", "toy__dg__seed0"}
    attrs, cells = rows["toy__dg__seed2"]
    assert attrs.get("class") == "degenerate"
    assert "degenerate classifier (toy): predicts only 'no'" in cells[3]
    assert "MCD-MI not computed: MCD-MI needs mc_logits" in rows["toy__dg__seed1"][1][3]
    assert rows["toy__ce__seed1"][1][3] == "none recorded"
    assert "class" not in rows["toy__dg__seed1"][0]


def test_a_degenerate_seed_is_left_out_of_its_cells_which_show_the_others_grey(tmp_path):
    study = partly_degenerate_study(tmp_path / "study")
    long = collect_results(study)
    page = build_report(study, tmp_path / "report.html").read_text()
    header, *rows = _parse(page).tables[0]
    assert [text for _, text in header][1:3] == ["toy iid", "toy cor"]
    by_csf = {row[0][1]: row[1 : len(header)] for row in rows}  # its last row runs on
    for csf, name in (("MSR (dg)", "MSR"), ("PE (dg)", "PE"), ("ext:oracle (dg)", "ext:oracle")):
        for (attrs, text), test_set in zip(
            by_csf[csf], ("iid", "cor/gaussian_noise/3"), strict=True
        ):
            mean, std, k, n = healthy_seed_cell(long, name, "dg", test_set)
            assert text == f"{mean:.1f} ± {std:.1f} ({k}/{n})†" and (k, n) == (2, 3)
            assert "degenerate" in attrs["class"] and "best" not in attrs["class"]
            assert "style" not in attrs and "data-rank" not in attrs  # grey: no colour, no rank
    for attrs, text in by_csf["MSR (confidnet)"]:  # every seed degenerate: no number
        assert text == "degenerate†" and "degenerate" in attrs["class"]
    for attrs, text in by_csf["MSR"]:  # the healthy objective keeps its numbers and colours
        assert re.fullmatch(r"\d+\.\d ± \d+\.\d", text) and "background" in attrs["style"]
    assert "degenerate classifier, toy / dg / seed 2: predicts only 'no'" in page
    assert "so it takes no best mark, colour or rank" in page
    asked = build_report(study, tmp_path / "all.html", include_degenerate=True).read_text()
    header, *rows = _parse(asked).tables[0]
    by_csf = {row[0][1]: row[1 : len(header)] for row in rows}
    assert all(re.fullmatch(r"\d+\.\d ± \d+\.\d†", text) for _, text in by_csf["MSR (dg)"])


def test_a_caveat_of_every_run_is_said_once_above_the_table(tmp_path):
    study = tmp_path / "study"
    for seed in (0, 1):
        seeded_run(study, seed, objective="dg", csfs=("MSR", "PE", "MCD-MI"))
    page = build_report(study, tmp_path / "report.html").read_text()
    section = page[page.index('<section id="caveats">') :]
    section = section[: section.index("</section>")]
    assert "Recorded with every run" in section
    assert section.count("MCD-MI not computed") == 1
    assert section.count("none besides those above") == 2


def test_the_severity_curves_leave_a_degenerate_seed_out_and_say_so(tmp_path):
    from silentscope.report.build import severity_rows
    from silentscope.study.results import collect_results

    study = three_seed_study(tmp_path / "study")
    long = collect_results(study)
    curves = severity_rows(long)
    assert set(curves.groupby(["objective", "seed"]).groups) == {
        ("ce", 0), ("ce", 1), ("ce", 2), ("dg", 0), ("dg", 1)
    }  # fmt: skip
    assert len(severity_rows(long, include_degenerate=True)) == len(long)
    page = build_report(study, tmp_path / "report.html").read_text()
    section = page[page.index('<section id="severity">') :]
    assert "left out of these curves: toy / dg / seed 2." in section[: section.index("</section>")]

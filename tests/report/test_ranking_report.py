"""The report's paper-style table, rank plot and paired comparisons, and a page safe to share."""

from __future__ import annotations

from html.parser import HTMLParser

import numpy as np
from PIL import Image

from silentscope.audit import AuditSet
from silentscope.audit.store import save_audit
from silentscope.report.build import build_report
from silentscope.study.runner import run_study
from silentscope.study.spec import parse_study
from tests.support.studies import seeded_run, store_study


class _Tables(HTMLParser):
    """Rows of every ``<table class='paper'>``, cells as (attributes, text); the rank plots."""

    def __init__(self):
        super().__init__()
        self.tables, self.rank_plots, self.alts = [], 0, []
        self._table = self._row = self._cell = None
        self._in_rank_plot = False

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "table" and attrs.get("class") == "paper":
            self._table = []
            self.tables.append(self._table)
        elif tag == "tr" and self._table is not None:
            self._row = []
            self._table.append(self._row)
        elif tag in ("td", "th") and self._row is not None:
            self._cell = [attrs, ""]
            self._row.append(self._cell)
        elif tag == "div" and "rank-plot" in (attrs.get("class") or ""):
            self._in_rank_plot = True
        elif tag == "svg" and self._in_rank_plot:
            self.rank_plots += 1
            self._in_rank_plot = False
        elif tag == "img":
            self.alts.append(attrs.get("alt", ""))

    def handle_endtag(self, tag):
        if tag == "table":
            self._table = None
        elif tag in ("td", "th"):
            self._cell = None

    def handle_data(self, data):
        if self._cell is not None:
            self._cell[1] += data


def _parse(page: str) -> _Tables:
    parser = _Tables()
    parser.feed(page)
    return parser


def test_one_seed_report_has_the_coloured_table_and_rank_plot_without_a_seed_spread(tmp_path):
    run_study(parse_study(store_study(tmp_path, n_stores=2)), tmp_path / "study", live=False)
    page = build_report(tmp_path / "study", tmp_path / "report.html").read_text()
    parsed = _parse(page)
    assert len(parsed.tables) == 2 and parsed.rank_plots == 2  # AURC and AUGRC
    header, *rows = parsed.tables[0]
    assert [text for _, text in header][1:4] == ["model0 iid", "model0 cor", "model0 acq"]
    assert sorted(row[0][1] for row in rows) == ["MLS", "MSR", "PE"]  # one row per CSF
    for column in range(1, len(header)):
        cells = [row[column][0] for row in rows]
        assert all("background:rgb(" in c["style"] for c in cells)  # every cell coloured
        assert sorted(float(c["data-rank"]) for c in cells)[0] == 1
        assert sum("best" in c.get("class", "") for c in cells) == 1
    assert "test samples only (one seed)" in page
    assert "one seed per cell: no spread over seeds" in page and "mean ± std" not in page
    assert all("±" not in text for row in rows for _, text in row)
    # balanced accuracy beside accuracy even where classes are balanced
    assert "<th>model0 iid (balanced)</th>" in page


def test_two_seed_report_says_mean_and_std_and_marks_ties_and_clear_wins(tmp_path):
    for seed in (0, 1):
        seeded_run(tmp_path / "study", seed)
    page = build_report(tmp_path / "study", tmp_path / "report.html").read_text()
    parsed = _parse(page)
    header, *rows = parsed.tables[0]
    by_csf = {row[0][1]: row[1:] for row in rows}
    assert set(by_csf) == {"MSR", "PE", "ext:copy", "ext:oracle"}
    assert all("±" in text for _, text in by_csf["MSR"])
    assert all("best" in attrs["class"] for attrs, _ in by_csf["ext:oracle"])
    # MSR's exact copy is tied with it wherever MSR is best or tied; never a clear win over it
    assert "mean ± std over 2 seeds" in page and "test samples and seeds" in page
    assert parsed.rank_plots == 1
    comparisons = page[page.index("Is a CSF better than MSR?") :]
    assert "<td>ext:oracle</td>" in comparisons and "<td>better</td>" in comparisons
    assert "<td>ext:copy</td>" not in comparisons.split("</table>")[0]


def test_the_page_names_no_folder_of_the_data(tmp_path):
    private = tmp_path / "hospital_share_ana"
    private.mkdir()
    rng = np.random.default_rng(0)
    refs = []
    for i in range(40):
        path = private / f"img{i}.png"
        Image.fromarray((rng.random((12, 12)) * 255).astype(np.uint8)).save(path)
        refs.append(str(path))
    label = rng.integers(0, 2, 40)
    logits = rng.normal(size=(40, 2))
    logits[np.arange(40), label] += 1.5  # a classifier with signal, not a degenerate one
    audit = AuditSet(
        sample_id=refs,  # as some importers write them: the absolute file path
        test_set=["iid"] * 40,
        label=label,
        logits=logits,
        class_names=["no", "yes"],
        image_ref=refs,
    )
    store = save_audit(audit, tmp_path / "store")
    page = build_report(store, tmp_path / "report.html", image_root=tmp_path).read_text()
    alts = _parse(page).alts
    assert alts and all(alt.startswith("…/img") for alt in alts)  # the file name only
    assert str(tmp_path) not in page and "hospital_share_ana" not in page
    # an image the page may not read is said without its folder either
    outside = build_report(store, tmp_path / "r2.html", image_root=tmp_path / "elsewhere")
    assert "hospital_share_ana" not in outside.read_text()

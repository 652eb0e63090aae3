"""The HTML report of a study: tables, rankings, severity plots, curves; self-contained."""

from __future__ import annotations

import re

import numpy as np
import pytest

from silentscope.report.build import build_report
from silentscope.study.results import collect_results
from silentscope.study.runner import run_study
from silentscope.study.spec import parse_study
from tests.support.studies import store_study


def test_study_report_is_self_contained_and_complete(tmp_path):
    spec = parse_study(store_study(tmp_path, n_stores=2, bootstrap=20))
    run_study(spec, tmp_path / "study", live=False)
    page = build_report(tmp_path / "study", tmp_path / "report.html").read_text()

    # No network: no external scripts, styles or images.
    assert not re.search(r"""(src|href)=["']https?://""", page)
    # Both summary tables, with the best cell of each column marked, and the CSF ranking.
    assert "Results: AURC" in page and "Results: AUGRC" in page
    assert page.count('class="best"') >= 2 * 3  # 2 metrics x (iid, cor, acq) per dataset
    assert "Mean rank of each CSF" in page
    # what the cor column holds is said (the mean over corruption test sets, not pooled)
    assert "cor = mean over" in page and "corruption test sets" in page
    # one seed per store: the header does not promise a spread over seeds
    assert "one seed per cell: no spread over seeds" in page and "mean ± std" not in page
    # One severity plot per dataset (model0, model1), never averaged over datasets.
    assert page.count("under corruptions") == 2
    assert "model0: AURC" in page and "model1: AURC" in page
    # Per-run curves (selective and generalized risk) and reliability diagrams.
    assert "generalized risk-coverage" in page
    assert page.count("<svg") >= 2 + 2 * 3


def test_best_cell_is_the_column_minimum(tmp_path):
    spec = parse_study(store_study(tmp_path, n_stores=1))
    run_study(spec, tmp_path / "study", live=False)
    page = build_report(tmp_path / "study", tmp_path / "report.html").read_text()
    long = collect_results(tmp_path / "study")
    iid = long[(long["metric"] == "aurc") & (long["test_set"] == "iid")]
    best = iid.loc[iid["value"].idxmin(), "csf"]
    table = page[page.index("Results: AURC") :]
    row = re.search(rf"<tr><td>{re.escape(best)}</td>(.*?)</tr>", table).group(1)
    first_cell = re.search(r"<td([^>]*)>", row).group(1)
    assert 'class="best"' in first_cell


def test_report_over_several_studies_combines_their_tables(tmp_path):
    for name in ("a", "b"):
        raw = store_study(tmp_path / name, n_stores=1)
        raw["datasets"][0]["label"] = f"data_{name}"
        run_study(parse_study(raw), tmp_path / name / "study", live=False)
    page = build_report(
        [tmp_path / "a" / "study", tmp_path / "b" / "study"], tmp_path / "both.html"
    ).read_text()
    assert "<th>data_a iid</th>" in page and "<th>data_b iid</th>" in page
    assert page.count("under corruptions") == 2


def test_reliability_diagrams_show_the_ece_that_evaluate_reports(tmp_path):
    # A report must not carry a second ECE: the diagram's ECE is metrics.top_label_ece
    # (the "Top-label ECE" of `silentscope evaluate`), not a private 10-bin variant.
    from silentscope.audit.store import save_audit
    from silentscope.metrics import top_label_ece
    from tests.support.audits import tiny_audit

    rng = np.random.default_rng(3)
    n = 400
    labels = rng.integers(0, 3, n)
    logits = rng.normal(0, 1.5, (n, 3))
    logits[np.arange(n), labels] += rng.choice([0.0, 2.5], n)
    audit = tiny_audit(logits, labels, test_set=np.where(np.arange(n) < 200, "iid", "acq/b"))
    store = save_audit(audit, tmp_path / "store")
    page = build_report(store, tmp_path / "report.html").read_text()
    # each panel's title is two svg text lines: the test set, then "ECE <value>"
    shown = dict(re.findall(r">(iid|acq/b)</text>\s*<text[^>]*>ECE ([0-9.]+)</text>", page))
    assert set(shown) == {"iid", "acq/b"}
    for name in ("iid", "acq/b"):
        mask = audit.test_set == name
        expected = top_label_ece(audit.probabilities[mask], audit.label[mask])
        assert float(shown[name]) == pytest.approx(expected, abs=6e-4), name

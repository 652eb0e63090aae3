"""An empty slice table says what the run could have confirmed, and its nearest miss."""

from __future__ import annotations

import numpy as np
import pytest
from typer.testing import CliRunner

from silentscope.audit.store import save_audit
from silentscope.cli import app
from silentscope.slices.result import no_slice_note
from silentscope.slices.statistics import (
    confirmation_reach,
    excess_error_pvalue,
    smallest_confirmable_rate,
)


@pytest.mark.parametrize("n_in", [5, 10, 25, 80])
@pytest.mark.parametrize("errors_out, n_out", [(10, 150), (100, 1000), (3, 400)])
@pytest.mark.parametrize("level", [0.05, 0.001])
def test_smallest_confirmable_rate_is_the_first_error_count_that_passes(
    n_in, errors_out, n_out, level
):
    rate = smallest_confirmable_rate(n_in, errors_out, n_out, level)
    passes = [excess_error_pvalue(k, n_in, errors_out, n_out) <= level for k in range(n_in + 1)]
    if not any(passes):
        assert np.isnan(rate)
        return
    k = round(rate * n_in)
    assert passes[k] and not any(passes[:k])


def test_reach_is_stricter_with_more_candidates_and_eases_with_size():
    errors = np.arange(400) % 8 == 0
    few, many = (confirmation_reach(errors, m, 0.05, 10) for m in (1, 40))
    assert many["level"] == pytest.approx(0.05 / 40)
    assert [size for size, _ in few["rates"]] == [10, 25, 50, 100]
    for (_, a), (_, b) in zip(few["rates"], many["rates"], strict=True):
        assert b > a  # more candidates tested: a higher rate is needed
    rates = [rate for _, rate in many["rates"]]
    assert rates == sorted(rates, reverse=True)  # bigger slices need less


def test_no_slice_says_what_a_slice_would_have_needed(odir_null_report):
    _, report = odir_null_report
    assert report.n_slices == 0
    text = str(report)
    assert text.startswith("no slice confirmed") and "no proof that no group fails" in text
    reach = report.settings["reach"]
    tested = report.candidates[report.candidates["p_value"].notna()]
    distinct = tested[tested["duplicate_of"] < 0]  # identical candidates: one hypothesis
    assert reach["level"] == pytest.approx(0.05 / len(distinct))
    assert f"the strongest of {len(distinct)} candidates" in text
    assert reach["n"] > 300 and 0 < reach["errors"] < reach["n"]
    for size, rate in reach["rates"]:
        assert f"{rate:.0%} with {size}" in text
    best = tested.sort_values("p_value").iloc[0]
    assert f"nearest miss: {int(best['n_confirm'])} held-out members" in text
    assert report.to_markdown().endswith(text)


def test_saved_empty_slices_say_it_in_the_cli_and_the_report(tmp_path, odir_null_report):
    from silentscope.report.build import build_report

    audit, _ = odir_null_report
    store = tmp_path / "store"
    save_audit(audit, store)
    args = ["slices", str(store), "-m", "metadata", "-m", "text", "--seeds", "1"]
    result = CliRunner().invoke(app, [*args, "--keep-label-derived"])
    assert result.exit_code == 0, result.output
    assert "no proof that no group fails" in " ".join(result.output.split())
    page = build_report(store, tmp_path / "report.html").read_text()
    assert "no proof that no group fails" in page.split("Slices: where", 1)[1]


def test_an_old_store_without_reach_keeps_the_plain_sentence():
    assert no_slice_note({"alpha": 0.05}, None) == (
        "no slice confirmed: 0 candidate(s) tested on held-out samples, none significant at "
        "FDR 0.05"
    )


def test_a_split_too_small_for_any_rate_says_so():
    reach = confirmation_reach(np.arange(24) % 2 == 0, 500, 0.05, 10)
    assert reach["rates"] == [[10, None]]  # 10 of 10 wrong is not enough at 0.05 / 500
    note = no_slice_note({"alpha": 0.05, "reach": reach}, None)
    assert "more than 100% with 10" in note

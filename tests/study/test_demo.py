"""The demo's slice step: the first cross-entropy run's store gets its slices, the report shows them."""

from __future__ import annotations

from silentscope.audit.store import list_artifacts, read_artifact
from silentscope.report.build import build_report
from silentscope.study.runner import run_study
from silentscope.study.spec import parse_study
from tests.support.studies import tiny_study


def test_demo_saves_slices_of_the_first_ce_run_and_the_report_shows_them(tmp_path):
    from silentscope.cli.report import _demo_slices

    raw = tiny_study(objectives=["dg", "ce"], seeds=[0], ensembles=[], csfs=["MSR"])
    raw["datasets"][0]["options"]["n_samples"] = 600
    spec = parse_study(raw)
    out = tmp_path / "demo"
    assert run_study(spec, out, live=False).done
    _demo_slices(spec, out)
    store = out / "runs" / "synthetic__ce__seed0" / "audit"
    assert {"slices", "slices_membership", "slices_candidates", "slices_settings"} <= set(
        list_artifacts(store)
    )
    assert read_artifact(store, "slices_settings")["test_sets"] == ["iid"]
    assert "slices" not in list_artifacts(out / "runs" / "synthetic__dg__seed0" / "audit")
    page = build_report(out, tmp_path / "report.html").read_text()
    assert "Slices: where the classifier fails systematically" in page

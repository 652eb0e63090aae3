"""The report shows a store's saved subgroup analysis, or says how to add one."""

from __future__ import annotations

import numpy as np
import pandas as pd

from silentscope.audit import AuditSet
from silentscope.audit.store import save_audit, write_artifacts
from silentscope.report.build import build_report
from silentscope.subgroups import analyze_subgroups


def _store(tmp_path):
    rng = np.random.default_rng(0)
    n = 600
    site = rng.choice(["north", "south"], n)
    label = rng.integers(0, 2, n)
    logits = rng.normal(size=(n, 2))
    # the south site is much harder: its errors are what the section must show
    logits[np.arange(n), label] += np.where(site == "south", 0.2, 2.5)
    audit = AuditSet(
        sample_id=[f"s{i}" for i in range(n)],
        test_set=rng.choice(["val", "iid"], n, p=[0.3, 0.7]),
        label=label,
        logits=logits,
        class_names=["no", "yes"],
        metadata=pd.DataFrame({"site": site}),
    )
    return audit, save_audit(audit, tmp_path / "store")


def test_saved_subgroups_are_tabulated_with_intervals_and_a_forest_plot(tmp_path):
    audit, store = _store(tmp_path)
    result = analyze_subgroups(audit, ["site"], random_state=0)
    write_artifacts(store, {**result.artifacts(), "subgroups_settings": result.settings})
    page = build_report(store, tmp_path / "report.html").read_text()
    section = page[page.index("Subgroups: which patients") :]
    table = section[: section.index("</table>")]
    assert "<td>site = south</td>" in table and "<td>site = north</td>" in table
    assert "<td class=warn>yes</td>" in table  # the hard site is flagged
    assert "<svg" in section  # the forest plot


def test_a_store_with_metadata_but_no_analysis_says_how_to_add_one(tmp_path):
    _, store = _store(tmp_path)
    page = build_report(store, tmp_path / "report.html").read_text()
    assert "No subgroup analysis is saved in this store" in page

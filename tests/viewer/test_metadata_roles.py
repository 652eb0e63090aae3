"""The viewer filters and summarises only the metadata columns the store's roles allow."""

from __future__ import annotations

import numpy as np
import pandas as pd

from silentscope.audit import AuditSet
from silentscope.audit.store import save_audit
from silentscope.viewer.data import load_viewer_data
from silentscope.viewer.prepare import prepare_store
from silentscope.viewer.queries import metadata_enrichment


def test_identifiers_are_neither_filters_nor_summaries(tmp_path):
    n = 300
    rng = np.random.default_rng(0)
    label = rng.integers(0, 2, n)
    wrong = rng.random(n) < 0.2
    audit = AuditSet(
        sample_id=[f"{i}_left.jpg" for i in range(n)],
        test_set=["iid"] * n,
        label=label,
        logits=np.eye(2)[np.where(wrong, 1 - label, label)] * 3,
        class_names=["normal", "abnormal"],
        features=rng.normal(size=(n, 4)),
        metadata=pd.DataFrame(
            {
                "patient_id": rng.permutation(4000)[:n] // 2,  # an integer that is no number
                "age": rng.integers(20, 90, n),
            }
        ),
    )
    store = save_audit(audit, tmp_path / "store")
    prepare_store(store, method="pca")
    data = load_viewer_data(store)
    assert "meta:age" in data.columns and "meta:patient_id" not in data.columns
    assert "identifier" in data.skipped_columns["patient_id"]
    selected = np.arange(n) < 100
    enrichment = metadata_enrichment(data, selected, ~selected)
    assert not any("patient_id" in str(row) for row in enrichment)

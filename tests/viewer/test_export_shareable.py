"""An exported viewer page (and the notebook widget, which embeds it) names no data folder."""

from __future__ import annotations

import numpy as np
from PIL import Image

from silentscope.audit import AuditSet
from silentscope.audit.store import save_audit
from silentscope.viewer.data import load_viewer_data
from silentscope.viewer.export import export_page
from silentscope.viewer.prepare import prepare_store


def test_absolute_sample_ids_and_metadata_paths_keep_only_the_file_name(tmp_path):
    private = tmp_path / "hospital_share_ana"
    private.mkdir()
    rng = np.random.default_rng(0)
    refs = []
    for i in range(30):
        path = private / f"img{i}.png"
        Image.fromarray((rng.random((12, 12)) * 255).astype(np.uint8)).save(path)
        refs.append(str(path))
    audit = AuditSet(
        sample_id=refs,
        test_set=["iid"] * 30,
        label=rng.integers(0, 2, 30),
        logits=rng.normal(size=(30, 2)),
        class_names=["no", "yes"],
        image_ref=refs,
        features=rng.normal(size=(30, 4)),
        metadata={"source_file": refs, "site": ["a", "b"] * 15},
    )
    store = save_audit(audit, tmp_path / "store")
    prepare_store(store)
    page = export_page(load_viewer_data(store), max_images=5)
    assert str(tmp_path) not in page and "hospital_share_ana" not in page
    assert "/img3.png" in page  # the file name stays: a reader can still tell samples apart

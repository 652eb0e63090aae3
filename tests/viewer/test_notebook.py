"""The notebook widget: built without a kernel, its page, its selection, its live server."""

from __future__ import annotations

import json
import urllib.request

import numpy as np
import pytest

pytest.importorskip("anywidget", reason="anywidget is not installed: pip install anywidget")

from silentscope.viewer import widget  # noqa: E402
from silentscope.viewer.export import export_rows  # noqa: E402


def test_embedded_widget_carries_the_page_and_maps_the_selection(synthetic_data):
    view = widget(synthetic_data, max_points=600, max_images=5, height=500)
    rows = export_rows(synthetic_data, 600)
    np.testing.assert_array_equal(view.rows, rows)
    assert view.height == 500 and view.url == ""
    payload = view.html.split('id="silentscope-data">', 1)[1].split("</script>", 1)[0]
    meta = json.loads(payload)["meta"]
    assert meta["n"] == 600 and meta["export"]["n_total"] == synthetic_data.n_samples
    assert "subsample: 600 of 1,600" in meta["export"]["note"]
    state = view.get_state()
    assert state["html"] == view.html and state["selection"] == []
    view.selection = [0, 5, 599]
    np.testing.assert_array_equal(view.selected_rows, rows[[0, 5, 599]])
    assert view.selected_ids == [
        synthetic_data.sample_id[int(r)].as_py() for r in rows[[0, 5, 599]]
    ]
    view.selection = [600]
    with pytest.raises(ValueError, match="outside the page"):
        _ = view.selected_rows
    with pytest.raises(ValueError, match="height"):
        widget(synthetic_data, height=10)


def test_live_widget_frames_a_local_server(synthetic_data):
    view = widget(synthetic_data, live=True, max_drawn=300)
    try:
        assert view.url.startswith("http://127.0.0.1:") and view.html == ""
        with urllib.request.urlopen(view.url + "api/meta", timeout=10) as response:
            meta = json.load(response)
        assert meta["n"] == synthetic_data.n_samples
        assert meta["drawn"] == {"n": 300, "subsampled": True}
        assert len(view.rows) == synthetic_data.n_samples
    finally:
        view.close()

"""The static export and the ``silentscope view`` command."""

from __future__ import annotations

import base64
import json
import re
import shutil

import numpy as np
from typer.testing import CliRunner

from silentscope.audit.store import delete_artifacts, list_artifacts
from silentscope.cli import app
from silentscope.viewer.export import export_html


def _payload(page):
    match = re.search(
        r'<script type="application/json" id="silentscope-data">(.*?)</script>',
        page.read_text(),
        re.S,
    )
    return json.loads(match.group(1))


def test_export_is_self_contained_and_says_when_it_subsamples(tmp_path, synthetic_data):
    page = export_html(synthetic_data, tmp_path / "viewer.html", max_points=400, max_images=20)
    text = page.read_text()
    assert (
        "static/viewer" not in text
        and "<style>" in text
        and "createScatterplot" not in text.split("<script>")[0]
    )
    payload = _payload(page)
    meta = payload["meta"]
    assert meta["n"] == 400 and meta["export"]["subsampled"] is True
    assert "400 of 1,600 samples" in meta["export"]["note"]
    x = np.frombuffer(base64.b64decode(payload["columns"]["x"]["data"]), "<f4")
    assert len(x) == 400 and np.isin(x, synthetic_data.x).all()
    # Both test sets stay represented in the subsample.
    codes = np.frombuffer(base64.b64decode(payload["columns"]["test_set"]["data"]), "<i2")
    assert set(codes.tolist()) == {0, 1}
    assert 0 < len(payload["thumbnails"]) <= 20
    assert all(uri.startswith("data:image/png;base64,") for uri in payload["thumbnails"].values())
    full = _payload(export_html(synthetic_data, tmp_path / "all.html", max_images=0))
    assert (
        full["meta"]["n"] == 1600
        and full["meta"]["export"]["subsampled"] is False
        and not full["thumbnails"]
    )


def test_view_command_exports(tmp_path, synthetic):
    store = tmp_path / "store"
    shutil.copytree(synthetic[0], store)
    result = CliRunner().invoke(
        app, ["view", str(store), "--export", str(tmp_path / "v.html"), "--max-points", "500"]
    )
    assert result.exit_code == 0, result.output
    assert "wrote" in result.output and "subsample of 500 of 1,600 samples" in result.output
    assert (tmp_path / "v.html").stat().st_size > 100_000


def test_view_command_computes_and_caches_what_is_missing(tmp_path, synthetic):
    store = tmp_path / "store"
    shutil.copytree(synthetic[0], store)
    delete_artifacts(store, ["embedding", "embedding_info", "viewer_confidences"])
    result = CliRunner().invoke(
        app, ["view", str(store), "--method", "pca", "--export", str(tmp_path / "v.html")]
    )
    assert result.exit_code == 0, result.output
    assert {"embedding", "viewer_confidences"} <= set(list_artifacts(store))


def test_view_command_errors_are_one_sentence(tmp_path):
    result = CliRunner().invoke(app, ["view", str(tmp_path / "missing")])
    assert result.exit_code == 2
    assert "no audit store at" in result.output and "Traceback" not in result.output
    # nothing was served: no address is printed for a store that does not exist
    assert "http://" not in result.output
    (tmp_path / "folder").mkdir()
    result = CliRunner().invoke(app, ["view", str(tmp_path / "folder"), "--no-browser"])
    assert result.exit_code == 2 and "it is not an audit store" in result.output
    assert "http://" not in result.output


def test_view_command_serves_at_once_and_stops_with_a_store_that_fails_to_load(tmp_path, synthetic):
    # The cached embedding lets the command listen before it reads the samples; reading
    # them fails, which stops the server with one sentence.
    store = tmp_path / "store"
    shutil.copytree(synthetic[0], store)
    (store / "samples.parquet").write_bytes(b"not parquet")
    result = CliRunner().invoke(app, ["view", str(store), "--no-browser", "--port", "0"])
    assert result.exit_code == 2, result.output
    assert "viewer for" in result.output and "http://127.0.0.1:" in result.output
    # the file placement check finds the truncated table before it is parsed
    output = " ".join(result.output.split())
    assert "samples.parquet" in output and "re-create the store" in output
    assert "Traceback" not in result.output

"""First answer fast: a never-viewed store is served at once with a provisional layout,
progress is reported, and the real layout replaces it when ready (or ahead, --prepare-only)."""

from __future__ import annotations

import threading

import numpy as np
import pytest
from starlette.testclient import TestClient
from typer.testing import CliRunner

from silentscope.audit.store import read_artifact
from silentscope.cli import app as cli
from silentscope.viewer.artifacts import EMBEDDING_ARTIFACT, EMBEDDING_INFO_ARTIFACT
from silentscope.viewer.prepare import prepare_store
from silentscope.viewer.server import DeferredApp, create_app
from silentscope.viewer.startup import Preparation, open_for_viewing
from tests.support.stores import build_synthetic_store


@pytest.fixture
def fresh_store(tmp_path):
    store, _ = build_synthetic_store(tmp_path / "store", n_per_cluster=40)
    return store


def test_a_provisional_layout_is_cached_as_such_and_replaced_by_the_real_one(fresh_store):
    quick = prepare_store(fresh_store, method="pca", csfs=["MSR"], provisional=True)
    assert quick["embedding"]["provisional"] is True
    assert read_artifact(fresh_store, EMBEDDING_INFO_ARTIFACT)["provisional"] is True
    # a provisional request reuses it; a real one does not
    assert prepare_store(fresh_store, method="pca", provisional=True)["embedding"]["provisional"]
    final = prepare_store(fresh_store, method="pca")
    assert "provisional" not in final["embedding"]
    assert "provisional" not in read_artifact(fresh_store, EMBEDDING_INFO_ARTIFACT)
    # once final, a provisional request keeps the final layout
    assert "provisional" not in prepare_store(fresh_store, provisional=True)["embedding"]


def test_the_viewer_opens_with_a_provisional_map_and_swaps_in_the_layout(fresh_store):
    state = Preparation()
    stages = []
    report = state.report
    state.report = lambda stage, fraction: (stages.append(stage), report(stage, fraction))
    data = open_for_viewing(fresh_store, method="pca", preparation=state, background=False)
    assert "computing confidences" in stages and "reading the store" in stages
    snapshot = state.snapshot()
    assert snapshot["layout"] == "final" and snapshot["layout_version"] == 1, snapshot
    assert snapshot["error"] is None
    assert not data.embedding_info.get("provisional")
    coords = read_artifact(fresh_store, EMBEDDING_ARTIFACT)
    np.testing.assert_allclose(data.x, coords["x"].to_numpy(), rtol=1e-6)
    client = TestClient(create_app(data, preparation=state), base_url="http://127.0.0.1")
    assert client.get("/api/progress").json()["layout"] == "final"
    assert "provisional" not in client.get("/api/meta").json()["embedding"]
    # reopened: final at once, no second layout
    again = Preparation()
    open_for_viewing(fresh_store, method="pca", preparation=again)
    assert again.snapshot()["layout"] == "final" and again.snapshot()["layout_version"] == 0


def test_a_layout_that_fails_leaves_the_provisional_map_and_says_why(fresh_store):
    state = Preparation()
    data = open_for_viewing(
        fresh_store, method="no-such-layout", preparation=state, background=False
    )
    snapshot = state.snapshot()
    assert data.embedding_info["provisional"] and snapshot["layout"] == "provisional"
    assert "the no-such-layout layout could not be computed" in snapshot["error"]
    assert "first two principal components" in snapshot["error"]


def test_progress_is_answered_while_the_store_loads(synthetic_data):
    release = threading.Event()
    state = Preparation()

    def load():
        state.report("computing confidences", 0.0)
        release.wait(10)
        return synthetic_data

    app = DeferredApp(load, preparation=state)
    loader = app.start()
    client = TestClient(app, base_url="http://127.0.0.1")
    answer = client.get("/api/progress")
    assert answer.status_code == 200 and answer.json()["stage"] == "computing confidences"
    assert client.get("/api/progress", headers={"host": "evil.example"}).status_code == 400
    release.set()
    loader.join(10)
    assert client.get("/api/progress").status_code == 200


def test_prepare_only_computes_the_layout_ahead_and_serves_nothing(fresh_store):
    result = CliRunner().invoke(
        cli, ["view", str(fresh_store), "--prepare-only", "--method", "pca"]
    )
    assert result.exit_code == 0, result.output
    assert "prepared" in result.output
    info = read_artifact(fresh_store, EMBEDDING_INFO_ARTIFACT)
    assert info["method"] == "pca" and "provisional" not in info

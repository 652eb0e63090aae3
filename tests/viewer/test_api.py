"""The API server: binary columns, filters, selections, thumbnails and their security, saved slices."""

from __future__ import annotations

import io
import json
import shutil

import numpy as np
import pytest
from PIL import Image
from starlette.testclient import TestClient

from silentscope.audit.store import read_artifact
from silentscope.metrics.risk_coverage import aurc
from silentscope.slices.notes import silence_note
from silentscope.viewer.data import load_viewer_data
from silentscope.viewer.queries import filter_mask, pack_mask, unpack_mask
from silentscope.viewer.server import create_app
from tests.support.stores import store_after_commands

POST = {"X-Silentscope": "1"}


def client_for(data):
    return TestClient(create_app(data), base_url="http://127.0.0.1")


@pytest.fixture(scope="module")
def client(synthetic_data):
    return client_for(synthetic_data)


def test_meta_and_binary_columns(client, synthetic_data):
    meta = client.get("/api/meta").json()
    assert meta["n"] == synthetic_data.n_samples
    assert meta["test_sets"] == ["iid", "cor/gaussian_blur/3"]
    assert meta["csfs"] == ["MSR", "MLS"]
    keys = {c["key"] for c in meta["columns"]}
    assert {
        "correct",
        "class",
        "prediction",
        "test_set",
        "shift",
        "severity",
        "conf:MSR",
        "meta:site",
        "meta:age",
    } <= keys
    response = client.get("/api/column/x")
    assert response.headers["x-dtype"] == "float32"
    np.testing.assert_array_equal(np.frombuffer(response.content, "<f4"), synthetic_data.x)
    response = client.get("/api/column/meta:site")
    assert response.headers["x-dtype"] == "int16"
    np.testing.assert_array_equal(
        np.frombuffer(response.content, "<i2"), synthetic_data.columns["meta:site"].values
    )
    assert client.get("/api/column/nope").status_code == 404


def test_filter_endpoint_matches_the_python_filter(client, synthetic_data):
    spec = {"test_sets": ["cor/gaussian_blur/3"], "correctness": "incorrect"}
    response = client.post("/api/filter", json={"filter": spec}, headers=POST)
    mask = unpack_mask(response.content, synthetic_data.n_samples)
    np.testing.assert_array_equal(mask, filter_mask(synthetic_data, spec))
    assert int(response.headers["x-count"]) == int(mask.sum())
    bad = client.post("/api/filter", json={"filter": {"classes": ["cat"]}}, headers=POST)
    assert bad.status_code == 400 and "unknown class" in bad.json()["error"]


def test_selection_endpoint_statistics(client, synthetic, synthetic_data):
    _, truth = synthetic
    selected = truth["cluster"] == 2
    query = {"csf": "MLS", "filter": json.dumps({"test_sets": ["cor/gaussian_blur/3"]})}
    stats = client.post(
        "/api/selection", params=query, content=pack_mask(selected), headers=POST
    ).json()
    conf = synthetic_data.confidences["MLS"]
    assert stats["n"] == int(selected.sum())
    assert stats["n_rest"] == int((truth["cluster"] == 3).sum())
    assert stats["selection"]["aurc"] == pytest.approx(
        aurc(conf[selected], synthetic_data.correct[selected])
    )
    short = client.post("/api/selection", content=b"\x00", headers=POST)
    assert short.status_code == 400 and "row mask" in short.json()["error"]


def test_large_stores_draw_a_stratified_subsample(synthetic, synthetic_data):
    client = TestClient(create_app(synthetic_data, max_drawn=300), base_url="http://127.0.0.1")
    meta = client.get("/api/meta").json()
    assert meta["drawn"] == {"n": 300, "subsampled": True}
    assert meta["bounds"] == [
        pytest.approx(float(synthetic_data.x.min())),
        pytest.approx(float(synthetic_data.x.max())),
        pytest.approx(float(synthetic_data.y.min())),
        pytest.approx(float(synthetic_data.y.max())),
    ]
    response = client.get("/api/drawn")
    assert response.headers["x-dtype"] == "uint32"
    rows = np.frombuffer(response.content, "<u4").astype(np.int64)
    assert len(rows) == 300 and np.all(np.diff(rows) > 0)
    # Every (test set, class, correctness) group of the store is drawn, the rare ones included.
    group = (synthetic_data.test_set_codes * 2 + synthetic_data.label) * 2 + synthetic_data.correct
    assert set(np.unique(group[rows])) == set(np.unique(group))
    drawn_y = client.get("/api/column/y", params={"rows": "drawn"})
    np.testing.assert_array_equal(np.frombuffer(drawn_y.content, "<f4"), synthetic_data.y[rows])
    drawn_class = client.get("/api/column/class", params={"rows": "drawn"}).content
    np.testing.assert_array_equal(
        np.frombuffer(drawn_class, "<i2"), synthetic_data.columns["class"].values[rows]
    )
    bad = client.get("/api/column/x", params={"rows": "some"})
    assert bad.status_code == 400 and "rows must be" in bad.json()["error"]
    # Statistics are about every selected sample, drawn or not.
    selected = synthetic[1]["cluster"] == 3
    stats = client.post("/api/selection", content=pack_mask(selected), headers=POST).json()
    assert stats["n"] == int(selected.sum()) > int(np.isin(np.flatnonzero(selected), rows).sum())
    assert stats["image_correct"] == [bool(synthetic_data.correct[r]) for r in stats["images"]]
    with pytest.raises(ValueError, match="max_drawn"):
        create_app(synthetic_data, max_drawn=0)


def test_panels(client):
    curves = client.post(
        "/api/risk_coverage", json={"filter": {}, "csf": "MSR"}, headers=POST
    ).json()
    assert [c["name"] for c in curves["curves"]] == ["all shown", "iid", "cor/gaussian_blur/3"]
    failures = client.post("/api/failures", json={"filter": {}, "k": 3}, headers=POST).json()
    assert all(len(g["rows"]) <= 3 for g in failures)
    reps = client.post(
        "/api/representatives", json={"filter": {"classes": ["benign"]}}, headers=POST
    ).json()
    assert [g["class"] for g in reps] == ["benign"]
    sample = client.get("/api/sample/5").json()
    assert (
        sample["sample_id"] == "s00005"
        and sample["test_set"] == "iid"
        and "site" in sample["metadata"]
    )


@pytest.mark.parametrize(
    "path",
    [
        "/api/thumbnail/1600",  # one past the last row
        "/api/thumbnail/-1",
        "/api/thumbnail/..%2F..%2F..%2Fetc%2Fpasswd",
        "/api/thumbnail/%2Fetc%2Fpasswd",
        "/api/thumbnail/images.npy%230",
        "/api/sample/99999",
        "/api/lookup?id=../../etc/passwd",
        "/api/lookup?id=/etc/passwd",
        "/api/lookup?id=images.npy%230",
        "/static/../store/manifest.json",
        "/static/..%2F..%2F..%2Faudit%2Fstore.py",
    ],
)
def test_requests_outside_the_store_are_refused(client, path):
    response = client.get(path)
    assert response.status_code == 404
    assert b"root:" not in response.content and b"silentscope-audit-store" not in response.content


def test_ids_are_looked_up_in_the_store(client):
    assert client.get("/api/lookup", params={"id": "s00007"}).json() == {"row": 7}


def test_state_changes_need_the_header_and_a_loopback_host(client):
    assert client.post("/api/filter", json={}).status_code == 403
    assert client.get("/api/meta", headers={"host": "attacker.example"}).status_code == 400


def test_thumbnails_from_array_files_are_rendered_and_cached(synthetic, synthetic_data):
    client = client_for(synthetic_data)
    response = client.get("/api/thumbnail/1300")
    assert response.status_code == 200 and response.headers["content-type"] == "image/png"
    image = np.asarray(Image.open(io.BytesIO(response.content)))
    assert image.shape == (128, 128)
    images = np.load(synthetic[0].parent / "images.npy")
    expected = np.kron(
        images[1300, :, :, 0], np.ones((8, 8), dtype=np.uint8)
    )  # nearest-neighbour x8
    np.testing.assert_array_equal(image, expected)
    cached = list((synthetic[0] / "viewer-cache" / "thumbnails").rglob("*.png"))
    assert cached and client.get("/api/thumbnail/1300").content == response.content


def test_thumbnails_from_npz_references(medmnist_store, medmnist_dir):
    data = load_viewer_data(medmnist_store, image_root=medmnist_dir)
    assert data.image_ref[0].as_py().endswith("pneumoniamnist.npz#test_images/0")
    response = client_for(data).get("/api/thumbnail/0")
    assert Image.open(io.BytesIO(response.content)).size == (128, 128)


def test_thumbnails_of_real_photographs_replay_the_recorded_noise(odir_data):
    client = client_for(odir_data)
    n = odir_data.n_samples // 2  # row n + i is row i with Gaussian noise (same photograph)
    clean = np.asarray(Image.open(io.BytesIO(client.get("/api/thumbnail/0").content)), dtype=float)
    noisy = np.asarray(
        Image.open(io.BytesIO(client.get(f"/api/thumbnail/{n}").content)), dtype=float
    )
    assert clean.shape == noisy.shape == (128, 128, 3)
    assert np.abs(clean - noisy).mean() > 5  # the noise the classifier saw is shown


def test_missing_images_say_why(tmp_path, synthetic):
    store = tmp_path / "store"
    shutil.copytree(synthetic[0], store)
    # Without the npy file the references dangle: a clear 404, not a crash.
    response = client_for(load_viewer_data(store)).get("/api/thumbnail/0")
    assert response.status_code == 404 and "cannot be read" in response.json()["error"]


def test_saving_a_selection_as_a_slice(tmp_path, synthetic):
    store = tmp_path / "store"
    shutil.copytree(synthetic[0], store)
    shutil.copy(synthetic[0].parent / "images.npy", tmp_path / "images.npy")
    data = load_viewer_data(store)
    client = client_for(data)
    mask = synthetic[1]["cluster"] == 3
    saved = client.post(
        "/api/slices", params={"name": "confident malignant"}, content=pack_mask(mask), headers=POST
    )
    assert saved.json() == {"name": "confident malignant", "n": int(mask.sum())}
    frame = read_artifact(store, "user_slices")
    assert set(frame["sample_id"]) == set(np.asarray(data.sample_id)[mask])
    meta = client.get("/api/meta").json()
    assert [(s["source"], s["name"], s["n"]) for s in meta["slices"]] == [
        ("saved", "confident malignant", int(mask.sum()))
    ]
    rows = unpack_mask(client.get("/api/slice/saved/0").content, data.n_samples)
    np.testing.assert_array_equal(rows, mask)
    column = np.frombuffer(client.get("/api/column/slice:saved").content, "<i2")
    np.testing.assert_array_equal(column == 0, mask)
    again = client.post(
        "/api/slices", params={"name": "confident malignant"}, content=pack_mask(mask), headers=POST
    )
    assert again.status_code == 409
    bad = client.post(
        "/api/slices", params={"name": "../evil"}, content=pack_mask(mask), headers=POST
    )
    assert bad.status_code == 400
    empty = client.post(
        "/api/slices", params={"name": "empty"}, content=pack_mask(mask & False), headers=POST
    )
    assert empty.status_code == 400 and "empty" in empty.json()["error"]
    # A new viewer on the same store shows the saved slice.
    assert load_viewer_data(store).slices["saved"].names == ["confident malignant"]


def test_discovered_slices_are_shown_when_the_store_has_them(tmp_path, synthetic):
    import pandas as pd

    from silentscope.audit.store import write_artifact

    store = tmp_path / "store"
    shutil.copytree(synthetic[0], store)
    data = load_viewer_data(store)
    ids = np.asarray(data.sample_id)
    write_artifact(
        store,
        "slices_membership",
        pd.DataFrame(
            {"sample_id": ids[:10].tolist() + ["not-in-store"], "slice_id": [0] * 5 + [1] * 6}
        ),
    )
    write_artifact(store, "slices", pd.DataFrame({"slice_id": [0, 1], "error_rate": [0.1, 0.9]}))
    meta = client_for(load_viewer_data(store)).get("/api/meta").json()
    assert [(s["name"], s["n"]) for s in meta["slices"]] == [("0", 5), ("1", 5)]
    assert meta["slices"][1]["summary"]["error_rate"] == 0.9


def test_slices_found_by_the_slices_command_appear_in_the_viewer(tmp_path, synthetic):
    """The artifacts `silentscope slices` writes are the ones the viewer reads."""
    command = ["slices", "STORE", "--seeds", "1", "--min-support", "5"]
    store = store_after_commands(synthetic[0], tmp_path / "store", command)
    saved = read_artifact(store, "slices")
    assert len(saved) >= 1  # the synthetic data has planted failures
    meta = client_for(load_viewer_data(store)).get("/api/meta").json()
    discovered = [s for s in meta["slices"] if s["source"] == "discovered"]
    assert [s["name"] for s in discovered] == [str(r) for r in saved["rank"]]
    assert [s["n"] for s in discovered] == saved["size"].tolist()
    assert discovered[0]["summary"]["error_rate"] == saved["error_rate"].iloc[0]
    # the slice card: rule, absorbed candidates, and the examples discovery chose
    first = discovered[0]
    assert "rule" in first["summary"] and first["summary"]["absorbed"] >= 0
    # whether its failures are silent, worded as in the CLI and the report
    assert first["summary"]["silence"] == silence_note(saved.iloc[0].to_dict()) != ""
    # and the class it reads the slice as, when it reads it as one (saved, maybe empty)
    assert first["summary"]["prediction"] == saved["prediction"].iloc[0]
    ids = saved["example_ids"].iloc[0].split(",")
    assert [e["kind"] for e in first["examples"]] == saved["example_kinds"].iloc[0].split(",")
    sample_ids = load_viewer_data(store).sample_id.to_pylist()
    assert [sample_ids[e["row"]] for e in first["examples"]] == ids
    assert first["examples"][0]["kind"] == "wrong" and len(ids) <= 6


def test_discovery_that_confirmed_nothing_says_so_and_what_it_could_have_found(tmp_path, synthetic):
    """Not "no slices yet" (never run), nor an empty list (read as "no failure")."""
    command = ["slices", "STORE", "--seeds", "1", "--min-support", "5", "--alpha", "1e-30"]
    store = store_after_commands(synthetic[0], tmp_path / "store", command)
    assert read_artifact(store, "slices").empty
    meta = client_for(load_viewer_data(store)).get("/api/meta").json()
    assert not [s for s in meta["slices"] if s["source"] == "discovered"]
    note = meta["discovery_note"]
    assert note == read_artifact(store, "slices_settings")["empty_note"]
    assert note.startswith("no slice confirmed") and "no proof that no group fails" in note
    assert "nearest miss" in note

    # a store whose discovery found slices, or never ran, has no such note
    def note_of(path):
        return client_for(load_viewer_data(path)).get("/api/meta").json()["discovery_note"]

    assert note_of(synthetic[0]) == ""
    assert note_of(store_after_commands(synthetic[0], tmp_path / "found", command[:-2])) == ""
    # a store saved before the note existed still says that discovery ran
    from silentscope.audit.store import write_artifact

    settings = read_artifact(store, "slices_settings")
    write_artifact(store, "slices_settings", {**settings, "empty_note": ""})
    assert note_of(store).startswith("Slice discovery ran and confirmed no slice")


def test_the_page_is_served_while_the_data_loads_and_the_api_waits_for_it(synthetic_data):
    import threading

    from silentscope.viewer.payloads import meta
    from silentscope.viewer.server import DeferredApp

    release = threading.Event()

    def load():
        release.wait(10)
        return synthetic_data

    app = DeferredApp(load, max_drawn=400)
    loader = app.start()
    client = TestClient(app, base_url="http://127.0.0.1")
    assert client.get("/").status_code == 200  # while loading
    assert client.get("/static/viewer.js").status_code == 200
    assert client.get("/", headers={"host": "evil.example"}).status_code == 400
    answers = []
    waiting = threading.Thread(target=lambda: answers.append(client.get("/api/meta")))
    waiting.start()
    waiting.join(0.3)
    assert waiting.is_alive() and not answers  # the API waits for the data
    release.set()
    waiting.join(10)
    loader.join(10)
    assert answers[0].status_code == 200
    assert answers[0].json() == json.loads(json.dumps(meta(synthetic_data, 400)))
    assert answers[0].json()["drawn"] == {"n": 400, "subsampled": True}


def test_serve_stops_with_the_error_of_a_store_that_fails_to_load():
    from silentscope.viewer.server import serve

    def load():
        raise FileNotFoundError("no audit store at /nowhere")

    announced = []
    with pytest.raises(FileNotFoundError, match="no audit store"):
        serve(load, open_browser=False, on_ready=announced.append)
    assert announced and announced[0].startswith("http://127.0.0.1:")


def test_subgroups_of_the_analysis_are_listed_and_selectable(tmp_path, synthetic):
    """`silentscope subgroups` saves groups, not members: the viewer rebuilds and checks them."""
    from silentscope.audit.store import write_artifact

    command = ["subgroups", "STORE", "-a", "site", "-a", "age"]
    store = store_after_commands(synthetic[0], tmp_path / "store", command)
    table = read_artifact(store, "subgroups")
    data = load_viewer_data(store)
    client = client_for(data)
    listed = [s for s in client.get("/api/meta").json()["slices"] if s["source"] == "subgroups"]
    assert [s["name"].split()[0] for s in listed] == table["attribute"].tolist()
    assert [s["n"] for s in listed] == table["n"].tolist()  # rebuilt members, same sizes
    first = listed[0]
    assert first["summary"]["error_rate"] == table["error_rate"].iloc[0]
    mask = unpack_mask(client.get(f"/api/slice/subgroups/{first['index']}").content, data.n_samples)
    rows = np.flatnonzero(mask)
    errors = ~data.correct[rows]
    assert len(rows) == table["n"].iloc[0] and errors.sum() == table["errors"].iloc[0]
    # an exported page lists the same groups with the analysis' own summaries
    from silentscope.viewer.export import export_payload

    exported = [s for s in export_payload(data)["meta"]["slices"] if s["source"] == "subgroups"]
    assert [s["summary"]["q_value"] for s in exported] == table["q_value"].tolist()
    # a group whose recorded size does not match its rebuilt members is left out, by name
    write_artifact(store, "subgroups", table.assign(n=table["n"] + 1))
    tampered = client_for(load_viewer_data(store)).get("/api/meta").json()
    assert not [s for s in tampered["slices"] if s["source"] == "subgroups"]
    assert len(tampered["subgroups_left_out"]) == len(table)


def test_subgroup_labels_read_by_the_viewer_are_those_the_analysis_writes():
    from silentscope.subgroups.analysis import ALL_CLASSES
    from silentscope.subgroups.attributes import MISSING
    from silentscope.viewer import subgroups

    assert (subgroups.MISSING, subgroups.ALL_CLASSES) == (MISSING, ALL_CLASSES)


def test_the_header_gets_the_classifier_health(tmp_path, synthetic_data):
    from silentscope.audit.store import save_audit
    from silentscope.viewer.prepare import prepare_store
    from tests.support.audits import imbalanced_audit

    health = client_for(synthetic_data).get("/api/meta").json()["health"]
    assert health["degenerate"] is False and health["split"] in ("val", "iid")
    features = np.random.default_rng(0).normal(size=(200, 4))
    collapsed = imbalanced_audit(constant=True, n=200, n_val=100, features=features)
    store = save_audit(collapsed, tmp_path / "collapsed")
    prepare_store(store, method="pca", csfs=["MSR"])
    health = client_for(load_viewer_data(store)).get("/api/meta").json()["health"]
    assert health["degenerate"] and health["imbalanced"]
    assert health["reason"].startswith("predicts only 'normal' for all 100 val samples")
    page = client_for(synthetic_data).get("/").text
    assert 'id="health-note"' in page  # where the front end shows it


def test_a_column_whose_name_holds_a_slash_is_served(tmp_path):
    """The appearance measures' names hold slashes ("image edge/centre brightness")."""
    from urllib.parse import quote

    import pandas as pd

    from silentscope.audit import AuditSet
    from silentscope.audit.store import save_audit
    from silentscope.viewer.prepare import prepare_store

    rng = np.random.default_rng(0)
    n = 40
    ratio = rng.random(n)
    audit = AuditSet(
        sample_id=[f"s{i}" for i in range(n)], test_set=["iid"] * n, label=rng.integers(0, 2, n),
        logits=rng.normal(size=(n, 2)), class_names=["a", "b"], features=rng.normal(size=(n, 4)),
        metadata=pd.DataFrame({"image edge/centre brightness": ratio}),
    )  # fmt: skip
    save_audit(audit, tmp_path / "store")
    prepare_store(tmp_path / "store", method="pca")
    client = client_for(load_viewer_data(tmp_path / "store"))
    key = "meta:image edge/centre brightness"
    assert key in {c["key"] for c in client.get("/api/meta").json()["columns"]}
    response = client.get("/api/column/" + quote(key, safe=""))  # as the page asks for it
    assert response.status_code == 200
    np.testing.assert_allclose(np.frombuffer(response.content, "<f4"), ratio, rtol=1e-6)

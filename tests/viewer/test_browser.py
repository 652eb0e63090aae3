"""The page in headless Chromium: points render, lasso statistics, colour-by, hover, filters, export.

Drives Debian's Chromium (``/usr/bin/chromium``, installed by ``scripts/install_browser.sh``)
with Playwright; skipped with that reason where either is absent. Screenshots are saved
under a temporary folder whose path is printed (``pytest -s`` shows it).
"""

from __future__ import annotations

import json
import os
import threading
import time
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pytest

from silentscope.metrics.risk_coverage import aurc
from silentscope.viewer.export import export_html, export_rows
from silentscope.viewer.server import create_app, free_socket

CHROMIUM = Path(os.environ.get("SILENTSCOPE_CHROMIUM", "/usr/bin/chromium"))
BACKGROUND = np.array([0x0F, 0x12, 0x16])
RED = np.array([0xFF, 0x5A, 0x4F])  # incorrect
BLUE = np.array([0x5A, 0xA9, 0xE6])  # correct
ORANGE = np.array([0xF2, 0x8E, 0x2B])  # second category (shifted test set)
STEEL = np.array([0x4E, 0x79, 0xA7])  # first category (iid)

sync_api = pytest.importorskip(
    "playwright.sync_api", reason="playwright is not installed: run scripts/install_browser.sh"
)
if not CHROMIUM.is_file():
    pytest.skip(
        f"no Chromium at {CHROMIUM}: run scripts/install_browser.sh", allow_module_level=True
    )


def run_server(app):
    import uvicorn

    sock = free_socket("127.0.0.1", 0)
    instance = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="off"))
    thread = threading.Thread(target=instance.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.time() + 20
    while not instance.started and time.time() < deadline:
        time.sleep(0.05)
    return f"http://127.0.0.1:{sock.getsockname()[1]}/", instance, thread


@pytest.fixture(scope="module")
def server(synthetic_data):
    url, instance, thread = run_server(create_app(synthetic_data))
    yield url
    instance.should_exit = True
    thread.join(timeout=10)


@pytest.fixture(scope="module")
def subsampled_server(synthetic_data):
    """The same store served as a large one: 400 of its 1,600 points drawn."""
    url, instance, thread = run_server(create_app(synthetic_data, max_drawn=400))
    yield url
    instance.should_exit = True
    thread.join(timeout=10)


@pytest.fixture(scope="module")
def browser():
    with sync_api.sync_playwright() as playwright:
        instance = playwright.chromium.launch(
            executable_path=str(CHROMIUM),
            args=["--enable-unsafe-swiftshader", "--use-angle=swiftshader"],
        )
        yield instance
        instance.close()


@pytest.fixture(scope="module")
def shots(tmp_path_factory):
    folder = tmp_path_factory.mktemp("viewer-screenshots")
    print(f"\nviewer screenshots: {folder}")
    return folder


def open_page(browser, url):
    page = browser.new_page(viewport={"width": 1280, "height": 800})
    errors = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.goto(url)
    page.wait_for_function("document.body.dataset.ready", timeout=60_000)
    assert page.evaluate("document.body.dataset.ready") == "true", errors
    page.errors = errors
    return page


@contextmanager
def store_page(browser, store):
    """The viewer of ``store`` on its own server, open in a page; both closed afterwards."""
    from silentscope.viewer.data import load_viewer_data

    url, instance, thread = run_server(create_app(load_viewer_data(store)))
    try:
        page = open_page(browser, url)
        yield page
        page.close()
    finally:
        instance.should_exit = True
        thread.join(timeout=10)


def screen_positions(page, rows):
    box = page.locator("#canvas").bounding_box()
    xy = page.evaluate(
        "(rows) => rows.map((r) => window.__silentscope.scatterplot.getScreenPosition(r))",
        [int(r) for r in rows],
    )
    return np.asarray(xy) + [box["x"], box["y"]]


def pixels(page, path):
    from PIL import Image

    page.screenshot(path=str(path))
    return np.asarray(Image.open(path).convert("RGB")).astype(int)


def share_near(image, centre, colour, radius=40, tolerance=60):
    x, y = np.round(centre).astype(int)
    patch = image[y - radius : y + radius, x - radius : x + radius].reshape(-1, 3)
    return float((np.abs(patch - colour).sum(axis=1) < tolerance).mean())


def lasso_circle(page, centre, radius):
    """Draw a shift-lasso circle on the map and wait for the selection's statistics."""
    page.keyboard.down("Shift")
    page.mouse.move(*(centre + [radius, 0]))
    page.mouse.down()
    for angle in np.linspace(0, 2 * np.pi, 25)[1:]:
        page.mouse.move(*(centre + radius * np.array([np.cos(angle), np.sin(angle)])))
    page.mouse.up()
    page.keyboard.up("Shift")
    page.wait_for_function("window.__silentscope.selectionUpdates >= 1", timeout=30_000)


def test_points_render_where_the_clusters_are(browser, server, synthetic, shots):
    page = open_page(browser, server)
    _, truth = synthetic
    cluster = truth["cluster"]
    box = page.locator("#canvas").bounding_box()
    for _ in range(20):  # a loaded machine may present the first frame late
        image = pixels(page, shots / "1-loaded.png")
        canvas = image[
            int(box["y"]) + 60 : int(box["y"] + box["height"]) - 60,
            int(box["x"]) : int(box["x"] + box["width"]),
        ]
        drawn = (np.abs(canvas - BACKGROUND).sum(axis=2) > 40).mean()
        if drawn > 0.005:
            break
        page.wait_for_timeout(250)
    assert 0.005 < drawn < 0.5, f"{drawn:.3%} of the map is drawn"
    centres = [
        screen_positions(page, np.flatnonzero(cluster == c)[:50]).mean(axis=0) for c in range(4)
    ]
    # Cluster 3 is the silent failures (all wrong, confident): red; cluster 0 is all correct: blue.
    assert share_near(image, centres[3], RED) > 0.05
    assert share_near(image, centres[3], BLUE) < 0.01
    assert share_near(image, centres[0], BLUE) > 0.05
    assert share_near(image, centres[0], RED) < 0.02
    assert page.locator("#legend").inner_text().split("\n")[:3] == [
        "correctness",
        "correct",
        "incorrect",
    ]
    assert page.errors == []
    page.close()


def test_lasso_selection_updates_the_statistics(browser, server, synthetic, synthetic_data, shots):
    page = open_page(browser, server)
    _, truth = synthetic
    rows = np.flatnonzero(truth["cluster"] == 3)
    points = screen_positions(page, rows)
    centre = points.mean(axis=0)
    radius = np.linalg.norm(points - centre, axis=1).max() + 12
    lasso_circle(page, centre, radius)
    pixels(page, shots / "2-lasso.png")
    assert page.evaluate("window.__silentscope.selectionCount") == len(rows)
    metrics = page.locator("#selection-metrics").inner_text()
    assert f"{len(rows)}\nrest {synthetic_data.n_samples - len(rows):,}" in metrics
    assert "0.0%" in metrics  # accuracy of the silent failures
    assert page.locator("#selection-grid .tile").count() > 0
    assert "irregular" in page.locator("#selection-panel").inner_text()  # report term
    page.close()


def test_a_drawn_subsample_still_selects_every_sample(
    browser, subsampled_server, synthetic, synthetic_data, shots
):
    page = open_page(browser, subsampled_server)
    cluster = synthetic[1]["cluster"]
    drawn = np.asarray(page.evaluate("Array.from(window.__silentscope.state.drawn)"))
    assert len(drawn) == 400 == page.evaluate("window.__silentscope.state.rows.length")
    note = page.locator("#drawn-note")
    assert note.is_visible() and "Drawing 400 of 1,600 points" in note.inner_text()
    # Lasso the silent-failure cluster around its drawn points, with room for the rest.
    shown = np.flatnonzero(cluster[drawn] == 3)
    assert 0 < len(shown) < (cluster == 3).sum()
    points = screen_positions(page, shown)
    centre = points.mean(axis=0)
    radius = 1.5 * np.linalg.norm(points - centre, axis=1).max() + 12
    page.wait_for_function("window.__silentscope.positionsReady > 0", timeout=30_000)
    lasso_circle(page, centre, radius)
    pixels(page, shots / "8-subsampled-lasso.png")
    # Every sample of the cluster is counted, not only the drawn ones.
    assert page.evaluate("window.__silentscope.selectionCount") == int((cluster == 3).sum())
    page.select_option("#color-by", "test_set")
    page.wait_for_function("window.__silentscope.colorKey === 'test_set'", timeout=20_000)
    assert page.errors == []
    page.close()


def test_colour_by_switches_the_colours(browser, server, synthetic, shots):
    page = open_page(browser, server)
    _, truth = synthetic
    centres = [
        screen_positions(page, np.flatnonzero(truth["cluster"] == c)[:50]).mean(axis=0)
        for c in (0, 3)
    ]
    page.select_option("#color-by", "test_set")
    page.wait_for_function("window.__silentscope.colorKey === 'test_set'", timeout=20_000)
    image = pixels(page, shots / "3-colour-by-test-set.png")
    assert share_near(image, centres[0], STEEL, tolerance=45) > 0.05
    assert share_near(image, centres[1], ORANGE, tolerance=45) > 0.05
    assert share_near(image, centres[1], RED, tolerance=30) < 0.01
    assert "cor/gaussian_blur/3" in page.locator("#legend").inner_text()
    page.select_option("#color-by", "conf:MSR")
    page.wait_for_function("window.__silentscope.colorKey === 'conf:MSR'", timeout=20_000)
    assert page.locator("#legend .gradient").count() == 1
    # A switch draws one frame (the palette already holds every column's colours) and its
    # timing lasts until the GPU has finished that frame.
    page.evaluate(
        "() => { window.frames_drawn = 0; window.__silentscope.scatterplot.subscribe("
        "'drawing', () => { window.frames_drawn += 1; }); }"
    )
    page.select_option("#color-by", "correct")
    page.wait_for_function("window.__silentscope.colorKey === 'correct'", timeout=20_000)
    page.wait_for_timeout(400)
    assert page.evaluate("window.frames_drawn") == 1
    parts = page.evaluate("window.__silentscope.timings.colorSwitchParts")
    assert set(parts) == {"fetch", "codes", "draw", "gpu", "frame"}
    total = page.evaluate("window.__silentscope.timings.colorSwitch")
    assert total == pytest.approx(sum(parts.values()), abs=1.0)
    image = pixels(page, shots / "3-colour-by-correctness-again.png")
    assert share_near(image, centres[0], BLUE, tolerance=45) > 0.05
    page.close()


def test_hover_filters_and_panels(browser, server, synthetic_data, shots):
    page = open_page(browser, server)
    x, y = screen_positions(page, [7])[0]
    page.mouse.move(x + 20, y + 20)
    page.mouse.move(x, y, steps=4)
    page.wait_for_selector("#hover:not([hidden]) img", timeout=20_000)
    page.wait_for_function("document.querySelector('#hover img').naturalWidth > 0", timeout=20_000)
    # read in one step: the pointer may pass over a neighbour whose card replaces this one
    hovered, card = page.evaluate(
        "[window.__silentscope.hovered, document.querySelector('#hover').innerText]"
    )
    assert synthetic_data.sample_id[hovered].as_py() in card
    pixels(page, shots / "4-hover.png")
    page.mouse.move(5, 5)
    page.locator('input[name="test_set"][value="iid"]').uncheck()
    page.wait_for_function(
        "document.getElementById('shown').textContent.startsWith('800 of')", timeout=20_000
    )
    page.click(".tab[data-tab=failures]")
    page.wait_for_selector("#failures-panel .tile", timeout=20_000)
    pixels(page, shots / "5-failures.png")
    page.click(".tab[data-tab=risk]")
    page.wait_for_selector("#rc-chart path.curve", timeout=20_000)
    rows = page.locator("#rc-table tr").all_inner_texts()
    assert any(r.startswith("\tall shown") or "all shown" in r for r in rows)
    assert not any("iid" in r for r in rows)  # filtered out
    pixels(page, shots / "6-risk-coverage.png")
    page.close()


def test_exported_page_computes_the_same_aurc(browser, synthetic, synthetic_data, tmp_path, shots):
    page_path = export_html(synthetic_data, tmp_path / "viewer.html", max_images=50)
    page = open_page(browser, page_path.as_uri())
    rows = np.flatnonzero(synthetic[1]["cluster"] >= 2)
    page.evaluate("(rows) => window.__silentscope.scatterplot.select(rows)", rows.tolist())
    page.wait_for_function("window.__silentscope.selectionUpdates >= 1", timeout=20_000)
    stats = page.evaluate("window.__silentscope.state.stats")
    conf = synthetic_data.confidences["MSR"]
    assert stats["n"] == len(rows)
    assert stats["selection"]["aurc"] == pytest.approx(
        aurc(conf[rows], synthetic_data.correct[rows]), abs=1e-6
    )
    assert "Report terms need the live viewer" in page.locator("#selection-panel").inner_text()
    pixels(page, shots / "7-export.png")
    page.close()


def test_notebook_widget_hands_the_selection_to_python(browser, synthetic_data, tmp_path, shots):
    """The widget's front-end module in a page, with a stand-in for anywidget's model."""
    pytest.importorskip("anywidget", reason="anywidget is not installed: pip install anywidget")
    from silentscope.viewer import widget
    from silentscope.viewer.notebook import _ESM

    view = widget(synthetic_data, max_points=800, max_images=0, height=600)
    host = tmp_path / "notebook.html"
    host.write_text(
        """<!doctype html><body><div id="cell"></div><script type="module">
        const state = JSON.parse(document.getElementById('state').textContent);
        window.saved = [];
        const model = { get: (k) => state[k], set: (k, v) => { state[k] = v; },
                        save_changes: () => window.saved.push(state.selection) };
        const esm = await import('data:text/javascript,' + encodeURIComponent(state.esm));
        esm.default.render({ model, el: document.getElementById('cell') });
        </script><script type="application/json" id="state">"""
        + json.dumps({"html": view.html, "height": view.height, "url": "", "esm": _ESM}).replace(
            "</", "<\\/"
        )
        + "</script></body>"
    )
    page = browser.new_page(viewport={"width": 1280, "height": 700})
    page.goto(host.as_uri())
    page.wait_for_function("document.querySelector('iframe')", timeout=20_000)
    frame = page.frames[1]
    frame.wait_for_function("document.body.dataset.ready === 'true'", timeout=60_000)
    rows = export_rows(synthetic_data, 800)
    chosen = [3, 10, 42]
    frame.evaluate("(rows) => window.__silentscope.selectRows(rows)", chosen)
    page.wait_for_function("window.saved.length > 0", timeout=20_000)
    view.selection = page.evaluate("window.saved[window.saved.length - 1]")
    np.testing.assert_array_equal(view.selected_rows, rows[chosen])
    pixels(page, shots / "9-notebook-widget.png")
    page.close()


def test_discovered_slices_are_listed_explained_and_selectable(browser, synthetic, tmp_path, shots):
    """`silentscope slices` and `subgroups` write them; the Slices panel explains them; a click selects one."""
    from silentscope.audit.store import read_artifact
    from tests.support.stores import store_after_commands

    store = store_after_commands(
        synthetic[0], tmp_path / "store",
        ["slices", "STORE", "--seeds", "1", "--min-support", "5"],
        ["subgroups", "STORE", "-a", "age"],
    )  # fmt: skip
    saved = read_artifact(store, "slices")
    with store_page(browser, store) as page:
        page.click(".tab[data-tab=slices]")
        page.wait_for_selector("#slices-panel .slice", timeout=20_000)
        text = page.locator("#slices-panel").inner_text()
        assert "Discovered slices" in text and "held-out error" in text
        assert f"found in: {saved['views'].iloc[0]}" in text
        assert "Subgroups (silentscope subgroups)" in text and "in the rest" in text
        page.locator("#slices-panel .slice").first.click()
        page.wait_for_function("window.__silentscope.selectionUpdates >= 1", timeout=30_000)
        assert page.evaluate("window.__silentscope.selectionCount") == int(saved["size"].iloc[0])
        pixels(page, shots / "8-slices.png")


def test_an_empty_discovery_is_said_in_the_slices_panel(browser, synthetic, tmp_path):
    from tests.support.stores import store_after_commands

    command = ["slices", "STORE", "--seeds", "1", "--min-support", "5", "--alpha", "1e-30"]
    store = store_after_commands(synthetic[0], tmp_path / "store", command)
    with store_page(browser, store) as page:
        page.click(".tab[data-tab=slices]")
        page.wait_for_selector("#discovery-note", timeout=20_000)
        text = page.locator("#slices-panel").inner_text()
        assert "Discovered slices" in text and "no proof that no group fails" in text
        assert "No slices in this store yet" not in text


def test_a_slice_read_as_one_class_says_so_in_the_slices_panel(browser, tmp_path):
    """The card line the CLI and the report print (silentscope.slices.notes.prediction_note)."""
    from typer.testing import CliRunner

    from silentscope.audit.store import read_artifact, save_audit
    from silentscope.cli import app
    from silentscope.viewer.prepare import prepare_store
    from tests.slices.test_prediction_note import _one_device_read_as_left

    store = tmp_path / "store"
    save_audit(_one_device_read_as_left(n=1500), store)
    result = CliRunner().invoke(app, ["slices", str(store), "-m", "metadata", "--seeds", "1"])
    assert result.exit_code == 0, result.output
    (note,) = [text for text in read_artifact(store, "slices")["prediction"] if text]
    prepare_store(store, method="pca")
    with store_page(browser, store) as page:
        page.click(".tab[data-tab=slices]")
        page.wait_for_selector("#slices-panel .slice", timeout=20_000)
        assert note in page.locator("#slices-panel").inner_text()


def test_the_header_says_when_the_classifier_is_degenerate(browser, server, tmp_path):
    from silentscope.audit.store import save_audit
    from silentscope.viewer.prepare import prepare_store
    from tests.support.audits import imbalanced_audit

    healthy = open_page(browser, server)
    assert healthy.locator("#health-note").is_hidden()
    healthy.close()
    features = np.random.default_rng(0).normal(size=(200, 4))
    collapsed = imbalanced_audit(constant=True, n=200, n_val=100, features=features)
    store = save_audit(collapsed, tmp_path / "collapsed")
    prepare_store(store, method="pca", csfs=["MSR"])
    with store_page(browser, store) as page:
        note = page.locator("#health-note")
        assert note.is_visible()
        assert note.inner_text().startswith("Degenerate classifier: predicts only 'normal'")
        assert "balanced accuracy 50.0%" in page.locator("#store-facts").inner_text()


def test_a_never_viewed_store_shows_progress_then_a_provisional_map_then_the_layout(
    browser, tmp_path, monkeypatch
):
    from silentscope.audit.store import read_artifact, write_artifact
    from silentscope.viewer import prepare as preparing
    from silentscope.viewer import startup
    from silentscope.viewer.artifacts import EMBEDDING_ARTIFACT
    from silentscope.viewer.server import DeferredApp
    from tests.support.stores import build_synthetic_store

    store, _ = build_synthetic_store(tmp_path / "store", n_per_cluster=50)
    real_prepare, layout_gate = preparing.prepare_store, threading.Event()

    def prepare(store, provisional=False, **kwargs):
        if provisional:
            return real_prepare(store, provisional=True, **kwargs)
        layout_gate.wait(60)  # the "slow" real layout; then a mirrored map, to be seen swapped in
        result = real_prepare(store, **kwargs)
        coords = read_artifact(store, EMBEDDING_ARTIFACT)
        write_artifact(store, EMBEDDING_ARTIFACT, coords.assign(x=-coords["x"]))
        return result

    monkeypatch.setattr(preparing, "prepare_store", prepare)  # startup imports it when called
    state = startup.Preparation()
    app = DeferredApp(
        lambda: startup.open_for_viewing(store, method="pca", preparation=state),
        preparation=state,
    )
    url, instance, thread = run_server(app)
    app.start()
    try:
        page = open_page(browser, url)  # drawn with the provisional layout
        note = page.locator("#progress-note")
        assert note.is_visible() and "Provisional map" in note.inner_text()
        before = page.evaluate("Array.from(window.__silentscope.state.points.x.slice(0, 5))")
        layout_gate.set()
        page.wait_for_function("document.body.dataset.layout === 'final'", timeout=60_000)
        after = page.evaluate("Array.from(window.__silentscope.state.points.x.slice(0, 5))")
        np.testing.assert_allclose(after, -np.asarray(before), atol=1e-4)
        assert not note.is_visible() and not page.errors
        assert "provisional" not in page.evaluate(
            "JSON.stringify(window.__silentscope.state.meta.embedding)"
        )
    finally:
        layout_gate.set()
        instance.should_exit = True
        thread.join(timeout=10)


def test_a_part_another_slice_holds_is_named_in_the_slices_panel(browser, tmp_path):
    """The device's slice says its worst part (its melanomas) is the melanoma slice's
    finding, naming that slice, as the CLI and the report do (result.part_note)."""
    from typer.testing import CliRunner

    from silentscope.audit.store import read_artifact, save_audit
    from silentscope.cli import app
    from silentscope.slices.result import part_note, rule_description
    from silentscope.viewer.prepare import prepare_store
    from tests.slices.test_consolidate import _a_missed_class_and_a_device

    store = tmp_path / "store"
    save_audit(_a_missed_class_and_a_device(0)[0], store)
    result = CliRunner().invoke(app, ["slices", str(store), "-m", "metadata", "--seeds", "1"])
    assert result.exit_code == 0, result.output
    saved = read_artifact(store, "slices")
    (note,) = [part_note(row) for row in saved.to_dict("records")
               if "not listed apart" in part_note(row)]  # fmt: skip
    assert "lies within slice " in note and note in " ".join(result.output.split())
    # and a slice whose members lie within another listed slice says which (notes.nesting_note)
    nested = [text for text in saved["nesting"] if text]
    assert nested and nested[0] in " ".join(result.output.split())
    # each rule with its held-out agreement in one wording (result.rule_description), saved
    # for the viewer, which does not import the analyses
    described = [text for text in saved["rule_description"] if text]
    assert described == [rule_description(row) for row in saved.to_dict("records") if row["rule"]]
    assert all(text in " ".join(result.output.split()) for text in described)
    prepare_store(store, method="pca")
    with store_page(browser, store) as page:
        page.click(".tab[data-tab=slices]")
        page.wait_for_selector("#slices-panel .slice", timeout=20_000)
        text = page.locator("#slices-panel").inner_text()
        assert note in text and nested[0] in text
        assert all(f"rule: {rule}" in text for rule in described)

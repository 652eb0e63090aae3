"""The page in headless Chromium: points render, lasso statistics, colour-by, hover, filters, export.

Drives Debian's Chromium (``/usr/bin/chromium``, installed by ``scripts/install_browser.sh``)
with Playwright; skipped with that reason where either is absent. Screenshots are saved
under a temporary folder whose path is printed (``pytest -s`` shows it).
"""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from silentscope.metrics.risk_coverage import aurc
from silentscope.viewer.export import export_html
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


@pytest.fixture(scope="module")
def server(synthetic_data):
    import uvicorn

    sock = free_socket("127.0.0.1", 0)
    config = uvicorn.Config(create_app(synthetic_data), log_level="warning", lifespan="off")
    instance = uvicorn.Server(config)
    thread = threading.Thread(target=instance.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.time() + 20
    while not instance.started and time.time() < deadline:
        time.sleep(0.05)
    yield f"http://127.0.0.1:{sock.getsockname()[1]}/"
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
    page.keyboard.down("Shift")
    page.mouse.move(*(centre + [radius, 0]))
    page.mouse.down()
    for angle in np.linspace(0, 2 * np.pi, 25)[1:]:
        page.mouse.move(*(centre + radius * np.array([np.cos(angle), np.sin(angle)])))
    page.mouse.up()
    page.keyboard.up("Shift")
    page.wait_for_function("window.__silentscope.selectionUpdates >= 1", timeout=30_000)
    pixels(page, shots / "2-lasso.png")
    assert page.evaluate("window.__silentscope.selectionCount") == len(rows)
    metrics = page.locator("#selection-metrics").inner_text()
    assert f"{len(rows)}\nrest {synthetic_data.n_samples - len(rows):,}" in metrics
    assert "0.0%" in metrics  # accuracy of the silent failures
    assert page.locator("#selection-grid .tile").count() > 0
    assert "irregular" in page.locator("#selection-panel").inner_text()  # report term
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
    page.close()


def test_hover_filters_and_panels(browser, server, synthetic_data, shots):
    page = open_page(browser, server)
    x, y = screen_positions(page, [7])[0]
    page.mouse.move(x + 20, y + 20)
    page.mouse.move(x, y, steps=4)
    page.wait_for_selector("#hover:not([hidden]) img", timeout=20_000)
    page.wait_for_function("document.querySelector('#hover img').naturalWidth > 0", timeout=20_000)
    hovered = page.evaluate("window.__silentscope.hovered")
    assert synthetic_data.sample_id[hovered].as_py() in page.locator("#hover").inner_text()
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

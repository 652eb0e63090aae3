"""Viewer benchmark: a million-sample audit store in headless Chromium.

Measures, with the embedding already cached in the store:

- server start to first paint (spawn of the server process until the page has drawn its
  points), through the Python API and through the full ``silentscope view`` command, after
  one untimed start (Chromium's GPU process and the store's files in the OS cache warm for
  both), median of ``--paint-repeats``. The browser is pointed at the URL as soon as it
  answers, as the command opens it once its socket listens;
- lasso selection statistics (mouse-up of a real Shift-drag lasso until the statistics
  panel is rendered; and select event to rendered, in the page);
- colour-by switch (select change until the frame with the new colours has been finished
  by the GPU, forced by reading back one of its pixels, and the next animation frame has
  begun, in the page), with where its time goes;
- resident memory and CPU time of the server process;

Above ``--max-drawn`` samples (default 50,000) the page draws a stratified subsample and
hit-tests the lasso against every sample in the page; statistics use every sample. The
machine is shared: the load average at the start and end of the run is printed, and CPU
times next to wall times.

and compares the column transport with a named baseline in the same run: JSON arrays as
Dash/Plotly send them (the transport of SF-Visuals), against the viewer's binary typed
arrays, for the columns of the first paint.

Run (Chromium from scripts/install_browser.sh)::

    python benchmarks/viewer.py                 # 1,000,000 samples, UMAP embedding
    python benchmarks/viewer.py --n 100000 --out /tmp/vw/bench100k
    python benchmarks/viewer.py --max-drawn 1000000   # draw every point (the old behaviour)
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import numpy as np
import pandas as pd
import psutil

from silentscope.audit import AuditSet
from silentscope.audit.store import save_audit
from silentscope.viewer.data import load_viewer_data
from silentscope.viewer.prepare import prepare_store
from silentscope.viewer.server import free_socket

TEMPLATES = [
    "no acute findings",
    "mild {f} without effusion",
    "moderate {f}, no pneumothorax",
    "severe {f} with effusion",
    "possible {f}, follow up advised",
    "stable {f} compared with prior",
]
FINDINGS = [
    "opacity",
    "consolidation",
    "atelectasis",
    "cardiomegaly",
    "nodule",
    "edema",
    "fibrosis",
    "emphysema",
]


def build_store(folder: Path, n: int, n_classes: int = 10, dims: int = 32, seed: int = 0) -> Path:
    """A synthetic store shaped like a large audit: 1 iid and 12 shifted test sets, metadata, reports, images."""
    rng = np.random.default_rng(seed)
    label = rng.integers(0, n_classes, n)
    kinds = (
        ["iid"] * 4
        + [f"cor/{c}/{s}" for c in ("gaussian_noise", "motion_blur") for s in (1, 3, 5)]
        + ["acq/site_D", "acq/site_E", "man/subtype_x", "sub/sex=F", "ood/other", "prev/skewed"]
    )
    test_set = np.asarray(kinds)[rng.integers(0, len(kinds), n)]
    severity_of = {t: int(t.rsplit("/", 1)[1]) if t.startswith("cor/") else 0 for t in kinds}
    severity = pd.Series(test_set).map(severity_of).to_numpy()
    centres = rng.normal(0, 4, (n_classes, dims))
    features = (centres[label] + rng.normal(0, 1.5 + 0.3 * severity[:, None], (n, dims))).astype(
        np.float32
    )
    logits = (features @ (centres.T / 10) + rng.normal(0, 1, (n, n_classes))).astype(np.float32)
    phrase = rng.integers(0, len(TEMPLATES), n)
    finding = rng.integers(0, len(FINDINGS), n)
    text = np.asarray(
        [
            TEMPLATES[p].format(f=FINDINGS[f])
            for p, f in zip(phrase[:5000], finding[:5000], strict=True)
        ]
    )
    images = rng.integers(0, 255, (1000, 28, 28, 1), dtype=np.uint8)
    np.save(folder / "images.npy", images)
    audit = AuditSet(
        sample_id=np.char.add("s", np.arange(n).astype(str)),
        test_set=test_set,
        label=label,
        logits=logits,
        class_names=[f"class_{c}" for c in range(n_classes)],
        features=features,
        metadata=pd.DataFrame(
            {
                "age": rng.normal(60, 15, n).round(),
                "sex": rng.choice(["F", "M"], n),
                "site": rng.choice(["A", "B", "C", "D", "E"], n),
            }
        ),
        text=text[rng.integers(0, len(text), n)],
        image_ref=np.char.add("images.npy#", (np.arange(n) % 1000).astype(str)),
    )
    return save_audit(audit, folder / "store")


def wait_for_server(url: str, timeout: float = 60.0) -> None:
    """Wait until the page's URL answers: when ``silentscope view`` would open the browser."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            urllib.request.urlopen(url, timeout=5).read(1)
            return
        except OSError:
            time.sleep(0.02)
    raise RuntimeError(f"the server at {url} did not answer within {timeout} s")


def start_server(store: Path, port: int, cli: bool, max_drawn: int) -> subprocess.Popen:
    if cli:
        command = [
            sys.executable,
            "-m",
            "silentscope",
            "view",
            str(store),
            "--no-browser",
            "--port",
            str(port),
            "--max-drawn",
            str(max_drawn),
        ]
    else:
        code = (
            "import sys;from silentscope.viewer.data import load_viewer_data;from silentscope.viewer.server import serve;"
            f"serve(load_viewer_data(sys.argv[1]), port={port}, open_browser=False, max_drawn={max_drawn})"
        )
        command = [sys.executable, "-c", code, str(store)]
    return subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def first_paint(
    browser, store: Path, cli: bool, max_drawn: int
) -> tuple[float, object, subprocess.Popen, str]:
    sock = free_socket()
    port = sock.getsockname()[1]
    sock.close()
    url = f"http://127.0.0.1:{port}/"
    start = time.perf_counter()
    process = start_server(store, port, cli, max_drawn)
    wait_for_server(url)
    page = browser.new_page(viewport={"width": 1400, "height": 900})
    page.goto(url)
    page.wait_for_function("document.body.dataset.ready", timeout=120_000, polling=10)
    elapsed = time.perf_counter() - start
    if page.evaluate("document.body.dataset.ready") != "true":
        raise RuntimeError(f"the page failed: {page.evaluate('window.__silentscope.errors')}")
    return elapsed, page, process, url


def children_cpu() -> float:
    """CPU seconds (user + system) of every process this benchmark started: Chromium, the
    Playwright driver and the server."""
    total = 0.0
    for child in psutil.Process().children(recursive=True):
        try:
            times = child.cpu_times()
        except psutil.NoSuchProcess:
            continue
        total += times.user + times.system
    return total


def stop(process: subprocess.Popen) -> None:
    process.terminate()
    process.wait()


def lasso(page, centre, radius, steps=16) -> float:
    """Shift-drag a circular lasso; seconds from mouse-up until the statistics panel is rendered."""
    before = page.evaluate("window.__silentscope.selectionUpdates || 0")
    page.keyboard.down("Shift")
    page.mouse.move(centre[0] + radius, centre[1])
    page.mouse.down()
    for angle in np.linspace(0, 2 * np.pi, steps)[1:]:
        page.mouse.move(centre[0] + radius * np.cos(angle), centre[1] + radius * np.sin(angle))
    start = time.perf_counter()
    page.mouse.up()
    page.keyboard.up("Shift")
    page.wait_for_function(
        f"(window.__silentscope.selectionUpdates || 0) > {before}", timeout=60_000, polling=5
    )
    return time.perf_counter() - start


def json_baseline(page, url: str, data) -> dict:
    """Bytes and browser decode time of the first-paint columns: JSON (Dash/Plotly) vs typed arrays."""
    columns = {"x": data.x, "y": data.y, "correct": data.columns["correct"].values}
    as_json = json.dumps(
        {k: np.round(v.astype(float), 6).tolist() for k, v in columns.items()}
    ).encode()
    binary = sum(v.nbytes for v in columns.values())
    decode_json = page.evaluate(
        """(text) => { const t = performance.now(); const v = JSON.parse(text);
            const x = Float32Array.from(v.x); return performance.now() - t; }""",
        as_json.decode(),
    )
    fetch_binary = page.evaluate(
        """async (url) => { const t = performance.now();
            const r = await Promise.all(['x', 'y', 'correct'].map((k) => fetch(url + 'api/column/' + k).then((r) => r.arrayBuffer())));
            return performance.now() - t; }""",
        url,
    )
    return {
        "json_bytes": len(as_json),
        "binary_bytes": binary,
        "json_parse_ms": decode_json,
        "binary_fetch_ms": fetch_binary,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=1_000_000)
    parser.add_argument("--method", default="umap", choices=["umap", "pca"])
    parser.add_argument(
        "--out", type=Path, default=None, help="Keep the store here (default: a temporary folder)."
    )
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument(
        "--paint-repeats", type=int, default=3, help="Timed starts of each path (median shown)."
    )
    parser.add_argument("--chromium", default="/usr/bin/chromium")
    parser.add_argument(
        "--max-drawn", type=int, default=50_000, help="Points the page draws (a stratified sample)."
    )
    args = parser.parse_args()
    load_start = psutil.getloadavg()
    from playwright.sync_api import sync_playwright

    folder = args.out or Path(tempfile.mkdtemp(prefix="silentscope-viewer-bench-"))
    folder.mkdir(parents=True, exist_ok=True)
    rows = []
    t = time.perf_counter()
    store = folder / "store"
    reused = (store / "manifest.json").is_file()
    if not reused:
        store = build_store(folder, args.n)
    built = "reused" if reused else f"{time.perf_counter() - t:.1f} s"
    rows.append(("build store (one-off)", built, str(store)))
    t = time.perf_counter()
    prepared = prepare_store(store, method=args.method, csfs=["MSR", "MLS", "PE", "energy"])
    info = prepared["embedding"]
    rows.append(
        (
            "embedding + confidences (one-off, then cached)",
            f"{time.perf_counter() - t:.1f} s",
            f"{'cache read; ' if reused else ''}{info['description']}: "
            f"{info['n_fit']:,} laid out, rest placed by 5-NN",
        )
    )
    data = load_viewer_data(store)

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=args.chromium,
            args=["--enable-unsafe-swiftshader", "--use-angle=swiftshader"],
        )
        # One untimed start first: Chromium's GPU process and the OS file cache of the store
        # are then warm for both paths alike (a person's browser is already running).
        _, page, process, url = first_paint(browser, store, False, args.max_drawn)
        page.close()
        stop(process)
        paints = {True: [], False: []}
        for _ in range(args.paint_repeats):
            for cli in (True, False):
                elapsed, page, process, url = first_paint(browser, store, cli, args.max_drawn)
                cpu = psutil.Process(process.pid).cpu_times()
                timings = page.evaluate("window.__silentscope.timings")
                paints[cli].append(
                    (elapsed, cpu.user + cpu.system, timings, psutil.getloadavg()[0])
                )
                drawn_points = page.evaluate("window.__silentscope.state.rows.length")
                page.close()
                stop(process)
        for cli, name, note in (
            (False, "Python API", "serve(load_viewer_data(store))"),
            (True, "silentscope view", "the command; the page loads while the store is read"),
        ):
            runs = sorted(paints[cli], key=lambda r: r[0])
            elapsed, cpu, timings, load = runs[len(runs) // 2]
            rows.append(
                (
                    f"server start -> first paint ({name})",
                    f"{elapsed:.2f} s",
                    f"median of {len(runs)} ({runs[0][0]:.2f}-{runs[-1][0]:.2f} s); target < 3 s; "
                    f"{note}; server CPU {cpu:.2f} s; load {load:.1f}",
                )
            )
            parts = timings["firstPaintParts"]
            rows.append(
                (
                    "  of which in the page",
                    f"{timings['draw'] / 1000:.2f} s",
                    f"WebGL context and scatterplot {parts['create']:.0f} ms, then waiting for "
                    f"meta {parts['metaAfterCreate']:.0f} ms, columns {parts['columns']:.0f} ms, "
                    f"points {parts['points']:.0f} ms, frames {parts['frames']:.0f} ms",
                )
            )
        rows.append(("points drawn", f"{drawn_points:,}", f"of {data.n_samples:,} (--max-drawn)"))
        elapsed, page, process, url = first_paint(browser, store, False, args.max_drawn)

        # Every position (for lasso hit-testing) and the colour columns arrive after the first
        # paint; a person takes longer than that to draw a lasso.
        page.wait_for_function("window.__silentscope.prefetched", timeout=120_000, polling=50)
        box = page.locator("#canvas").bounding_box()
        centre = (box["x"] + box["width"] * 0.5, box["y"] + box["height"] * 0.5)
        end_to_end, in_page, counts, hit = [], [], [], []
        cpu_start = children_cpu()
        for k in range(args.repeats):
            radius = box["height"] * (0.12 + 0.05 * k)
            offset = (centre[0] + (k - 2) * 30, centre[1] + (k - 2) * 20)
            end_to_end.append(lasso(page, offset, radius))
            in_page.append(page.evaluate("window.__silentscope.timings.selection") / 1000)
            counts.append(page.evaluate("window.__silentscope.selectionCount"))
            hit.append(page.evaluate("window.__silentscope.timings.hitTest || 0"))
        lasso_cpu = (children_cpu() - cpu_start) / args.repeats
        rows.append(
            (
                "lasso -> statistics (mouse-up to panel)",
                f"{statistics.median(end_to_end) * 1000:.0f} ms",
                f"median of {args.repeats}; {min(counts):,}-{max(counts):,} points selected; "
                f"target < 300 ms; CPU per lasso incl. drawing it {lasso_cpu * 1000:.0f} ms "
                f"(browser + server); load {psutil.getloadavg()[0]:.1f}",
            )
        )
        rows.append(
            (
                "  select event -> panel rendered",
                f"{statistics.median(in_page) * 1000:.0f} ms",
                f"request + statistics + render; hit-test of all {data.n_samples:,} "
                f"positions {statistics.median(hit):.0f} ms",
            )
        )
        page.locator(".tool[data-tool=clear]").click()

        switches, parts = [], []
        cpu_start = children_cpu()
        # Every switch changes the column: five kinds (categorical, continuous, metadata), twice.
        keys = ["test_set", "conf:MSR", "meta:age", "class", "correct"] * (args.repeats // 2 + 1)
        for key in keys[: max(2 * args.repeats, 5)]:
            page.select_option("#color-by", key)
            page.wait_for_function(
                f"window.__silentscope.colorKey === {json.dumps(key)}", timeout=60_000, polling=5
            )
            switches.append(page.evaluate("window.__silentscope.timings.colorSwitch"))
            parts.append(page.evaluate("window.__silentscope.timings.colorSwitchParts"))
        switch_cpu = (children_cpu() - cpu_start) / len(switches)
        rows.append(
            (
                "colour-by switch",
                f"{statistics.median(switches):.0f} ms",
                f"median of {len(switches)} ({min(switches):.0f}-{max(switches):.0f} ms); "
                f"target < 200 ms; CPU per switch {switch_cpu * 1000:.0f} ms (browser + server); "
                f"load {psutil.getloadavg()[0]:.1f}",
            )
        )
        rows.append(
            (
                "  of which",
                "",
                ", ".join(
                    f"{key} {statistics.median(p[key] for p in parts):.0f} ms"
                    for key in ("fetch", "codes", "draw", "gpu", "frame")
                )
                + " (medians; draw: the frame issued, gpu: its pixels read back, frame: next frame)",
            )
        )

        memory = psutil.Process(process.pid).memory_info().rss / 2**20
        rows.append(("server memory (RSS)", f"{memory:.0f} MiB", f"{args.n:,} samples"))

        baseline = json_baseline(page, url, data)
        rows.append(
            (
                "first-paint columns, binary typed arrays",
                f"{baseline['binary_bytes'] / 2**20:.1f} MiB",
                f"fetched and decoded in {baseline['binary_fetch_ms']:.0f} ms",
            )
        )
        rows.append(
            (
                "baseline: JSON arrays (Dash/Plotly, SF-Visuals)",
                f"{baseline['json_bytes'] / 2**20:.1f} MiB",
                f"JSON.parse alone {baseline['json_parse_ms']:.0f} ms, before any transfer",
            )
        )
        page.close()
        process.terminate()
        process.wait()
        browser.close()

    width = max(len(r[0]) for r in rows)
    print(
        f"\nload average (1, 5, 15 min) at the start: {', '.join(f'{v:.1f}' for v in load_start)}; "
        f"at the end: {', '.join(f'{v:.1f}' for v in psutil.getloadavg())}"
    )
    print(
        f"silentscope viewer benchmark: {args.n:,} samples, {data.n_samples:,} in the store, headless Chromium (SwiftShader WebGL), {psutil.cpu_count()} CPU cores"
    )
    print(f"{'measure'.ljust(width)}  {'value':>10}  notes")
    print("-" * (width + 60))
    for name, value, note in rows:
        print(f"{name.ljust(width)}  {value:>10}  {note}")


if __name__ == "__main__":
    main()

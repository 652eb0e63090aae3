"""Viewer on a never-viewed store: time to the first HTTP answer and to the drawn map.

The baseline, named "prepare, then serve", is the order the viewer used before it served at
once: the whole preparation (confidences and the final layout, ``silentscope view STORE
--prepare-only``) runs before a page can be answered. Against it, ``silentscope view STORE``
on a fresh copy of the same never-viewed store, timed in headless Chromium from the spawn of
the command: the first HTTP answer, the first progress note, and the map drawn (the page's
``data-ready``), which is the provisional principal-component layout until the final one is
swapped in.

The store is made here: PneumoniaMNIST pixels (784-d) as features of a logistic model's
predictions, four test sets. It needs ``$SILENTSCOPE_DATA`` (default ``../shared/data``) and
Debian's Chromium (scripts/install_browser.sh).

Run::

    python benchmarks/viewer_first_answer.py             # 2,106 samples (the issue's store size)
    python benchmarks/viewer_first_answer.py --n 100000  # progress over a long preparation
"""

from __future__ import annotations

import argparse
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]


def make_store(path: Path, n: int, data: Path) -> Path:
    from sklearn.linear_model import LogisticRegression

    from silentscope.audit.auditset import AuditSet
    from silentscope.audit.store import save_audit

    npz = np.load(data / "medmnist" / "pneumoniamnist.npz")
    train_x = npz["train_images"][:1500].reshape(1500, -1) / 255.0
    model = LogisticRegression(C=0.05, max_iter=300).fit(train_x, npz["train_labels"][:1500, 0])
    pool_x = np.concatenate([npz["test_images"], npz["val_images"], npz["train_images"][1500:]])
    pool_x = pool_x.reshape(len(pool_x), -1) / 255.0
    pool_y = np.concatenate(
        [npz["test_labels"][:, 0], npz["val_labels"][:, 0], npz["train_labels"][1500:, 0]]
    )
    rng = np.random.default_rng(0)
    rows = rng.integers(0, len(pool_x), n)
    names = np.array(["iid", "val", "cor/gaussian_noise/3", "cor/gaussian_noise/5"])
    test_set = names[np.arange(n) % 4]
    noise = np.select([test_set == names[2], test_set == names[3]], [0.1, 0.3], 0.0)
    x = np.clip(pool_x[rows] + rng.normal(0, 1, (n, pool_x.shape[1])) * noise[:, None], 0, 1)
    score = model.decision_function(x)
    audit = AuditSet(
        sample_id=[f"s{i}" for i in range(n)],
        test_set=test_set,
        label=pool_y[rows].astype(np.int64),
        logits=np.stack([-score / 2, score / 2], axis=1),
        class_names=["normal", "pneumonia"],
        features=x.astype(np.float32),
    )
    return save_audit(audit, path)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def prepare_then_serve(store: Path) -> float:
    """Seconds until a page could be answered when the preparation comes first."""
    start = time.perf_counter()
    command = [sys.executable, "-m", "silentscope", "view", str(store), "--prepare-only"]
    subprocess.run(command, check=True, capture_output=True)
    return time.perf_counter() - start


def serve_at_once(store: Path, chromium: str) -> dict:
    from playwright.sync_api import sync_playwright

    port = free_port()
    url = f"http://127.0.0.1:{port}/"
    with sync_playwright() as pw:
        browser = pw.chromium.launch(
            executable_path=chromium,
            args=["--enable-unsafe-swiftshader", "--use-angle=swiftshader"],
        )
        page = browser.new_page(viewport={"width": 1280, "height": 800})
        start = time.perf_counter()
        command = [sys.executable, "-m", "silentscope", "view", str(store), "--no-browser"]
        server = subprocess.Popen(
            [*command, "--port", str(port)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        try:
            while True:
                try:
                    urllib.request.urlopen(url, timeout=5).read()
                    break
                except OSError:
                    time.sleep(0.05)
            first = time.perf_counter() - start
            page.goto(url)
            progress = None
            while page.evaluate("document.body.dataset.ready") is None:
                shown = page.evaluate(
                    "(() => { const n = document.getElementById('progress-note');"
                    " return n && !n.hidden ? n.textContent : ''; })()"
                )
                if shown and progress is None:
                    progress = time.perf_counter() - start
                time.sleep(0.1)
            drawn = time.perf_counter() - start
            state = page.evaluate("document.body.dataset.ready")
        finally:
            server.terminate()
            server.wait()
            browser.close()
    return {"first": first, "progress": progress, "drawn": drawn, "state": state}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=2106, help="samples in the store")
    parser.add_argument("--chromium", default="/usr/bin/chromium")
    parser.add_argument("--skip-baseline", action="store_true")
    args = parser.parse_args()
    data = Path(os.environ.get("SILENTSCOPE_DATA", REPO.parent / "shared" / "data"))
    if not (data / "medmnist" / "pneumoniamnist.npz").is_file():
        sys.exit(f"skipped: {data}/medmnist/pneumoniamnist.npz not found (set SILENTSCOPE_DATA)")
    load = os.getloadavg()[0]
    with tempfile.TemporaryDirectory() as folder:
        pristine = make_store(Path(folder) / "pristine", args.n, data)
        copy = Path(folder) / "copy"
        baseline = None
        if not args.skip_baseline:
            shutil.copytree(pristine, copy)
            baseline = prepare_then_serve(copy)
            shutil.rmtree(copy)
        shutil.copytree(pristine, copy)
        now = serve_at_once(copy, args.chromium)
    print(
        f"{args.n:,} samples, 2 CPUs, load average {load:.1f} before / {os.getloadavg()[0]:.1f} after"
    )
    print("| path | first HTTP answer (s) | progress shown (s) | map drawn (s) |")
    print("|---|---|---|---|")
    if baseline is not None:
        print(f"| baseline: prepare, then serve | {baseline:.2f} | - | > {baseline:.2f} |")
    progress = "-" if now["progress"] is None else f"{now['progress']:.2f}"
    print(
        f"| silentscope view (serve at once) | {now['first']:.2f} | {progress} | "
        f"{now['drawn']:.2f} ({now['state']}) |"
    )


if __name__ == "__main__":
    main()

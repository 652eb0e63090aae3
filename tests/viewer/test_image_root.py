"""Images are read only inside the image root: a store cannot make the viewer, its export or
the report read (or reveal the existence of) files elsewhere."""

from __future__ import annotations

import io
import os
import re

import numpy as np
import pandas as pd
import pytest
from PIL import Image
from starlette.testclient import TestClient

from silentscope.audit.auditset import AuditSet
from silentscope.audit.store import save_audit
from silentscope.data.refs import ImageOutsideRoot, read_image_ref
from silentscope.report.build import build_report
from silentscope.viewer.data import load_viewer_data
from silentscope.viewer.export import export_html
from silentscope.viewer.prepare import prepare_store
from silentscope.viewer.server import create_app


def _png(path, value: int) -> str:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.full((8, 8), value, np.uint8)).save(path)
    return str(path)


@pytest.fixture(scope="module")
def hostile(tmp_path_factory):
    """A store in ``base/work`` whose references point inside, outside, nowhere and through a symlink."""
    base = tmp_path_factory.mktemp("hostile")
    secret = _png(base / "private" / "secret.png", 200)  # outside the image root base/work
    system = "/etc/hostname" if os.path.isfile("/etc/hostname") else "/etc/passwd"
    inside = _png(base / "work" / "images" / "ok.png", 50)
    (base / "work" / "images" / "link.png").symlink_to(secret)
    refs = [
        "images/ok.png",  # relative, inside: shown
        inside,  # absolute, inside: shown
        secret,  # absolute, outside, exists
        "../private/secret.png",  # ../ leaving the root, exists
        str(base / "private" / "missing_key.pem"),  # absolute, outside, missing
        system,  # a system file that exists but is no image
        "images/link.png",  # symlink inside the root to a file outside
        "images/../../private/secret.png#0",
    ]
    n = len(refs) * 4
    rng = np.random.default_rng(0)
    label = np.arange(n) % 2
    audit = AuditSet(
        sample_id=[f"s{i}" for i in range(n)],
        test_set=np.repeat(["iid", "cor/gaussian_noise/5"], n // 2),
        label=label,
        logits=rng.normal(0, 1, (n, 2)) + 2 * np.eye(2)[label],
        class_names=["a", "b"],
        features=rng.normal(0, 1, (n, 4)).astype(np.float32),
        metadata=pd.DataFrame({"site": np.where(np.arange(n) % 3, "A", "B")}),
        image_ref=np.asarray(refs * 4, dtype=object),
    )
    store = save_audit(audit, base / "work" / "store")
    prepare_store(store, method="pca", csfs=["MSR"])
    return store, refs, secret


INSIDE = [0, 1]
OUTSIDE = [2, 3, 4, 5, 6, 7]


def test_the_viewer_serves_images_inside_the_root_and_refuses_the_rest_alike(hostile):
    store, refs, _ = hostile
    client = TestClient(create_app(load_viewer_data(store)), base_url="http://127.0.0.1")
    for row in INSIDE:
        response = client.get(f"/api/thumbnail/{row}")
        assert response.status_code == 200
        assert np.asarray(Image.open(io.BytesIO(response.content))).max() == 50
    messages = set()
    for row in OUTSIDE:
        response = client.get(f"/api/thumbnail/{row}")
        assert response.status_code == 404
        message = response.json()["error"]
        assert "does not exist" not in message and "cannot identify" not in message
        messages.add(message.replace(repr(refs[row]), "REF"))
    # missing and existing files outside the root get one and the same message
    assert len(messages) == 1, messages
    assert "inside the image root" in messages.pop()


def test_a_wider_image_root_is_the_users_choice(hostile):
    store, _, _ = hostile
    data = load_viewer_data(store, image_root=store.parent.parent)
    client = TestClient(create_app(data), base_url="http://127.0.0.1")
    assert client.get("/api/thumbnail/2").status_code == 200  # base/private is inside base
    assert client.get("/api/thumbnail/5").status_code == 404  # /etc is not


def test_the_export_embeds_no_image_from_outside_the_root(hostile, tmp_path):
    store, _, _ = hostile
    page = export_html(load_viewer_data(store), tmp_path / "view.html", max_images=100)
    thumbnails = re.findall(r"data:image/(?:png|jpeg);base64,", page.read_text())
    # 8 of the 32 samples are inside the root (rows 0 and 1 of each group of 8)
    assert 0 < len(thumbnails) <= 8


def test_the_report_reads_images_only_inside_the_root(hostile, tmp_path):
    store, refs, secret = hostile
    with pytest.raises(ImageOutsideRoot, match="inside the image root"):
        read_image_ref(secret, store.parent, root=store.parent)
    with pytest.raises(ImageOutsideRoot) as missing:
        read_image_ref(refs[4], store.parent, root=store.parent)
    assert "does not exist" not in str(missing.value)
    page = build_report(store, tmp_path / "report.html").read_text()
    # each gallery says once why its images are not shown; no page text tells a missing file
    # from one that exists
    gallery_notes = re.findall(
        r"<p class='note warn'>\d+ of \d+ images not shown: ([^<]*)</p>", page
    )
    assert gallery_notes and all("inside the image root" in e for e in gallery_notes)
    assert "cannot identify" not in page and "does not exist" not in page

"""A hand-made segmentation audit store: evaluate's tables and the report's segmentation section."""

from __future__ import annotations

from html.parser import HTMLParser

import numpy as np
import pytest
from typer.testing import CliRunner

from silentscope.audit import AuditSet
from silentscope.audit.artifacts import write_artifact
from silentscope.audit.store import save_audit
from silentscope.audit.volume_slices import SLICES_ARTIFACT, slice_stack
from silentscope.cli import app
from silentscope.report.build import build_report

runner = CliRunner()
TEST_SETS = ["val", "iid", "cor/rician_noise/1", "cor/rician_noise/5", "cor/ghosting/5"]


def segmentation_audit(n_per_set: int = 12, seed: int = 0) -> tuple[AuditSet, np.ndarray]:
    """Volumes whose risk grows with the corruption's severity; 'msr@mean' tracks the risk,
    'noise' does not. Returns the AuditSet and its (N, 3, 3, 8, 8) slices."""
    rng = np.random.default_rng(seed)
    test_set = np.repeat(TEST_SETS, n_per_set)
    shift = np.select(
        [np.char.endswith(test_set, "/5"), np.char.endswith(test_set, "/1")], [0.4, 0.15], 0.0
    )
    risk = np.clip(rng.uniform(0.05, 0.2, len(test_set)) + shift, 0, 1)
    labels = rng.integers(0, 4, (len(test_set), 8, 8, 8))
    predictions = np.where(rng.random(labels.shape) < risk[:, None, None, None], 0, labels)
    images = rng.random((len(test_set), 8, 8, 8, 1))
    audit = AuditSet(
        sample_id=[f"vol{i:03d}" for i in range(len(test_set))],
        test_set=test_set,
        label=np.zeros(len(test_set), int),
        logits=np.zeros((len(test_set), 4)),
        class_names=["background", "csf", "grey_matter", "white_matter"],
        features=rng.normal(size=(len(test_set), 5)),  # pooled bottleneck: the viewer's map
        risk=risk,
        confidences={
            "msr@mean": 1 - risk + rng.normal(0, 0.02, len(risk)),
            "noise": rng.random(len(risk)),
        },
        outcomes={"dice_csf": 1 - risk},
        provenance={"task": "segmentation", "risk_name": "dice"},
    )
    return audit, slice_stack(images, labels, predictions)


@pytest.fixture
def store(tmp_path):
    audit, stack = segmentation_audit()
    path = save_audit(audit, tmp_path / "seg_store")
    write_artifact(path, SLICES_ARTIFACT, stack)
    return path


class _Page(HTMLParser):
    """Section ids, and per section its table headers and images."""

    def __init__(self):
        super().__init__()
        self.sections: dict[str, dict] = {}
        self.current = None
        self.in_th = False

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "section":
            self.current = self.sections.setdefault(attrs["id"], {"th": [], "img": 0, "text": []})
        elif self.current is not None and tag == "img":
            self.current["img"] += 1
        self.in_th = tag == "th"

    def handle_endtag(self, tag):
        if tag == "th":
            self.in_th = False

    def handle_data(self, data):
        if self.current is not None:
            self.current["text"].append(data)
            if self.in_th:
                self.current["th"].append(data.strip())


def test_evaluate_prints_the_csf_table_on_continuous_risk_and_dice_per_test_set(store, tmp_path):
    result = runner.invoke(
        app,
        [
            "evaluate",
            str(store),
            "--bootstrap",
            "100",
            "--out",
            str(tmp_path / "ev"),
            "--format",
            "csv",
        ],
        env={"COLUMNS": "200"},
    )
    assert result.exit_code == 0, result.output
    text = " ".join(result.output.split())
    assert "AURC" in text and "ext:msr@mean" in text and "ext:noise" in text
    assert "segmentation per test set: mean Dice" in text
    import pandas as pd

    table = pd.read_csv(tmp_path / "ev" / "evaluation.csv")
    aurc = table[(table["metric"] == "aurc") & (table["test_set"] == "cor/rician_noise/5")]
    by_csf = aurc.set_index("csf")["value"]
    assert by_csf["ext:msr@mean"] < by_csf["ext:noise"]  # the informative confidence wins


def test_report_of_a_segmentation_store_has_dice_csfs_curves_and_worst_volume_slices(
    store, tmp_path
):
    page = _Page()
    page.feed(build_report(store, tmp_path / "report.html").read_text())
    assert {"seg-dice", "seg-csfs", "run-seg_store"} <= set(page.sections)
    assert "accuracy" not in page.sections  # no classifier accuracy for volumes
    dice = page.sections["seg-dice"]
    assert dice["th"][:2] == ["test set", "store"] and "cor/ghosting/5" in dice["text"]
    csfs = page.sections["seg-csfs"]
    assert "msr@mean" in csfs["text"] and "store iid" in csfs["th"]
    run = page.sections["run-seg_store"]
    assert "Worst volumes" in run["text"]
    assert run["img"] == 6 * 9  # six volumes x (image, label, prediction) x three planes
    worst = [t for t in run["text"] if t.startswith("vol")]
    assert all("/5" in t for t in worst)  # the highest risks are the severity-5 volumes


def test_report_without_slices_lists_the_worst_volumes_and_says_why(tmp_path):
    audit, _ = segmentation_audit()
    path = save_audit(audit, tmp_path / "bare")
    text = build_report(path, tmp_path / "r.html").read_text()
    assert "No slices in this audit store" in text


def test_viewer_shows_volumes_as_points_coloured_by_risk_with_mid_slice_thumbnails(store):
    import io

    from PIL import Image

    from silentscope.viewer.data import load_viewer_data
    from silentscope.viewer.payloads import meta
    from silentscope.viewer.prepare import prepare_store
    from silentscope.viewer.thumbnails import ThumbnailCache

    audit, _ = segmentation_audit()
    path = store
    prepared = prepare_store(path, method="pca")
    assert all(name.startswith("ext:") for name in prepared["confidences"])  # no logit CSFs
    data = load_viewer_data(path)
    assert data.n_samples == audit.n_samples and data.has_images
    columns = {c["key"]: c for c in meta(data)["columns"]}
    assert {"risk", "dice", "outcome:dice_csf"} <= set(columns)
    np.testing.assert_allclose(data.columns["dice"].values, 1 - audit.risk, atol=1e-6)
    assert columns["correct"]["categories"] == ["risk 0", "risk above 0"]
    assert meta(data)["accuracy"] == pytest.approx(1 - audit.risk.mean())
    png = ThumbnailCache(data, folder=store.parent / "thumbs", size=64).get(5)
    picture = Image.open(io.BytesIO(png))
    assert picture.size[0] > picture.size[1]  # image | label | prediction side by side
    assert data.sample(5)["risk"] == pytest.approx(audit.risk[5])


def test_report_shows_the_caveats_recorded_with_a_run(tmp_path):
    # A class the network never predicts has Dice 0: the audit records it, the report must say it.
    audit, _ = segmentation_audit()
    caveat = "class 'csf' is in the val labels (119 voxel(s)) but never predicted: its Dice is 0"
    audit.provenance["caveats"] = [caveat]
    path = save_audit(audit, tmp_path / "caveat")
    text = build_report(path, tmp_path / "r.html").read_text()
    assert "Caveats recorded with this run" in text and "but never predicted" in text
    clean, _ = segmentation_audit()
    plain = build_report(save_audit(clean, tmp_path / "plain"), tmp_path / "p.html").read_text()
    assert "Caveats recorded with this run" not in plain

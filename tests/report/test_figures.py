"""The report's figures: inline SVG that names what it draws; thumbnails as PNG data URIs."""

from __future__ import annotations

import base64
import io
import re

import numpy as np
import pandas as pd
from PIL import Image

from silentscope.report import figures
from silentscope.report.thumbnails import thumbnail_data_uri


def _texts(svg: str) -> list[str]:
    """The text an SVG shows (the report keeps text as text: svg.fonttype none)."""
    return re.findall(r"<text[^>]*>([^<]*)</text>", svg)


def _severity_rows() -> pd.DataFrame:
    rows = [
        {"label": label, "metric": "aurc", "test_set": test_set, "value": value}
        for label, base in (("MSR", 0.02), ("MCD-MI (devries)", 0.03))
        for test_set, value in (
            ("iid", base),
            ("cor/gaussian_noise/1", base + 0.01),
            ("cor/blur/1", base + 0.03),
            ("cor/gaussian_noise/5", base + 0.10),
            ("cor (all)", 0.5),  # a pooled row: not a test set, left out
        )
    ]
    return pd.DataFrame(rows)


def test_figures_are_inline_svg_without_an_xml_prolog():
    svg = figures.accuracy_figure(
        pd.DataFrame({"test_set": ["iid"], "kind": ["iid"], "accuracy": [0.9]})
    )
    assert svg.startswith("<svg") and svg.rstrip().endswith("</svg>")


def test_severity_figure_draws_one_line_per_label_from_iid_to_the_worst_severity():
    svg = figures.severity_figure(_severity_rows(), "aurc", 1000, "AURC x1000", title="toy")
    texts = _texts(svg)
    assert "toy: AURC x1000 under corruptions" in texts
    # one panel per objective (CSF family), so objectives stay apart; one legend for all
    assert "ce" in texts and "devries" in texts
    assert texts.count("MSR") == 1 and texts.count("MCD-MI") == 1
    assert "corruption severity (0 = iid)" in texts


def test_severity_figure_is_absent_without_corruption_test_sets():
    rows = _severity_rows()
    assert (
        figures.severity_figure(rows[~rows["test_set"].str.startswith("cor")], "aurc", 1, "")
        is None
    )
    only_pooled = rows[rows["test_set"] == "cor (all)"]
    assert figures.severity_figure(only_pooled, "aurc", 1, "") is None


def test_accuracy_figure_leaves_out_the_validation_split():
    summary = pd.DataFrame(
        {
            "test_set": ["val", "iid", "cor/blur/3"],
            "kind": ["val", "iid", "cor"],
            "accuracy": [0.99, 0.87, 0.42],
        }
    )
    texts = _texts(figures.accuracy_figure(summary))
    assert {"iid", "cor/blur/3", "0.87", "0.42"} <= set(texts)
    assert "val" not in texts and "0.99" not in texts


def test_reliability_figure_titles_each_panel_with_its_ece():
    bins = (np.arange(10) + 0.5) / 10
    counts = np.array([0, 0, 0, 0, 0, 5, 5, 10, 20, 60])
    svg = figures.reliability_figure(
        {"iid": (bins, bins, counts, 0.0123), "cor/blur/5": (bins, bins * 0.5, counts, 0.3456)}
    )
    texts = _texts(svg)
    assert "ECE 0.012" in texts and "ECE 0.346" in texts
    assert "iid" in texts and "cor/blur/5" in texts


def test_risk_coverage_figure_has_both_risks_and_every_csf():
    coverage = np.linspace(0, 1, 11)
    curves = {
        "MSR": (coverage, coverage * 0.1, coverage * 0.05),
        "PE": (coverage, coverage * 0.2, coverage * 0.1),
    }
    svg = figures.risk_coverage_figure(curves, "iid")
    texts = _texts(svg)
    assert {"selective risk", "generalized risk", "MSR", "PE"} <= set(texts)


def _decode(uri: str) -> Image.Image:
    prefix = "data:image/png;base64,"
    assert uri.startswith(prefix)
    return Image.open(io.BytesIO(base64.b64decode(uri[len(prefix) :])))


def test_thumbnails_are_square_pngs_of_the_image():
    grey = np.zeros((28, 28, 1), dtype=np.uint8)
    grey[:, 14:] = 255
    picture = _decode(thumbnail_data_uri(grey, size=56))
    assert picture.size == (56, 56) and picture.mode == "L"
    pixels = np.asarray(picture)
    assert pixels[:, :20].max() == 0 and pixels[:, 36:].min() == 255  # nearest: edges kept
    colour = np.full((200, 100, 3), (10, 200, 30), dtype=np.uint8)
    picture = _decode(thumbnail_data_uri(colour))
    assert picture.size == (96, 96) and picture.mode == "RGB"
    assert tuple(np.asarray(picture)[48, 48]) == (10, 200, 30)

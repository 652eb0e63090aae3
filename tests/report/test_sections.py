"""Each section of the report, read from the page built for a small audit store or study."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest

from silentscope.audit import AuditSet
from silentscope.audit.store import save_audit, write_artifact
from silentscope.data.refs import shareable
from silentscope.report.build import build_report
from silentscope.study.runner import run_study
from silentscope.study.spec import parse_study
from tests.support.studies import store_study

N_PER_SET = {"val": 40, "iid": 60, "cor/gaussian_noise/5": 60}


def _audit(images_file) -> AuditSet:
    rng = np.random.default_rng(0)
    test_set = np.concatenate([[name] * n for name, n in N_PER_SET.items()])
    n = len(test_set)
    label = rng.integers(0, 2, n)
    wrong = rng.random(n) < np.where(test_set == "iid", 0.2, 0.4)
    margin = rng.gamma(2.0, 1.0, n)
    logits = np.zeros((n, 2))
    logits[np.arange(n), np.where(wrong, 1 - label, label)] = margin
    images = rng.integers(0, 256, (n, 16, 16), dtype=np.uint8)
    np.savez(images_file, test_images=images)
    return AuditSet(
        sample_id=[f"s{i:03d}" for i in range(n)],
        test_set=test_set,
        label=label,
        logits=logits,
        class_names=["benign", "malignant"],
        image_ref=[f"{images_file}#test_images/{i}" for i in range(n)],
    )


@pytest.fixture(scope="module")
def store_page(tmp_path_factory):
    folder = tmp_path_factory.mktemp("report")
    audit = _audit(folder / "images.npz")
    store = save_audit(audit, folder / "store")
    slices = pd.DataFrame(
        {"rank": [1], "size": [30], "error_rate": [0.6], "ci_low": [0.42], "ci_high": [0.75],
         "complement_error_rate": [0.2], "q_value": [0.004], "stability": [0.9],
         "top_terms": ["cardiomegaly"], "metadata": ["age > 70: 80% vs 20%"],
         "representative_images": [audit.image_ref[0]], "confident_error_images": [""]}
    )  # fmt: skip
    write_artifact(store, "slices", slices)
    page = build_report(store, folder / "report.html").read_text()
    return audit, page


def _section(page: str, section_id: str) -> str:
    found = re.search(rf'<section id="{re.escape(section_id)}">(.*?)</section>', page, re.S)
    assert found, f"no section {section_id!r} in the report"
    return found.group(1)


def test_the_page_lists_every_section_and_loads_nothing_from_the_network(store_page):
    _, page = store_page
    ids = re.findall(r'<section id="([^"]+)">', page)
    assert ids == ["results-aurc", "results-augrc", "accuracy", "severity", "run-store"]
    assert re.findall(r'<a href="#([^"]+)">', page) == ids
    assert not re.search(r"""(src|href)=["']https?://""", page)


def test_results_section_tabulates_every_csf_on_iid_and_corruptions(store_page):
    _, page = store_page
    section = _section(page, "results-aurc")
    assert "<th>store iid</th>" in section and "<th>store cor</th>" in section
    rows = re.findall(r"<tr><td>([^<]+)</td><td", section.split("Mean rank")[0])
    assert "MSR" in rows and len(rows) == len(set(rows)) >= 3
    assert section.count('class="best"') == 2  # one best CSF per column


def test_severity_section_draws_the_store_under_corruptions(store_page):
    _, page = store_page
    section = _section(page, "severity")
    assert section.count("<svg") == 1
    assert "store: AURC x1000 under corruptions" in section


def test_run_section_shows_curves_per_test_set_and_the_most_confident_failures(store_page):
    audit, page = store_page
    section = _section(page, "run-store")
    headings = re.findall(r"<h3>([^<]+)</h3>", section)
    assert headings[:2] == ["iid", "cor/gaussian_noise/5"]  # not val: it fits, it is not tested
    # the gallery of iid: its failures, most confident (by MSR) first
    iid_part = section[
        section.index("<h3>iid</h3>") : section.index("<h3>cor/gaussian_noise/5</h3>")
    ]
    shown = re.findall(r"<img src='data:image/png;base64,[^']+' alt='([^']+)'>", iid_part)
    iid = np.flatnonzero((audit.test_set == "iid") & ~audit.correct)
    msr = audit.probabilities.max(axis=1)
    expected = [audit.sample_id[i] for i in iid[np.argsort(-msr[iid], kind="stable")][:8]]
    assert shown == expected


def test_run_section_shows_the_slices_saved_in_the_store(store_page):
    audit, page = store_page
    section = _section(page, "run-store")
    slices = section[section.index("Slices: where the classifier fails systematically") :]
    assert "Slice 1: held-out error rate 60% (42% to 75%) vs 20% outside; n = 30" in slices
    assert "cardiomegaly" in slices and "age &gt; 70: 80% vs 20%" in slices
    # the representative image, inlined; its alt text names the file, not the folders
    assert f"alt='{shareable(audit.image_ref[0])}'" in slices
    assert "alt='…/images.npz#test_images/" in slices


def test_failed_section_names_each_failed_run_and_its_error(tmp_path):
    raw = store_study(tmp_path, n_stores=1)
    raw["datasets"].append({"name": "store", "label": "broken", "store": str(tmp_path / "missing")})
    run_study(parse_study(raw), tmp_path / "study", live=False)
    page = build_report(tmp_path / "study", tmp_path / "report.html").read_text()
    section = _section(page, "failed")
    assert "broken__store__seed0" in section and "no audit store" in section
    assert '<section id="run-model0__store__seed0">' in page  # the other run is still shown


def test_images_outside_the_image_root_are_said_once_per_gallery_not_per_card(tmp_path):
    elsewhere = tmp_path / "data"
    elsewhere.mkdir()
    audit = _audit(elsewhere / "images.npz")
    store = save_audit(audit, tmp_path / "runs" / "store")  # image root: tmp_path/runs
    page = build_report(store, tmp_path / "report.html").read_text()
    iid_part = page[page.index("<h3>iid</h3>") : page.index("<h3>cor/gaussian_noise/5</h3>")]
    assert "data:image/png" not in iid_part
    notes = re.findall(
        r"<p class='note warn'>(\d+) of (\d+) images not shown: ([^<]+)</p>", iid_part
    )
    assert len(notes) == 1 and notes[0][0] == notes[0][1] == "8"
    assert "--image-root" in notes[0][2] and iid_part.count("images are read only from there") == 1
    # the cards still say what each failure was
    assert iid_part.count("true <b>") == 8

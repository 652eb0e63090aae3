"""Filters and statistics of the viewer, checked against numpy and the metrics module."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from silentscope.metrics.risk_coverage import RiskCoverageCurve, augrc, aurc
from silentscope.viewer.queries import (
    FilterSpec,
    confident_failures,
    filter_mask,
    pack_mask,
    representatives,
    risk_coverage,
    selection_stats,
    unpack_mask,
)


def test_filters_match_numpy(synthetic_data):
    data = synthetic_data
    conf = data.confidences["MLS"]
    mask = filter_mask(
        data,
        {
            "test_sets": ["cor/gaussian_blur/3"],
            "classes": ["benign"],
            "correctness": "incorrect",
            "csf": "MLS",
            "confidence_min": 1.0,
            "confidence_max": 3.9,
        },
    )
    shifted = np.asarray(
        [data.test_set_names[c] == "cor/gaussian_blur/3" for c in data.test_set_codes]
    )
    expected = shifted & (data.label == 0) & ~data.correct & (conf >= 1.0) & (conf <= 3.9)
    np.testing.assert_array_equal(mask, expected)
    assert 0 < mask.sum() < data.n_samples
    assert filter_mask(data, None).all()
    np.testing.assert_array_equal(filter_mask(data, {"correctness": "correct"}), data.correct)


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ({"test_sets": ["iid", "ood/x"]}, r"unknown test set\(s\) \['ood/x'\]"),
        ({"classes": ["cat"]}, r"unknown class\(es\)|unknown class"),
        ({"correctness": "wrong"}, "correctness must be one of all, correct, incorrect"),
        ({"csf": "nope", "confidence_min": 0.5}, "unknown confidence 'nope'"),
        ({"confidence_min": "high"}, "must be a finite number"),
        ({"test_set": ["iid"]}, r"unknown filter field\(s\) \['test_set'\]"),
        ({"classes": "benign"}, "must be a list of names"),
    ],
)
def test_bad_filters_are_refused_with_the_fix(synthetic_data, spec, message):
    with pytest.raises(ValueError, match=message):
        filter_mask(synthetic_data, spec)


def test_selection_statistics_equal_the_metrics_module(synthetic, synthetic_data):
    data = synthetic_data
    _, truth = synthetic
    selected = truth["cluster"] >= 2
    within = filter_mask(data, {"correctness": "all"})
    stats = selection_stats(data, selected, within, csf="MLS")
    conf = data.confidences["MLS"]
    assert stats["n"] == int(selected.sum()) and stats["n_rest"] == int((~selected).sum())
    assert stats["selection"]["aurc"] == pytest.approx(
        aurc(conf[selected], data.correct[selected]), abs=1e-12
    )
    assert stats["rest"]["augrc"] == pytest.approx(
        augrc(conf[~selected], data.correct[~selected]), abs=1e-12
    )
    assert stats["selection"]["accuracy"] == pytest.approx(data.correct[selected].mean())
    classes = {c["name"]: c for c in stats["classes"]}
    assert classes["malignant"]["share"] == pytest.approx(0.5)
    assert sum(c["count"] for c in stats["test_sets"]) == stats["n"]


def test_selection_is_restricted_to_the_filter(synthetic_data):
    data = synthetic_data
    within = filter_mask(data, {"test_sets": ["iid"]})
    stats = selection_stats(data, np.ones(data.n_samples, dtype=bool), within)
    assert stats["n"] == int(within.sum()) and stats["n_rest"] == 0
    assert stats["rest"]["aurc"] is None
    with pytest.raises(ValueError, match="one entry per sample"):
        selection_stats(data, np.ones(3, dtype=bool))


def test_enrichment_and_terms_explain_the_silent_failures(synthetic, synthetic_data):
    _, truth = synthetic
    stats = selection_stats(synthetic_data, truth["cluster"] == 3)
    top = stats["enrichment"][0]
    assert (top["column"], top["value"]) == ("site", "B") and top["z"] > 10
    assert top["selection"] == pytest.approx(1.0) and top["rest"] == pytest.approx(1 / 3)
    terms = [t["term"] for t in stats["terms"]["items"]]
    assert stats["terms"]["status"] == "ready"
    # "irregular" occurs only inside "irregular border" in these reports, so the phrase is shown
    # (the same term ranking as the CLI's slices); the negated "no effusion" stays whole.
    assert "irregular border" in terms and "no effusion" in terms
    assert not {"regular", "irregular", "border"} & set(terms)
    # The image grid starts with the most confident failures.
    conf = synthetic_data.confidences["MSR"]
    first = stats["images"][: len(stats["images"]) // 2]
    assert not synthetic_data.correct[first].any()
    assert list(conf[first]) == sorted(conf[first], reverse=True)


def test_real_odir_selection(odir_data):
    data = odir_data
    cataract = data.label == data.class_names.index("cataract")
    stats = selection_stats(data, cataract)
    assert stats["n"] == int(cataract.sum())
    terms = [t["term"] for t in stats["terms"]["items"]]
    assert "cataract" in terms  # the ODIR keywords of cataract eyes
    assert any(item["column"] == "age" for item in stats["enrichment"])


def test_risk_coverage_curves(synthetic_data):
    data = synthetic_data
    mask = filter_mask(data, {"classes": ["benign"]})
    result = risk_coverage(data, mask, "MSR")
    names = [c["name"] for c in result["curves"]]
    assert names == ["all shown", "iid", "cor/gaussian_blur/3"]
    curve = RiskCoverageCurve(data.confidences["MSR"][mask], data.correct[mask])
    assert result["curves"][0]["aurc"] == pytest.approx(curve.aurc)
    assert result["curves"][0]["coverage"][0] == 0.0 and result["curves"][0]["coverage"][-1] == 1.0
    assert len(result["curves"][0]["coverage"]) <= 300


def test_confident_failures_and_representatives(synthetic, synthetic_data):
    data = synthetic_data
    groups = confident_failures(data, csf="MSR", k=5)
    for group in groups:
        rows = np.asarray(group["rows"])
        assert not data.correct[rows].any()
        assert group["confidence"] == sorted(group["confidence"], reverse=True)
    worst = {g["test_set"]: g for g in groups}["cor/gaussian_blur/3"]
    assert worst["confidence"][0] == pytest.approx(data.confidences["MSR"][~data.correct].max())
    reps = representatives(data, k=3)
    _, truth = synthetic
    for group in reps:
        rows = np.asarray(group["rows"])
        assert (data.label[rows] == data.class_names.index(group["class"])).all()


@given(st.lists(st.booleans(), min_size=1, max_size=70))
def test_masks_round_trip(bits):
    mask = np.asarray(bits)
    np.testing.assert_array_equal(unpack_mask(pack_mask(mask), len(mask)), mask)


def test_mask_of_wrong_length_is_refused():
    with pytest.raises(ValueError, match="a row mask for 9 samples has 2 bytes, got 1"):
        unpack_mask(b"\x00", 9)


def test_filter_spec_is_parsed_once():
    spec = FilterSpec.from_dict({"test_sets": ["iid"], "confidence_max": 1})
    assert spec.test_sets == ("iid",) and spec.confidence_max == 1.0

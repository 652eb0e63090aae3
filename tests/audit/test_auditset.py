from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from silentscope.audit import AuditSet, AuditSetError, parse_test_set
from silentscope.audit.capabilities import analysis_availability
from tests.support.audits import make_audit


def test_derived_values(audit):
    assert audit.n_samples == 300 and audit.n_classes == 3
    np.testing.assert_allclose(audit.probabilities.sum(axis=1), 1.0)
    assert (audit.predictions == audit.logits.argmax(axis=1)).all()
    assert audit.correct.dtype == bool
    assert audit.test_sets == ("val", "iid", "cor/gaussian_noise/3", "acq/site_b")
    assert audit.evaluation_sets() == ("iid", "cor/gaussian_noise/3", "acq/site_b")


def test_select_and_subset_keep_rows_aligned(audit):
    iid = audit.select("iid")
    rows = np.flatnonzero(audit.test_set == "iid")
    assert iid.n_samples == len(rows)
    np.testing.assert_array_equal(iid.logits, audit.logits[rows])
    np.testing.assert_array_equal(iid.metadata["age"], audit.metadata["age"].to_numpy()[rows])
    np.testing.assert_array_equal(iid.text, audit.text[rows])
    np.testing.assert_array_equal(
        iid.confidences["confidnet"], audit.confidences["confidnet"][rows]
    )
    assert iid.train_features is audit.train_features  # dataset-level, not per-sample


def test_select_unknown_test_set_lists_available(audit):
    with pytest.raises(ValueError, match="available: val, iid"):
        audit.select("acq/site_z")


def test_validation_split_required_with_clear_error():
    audit = make_audit(test_set=["iid"] * 300)
    with pytest.raises(AuditSetError, match="no validation split"):
        audit.validation()


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ({"logits": np.zeros((300, 2))}, "logits has 2 columns but there are 3 class_names"),
        (
            {"label": np.full(300, 3)},
            r"label out of range \[0, 2\] at rows 0, 1, 2, 3, 4 and 295 more",
        ),
        ({"label": np.zeros(300, dtype=float)}, "label must hold integer class indices"),
        (
            {"label": np.zeros(299, dtype=int)},
            "label has 299 rows but the AuditSet has 300 samples",
        ),
        ({"sample_id": ["x"] * 300}, "sample_id has duplicates at rows 1, 2, 3, 4, 5 and 294 more"),
        (
            {"test_set": ["iid"] * 299 + ["corrupted"]},
            "test_set at rows 299: unknown test-set name 'corrupted'",
        ),
        ({"test_set": ["cor/noise/7"] * 300}, "unknown test-set name 'cor/noise/7'"),
        ({"mc_logits": np.zeros((300, 3))}, r"mc_logits must have shape \(N, C, M\)"),
        ({"features": np.zeros((10, 6))}, "features has 10 rows"),
        ({"train_labels": None}, "train_features and train_labels must be given together"),
        ({"confidences": {"dg": np.zeros(5)}}, "confidence 'dg' has 5 rows"),
        ({"metadata": pd.DataFrame({"age": [1, 2]})}, "metadata has 2 rows"),
        ({"class_names": ["a", "a", "b"]}, "class_names must be unique"),
        ({"image_ref": [None] * 300}, "image_ref is missing at rows 0"),
    ],
)
def test_contract_violations_name_field_and_rows(override, message):
    with pytest.raises(AuditSetError, match=message):
        make_audit(**override)


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_non_finite_logits_are_rejected_with_rows(bad):
    logits = np.random.default_rng(0).normal(size=(300, 3))
    logits[[7, 42], 1] = bad
    with pytest.raises(AuditSetError, match="logits contains .* at rows 7, 42"):
        make_audit(logits=logits)


def test_non_finite_features_rejected():
    features = np.zeros((300, 6))
    features[100, 0] = np.nan
    with pytest.raises(AuditSetError, match="features contains NaN at rows 100"):
        make_audit(features=features)


def test_missing_text_becomes_empty_but_ids_may_not_be_missing():
    audit = make_audit(text=[None] * 150 + ["report"] * 150)
    assert audit.text[0] == "" and audit.text[-1] == "report"
    with pytest.raises(AuditSetError, match="sample_id is missing at rows 3"):
        make_audit(sample_id=[f"s{i}" if i != 3 else None for i in range(300)])


def test_has_and_capabilities():
    minimal = AuditSet(
        sample_id=["a", "b"],
        test_set=["iid", "iid"],
        label=[0, 1],
        logits=np.eye(2) * 3,
        class_names=["n", "p"],
    )
    assert minimal.available_inputs() == {"logits"}
    reasons = dict((a.command + a.name, r) for a, r in analysis_availability(minimal))
    assert reasons["subgroupssubgroup analysis"] == "needs metadata"
    full = make_audit()
    assert all(reason is None for _, reason in analysis_availability(full))
    with pytest.raises(ValueError, match="unknown input"):
        full.has("images")


def test_capabilities_do_not_promise_logit_csfs_on_imported_probabilities():
    # MLS and energy are unavailable on imported probabilities (evaluate says so); info's
    # analyses table must not call them available.
    from silentscope.audit.importers import from_arrays

    probs = np.array([[0.9, 0.1], [0.2, 0.8], [0.6, 0.4], [0.3, 0.7]])
    imported = from_arrays(probs, np.array([0, 1, 1, 1]), probabilities=True)
    reasons = {a.name: r for a, r in analysis_availability(imported)}
    assert reasons["failure-detection metrics (MSR, PE)"] is None
    assert "logits" in reasons["logit-based CSFs (MLS, energy)"]
    logits = from_arrays(np.log(probs) * 3, np.array([0, 1, 1, 1]))
    assert (
        dict((a.name, r) for a, r in analysis_availability(logits))[
            "logit-based CSFs (MLS, energy)"
        ]
        is None
    )


@pytest.mark.parametrize(
    ("name", "kind", "value", "severity", "attribute"),
    [
        ("val", "val", None, None, None),
        ("iid", "iid", None, None, None),
        ("cor/motion_blur/5", "cor", "motion_blur", 5, None),
        ("acq/site_B", "acq", "site_B", None, None),
        ("man/amelanotic", "man", "amelanotic", None, None),
        ("sub/age=70-90", "sub", "70-90", None, "age"),
        ("prev/0.1", "prev", "0.1", None, None),
    ],
)
def test_parse_test_set(name, kind, value, severity, attribute):
    parsed = parse_test_set(name)
    assert (parsed.kind, parsed.value, parsed.severity, parsed.attribute) == (
        kind,
        value,
        severity,
        attribute,
    )


@pytest.mark.parametrize(
    "name", ["", "test", "cor/x", "cor/x/0", "cor/X/3", "sub/age", "acq/", "iid/extra"]
)
def test_parse_test_set_rejects(name):
    with pytest.raises(ValueError, match="unknown test-set name"):
        parse_test_set(name)
